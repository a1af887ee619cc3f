"""Recognition of the Event, EDR and process sources: every fixture line through every
recogniser and every text parser, and look-alikes of other telemetry left alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sigma_ext.content.fixtures import load_cases
from sigma_ext.sources.catalogue import SOURCES, recognize, source_named

from .conftest import ROOT

NEW = ("kubernetes_events", "kubernetes_events_watch", "sysmon_linux", "tetragon", "falco")
RULE_STEMS = sorted(p.stem for p in (ROOT / "rules").rglob("*.yml"))
CASES = load_cases(ROOT / "fixtures", RULE_STEMS)


def test_every_new_source_has_fixtures_that_fire_and_stay_quiet() -> None:
    for name in NEW:
        cases = [c for c in CASES if c.source == name]
        assert any(c.fires for c in cases), name
        assert any(not c.fires for c in cases), name


def test_every_text_line_is_parsed_by_exactly_its_source() -> None:
    """A text line goes to the first parser that reads it; no second parser may read it too."""
    parsers = [s for s in SOURCES if s.parse_text is not None]
    offenders = []
    for case in CASES:
        path = case.file
        if path.suffix != ".log":
            continue
        line = path.read_text(encoding="utf-8").splitlines()[case.line - 1]
        reading = [s.name for s in parsers if s.parse_text and s.parse_text(line) is not None]
        if reading != [case.source]:
            offenders.append(f"{case.where}: read by {reading}")
    for path in sorted((ROOT / "fixtures").rglob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            reading = [s.name for s in parsers if s.parse_text and s.parse_text(line) is not None]
            if reading:
                offenders.append(f"{path.name}:{number}: a JSON line read as text by {reading}")
    assert not offenders, "\n".join(offenders)


LOOK_ALIKES: dict[str, dict[str, Any]] = {
    "a watch body of a Pod (k8sobjects watching pods)": {
        "type": "ADDED",
        "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web-1"}},
    },
    "a Kubernetes audit event about an Event (kind Event, audit.k8s.io)": {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "verb": "create",
        "objectRef": {"resource": "events"},
        "reason": "x",
        "metadata": {},
        "involvedObject": {"kind": "Pod"},
    },
    "a core/v1 Event list (kubectl get events -o json, not split)": {
        "kind": "EventList",
        "apiVersion": "v1",
        "items": [],
        "metadata": {},
    },
    "a Tetragon-shaped object without node_name": {
        "process_exec": {"process": {"binary": "/bin/sh"}},
        "time": "2026-12-06T00:00:00Z",
    },
    "two Tetragon event keys in one object": {
        "process_exec": {},
        "process_exit": {},
        "node_name": "n",
        "time": "t",
    },
    "a Falco-like alert without output_fields": {
        "rule": "Launch Privileged Container",
        "priority": "Notice",
        "output": "Privileged container started",
    },
    "a Docker daemon event": {
        "Type": "container",
        "Action": "create",
        "Actor": {"ID": "x", "Attributes": {}},
        "time": 1,
    },
}


@pytest.mark.parametrize("name", sorted(LOOK_ALIKES))
def test_look_alikes_are_not_claimed_by_the_new_sources(name: str) -> None:
    claimed = recognize(LOOK_ALIKES[name])
    assert claimed is None or claimed.name not in NEW, claimed


def test_a_windows_sysmon_line_is_not_sysmon_for_linux() -> None:
    sysmon = source_named("sysmon_linux")
    assert sysmon.parse_text is not None
    windows = (
        '<Event><System><Provider Name="Microsoft-Windows-Sysmon"/><EventID>1</EventID></System>'
        '<EventData><Data Name="Image">C:\\docker.exe</Data></EventData></Event>'
    )
    assert sysmon.parse_text(windows) is None
    assert sysmon.parse_text(json.dumps({"Provider": "Linux-Sysmon"})) is None
