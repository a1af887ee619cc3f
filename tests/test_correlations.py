"""Sigma correlation rules: the evaluator's windows and conditions, the fixture sequences, and
what each SIEM target compiles (correlations/, sigma_ext.reference.correlation,
sigma_ext.build.correlations)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sigma.correlations import SigmaCorrelationRule

from sigma_ext.build.correlations import CompiledCorrelation
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.correlations import CorrelationFile, fill_settings
from sigma_ext.reference.correlation import (
    BaseHit,
    Correlation,
    UnsupportedCorrelation,
    evaluate,
    parse_time,
    window_start,
)
from sigma_ext.reference.correlation_engine import CorrelationEngine
from sigma_ext.sources.catalogue import recognize
from sigma_ext.yamlio import load_located

ROOT = Path(__file__).resolve().parents[1]
SEQUENCES = sorted((ROOT / "fixtures").rglob("*.correlations.yml"))
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _correlation(text: str) -> SigmaCorrelationRule:
    rules = CorrelationFile(Path("x.yml"), text).collection().rules
    [correlation] = [r for r in rules if isinstance(r, SigmaCorrelationRule)]
    return correlation


BASE = """
title: a
name: created
logsource: {product: kubernetes, service: audit}
detection: {selection: {verb: create}, condition: selection}
---
title: b
name: deleted
logsource: {product: kubernetes, service: audit}
detection: {selection: {verb: delete}, condition: selection}
---
"""
TEMPORAL = Correlation.of(
    "t",
    _correlation(
        BASE
        + "title: c\ncorrelation: {type: temporal, rules: [created, deleted], "
        + "group-by: [user], timespan: 2m}\n"
    ),
)
COUNT = Correlation.of(
    "n",
    _correlation(
        BASE
        + "title: c\ncorrelation: {type: event_count, rules: [created], group-by: [user], "
        + "timespan: 5m, condition: {gt: 3}}\n"
    ),
)


def _hit(rule: str, seconds: float, who: str | None = "jane", line: int = 1) -> BaseHit:
    group = None if who is None else (who,)
    return BaseHit(rule, T0 + timedelta(seconds=seconds), group, ("f", line))


def test_windows_are_fixed_and_aligned_on_the_clock() -> None:
    assert window_start(T0 + timedelta(seconds=119.9), 120) == T0
    assert window_start(T0 + timedelta(seconds=120), 120) == T0 + timedelta(seconds=120)
    assert window_start(T0 - timedelta(microseconds=1), 120) == T0 - timedelta(seconds=120)


def test_temporal_needs_every_rule_in_one_window_and_group() -> None:
    assert len(evaluate(TEMPORAL, [_hit("created", 1), _hit("deleted", 119)])) == 1
    # across the boundary: split, as Splunk's bin and ES|QL's date_trunc split it
    assert evaluate(TEMPORAL, [_hit("created", 110), _hit("deleted", 121)]) == []
    assert evaluate(TEMPORAL, [_hit("created", 1), _hit("deleted", 2, who="omar")]) == []
    assert evaluate(TEMPORAL, [_hit("created", 1), _hit("created", 2)]) == []


def test_event_count_compares_with_the_condition() -> None:
    three = [_hit("created", s, line=s) for s in (1, 2, 3)]
    assert evaluate(COUNT, three) == []
    [fired] = evaluate(COUNT, [*three, _hit("created", 299, line=4)])
    assert fired.group == ("jane",)
    assert len(fired.hits) == 4
    assert evaluate(COUNT, [*three, _hit("created", 300, line=4)]) == []


def test_a_hit_without_its_group_field_is_left_out_as_splunk_stats_by_does() -> None:
    assert evaluate(COUNT, [_hit("created", s, who=None) for s in range(10)]) == []


def test_ordered_temporal_is_refused() -> None:
    text = BASE + (
        "title: c\ncorrelation: {type: temporal_ordered, rules: [created, deleted], "
        "group-by: [user], timespan: 2m}\n"
    )
    with pytest.raises(UnsupportedCorrelation):
        Correlation.of("o", _correlation(text))


def test_timestamps_of_every_delivery_parse() -> None:
    assert parse_time("2026-12-01T09:00:00.123456Z") == T0 + timedelta(microseconds=123456)
    assert parse_time("2026-11-23T04:02:40.118934123Z") == datetime(
        2026, 11, 23, 4, 2, 40, 118934, tzinfo=UTC
    )
    assert parse_time("") is None
    assert parse_time(17) is None


def test_a_fraction_before_an_offset_keeps_the_offset() -> None:
    """The fraction is its digits alone: the offset after it is the offset (the digits of
    ``+01:00`` were once read as more of the fraction, and the offset dropped)."""
    assert parse_time("2026-12-01T10:00:00.5+01:00") == T0 + timedelta(microseconds=500000)
    assert parse_time("2026-12-01T14:30:00.123456789+05:30") == T0 + timedelta(microseconds=123456)
    assert parse_time("2026-12-01T09:00:00.+00:00") is None  # a fraction has a digit
    assert parse_time("2026-12-01T09:00:00.\u0661Z") is None  # ASCII digits only


def test_the_profile_fills_the_window_and_threshold(corpus: Corpus) -> None:
    text, missing = fill_settings(
        "timespan: '%k8s_short_lived_pod_window%'\nuser: '%k8s_controller_identities%'",
        corpus.profile,
    )
    assert missing == []
    assert f"timespan: {corpus.profile.settings['k8s_short_lived_pod_window']}" in text
    assert "'%k8s_controller_identities%'" in text  # a list: left to the pipeline
    lacking = replace(corpus.profile, settings={})
    assert fill_settings("timespan: '%k8s_short_lived_pod_window%'", lacking)[1] == [
        "k8s_short_lived_pod_window"
    ]


def _sequence_hits(
    engine: CorrelationEngine, jsonl: Path
) -> set[tuple[str, str, tuple[str, ...], tuple[int, ...]]]:
    items = []
    for number, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines(), start=1):
        event = json.loads(line)
        source = recognize(event)
        assert source is not None
        items.append((source, source.decode(event), (jsonl.name, number)))
    found = set()
    for hit in engine.correlate(items):
        data = hit.to_json_dict()
        lines = tuple(int(place.rsplit(":", 1)[1]) for place in data["events"])
        found.add((data["correlation"], data["window_start"], tuple(data["group"]), lines))
    return found


@pytest.mark.parametrize("expected", SEQUENCES, ids=[p.name for p in SEQUENCES])
def test_sequences_give_exactly_the_expected_correlation_hits(
    expected: Path, corpus: Corpus, correlation_files: list[CorrelationFile]
) -> None:
    engine = CorrelationEngine(corpus, correlation_files)
    jsonl = expected.with_name(expected.name.removesuffix(".correlations.yml") + ".jsonl")
    want = {
        (h["correlation"], h["window_start"], tuple(h["group"]), tuple(h["lines"]))
        for h in load_located(expected).data["hits"]
    }
    assert _sequence_hits(engine, jsonl) == want


def test_every_correlation_fires_in_some_sequence(correlation_files: list[CorrelationFile]) -> None:
    named = {
        h["correlation"] for expected in SEQUENCES for h in load_located(expected).data["hits"]
    }
    assert {f.stem for f in correlation_files} <= named


@pytest.fixture(scope="module")
def compiled(compiled_correlations: list[CompiledCorrelation]) -> list[CompiledCorrelation]:
    """Here ``compiled`` names the correlations (conftest's names the single rules)."""
    return compiled_correlations


def _verdict(
    compiled: list[CompiledCorrelation], stem: str, source: str, target: str
) -> CompiledCorrelation:
    [result] = [
        c for c in compiled if (c.correlation, c.source, c.target) == (stem, source, target)
    ]
    return result


def test_splunk_compiles_stats_with_fixed_windows(compiled: list[CompiledCorrelation]) -> None:
    short = _verdict(compiled, "kubernetes_audit_short_lived_pod", "kubernetes_audit", "splunk")
    # the collector stamps the read time: the windows are cut on it (test_correlation_emulation)
    assert short.status == "degraded"
    assert [r.subject for r in short.reasons] == ["window time"]
    assert short.query is not None
    assert "| multisearch" in short.query
    assert "| bin _time span=2m" in short.query
    assert "by _time objectRef.namespace objectRef.name user.username" in short.query
    burst = _verdict(
        compiled, "kubernetes_audit_creation_burst_by_identity", "kubernetes_audit_eks", "splunk"
    )
    assert burst.status == "ok"
    assert burst.query is not None
    assert "| stats count as event_count by _time user.username" in burst.query
    assert "| search event_count > 10" in burst.query


def test_splunk_puts_the_prelude_where_each_base_search_starts(
    compiled: list[CompiledCorrelation],
) -> None:
    short = _verdict(compiled, "kubernetes_audit_short_lived_pod", "kubernetes_audit_aks", "splunk")
    assert short.query is not None
    assert short.query.count('[ search sourcetype="mscs:azure:eventhub"') == 2
    assert short.query.count("spath input=properties.log | search ") == 2
    gke = _verdict(
        compiled, "kubernetes_audit_creation_burst_in_namespace", "kubernetes_audit_gke", "splunk"
    )
    assert gke.status == "degraded"
    assert gke.query is not None
    assert gke.query.startswith('sourcetype="google:gcp:pubsub:message"')
    assert "by _time sx_namespace" in gke.query


def test_elastic_compiles_esql_and_says_why_not_per_source(
    compiled: list[CompiledCorrelation],
) -> None:
    plain = _verdict(compiled, "kubernetes_audit_short_lived_pod", "kubernetes_audit", "elastic")
    assert plain.status == "degraded"
    assert [r.subject for r in plain.reasons] == ["window time"]
    assert plain.language == "esql"
    assert plain.query is not None
    assert "date_trunc(2minutes,@timestamp)" in plain.query.replace(" ", "")
    aks = _verdict(compiled, "kubernetes_audit_short_lived_pod", "kubernetes_audit_aks", "elastic")
    assert aks.status == "shared"
    assert aks.shared is not None
    gke = _verdict(compiled, "kubernetes_audit_short_lived_pod", "kubernetes_audit_gke", "elastic")
    assert gke.status == "impossible"
    assert gke.query is None
    assert [r.subject for r in gke.reasons] == ["objectRef.namespace"]
    by_identity = _verdict(
        compiled, "kubernetes_audit_creation_burst_by_identity", "kubernetes_audit_gke", "elastic"
    )
    assert by_identity.status == "degraded"
    assert by_identity.query is not None
    assert "client.user.email" in by_identity.query


def test_every_correlation_has_a_verdict_for_every_source_and_siem(
    compiled: list[CompiledCorrelation], correlation_files: list[CorrelationFile]
) -> None:
    for correlation_file in correlation_files:
        for source in correlation_file.sources():
            for target in ("splunk", "elastic"):
                result = _verdict(compiled, correlation_file.stem, source.name, target)
                assert result.status in ("ok", "degraded", "shared", "impossible")
                assert (result.query is None) == (result.status == "impossible")
                assert result.status == "ok" or result.reasons or result.shared


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_both_hunt_engines_print_the_correlation_hits(
    engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sigma_ext.cli.main import main

    files = [
        str(p.with_name(p.name.removesuffix(".correlations.yml") + ".jsonl")) for p in SEQUENCES
    ]
    assert main(["hunt", "--root", str(ROOT), "--engine", engine, *files]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    found = {
        (
            h["correlation"],
            h["window_start"],
            tuple(h["group"]),
            tuple(int(e.rsplit(":", 1)[1]) for e in h["events"]),
        )
        for h in printed
        if "correlation" in h
    }
    want = {
        (h["correlation"], h["window_start"], tuple(h["group"]), tuple(h["lines"]))
        for expected in SEQUENCES
        for h in load_located(expected).data["hits"]
    }
    assert found == want
    assert all(
        h["level"] == "medium" and h["correlation_id"] for h in printed if "correlation" in h
    )
