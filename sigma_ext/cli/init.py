"""``sigma-ext init DIR``: scaffold a team's content repository.

The repository uses the content shipped with sigma-ext and adds its own (see ``sigma-ext.yml``
in it): one sample rule with its fixture and verdicts, a tuning profile copied from the shipped
example, a folder for mapping overrides, CI for GitHub Actions and GitLab CI, and a pre-commit
configuration. The templates are package data (``sigma_ext/data/scaffold/``); ``SCAFFOLD`` says
where each one goes. ``DIR`` must be new or empty: init never overwrites.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

from sigma_ext import __version__
from sigma_ext.cli.common import report
from sigma_ext.cli.exits import EXIT_OK, EXIT_OUTPUT, EXIT_PROBLEMS, say
from sigma_ext.content.locate import CONFIG_NAME, EXAMPLE_PROFILE, shipped_root
from sigma_ext.problems import ProblemsFound

SAMPLE_RULE = "kubernetes_audit_pod_or_workload_created_by_system_masters"
PROFILE = Path("profiles", "profile.yml")

# template in sigma_ext/data/scaffold/ -> path in the new repository
SCAFFOLD: tuple[tuple[str, str], ...] = (
    ("sigma-ext.yml", CONFIG_NAME),
    ("README.md", "README.md"),
    ("gitignore", ".gitignore"),
    ("pre-commit-config.yaml", ".pre-commit-config.yaml"),
    ("github-workflow.yml", ".github/workflows/sigma-ext.yml"),
    ("gitlab-ci.yml", ".gitlab-ci.yml"),
    ("mappings-README.md", "mappings/README.md"),
    ("sample_rule.yml", f"rules/kubernetes/audit/{SAMPLE_RULE}.yml"),
    ("sample.jsonl", "fixtures/kubernetes_audit/sample.jsonl"),
    ("sample.expect.yml", "fixtures/kubernetes_audit/sample.expect.yml"),
)
PROFILE_HEADER = (
    "# This environment's tuning profile, copied from the example profile shipped with "
    "sigma-ext {version}\n"
    "# by `sigma-ext init`: replace the example identities and registries with yours (the "
    "sample\n# fixture's verdicts assume the lists as they are).\n#\n"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init", help="start a content repository: the shipped content plus your own rules"
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="a new or empty folder")
    parser.set_defaults(run=run)


def scaffold_files(name: str) -> dict[str, str]:
    """Relative path -> text of every file of a new repository."""
    import uuid  # (loads when a repository is made, not with every command's parser)

    values = {
        "__VERSION__": __version__,
        "__RULE_ID__": str(uuid.uuid4()),
        "__DATE__": datetime.now(UTC).date().isoformat(),
        "__AUTHOR__": f"{name} maintainers",
        "__SAMPLE_RULE__": SAMPLE_RULE,
    }
    templates = files("sigma_ext") / "data" / "scaffold"
    result: dict[str, str] = {}
    for template, target in SCAFFOLD:
        text = (templates / template).read_text(encoding="utf-8")
        for token, value in values.items():
            text = text.replace(token, value)
        result[target] = text
    example = (shipped_root() / EXAMPLE_PROFILE).read_text(encoding="utf-8")
    result[PROFILE.as_posix()] = PROFILE_HEADER.format(version=__version__) + example
    return result


def run(args: argparse.Namespace) -> int:
    target: Path = args.directory
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        say(f"init: {target} exists and is not an empty folder; init never overwrites it")
        return EXIT_OUTPUT
    try:
        contents = scaffold_files(target.resolve().name)
    except ProblemsFound as error:
        report(error)
        return EXIT_PROBLEMS
    try:
        write_new_folder(target, contents)
    except OSError as error:
        say(f"init: cannot write {error.filename or target}: {error.strerror or error}")
        return EXIT_OUTPUT
    print(f"created {target}:")
    for relative in sorted(contents):
        print(f"  {relative}")
    print(f"next: cd {target} && sigma-ext check && sigma-ext test && sigma-ext build")
    return EXIT_OK


def write_new_folder(target: Path, contents: dict[str, str]) -> None:
    """Write the files. A new folder is written beside ``target`` and renamed into place, so an
    interrupted init leaves no half repository; an existing empty folder (``init .``) is
    written into, so that a shell standing in it still sees the files."""
    if target.is_dir():
        _write(target, contents)
        return
    parent = target.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.init-", dir=parent))
    try:
        _write(staging, contents)
        staging.chmod(0o777 & ~_umask())
        staging.replace(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(folder: Path, contents: dict[str, str]) -> None:
    for relative, text in sorted(contents.items()):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
