"""The creation paths each theme sees, per source: the data behind the README's coverage table.

``sigma_ext/data/creation_paths.yml`` says, for every way a container or pod comes to life, which
sources record it and what each theme sees of it, per SIEM. Those claims are checked against the
build's verdicts (``check_claims``): the table may claim less than the build shows (a path-specific
blind spot), never more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, cast

from sigma_ext.problems import Problem
from sigma_ext.yamlio import Located, YAMLProblem, load_located

Claim = Literal["covered", "partial", "not visible", "exempt", "n/a"]
CLAIMS: tuple[Claim, ...] = ("covered", "partial", "not visible", "exempt", "n/a")
SIEMS: tuple[str, ...] = ("splunk", "elastic")


@dataclass(frozen=True)
class Cell:
    """What one theme sees of one creation path, per SIEM, and the words shown for it."""

    claims: Mapping[str, Claim]
    text: str
    line: int


@dataclass(frozen=True)
class CreationPath:
    path: str
    sources: tuple[str, ...]
    label: str
    cells: Mapping[str, Cell]
    line: int


@dataclass(frozen=True)
class CreationPaths:
    file: Path
    themes: Mapping[str, str]  # theme -> column heading, in column order
    paths: tuple[CreationPath, ...]


def creation_paths_file() -> Path:
    return Path(str(files("sigma_ext") / "data" / "creation_paths.yml"))


def _claim(value: Any, where: str, line: int, problems: list[Problem]) -> Claim | None:
    if value in CLAIMS:
        return cast(Claim, value)
    problems.append(Problem(where, line, f"unknown claim {value!r} (one of {', '.join(CLAIMS)})"))
    return None


def _cell(doc: Located, at: tuple[str | int, ...], problems: list[Problem]) -> Cell | None:
    value: Any = doc.data
    for key in at:
        value = value[key]
    line = doc.line_of(at)
    where = str(doc.path)
    if isinstance(value, str):
        claim = _claim(value, where, line, problems)
        if claim is None:
            return None
        return Cell({siem: claim for siem in SIEMS}, "-" if claim == "n/a" else claim, line)
    if not isinstance(value, dict) or set(value) - {"claim", "text"} or "claim" not in value:
        problems.append(Problem(where, line, "a cell is a claim, or a mapping of claim and text"))
        return None
    raw = value["claim"]
    per_siem = raw if isinstance(raw, dict) else {siem: raw for siem in SIEMS}
    if set(per_siem) != set(SIEMS):
        problems.append(Problem(where, line, f"a claim per SIEM names {', '.join(SIEMS)}"))
        return None
    claims = {siem: _claim(per_siem[siem], where, line, problems) for siem in SIEMS}
    if any(claim is None for claim in claims.values()):
        return None
    text = value.get("text")
    if text is None:
        first = next(iter(claims.values()))
        text = "-" if first == "n/a" else first
    return Cell({k: cast(Claim, v) for k, v in claims.items()}, str(text), line)


def load_creation_paths(file: Path | None = None) -> tuple[CreationPaths | None, list[Problem]]:
    """The creation paths, or None with every problem found in the file."""
    file = file or creation_paths_file()
    try:
        doc = load_located(file)
    except YAMLProblem as error:
        return None, [error.problem]
    problems: list[Problem] = []
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("themes"), dict):
        return None, [Problem(str(file), 1, "expected a mapping with themes and paths")]
    themes = {str(k): str(v) for k, v in data["themes"].items()}
    paths: list[CreationPath] = []
    for index, entry in enumerate(data.get("paths") or []):
        at: tuple[str | int, ...] = ("paths", index)
        line = doc.line_of(at)
        missing = {"path", "sources", "label", *themes} - set(entry or {})
        unknown = set(entry or {}) - {"path", "sources", "label", *themes}
        if missing or unknown:
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(sorted(missing))}" if missing else "",
                    f"unknown {', '.join(sorted(unknown))} (themes: {', '.join(themes)})"
                    if unknown
                    else "",
                )
                if part
            )
            problems.append(Problem(str(file), line, f"creation path: {detail}"))
            continue
        cells = {theme: _cell(doc, (*at, theme), problems) for theme in themes}
        if any(cell is None for cell in cells.values()):
            continue
        paths.append(
            CreationPath(
                str(entry["path"]),
                tuple(str(s) for s in entry["sources"]),
                str(entry["label"]),
                {theme: cell for theme, cell in cells.items() if cell is not None},
                line,
            )
        )
    if problems:
        return None, problems
    return CreationPaths(file, themes, tuple(paths)), []
