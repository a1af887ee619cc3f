"""The fixture harness: every rule's verdict on every fixture event.

``fixtures/<source>/<scenario>.jsonl`` holds real-format events (``<scenario>.log`` for sources
that write text lines, parsed by the source's ``parse_text``, after its ``group_lines`` when its
events span lines, as ``hunt`` reads them); ``<scenario>.expect.yml`` beside it lists, per event
(by its first line), the rules that must fire (all others must not). See fixtures/README.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigma_ext.problems import Problem, ProblemsFound
from sigma_ext.sources.catalogue import source_named
from sigma_ext.yamlio import YAMLProblem, load_located


@dataclass(frozen=True)
class Case:
    """One fixture event with its expected verdicts."""

    file: Path
    line: int
    name: str
    source: str
    event: dict[str, Any]
    fires: frozenset[str]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


FIXTURE_SUFFIXES = (".jsonl", ".log")


def expectation_path(fixture: Path) -> Path:
    return fixture.with_name(fixture.stem + ".expect.yml")


def load_cases(root: Path, rule_stems: Iterable[str]) -> list[Case]:
    """Every fixture case under root; raise ProblemsFound listing every malformed file."""
    known = set(rule_stems)
    cases: list[Case] = []
    problems: list[Problem] = []
    fixtures = sorted(p for p in root.rglob("*") if p.suffix in FIXTURE_SUFFIXES and p.is_file())
    for jsonl in fixtures:
        found, bad = _load_file(jsonl, known)
        cases.extend(found)
        problems.extend(bad)
    if problems:
        raise ProblemsFound(problems)
    return cases


def _load_file(jsonl: Path, known: set[str]) -> tuple[list[Case], list[Problem]]:
    expect_path = expectation_path(jsonl)
    if not expect_path.exists():
        return [], [Problem(str(jsonl), None, f"no expectation file {expect_path.name} beside it")]
    try:
        located = load_located(expect_path)
    except YAMLProblem as error:
        return [], [error.problem]
    spec = located.data if isinstance(located.data, dict) else {}
    problems: list[Problem] = []
    try:
        source = source_named(str(spec.get("source")))
    except KeyError as error:
        return [], [Problem(str(expect_path), located.line_of(("source",)), str(error.args[0]))]
    events: list[tuple[int, dict[str, Any]]] = []
    numbered: Iterable[tuple[int, str]] = enumerate(_lines(jsonl), start=1)
    if jsonl.suffix == ".log" and source.group_lines is not None:
        numbered = list(source.group_lines(numbered))
    for number, text in numbered:
        if jsonl.suffix == ".log":
            if source.parse_text is None:
                problems.append(Problem(str(jsonl), number, f"{source.name} has no text format"))
                continue
            parsed = source.parse_text(text)
            if parsed is None:
                problems.append(Problem(str(jsonl), number, f"not a {source.label} log line"))
                continue
            events.append((number, dict(parsed)))
            continue
        try:
            event = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(Problem(str(jsonl), number, f"not JSON: {error.msg}"))
            continue
        events.append((number, event))
    entries = spec.get("events") or []
    if len(entries) != len(events):
        problems.append(
            Problem(
                str(expect_path),
                1,
                f"{len(entries)} expectations for {len(events)} events in {jsonl.name}",
            )
        )
    cases = []
    for index, (entry, (number, event)) in enumerate(zip(entries, events, strict=False), start=1):
        line = located.line_of(("events", index - 1))
        if entry.get("line") != number:
            problems.append(
                Problem(
                    str(expect_path), line, f"expected line: {number}, found {entry.get('line')}"
                )
            )
        fires = frozenset(entry.get("fires") or [])
        for stem in sorted(fires - known):
            problems.append(Problem(str(expect_path), line, f"unknown rule {stem!r}"))
        if not entry.get("name"):
            problems.append(Problem(str(expect_path), line, "every case needs a name"))
        cases.append(Case(jsonl, number, str(entry.get("name")), source.name, event, fires))
    return cases, problems


def _lines(path: Path) -> list[str]:
    """The file's lines, split at ``\\n`` only as ``hunt`` splits them (``str.splitlines`` would
    also split at the separators U+001C-U+001E, U+2028, ... that a text log may hold, such as
    auditd's ``\\x1d`` before the enriched fields)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


@dataclass(frozen=True)
class Outcome:
    case: Case
    fired: frozenset[str]

    @property
    def passed(self) -> bool:
        return self.fired == self.case.fires

    def explain(self) -> str:
        missing = sorted(self.case.fires - self.fired)
        unexpected = sorted(self.fired - self.case.fires)
        lines = [f"FAIL {self.case.where} {self.case.name}"]
        lines += [f"  expected to fire, did not: {stem}" for stem in missing]
        lines += [f"  fired, not expected:       {stem}" for stem in unexpected]
        return "\n".join(lines)


def run_cases(cases: list[Case], fired: Callable[[Case], Iterable[str]]) -> list[Outcome]:
    return [Outcome(case, frozenset(fired(case))) for case in cases]
