"""Correlations in ``hunt``: both engines judge the base rules in their one pass, and print the
correlation hits the evaluator finds on the same events, whatever shape the events come in.

The oracle is ``CorrelationEngine.correlate``: every event decoded, in the order the inputs hold
them, each at the ``file:line`` hunt names. Each layout mixes the shapes a window may span:
plain JSON Lines (scanned in place by the fast engine, by byte offset, or with blank lines and
CRLF line ends, forward), gzip, standard input, an audit webhook ``EventList`` and an Event Hubs
``records`` batch of AKS records (records of one line), and EKS's CloudWatch Logs events.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_ext.cli.hunt import hunt_engine_or_report, hunt_inputs
from sigma_ext.content.corpus import Corpus
from sigma_ext.hunt import spool
from sigma_ext.hunt.correlations import hit_json
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.inputs import open_inputs
from sigma_ext.reference.correlation_engine import HuntEngine, Item
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import Source, recognize, source_named

from .conftest import ROOT, examples

SEQUENCES = ROOT / "fixtures" / "kubernetes_audit" / "correlations"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
Event = dict[str, Any]


@pytest.fixture(scope="module")
def hunting(corpus: Corpus, engine: ReferenceEngine) -> HuntEngine:
    found = hunt_engine_or_report(corpus, engine)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def fast_hunting(hunting: HuntEngine) -> FastHunt:
    return FastHunt(hunting)


def _template(verb: str) -> Event:
    for line in (SEQUENCES / "short_lived_pods.jsonl").read_text(encoding="utf-8").splitlines():
        event: Event = json.loads(line)
        if event["verb"] == verb:
            return event
    raise AssertionError(verb)


CREATE, DELETE = _template("create"), _template("delete")
USERS = ["dev.jane@corp.example", "dev.omar@corp.example", "system:serviceaccount:ci:deployer"]
CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"
NAMESPACES = ["shop", "payments"]
NAMES = ["xmr-test", "curl-check", "debug"]


def audit_event(kind: str, who: int, namespace: int, name: int, at: float) -> Event:
    """A pod created, deleted, a deployment created, or a pod a controller created."""
    event = copy.deepcopy(DELETE if kind == "delete" else CREATE)
    stamp = (T0 + timedelta(seconds=at)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    event["auditID"] = f"{int(at * 1000):08d}-0000-4000-8000-{who}{namespace}{name:010d}"
    event["stageTimestamp"] = event["requestReceivedTimestamp"] = stamp
    event["user"]["username"] = CONTROLLER if kind == "controller" else USERS[who]
    event["objectRef"]["namespace"] = NAMESPACES[namespace]
    event["objectRef"]["name"] = NAMES[name]
    if kind == "deployment":
        event["objectRef"]["resource"] = "deployments"
        event["objectRef"]["apiGroup"] = "apps"
    return event


EVENT = st.builds(
    audit_event,
    st.sampled_from(["create", "create", "delete", "deployment", "controller"]),
    st.integers(0, len(USERS) - 1),
    st.integers(0, len(NAMESPACES) - 1),
    st.integers(0, len(NAMES) - 1),
    # ten minutes: five short-lived windows (2m), two burst windows (5m)
    st.floats(0, 600, allow_nan=False).map(lambda s: round(s, 3)),
)
BURST = st.builds(
    lambda who, namespace, start, count: [
        audit_event("create", who, namespace, number % len(NAMES), start + 3 * number)
        for number in range(count)
    ],
    st.integers(0, len(USERS) - 1),
    st.integers(0, len(NAMESPACES) - 1),
    st.floats(0, 560, allow_nan=False).map(lambda s: round(s, 3)),
    # around the profile's threshold (more than 10 in 5m)
    st.integers(9, 13),
)
PAIR = st.builds(
    lambda who, namespace, name, start, life: [
        audit_event("create", who, namespace, name, start),
        audit_event("delete", who, namespace, name, start + life),
    ],
    st.integers(0, len(USERS) - 1),
    st.integers(0, len(NAMESPACES) - 1),
    st.integers(0, len(NAMES) - 1),
    st.floats(0, 560, allow_nan=False).map(lambda s: round(s, 3)),
    # a pod that lives less than a window, or more (the windows are 2m)
    st.floats(0, 200, allow_nan=False).map(lambda s: round(s, 3)),
)
EVENTS = st.lists(st.one_of(EVENT.map(lambda e: [e]), BURST, PAIR), min_size=2, max_size=10).map(
    lambda runs: [event for run in runs for event in run]
)
SHAPES = ["plain", "gaps", "gzip", "stdin", "eventlist", "eks", "aks"]


def _compact(event: Event) -> str:
    return json.dumps(event, separators=(",", ":"))


def _eks(event: Event, number: int) -> Event:
    return {
        "timestamp": 1795766400000 + number,
        "message": _compact(event),
        "logStreamName": "kube-apiserver-audit-2d4f0b1e5c7a9e3f",
        "ingestionTime": 1795766401200 + number,
        "eventId": f"{39287745817652019384717 + number:026d}",
    }


def _aks(event: Event) -> Event:
    return {
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "category": "kube-audit",
        "resourceId": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/"
        "PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-TEST",
        "properties": {
            "log": _compact(event),
            "pod": "kube-apiserver-6c9b8d7f5",
            "stream": "stdout",
        },
        "time": event["stageTimestamp"],
    }


class Layout:
    """Events written as inputs of several shapes, with what the evaluator is given."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: list[str] = []
        self.items: list[Item] = []
        self.stdin: bytes | None = None

    def _place(self, record: Event, name: str, line: int, number: int | None = None) -> None:
        source = recognize(record)
        assert source is not None
        place = (name, line) if number is None else (name, line, number)
        self.items.append((source, source.decode(record), place))

    def add(self, shape: str, events: list[Event]) -> None:
        path = self.folder / f"part-{len(self.names)}.json"
        name = "-" if shape == "stdin" else str(path)
        lines: list[str] = []
        if shape in ("eventlist", "aks"):
            records = events if shape == "eventlist" else [_aks(e) for e in events]
            batch = (
                {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": records}
                if shape == "eventlist"
                else {"records": records}
            )
            lines.append(_compact(batch))
            for number, record in enumerate(records, 1):
                self._place(record, name, 1, number)  # the record's place in its batch
        else:
            for number, event in enumerate(events):
                record = _eks(event, number) if shape == "eks" else event
                if shape == "gaps" and number % 3 == 1:
                    lines.append("")  # a blank line: DuckDB skips it
                lines.append(_compact(record))
                self._place(record, name, len(lines))
        end = "\r\n" if shape == "gaps" else "\n"
        data = "".join(line + end for line in lines).encode()
        if shape == "stdin":
            self.stdin = data
        else:
            path.write_bytes(gzip.compress(data, mtime=0) if shape == "gzip" else data)
        self.names.append(name)


def _layout(folder: Path, events: list[Event], shapes: list[str]) -> Layout:
    """``events`` in order, cut into one input per shape (standard input at most once)."""
    layout = Layout(folder)
    count = len(shapes)
    for index, shape in enumerate(shapes):
        part = events[index * len(events) // count : (index + 1) * len(events) // count]
        layout.add(shape, part)
    return layout


def _hunt(
    layout: Layout,
    engine: ReferenceEngine,
    fast: FastHunt | None,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: Source | None = None,
) -> tuple[list[str], list[str], str]:
    """(rule hits, correlation hits, stderr) of a hunt over the layout's inputs."""
    folder.mkdir(parents=True)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(layout.stdin or b"")))
    inputs, errors = open_inputs(layout.names, folder)
    assert not errors
    out, err = io.StringIO(), io.StringIO()
    assert hunt_inputs(inputs, engine, fast, source, False, folder, out, err) == 0
    lines = out.getvalue().splitlines()
    correlations = [line for line in lines if '"correlation_id"' in line]
    return [line for line in lines if line not in correlations], correlations, err.getvalue()


def _check(
    layout: Layout,
    engine: ReferenceEngine,
    hunting: HuntEngine,
    fast: FastHunt,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> list[str]:
    """Both engines print the evaluator's correlation hits, and otherwise exactly what a hunt
    without correlations prints (no base-rule hit, the same summaries); the hits."""
    correlations = hunting.correlations
    expected = [hit_json(h, correlations.files) for h in correlations.correlate(layout.items)]
    plain_hits, none, plain_err = _hunt(layout, engine, None, folder / "plain", monkeypatch)
    assert none == []
    for name, chosen in (("reference", None), ("fast", fast)):
        hits, found, err = _hunt(layout, hunting, chosen, folder / name, monkeypatch)
        assert found == expected, name
        assert (hits, err) == (plain_hits, plain_err), name
    return expected


@pytest.fixture
def in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast engine scans every plain JSON Lines file in place, however small (the path a
    large file takes: base-rule rows read again by byte offset, or forward)."""
    monkeypatch.setattr(spool, "SMALL", 0)


@pytest.mark.usefixtures("in_place")
@pytest.mark.parametrize("rotation", [0, 1], ids=["in-order", "reversed"])
@pytest.mark.parametrize("sequence", ["short_lived_pods", "creation_bursts"])
def test_the_fixture_sequences_in_every_shape_give_the_evaluators_hits(
    sequence: str,
    rotation: int,
    engine: ReferenceEngine,
    hunting: HuntEngine,
    fast_hunting: FastHunt,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each rotation of the shapes is its own test (seconds each: two workers share them)."""
    text = (SEQUENCES / f"{sequence}.jsonl").read_text(encoding="utf-8")
    events = [json.loads(line) for line in text.splitlines()]
    rotations = list(_rotations(SHAPES))
    assert len(rotations) == 2
    folder = tmp_path / str(rotation)
    folder.mkdir()
    layout = _layout(folder, events, rotations[rotation])
    assert _check(layout, engine, hunting, fast_hunting, folder, monkeypatch)


@pytest.mark.usefixtures("in_place")
def test_a_forced_source_and_the_exact_scan_give_the_same_correlation_hits(
    engine: ReferenceEngine,
    hunting: HuntEngine,
    fast_hunting: FastHunt,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (SEQUENCES / "short_lived_pods.jsonl").read_text(encoding="utf-8")
    layout = _layout(tmp_path, [json.loads(line) for line in text.splitlines()], ["plain"])
    expected = _check(layout, engine, hunting, fast_hunting, tmp_path / "typed", monkeypatch)
    # DuckDB failing on the typed scan: the exact scan knows no row lengths (read forward)
    monkeypatch.setattr(fast_hunting, "_scan_typed", lambda *args: None)
    monkeypatch.setattr(fast_hunting, "_scan_held", lambda *args: None)
    assert _hunt(layout, hunting, fast_hunting, tmp_path / "exact", monkeypatch)[1] == expected
    forced = source_named("kubernetes_audit")
    for name, chosen in (("reference", None), ("fast", FastHunt(hunting, forced))):
        folder = tmp_path / f"forced-{name}"
        assert _hunt(layout, hunting, chosen, folder, monkeypatch, forced)[1] == expected


def _rotations(shapes: list[str]) -> Iterator[list[str]]:
    """Every shape, in order and reversed: windows span the inputs (one plain file alone: the
    test above)."""
    yield shapes
    yield shapes[::-1]


@pytest.mark.usefixtures("in_place")
@settings(
    max_examples=examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    events=EVENTS,
    shapes=st.lists(st.sampled_from(SHAPES), min_size=1, max_size=4).filter(
        lambda s: s.count("stdin") <= 1
    ),
)
def test_generated_sequences_give_the_evaluators_hits_in_both_engines(
    events: list[Event],
    shapes: list[str],
    engine: ReferenceEngine,
    hunting: HuntEngine,
    fast_hunting: FastHunt,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path_factory.mktemp("generated")
    _check(_layout(folder, events, shapes), engine, hunting, fast_hunting, folder, monkeypatch)
