"""The compiled correlation queries run on the documents each SIEM stores, against the reference
correlation evaluator on the same events (docs/correlations.md, "Emulated").

Each correlation fixture sequence is delivered as every source of the correlation's log source
would deliver it (the plain audit line, an EKS CloudWatch Logs event, an AKS resource-log record,
a GKE Cloud Audit Logs entry, each stamped with the event's stage time), turned into the
documents Splunk and Elastic store (with ``_time`` / ``@timestamp``), and searched with the
compiled query for every result that has one (ok, degraded, shared). The windows and groups the
query reports must be exactly the reference engine's hits on the same events, with the same
counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sigma_ext.build.correlations import CompiledCorrelation
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.correlations import CorrelationFile
from sigma_ext.emulate import QueryError, Unsupported, esql_stats, spl_stats
from sigma_ext.emulate.documents import Document, build_document
from sigma_ext.reference.correlation import parse_time
from sigma_ext.reference.correlation_engine import CorrelationEngine
from sigma_ext.sources.catalogue import source_named
from sigma_ext.yamlio import load_located

from .conftest import ROOT

SEQUENCES = sorted((ROOT / "fixtures").rglob("*.correlations.yml"))
Event = dict[str, Any]
Found = set[tuple[str, datetime, tuple[str | None, ...], int]]


def _stage_time(event: Event) -> datetime:
    time = parse_time(event["stageTimestamp"])
    assert time is not None
    return time


def _eks(event: Event, number: int) -> Event:
    """A CloudWatch Logs event of the cluster's audit stream, as filter-log-events prints it."""
    millis = int(_stage_time(event).timestamp() * 1000)
    return {
        "timestamp": millis,
        "message": json.dumps(event, separators=(",", ":")),
        "logStreamName": "kube-apiserver-audit-5c1e2a9d7b3f4e60",
        "ingestionTime": millis + 740,
        "eventId": f"3{number:055d}",
    }


def _aks(event: Event, number: int) -> Event:
    """An AKS resource-log record of the kube-audit category (one record of an Event Hub batch)."""
    return {
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "category": "kube-audit",
        "ccpNamespace": "6a6ae768f2ed66ffdcc99396",
        "resourceId": "/SUBSCRIPTIONS/3F2B9C1E-7D4A-4E6B-9A0C-5B1D2E3F4A5B/RESOURCEGROUPS/"
        "RG-SHOP-PROD/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-SHOP-PROD",
        "properties": {
            "log": json.dumps(event, separators=(",", ":")),
            "stream": "stdout",
            "pod": f"kube-apiserver-7d9c5f6b8-{number:05d}",
        },
        "time": event["stageTimestamp"],
    }


def _gke(event: Event, number: int) -> Event:
    """The Cloud Audit Logs entry GKE writes for the request (docs/gke-audit.md)."""
    reference = event["objectRef"]
    group = reference.get("apiGroup") or "core"
    version = reference["apiVersion"]
    path = f"{group}/{version}/namespaces/{reference['namespace']}/{reference['resource']}"
    if reference.get("name"):
        path += f"/{reference['name']}"
    method = f"io.k8s.{group}.{version}.{reference['resource']}.{event['verb']}"
    payload: Event = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": event["user"]["username"]},
        "methodName": method,
        "requestMetadata": {
            "callerIp": event["sourceIPs"][0],
            "callerSuppliedUserAgent": event.get("userAgent", ""),
        },
        "resourceName": path,
        "serviceName": "k8s.io",
        "status": {},
    }
    if "requestObject" in event:
        payload["request"] = {"@type": f"{group}.k8s.io/{version}.Object", **event["requestObject"]}
    return {
        "protoPayload": payload,
        "insertId": f"{number:08x}-34b0-4c70-becb-17323934dd33",
        "resource": {
            "type": "k8s_cluster",
            "labels": {
                "project_id": "corp-prod",
                "location": "europe-west1",
                "cluster_name": "gke-shop-prod",
            },
        },
        "timestamp": event["stageTimestamp"],
        "logName": "projects/corp-prod/logs/cloudaudit.googleapis.com%2Factivity",
    }


DELIVERIES: dict[str, Callable[[Event, int], Event]] = {
    "kubernetes_audit": lambda event, number: event,
    "kubernetes_audit_eks": _eks,
    "kubernetes_audit_aks": _aks,
    "kubernetes_audit_gke": _gke,
}


@pytest.fixture(scope="module")
def compiled(compiled_correlations: list[CompiledCorrelation]) -> list[CompiledCorrelation]:
    """Here ``compiled`` names the correlations (conftest's names the single rules)."""
    return compiled_correlations


@pytest.fixture(scope="module")
def correlation_engine(
    corpus: Corpus, correlation_files: list[CorrelationFile]
) -> CorrelationEngine:
    return CorrelationEngine(corpus, correlation_files)


def _delivered(jsonl: Path, source: str) -> list[Event]:
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    return [DELIVERIES[source](json.loads(line), n) for n, line in enumerate(lines, start=1)]


def _reference(engine: CorrelationEngine, events: list[Event], source: str, stem: str) -> Found:
    catalogue = source_named(source)
    items = []
    for number, event in enumerate(events, start=1):
        assert catalogue.recognize(event), f"line {number} is no {source} event"
        items.append((catalogue, catalogue.decode(event), ("sequence", number)))
    return {
        (
            stem,
            hit.window_start,
            hit.group,
            len({h.rule for h in hit.hits}) if "short_lived" in stem else len(hit.hits),
        )
        for hit in engine.correlate(items)
        if hit.correlation == stem
    }


_SPL_STATS = re.compile(r"^\| stats \S+(?:\(\S+\))? as (?P<count>\S+) by _time (?P<by>.+)$", re.M)
_ESQL_STATS = re.compile(r"\| stats (?P<count>\w+)=\w+\([^)]*\) by timebucket, (?P<by>.+)$", re.M)


def _emulated(result: CompiledCorrelation, documents: list[Document]) -> Found:
    """The windows, groups and counts the compiled query reports."""
    assert result.query is not None
    found: Found = set()
    if result.target == "splunk":
        shape = _SPL_STATS.search(result.query)
        assert shape is not None, result.query
        by = shape.group("by").split()
        for row in spl_stats.run_search(result.query, documents):
            [start] = row["_time"]
            group = tuple(row[name][0] if row.get(name) else None for name in by)
            [count] = row[shape.group("count")]
            window = datetime.fromtimestamp(int(start), tz=UTC)
            found.add((result.correlation, window, group, int(count)))
        return found
    shape = _ESQL_STATS.search(result.query)
    assert shape is not None, result.query
    by = [name.strip() for name in shape.group("by").split(",")]
    for aggregated in esql_stats.run_rows(result.query, documents):
        key = tuple(aggregated[name] for name in by)
        count_of = aggregated[shape.group("count")]
        found.add((result.correlation, aggregated["timebucket"], key, count_of))
    return found


RUNNABLE = ("ok", "degraded", "shared")


@pytest.mark.parametrize("expected", SEQUENCES, ids=[p.name for p in SEQUENCES])
@pytest.mark.parametrize("source", sorted(DELIVERIES))
def test_compiled_correlations_report_the_reference_hits(
    expected: Path,
    source: str,
    compiled: list[CompiledCorrelation],
    correlation_engine: CorrelationEngine,
) -> None:
    jsonl = expected.with_name(expected.name.removesuffix(".correlations.yml") + ".jsonl")
    events = _delivered(jsonl, source)
    documents = {
        target: [build_document(target, source, event) for event in events]
        for target in ("splunk", "elastic")
    }
    ran = 0
    for result in compiled:
        if result.source != source:
            continue
        want = _reference(correlation_engine, events, source, result.correlation)
        if result.status not in RUNNABLE:
            assert result.query is None
            continue
        got = _emulated(result, documents[result.target])
        assert got == want, f"{result.correlation} {source} {result.target}:\n{result.query}"
        ran += 1
    assert ran >= 4  # three correlations on two targets, less GKE's two impossible Elastic ones


def test_the_plain_sequences_give_the_expected_windows_on_both_siems(
    compiled: list[CompiledCorrelation],
) -> None:
    """The boundary cases hold in the SIEMs too: a pair split by a window boundary, a burst split
    6 and 6, ten creations (not more than ten) are quiet; exactly the expected windows fire."""
    for expected in SEQUENCES:
        jsonl = expected.with_name(expected.name.removesuffix(".correlations.yml") + ".jsonl")
        want = {
            (h["correlation"], parse_time(h["window_start"]), tuple(h["group"]))
            for h in load_located(expected).data["hits"]
        }
        events = _delivered(jsonl, "kubernetes_audit")
        for target in ("splunk", "elastic"):
            documents = [build_document(target, "kubernetes_audit", e) for e in events]
            got = {
                (stem, window, group)
                for result in compiled
                if result.source == "kubernetes_audit" and result.target == target
                for stem, window, group, _ in _emulated(result, documents)
            }
            assert got == want, f"{expected.name} on {target}"


def _read_later(document: Document, delay: timedelta) -> Document:
    """The document as a collector stamps it ``delay`` after the API server wrote the event."""
    if document.target == "splunk":
        [stamp] = document.values["_time"]
        later = f"{float(stamp) + delay.total_seconds():.6f}"
        return replace(document, values={**document.values, "_time": (later,)})
    [time] = document.values["@timestamp"]
    return replace(document, values={**document.values, "@timestamp": (time + delay,)})


def test_the_read_time_stamp_of_plain_audit_files_moves_a_pair_across_a_boundary(
    compiled: list[CompiledCorrelation], correlation_engine: CorrelationEngine
) -> None:
    """The documented difference behind the plain audit file's ``window time`` reason: its
    collectors stamp the time they read the line. Read 0.5 s late, the curl-check deletion
    written at 09:03:59.921 lands in the 09:04 window, and both SIEMs miss that pair, which the
    evaluator (stageTimestamp) reports; every other hit stays. EKS, AKS and GKE carry a time
    written with the event, and have no such reason."""
    stem = "kubernetes_audit_short_lived_pod"
    jsonl = ROOT / "fixtures/kubernetes_audit/correlations/short_lived_pods.jsonl"
    events = _delivered(jsonl, "kubernetes_audit")
    want = _reference(correlation_engine, events, "kubernetes_audit", stem)
    for target in ("splunk", "elastic"):
        [result] = [
            c
            for c in compiled
            if (c.correlation, c.source, c.target) == (stem, "kubernetes_audit", target)
        ]
        assert result.status == "degraded"
        assert "window time" in [r.subject for r in result.reasons]
        documents = [
            _read_later(build_document(target, "kubernetes_audit", event), timedelta(seconds=0.5))
            for event in events
        ]
        got = _emulated(result, documents)
        assert got < want
        assert {group[1] for _, _, group, _ in want - got} == {"curl-check"}
    for other in compiled:
        if other.source != "kubernetes_audit":
            assert "window time" not in [r.subject for r in other.reasons]


# ---------------------------------------------------------------------------------------------
# The aggregating commands themselves


def _splunk_docs(*rows: dict[str, str]) -> list[Document]:
    return [
        Document("splunk", "s", "main", {k: (v,) for k, v in row.items()}, {}, {}) for row in rows
    ]


def _elastic_docs(*rows: dict[str, Any]) -> list[Document]:
    return [
        Document(
            "elastic",
            "s",
            "logs-x-default",
            {k: (v,) for k, v in row.items() if v is not None},
            {"user": "keyword", "@timestamp": "date", "verb": "keyword"},
        )
        for row in rows
    ]


T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_splunk_stats_by_drops_events_without_the_field_and_bins_on_the_epoch() -> None:
    base = T.timestamp()
    docs = _splunk_docs(
        {"_time": f"{base + 119.9:.6f}", "user": "jane"},
        {"_time": f"{base + 1:.6f}", "user": "jane"},
        {"_time": f"{base + 120:.6f}", "user": "jane"},
        {"_time": f"{base + 5:.6f}"},
    )
    rows = spl_stats.run_search(
        "user=* OR NOT user=* | bin _time span=2m | stats count by _time user", docs
    )
    assert rows == [
        {"_time": (str(int(base)),), "user": ("jane",), "count": ("2",)},
        {"_time": (str(int(base) + 120),), "user": ("jane",), "count": ("1",)},
    ]
    rows = spl_stats.run_search(
        "user=* | stats dc(_time) as times by user | search times >= 3", docs
    )
    assert rows == [{"user": ("jane",), "times": ("3",)}]


def test_esql_stats_by_keeps_a_null_group_and_truncates_on_the_epoch() -> None:
    docs = _elastic_docs(
        {"@timestamp": T.replace(second=59), "user": "jane"},
        {"@timestamp": T.replace(minute=1, second=59), "user": "jane"},
        {"@timestamp": T.replace(minute=2), "user": "jane"},
        {"@timestamp": T, "user": None},
    )
    query = (
        "FROM logs-x-* | EVAL b = date_trunc(2 minutes, @timestamp) "
        "| STATS n = count() BY b, user | WHERE n >= 1"
    )
    assert esql_stats.run_rows(query, docs) == [
        {"n": 2, "b": T, "user": "jane"},
        {"n": 1, "b": T, "user": None},
        {"n": 1, "b": T.replace(minute=2), "user": "jane"},
    ]
    with pytest.raises(QueryError, match="Unknown column"):
        esql_stats.run_rows("FROM logs-x-* | STATS n = count() BY user | WHERE verb == 1", docs)


def test_multisearch_keeps_an_event_once_per_subsearch_that_keeps_it() -> None:
    docs = _splunk_docs({"_time": "60", "user": "jane", "verb": "create"})
    query = (
        '| multisearch [ search verb=create | eval t="a" ] [ search user=jane | eval t="b" ] '
        "| stats count dc(t) as kinds by user"
    )
    assert spl_stats.run_search(query, docs) == [
        {"user": ("jane",), "count": ("2",), "kinds": ("2",)}
    ]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("user=* | eventstats count by user", Unsupported),
        ("user=* | stats avg(x) by user", Unsupported),
        ("user=* | bin _time span=1d", Unsupported),
        ("user=* | bin _time span=5m aligntime=earliest", Unsupported),
        ("user=* | sort user", Unsupported),
        ("| multisearch [ search user=* ]", QueryError),
        ("| multisearch [ search user=* | stats count ] [ search verb=* ]", QueryError),
        ("| tstats count", Unsupported),
    ],
)
def test_spl_commands_outside_the_subset_raise(query: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        spl_stats.run_search(query, _splunk_docs({"_time": "0", "user": "jane"}))


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("FROM logs-x-* | STATS n = avg(user)", Unsupported),
        ("FROM logs-x-* | STATS count()", Unsupported),
        ("FROM logs-x-* | STATS n = count() | STATS m = count()", Unsupported),
        ("FROM logs-x-* | STATS n = count() BY user | SORT n", Unsupported),
        ("FROM logs-x-* | EVAL b = date_trunc(1 month, @timestamp)", Unsupported),
        ("FROM logs-x-* | STATS n = count() BY nope", QueryError),
    ],
)
def test_esql_commands_outside_the_subset_raise(query: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        esql_stats.run_rows(query, _elastic_docs({"@timestamp": T, "user": "jane"}))
