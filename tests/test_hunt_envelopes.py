"""The fast hunt opens the EKS and AKS envelopes in SQL and still gives the reference verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.envelopes import ENVELOPES
from sigma_ext.hunt.reference import hunt_file
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.json_text import parse_json_line

from .conftest import ROOT
from .test_hunt_duckdb import (
    GENERATED,
    STYLES,
    Together,
    _typed_codes,
    mutated_event,
    outcome,
    shape_keeping_event,
)

EKS_FIXTURES = sorted((ROOT / "fixtures" / "kubernetes_audit_eks").glob("*.jsonl"))
AKS_FIXTURES = sorted((ROOT / "fixtures" / "kubernetes_audit_aks").glob("*.jsonl"))
# SSO administrator runs a bare cryptominer pod from Docker Hub by hand
MALICIOUS = json.loads(EKS_FIXTURES[1].read_text(encoding="utf-8").splitlines()[0])
INNER: str = MALICIOUS["message"]
FIRES = [
    "kubernetes_audit_bare_pod_created_by_person",
    "kubernetes_audit_pod_created",
    "kubernetes_audit_pod_or_workload_created_by_unauthorized_identity",
    "kubernetes_audit_pod_or_workload_image_from_unapproved_registry",
]


def test_the_eks_and_aks_envelopes_are_opened(fast: FastHunt) -> None:
    opened = [name for name, e in ENVELOPES.items() if e in fast.envelopes]
    assert opened == ["kubernetes_audit_eks", "kubernetes_audit_aks"]


def test_every_eks_and_aks_fixture_line_is_judged_in_sql(fast: FastHunt, tmp_path: Path) -> None:
    together = Together(EKS_FIXTURES + AKS_FIXTURES, tmp_path / "fixtures.jsonl")
    codes = _typed_codes(fast, together.log, tmp_path)
    assert codes is not None, "the typed scan failed"
    offenders = [
        "{}:{}".format(*together.place(n)) for n, code in sorted(codes.items()) if code == "R"
    ]
    assert EKS_FIXTURES
    assert AKS_FIXTURES
    assert not offenders, f"left to the reference engine: {offenders}"


def _envelope(**changes: Any) -> str:
    record = {
        "timestamp": MALICIOUS["timestamp"],
        "message": INNER,
        "logStreamName": "kube-apiserver-audit-2d4f0b1e5c7a9e3f",
        "ingestionTime": MALICIOUS["timestamp"] + 412,
        "eventId": "39287745817652019384717238469875631286746123487612340000",
    }
    for key, value in changes.items():
        if value is ...:
            record.pop(key)
        else:
            record[key] = value
    return json.dumps(record, separators=(",", ":"))


def _audit_with(first: str, verb: str) -> str:
    """The malicious event with ``first`` before its keys and its own verb as ``verb``."""
    event = INNER.replace('"verb":"create"', verb, 1)
    return event.replace('{"kind":"Event",', "{" + first + '"kind":"Event",', 1)


# (name, line, rules the reference fires, whether the SQL judges the line itself)
CASES = [
    ("filter-log-events output: the envelope with every key", _envelope(), FIRES, True),
    ("get-log-events output: no stream name", _envelope(logStreamName=...), FIRES, True),
    (
        "subscription batch entry: id, no stream name, no ingestion time",
        _envelope(logStreamName=..., ingestionTime=..., eventId=..., id="3928774581"),
        FIRES,
        True,
    ),
    ("stream name null", _envelope(logStreamName=None), FIRES, True),
    (
        "another control-plane stream (the scheduler's log) is not the audit log (quiet)",
        _envelope(logStreamName="kube-scheduler-5d2a7c"),
        [],
        False,
    ),
    (
        "stream name that is not a string (quiet)",
        _envelope(logStreamName=["kube-apiserver-audit"]),
        [],
        False,
    ),
    (
        "a key CloudWatch does not write: still an EKS record, on meaning",
        _envelope(log_group="/aws/eks/prod/cluster"),
        FIRES,
        False,
    ),
    ("no timestamp (quiet)", _envelope(timestamp=...), [], False),
    ("timestamp null still counts as present", _envelope(timestamp=None), FIRES, True),
    (
        "message that is an object, not a string (quiet)",
        _envelope(message=json.loads(INNER)),
        [],
        False,
    ),
    ("message that is not JSON (quiet)", _envelope(message=INNER[:-1]), [], False),
    ("message that is a JSON array (quiet)", _envelope(message="[" + INNER + "]"), [], False),
    ("message that is not an audit event (quiet)", _envelope(message='{"kind":"Pod"}'), [], False),
    ("message with whitespace before the event", _envelope(message=" \n" + INNER), FIRES, False),
    (
        "message repeated: the first counts",
        _envelope()[:-1] + ',"message":"{}"}',
        FIRES,
        True,
    ),
    (
        "message repeated: the first counts (quiet)",
        '{"message":"{}",' + _envelope()[1:],
        [],
        False,
    ),
    (
        "escaped key names read as their text",
        _envelope().replace('"message"', '"mes\\u0073age"'),
        FIRES,
        True,
    ),
    (
        "a key repeated inside the event: the first counts, as on a plain line",
        _envelope(message=_audit_with('"verb":"create",', '"verb":"get"')),
        FIRES,
        True,
    ),
    (
        "a key repeated inside the event: the first counts (quiet)",
        _envelope(message=_audit_with('"verb":"get",', '"verb":"create"')),
        [],
        True,
    ),
    ("a trailing comma inside the event", _envelope(message=INNER[:-1] + ",}"), FIRES, True),
    (
        "envelope keys in another order",
        json.dumps(dict(reversed(json.loads(_envelope()).items()))),
        FIRES,
        True,
    ),
]


def _aks(**changes: Any) -> str:
    record: dict[str, Any] = {
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "category": "kube-audit",
        "resourceId": "/SUBSCRIPTIONS/3F2B9C1E/RESOURCEGROUPS/RG-PROD/PROVIDERS/"
        "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD",
        "properties": {"log": INNER, "stream": "stdout", "pod": "kube-apiserver-5d8f7-x2x9k"},
        "time": "2026-11-27T08:05:21.8850000Z",
    }
    for key, value in changes.items():
        record[key] = value
    return json.dumps(record, separators=(",", ":"))


AKS_CASES = [
    ("AKS kube-audit record", _aks(), FIRES, True),
    ("AKS kube-audit-admin record", _aks(category="kube-audit-admin"), FIRES, True),
    ("AKS category in another case (quiet)", _aks(category="Kube-Audit"), [], False),
    ("AKS category as a list (quiet)", _aks(category=["kube-audit"]), [], False),
    ("AKS another diagnostic category (quiet)", _aks(category="kube-apiserver"), [], False),
    ("AKS properties not an object (quiet)", _aks(properties=INNER), [], False),
    ("AKS log not a string (quiet)", _aks(properties={"log": json.loads(INNER)}), [], False),
    (
        "AKS properties repeated: the first counts",
        _aks()[:-1] + ',"properties":{"log":"{}"}}',
        FIRES,
        True,
    ),
    (
        "AKS record that is itself an audit event is judged as one (quiet)",
        _aks(kind="Event", apiVersion="audit.k8s.io/v1", verb="get"),
        [],
        True,
    ),
    (
        "AKS record with a kind that is not an audit event's",
        _aks(kind="Event", apiVersion="v1"),
        FIRES,
        True,
    ),
]
CASES += AKS_CASES


def _log(tmp_path: Path, lines: list[str]) -> Path:
    log = tmp_path / "eks.jsonl"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return log


@pytest.fixture(scope="module")
def variants(fast: FastHunt, tmp_path_factory: pytest.TempPathFactory) -> Variants:
    """The fast hunt's outcome and the typed scan's codes on one log that holds every case's
    line, in the order of ``CASES``: a scan costs far more than a line, and both are per line
    (``tests/test_hunt_duckdb.hunt_together``)."""
    folder = tmp_path_factory.mktemp("envelope-variants")
    log = _log(folder, [case[1] for case in CASES])
    return Variants(outcome(list(fast.hunt_file(log))), _typed_codes(fast, log, folder))


@dataclass(frozen=True)
class Variants:
    hunted: list[tuple[int, str]]
    codes: dict[int, str] | None


@pytest.mark.parametrize(("name", "line", "fires", "in_sql"), CASES, ids=[c[0] for c in CASES])
def test_envelope_variants_get_the_reference_verdicts(
    name: str,
    line: str,
    fires: list[str],
    in_sql: bool,
    variants: Variants,
    engine: ReferenceEngine,
    tmp_path: Path,
) -> None:
    reference = outcome(list(hunt_file(engine, _log(tmp_path, [line]))))
    assert reference == [(1, rule) for rule in fires], "the case no longer says what it tests"
    number = [case[0] for case in CASES].index(name) + 1  # the case's line in the variants' log
    assert [(1, verdict) for n, verdict in variants.hunted if n == number] == reference
    assert variants.codes is not None, "the typed scan failed"
    assert (variants.codes.get(number) != "R") is in_sql


def test_duckdb_reads_as_json_only_what_the_reference_reads_as_json() -> None:
    """The SQL opens an envelope only when ``json_valid`` accepts its string; the reference then
    must read the same string as JSON, or the two would disagree on whether it is an event."""
    texts = [
        '{"a":1,}',
        '{"a":[1,2,]}',
        '{"a":NaN}',
        '{"a":nan}',
        '{"a":-Infinity}',
        '{"a":inf}',
        '{"a":1e999}',
        ' {"a":1}',
        '{"a":1}\r',
        '{"a":1}\v',
        '\f{"a":1}',
        '{"a":"x\ty"}',
        '{"a":"\\ud800"}',
        '{"a":01}',
        '{"a":1.}',
        '{"a":+1}',
        '{"a":1,,}',
        '{/*c*/"a":1}',
        '{"a":1}{"b":2}',
        '\ufeff{"a":1}',
        '{"a":"\x7f"}',
        '{"a":1,"a":2}',
    ]
    con = duckdb.connect()
    offenders = [
        t
        for t in texts
        if con.execute("SELECT json_valid(?)", [t]).fetchone() == (True,)
        and parse_json_line(t)[1] is not None
    ]
    assert not offenders


AKS_KEYS = st.fixed_dictionaries(
    {"category": st.sampled_from(["kube-audit", "kube-audit-admin", "guard", "KUBE-AUDIT"])},
    optional={
        "properties": st.sampled_from([{}, {"stream": "stdout"}, {"log": 5}]),
        "kind": st.sampled_from(["Event", "Pod"]),
        "apiVersion": st.sampled_from(["audit.k8s.io/v1", "v1", None]),
        "time": st.just("2026-11-27T08:05:21.8850000Z"),
    },
)
EKS_KEYS = st.fixed_dictionaries(
    {},
    optional={
        "logStreamName": st.sampled_from(
            ["kube-apiserver-audit-1", "kube-apiserver-1", "Kube-apiserver-audit", None, 7]
        ),
        "ingestionTime": st.integers(min_value=0, max_value=2**53),
        "eventId": st.text(max_size=4),
        "id": st.text(max_size=4),
        "timestamp": st.sampled_from([1795766745517, None, "2026-11-27T08:05:21Z"]),
        "level": st.just("info"),
    },
)


@GENERATED
@given(
    events=st.lists(st.one_of(mutated_event(), shape_keeping_event()), min_size=30, max_size=90),
    envelopes=st.lists(st.one_of(EKS_KEYS, AKS_KEYS), min_size=90, max_size=90),
    styles=st.lists(st.sampled_from(sorted(STYLES)), min_size=180, max_size=180),
)
def test_generated_events_in_envelopes_get_the_reference_verdicts(
    events: list[dict[str, Any]],
    envelopes: list[dict[str, Any]],
    styles: list[str],
    fast: FastHunt,
    engine: ReferenceEngine,
    tmp_path: Path,
) -> None:
    lines = []
    for event, extra, inner, outer in zip(events, envelopes, styles, styles[90:], strict=False):
        text = STYLES[inner](event)
        if "category" in extra:
            record = {**extra, "properties": {"log": text, **extra.get("properties", {})}}
        else:
            record = {**extra, "message": text}
        lines.append(STYLES[outer](record))
    log = _log(tmp_path, lines)
    assert outcome(list(fast.hunt_file(log))) == outcome(list(hunt_file(engine, log)))
