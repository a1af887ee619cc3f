"""``sigma-ext --help`` starts without the heavy modules: a command's own imports (pySigma's
pipelines, jsonschema, DuckDB, the build chain) load only when that command runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sigma_ext.cli.common import DEFAULT_PROFILE as CLI_DEFAULT_PROFILE
from sigma_ext.cli.hunt import SMALL_INPUT
from sigma_ext.content.profile import DEFAULT_PROFILE

HEAVY = (
    "sigma.processing",
    "sigma.rule",
    "jsonschema",
    "duckdb",
    "jinja2",
    "sigma_ext.build.compile",
    "sigma_ext.build.folder",
)


def _modules_after(code: str) -> set[str]:
    shown = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(shown.stdout.split())


def test_the_parser_is_built_without_the_heavy_modules() -> None:
    loaded = _modules_after("import sigma_ext.cli.main as m\nm.parser().format_help()")
    assert "sigma_ext.cli.hunt" in loaded  # the parser did register the commands
    heavy = sorted(m for m in loaded if m.startswith(HEAVY))
    assert heavy == []


def test_the_hunt_command_imports_its_engine_when_it_runs() -> None:
    loaded = _modules_after(
        "import sigma_ext.cli.main as m\nm.main(['hunt', '--root', '/nonexistent', '/nonexistent.jsonl'])"
    )
    assert "sigma_ext.hunt.inputs" in loaded


def test_the_parser_names_the_profile_the_content_loads_by_default() -> None:
    assert CLI_DEFAULT_PROFILE == DEFAULT_PROFILE


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("engine", "copies", "fast"),
    [("auto", 1, False), ("auto", None, True), ("fast", 1, True), ("reference", None, False)],
    ids=["auto-small", "auto-large", "fast-small", "reference-large"],
)
def test_the_engine_auto_picks_the_reference_engine_for_small_inputs(
    engine: str, copies: int | None, fast: bool, tmp_path: Path
) -> None:
    """``--engine auto`` (the default) leaves a small input to the reference engine, which
    starts without DuckDB, and anything larger to the fast engine."""
    lines = (ROOT / "fixtures" / "kubernetes_audit" / "malicious_creators.jsonl").read_text()
    if copies is None:
        copies = SMALL_INPUT // len(lines.encode()) + 1
    log = tmp_path / "audit.jsonl"
    log.write_text(lines * copies)
    loaded = _modules_after(
        "import sigma_ext.cli.main as m\n"
        f"m.main(['hunt', '--engine', {engine!r}, '--root', {str(ROOT)!r}, {str(log)!r}])"
    )
    assert ("sigma_ext.hunt.fast.engine" in loaded) is fast
    assert ("duckdb" in loaded) is fast


def test_a_hunt_with_a_valid_profile_skips_jsonschema(tmp_path: Path) -> None:
    """A valid profile passes the quick schema check (``content.schema_check``); jsonschema is
    imported only to name the problems of one that does not."""
    log = tmp_path / "one.jsonl"
    lines = (ROOT / "fixtures" / "kubernetes_audit" / "malicious_creators.jsonl").read_text()
    log.write_text(lines.splitlines()[0] + "\n")
    run = f"import sigma_ext.cli.main as m\nm.main(['hunt', '--root', {str(ROOT)!r}, {str(log)!r}])"
    assert "jsonschema" not in _modules_after(run)
    broken = tmp_path / "profile.yml"
    broken.write_text("k8s_pipeline_identities: [' padded ']\n")
    assert "jsonschema" in _modules_after(
        run.replace("'hunt', ", f"'hunt', '--profile', {str(broken)!r}, ")
    )


def test_a_hunt_hands_the_collector_back_as_it_found_it(tmp_path: Path) -> None:
    """The hunt pauses Python's cyclic collector while the content loads and freezes what it
    loaded (``cli.hunt.paused_collector``): after a hunt called with its arguments (as tests
    and other Python code call it), and after one that content problems end, the collector runs
    and nothing stays frozen."""
    log = tmp_path / "one.jsonl"
    lines = (ROOT / "fixtures" / "kubernetes_audit" / "malicious_creators.jsonl").read_text()
    log.write_text(lines.splitlines()[0] + "\n")
    broken = tmp_path / "profile.yml"
    broken.write_text("k8s_pipeline_identities: [' padded ']\n")
    # what is frozen beyond what the interpreter froze itself (CPython 3.12 starts with some
    # 375 objects in the permanent generation)
    check = (
        "import gc, sys\nbefore = gc.get_freeze_count()\nimport sigma_ext.cli.main as m\n"
        "code = m.main(sys.argv[1:])\n"
        "print(code, gc.isenabled(), max(gc.get_freeze_count() - before, 0))\n"
    )
    for extra, expected in (([], "0"), (["--profile", str(broken)], "1")):
        shown = subprocess.run(
            [sys.executable, "-c", check, "hunt", "--root", str(ROOT), *extra, str(log)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert shown.stdout.split()[-3:] == [expected, "True", "0"], shown.stderr
    # as the process's own command (no argv given), what it loaded stays frozen to the end
    own = check.replace("m.main(sys.argv[1:])", "m.main()")
    shown = subprocess.run(
        [sys.executable, "-c", own, "hunt", "--root", str(ROOT), str(log)],
        capture_output=True,
        text=True,
        check=True,
    )
    code, enabled, frozen = shown.stdout.split()[-3:]
    assert (code, enabled) == ("0", "True")
    assert int(frozen) > 10_000
