"""``sigma-ext test --junit-xml FILE``: fixture outcomes as a JUnit XML report.

One ``<testsuite>`` per fixture file and one ``<testcase>`` per event (``classname`` is the
fixture file, ``name`` the line and the case name), with a ``<failure>`` that lists the rules
that should have fired and did not, and those that fired unexpectedly. Content that cannot be
loaded is one ``<testsuite name="sigma-ext content">`` of ``<error>`` cases. GitLab CI reads the
file as ``artifacts:reports:junit``; on GitHub a JUnit report action does. No timestamps or
durations are written, so the same outcomes give the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from itertools import groupby
from pathlib import Path

from sigma_ext.cli.formats import relative
from sigma_ext.content.fixtures import Outcome
from sigma_ext.problems import Problem


def junit_xml(outcomes: Iterable[Outcome], problems: Iterable[Problem] = ()) -> bytes:
    outcomes, problems = list(outcomes), sorted(problems)
    failed = sum(not o.passed for o in outcomes)
    root = ET.Element(
        "testsuites",
        name="sigma-ext test",
        tests=str(len(outcomes) + len(problems)),
        failures=str(failed),
        errors=str(len(problems)),
    )
    if problems:
        suite = _suite(root, "sigma-ext content", len(problems), 0, len(problems))
        for problem in problems:
            where = relative(problem.path) + (f":{problem.line}" if problem.line else "")
            case = ET.SubElement(suite, "testcase", classname=relative(problem.path), name=where)
            error = ET.SubElement(case, "error", message=problem.message, type="content")
            error.text = str(problem)
    for file, group in groupby(outcomes, key=lambda o: o.case.file):
        members = list(group)
        name = relative(str(file))
        suite = _suite(root, name, len(members), sum(not o.passed for o in members), 0)
        for outcome in members:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=name,
                name=f"line {outcome.case.line}: {outcome.case.name}",
                file=name,
                line=str(outcome.case.line),
            )
            if not outcome.passed:
                failure = ET.SubElement(case, "failure", message=_summary(outcome), type="verdict")
                failure.text = outcome.explain()
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def _suite(root: ET.Element, name: str, tests: int, failures: int, errors: int) -> ET.Element:
    return ET.SubElement(
        root,
        "testsuite",
        name=name,
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
    )


def _summary(outcome: Outcome) -> str:
    missing = sorted(outcome.case.fires - outcome.fired)
    unexpected = sorted(outcome.fired - outcome.case.fires)
    parts = []
    if missing:
        parts.append("did not fire: " + ", ".join(missing))
    if unexpected:
        parts.append("fired unexpectedly: " + ", ".join(unexpected))
    return "; ".join(parts)


def write_junit(path: Path, outcomes: Iterable[Outcome], problems: Iterable[Problem] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(outcomes, problems))
