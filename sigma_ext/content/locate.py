"""Where a run's content comes from: a content repository, a content tree, or the shipped content.

Unless ``--root`` names a folder, the working directory and then each folder above it is asked,
nearest first:

- a **content repository** holds ``sigma-ext.yml`` (``sigma-ext init`` makes one): the content
  shipped with sigma-ext, the shipped rules chosen by the file, plus the repository's own rules,
  mapping overrides, profile and fixtures;
- a **content tree** holds ``rules/`` and ``mappings/`` (a checkout of this project): used alone,
  as it is;
- when neither is found, the **shipped content** and its example profile.

The shipped content is ``sigma_ext/shipped/`` in an installed wheel (setup.py copies the
repository's ``rules/``, ``mappings/``, ``profiles/`` and ``fixtures/`` there), or the checkout
the package is imported from (an editable install).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from sigma_ext.content.schema_check import surely_valid
from sigma_ext.problems import Problem, ProblemsFound
from sigma_ext.yamlio import Located, YAMLProblem, load_located

CONFIG_NAME = "sigma-ext.yml"
DEFAULT_OUT = Path("out")
BUILD_FOLDER = "siem"  # build writes <out>/siem; coverage writes out/coverage beside it
EXAMPLE_PROFILE = Path("profiles", "example.yml")
PACKAGE_DIR = Path(__file__).resolve().parent.parent
Kind = Literal["repository", "tree", "shipped"]


def shipped_root() -> Path:
    """The folder holding the shipped ``rules/``, ``mappings/``, ``profiles/`` and ``fixtures/``."""
    for candidate in (PACKAGE_DIR / "shipped", PACKAGE_DIR.parent):
        if is_tree(candidate):
            return candidate
    raise ProblemsFound(
        [
            Problem(
                str(PACKAGE_DIR / "shipped"),
                None,
                "the content shipped with sigma-ext is missing: install sigma-ext from a wheel "
                "or source distribution built by its setup.py",
            )
        ]
    )


def is_tree(folder: Path) -> bool:
    return (folder / "rules").is_dir() and (folder / "mappings").is_dir()


@dataclass(frozen=True)
class Selector:
    """One entry of ``shipped_rules.include`` or ``exclude``, with its line in the config."""

    text: str
    line: int


@dataclass(frozen=True)
class Location:
    """Every folder and file one run reads and writes."""

    kind: Kind
    root: Path  # the repository or tree; the working directory for the shipped content
    shipped: Path
    config: Path | None
    rule_roots: tuple[Path, ...]  # the rules read as they are (own rules, in a repository)
    fixture_roots: tuple[Path, ...]
    profile: Path
    mapping_root: Path  # holds mappings/<target>/<source>.yml
    mapping_overrides: Path | None  # a repository's replacements, same layout below it
    out: Path  # the output folder; see build_out
    include: tuple[Selector, ...] | None = None  # None: every shipped rule
    exclude: tuple[Selector, ...] = ()

    @property
    def build_out(self) -> Path:
        """Where ``sigma-ext build`` writes by default: its own folder inside ``out``."""
        return self.out / BUILD_FOLDER

    def describe(self) -> str:
        if self.kind == "repository":
            assert self.config is not None
            return (
                f"content repository {self.config.resolve()} (shipped content from {self.shipped})"
            )
        if self.kind == "tree":
            return f"content tree {self.root.resolve()}"
        return f"the content shipped with sigma-ext ({self.shipped})"


def locate(root: Path | None = None, cwd: Path | None = None) -> Location:
    """The content of a run given ``--root`` (or None) and the working directory.

    Searching from the process's own working directory (``cwd`` None), a folder found there or
    above it is given relative to it (``rules/x.yml``, ``../rules/x.yml``), as paths were
    before the search existed, so that messages stay short; with ``cwd`` given, absolute.
    """
    if root is not None:
        return _at(root, explicit=True) or _not_content(root)
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        shown = Path(os.path.relpath(folder, here)) if cwd is None else folder
        found = _at(shown, explicit=False)
        if found is not None:
            return found
    shipped = shipped_root()
    return Location(
        kind="shipped",
        root=Path() if cwd is None else here,
        shipped=shipped,
        config=None,
        rule_roots=(shipped / "rules",),
        fixture_roots=(shipped / "fixtures",),
        profile=shipped / EXAMPLE_PROFILE,
        mapping_root=shipped,
        mapping_overrides=None,
        out=(Path() if cwd is None else here) / DEFAULT_OUT,
    )


def _at(folder: Path, explicit: bool) -> Location | None:
    if (folder / CONFIG_NAME).is_file():
        return load_config(folder / CONFIG_NAME)
    # With --root, a folder holding rules/ alone is still taken as a tree, so that its missing
    # mappings are reported one by one.
    if is_tree(folder) or (explicit and (folder / "rules").is_dir()):
        return Location(
            kind="tree",
            root=folder,
            shipped=folder,
            config=None,
            rule_roots=(folder / "rules",),
            fixture_roots=(folder / "fixtures",),
            profile=folder / EXAMPLE_PROFILE,
            mapping_root=folder,
            mapping_overrides=None,
            out=folder / DEFAULT_OUT,
        )
    return None


def _not_content(root: Path) -> Location:
    raise ProblemsFound(
        [
            Problem(
                str(root),
                None,
                f"neither {CONFIG_NAME} nor rules/ and mappings/ here: start a content "
                f"repository with `sigma-ext init {root}`, or leave out --root to use the "
                "content shipped with sigma-ext",
            )
        ]
    )


@cache
def config_schema() -> dict[str, Any]:
    text = (files("sigma_ext") / "data" / "config.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_config(path: Path) -> Location:
    """A content repository's ``sigma-ext.yml``; every problem in it raised at once."""
    try:
        located = load_located(path)
    except YAMLProblem as error:
        raise ProblemsFound([error.problem]) from error
    data = {} if located.data is None else located.data
    problems = _schema_problems(path, located, data)
    if problems:
        raise ProblemsFound(problems)
    folder = path.parent
    shipped = shipped_root()

    def own(key: str, default: list[str]) -> tuple[Path, ...]:
        chosen = data.get(key)
        for index, entry in enumerate(chosen or []):
            if not (folder / entry).exists():
                problems.append(
                    Problem(
                        str(path),
                        located.line_of((key, index)),
                        f"{key}: {entry!r} does not exist (paths are relative to {folder})",
                    )
                )
        return tuple(folder / entry for entry in (default if chosen is None else chosen))

    rule_roots = own("rules", ["rules"])
    fixture_roots = own("fixtures", ["fixtures"])
    overrides = folder / str(data.get("mappings", "mappings"))
    if "mappings" in data and not overrides.is_dir():
        problems.append(
            Problem(
                str(path),
                located.line_of(("mappings",)),
                f"mappings: {data['mappings']!r} is not a folder (relative to {folder})",
            )
        )
    if problems:
        raise ProblemsFound(problems)
    selection = data.get("shipped_rules") or {}

    def selectors(key: str) -> tuple[Selector, ...]:
        return tuple(
            Selector(str(text), located.line_of(("shipped_rules", key, index)))
            for index, text in enumerate(selection.get(key) or [])
        )

    return Location(
        kind="repository",
        root=folder,
        shipped=shipped,
        config=path,
        rule_roots=tuple(p for p in rule_roots if p.exists()),
        fixture_roots=tuple(p for p in fixture_roots if p.exists()),
        profile=folder / data["profile"] if "profile" in data else shipped / EXAMPLE_PROFILE,
        mapping_root=shipped,
        mapping_overrides=overrides if overrides.is_dir() else None,
        out=folder / str(data.get("out", DEFAULT_OUT)),
        include=selectors("include") if "include" in selection else None,
        exclude=selectors("exclude"),
    )


def _schema_problems(path: Path, located: Located, data: Any) -> list[Problem]:
    if surely_valid(data, config_schema()):
        return []
    problems: list[Problem] = []
    import jsonschema  # only for a file the quick check is not sure of (schema_check)

    for error in jsonschema.Draft202012Validator(config_schema()).iter_errors(data):
        where = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            problems.extend(
                Problem(
                    str(path),
                    located.line_of((*where, key)),
                    f"unknown key {key!r}: use one of {', '.join(allowed)}",
                )
                for key in error.instance
                if key not in allowed
            )
            continue
        name = "/".join(str(p) for p in where) or CONFIG_NAME
        problems.append(Problem(str(path), located.line_of(where), f"{name}: {error.message}"))
    return sorted(problems)
