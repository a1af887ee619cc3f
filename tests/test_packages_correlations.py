"""Correlation rules in the SIEM packages: saved searches of the Splunk app (every tuning mode,
Enterprise Security) and ES|QL rules in the Kibana import file, with windows that read each
correlation window whole; and unknown ATT&CK tags reported by check and build."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sigma_ext.build.correlation_package import (
    DELIVERY_LAG_SECONDS,
    PackagedCorrelation,
    group_fields,
    packaged,
)
from sigma_ext.build.correlations import CompiledCorrelation
from sigma_ext.build.elastic.correlation_rules import refusal, rule_query, unknown_columns
from sigma_ext.build.elastic.kibana import KIBANA_SEVERITY, kibana_rule_schema
from sigma_ext.build.folder import build
from sigma_ext.build.splunk import correlation_searches
from sigma_ext.build.splunk.app import SPLUNK_SEVERITY
from sigma_ext.build.splunk.correlation_searches import (
    one_line,
    stanza_name,
    triage_columns,
    tuned_with_correlations,
)
from sigma_ext.build.splunk.knowledge_objects import expand_macros
from sigma_ext.build.splunk.tuning_modes import TUNING_MODES
from sigma_ext.cli.main import main
from sigma_ext.content.attack import split_tags, unknown_tag_message
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.correlations import CorrelationFile, load_correlations
from sigma_ext.content.rules import load_rules
from sigma_ext.emulate import esql_stats, spl_stats
from sigma_ext.emulate.documents import build_document
from sigma_ext.problems import ProblemsFound

from .conftest import ROOT, Builds
from .test_correlation_emulation import DELIVERIES, _delivered
from .test_packages import ES_SETTINGS, MACRO_CALL, Conf, app, conf, expand

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@pytest.fixture(scope="module")
def files(correlation_files: list[CorrelationFile]) -> list[CorrelationFile]:
    return correlation_files


@pytest.fixture(scope="module")
def splunk(
    compiled_correlations: list[CompiledCorrelation], files: list[CorrelationFile]
) -> list[PackagedCorrelation]:
    return packaged(compiled_correlations, files, "splunk")


@pytest.fixture(scope="module")
def compiled_elastic(
    compiled_correlations: list[CompiledCorrelation], files: list[CorrelationFile]
) -> list[PackagedCorrelation]:
    return packaged(compiled_correlations, files, "elastic")


@pytest.fixture(scope="module")
def elastic(compiled_elastic: list[PackagedCorrelation]) -> list[PackagedCorrelation]:
    """The Elastic correlations that become Kibana rules."""
    return [p for p in compiled_elastic if refusal(p) is None]


def seconds(text: str) -> int:
    return int(text[:-1]) * UNITS[text[-1]]


def correlation_stanzas(out: Path) -> Conf:
    searches = conf(out, "default/savedsearches.conf")
    return {n: s for n, s in searches.items() if "Sigma correlation rule" in s["description"]}


def reads_every_window_whole(
    lookback: int, interval: int, window: int, snap_minute: bool, phase: int
) -> bool:
    """Runs at ``phase + k * interval`` each read ``[t - lookback, t]`` (snapped down to the
    minute as Splunk's ``@m``); is every clock-aligned window read whole by the first run that
    starts ``DELIVERY_LAG_SECONDS`` after the window ends?"""
    for start in range(window * 10, window * 10 + 48 * 3600, window):
        end = start + window
        k = -(-(end + DELIVERY_LAG_SECONDS - phase) // interval)
        t = phase + k * interval
        earliest = t - lookback
        if snap_minute:
            earliest -= earliest % 60
        if earliest > start:
            return False
    return True


# --- packaged: what ends where ------------------------------------------------------------


def test_ok_and_degraded_results_are_packaged_shared_and_impossible_are_not(
    compiled_correlations: list[CompiledCorrelation],
    splunk: list[PackagedCorrelation],
    compiled_elastic: list[PackagedCorrelation],
) -> None:
    chosen = {(p.file.stem, p.source.name, p.compiled.target) for p in splunk + compiled_elastic}
    for c in compiled_correlations:
        assert ((c.correlation, c.source, c.target) in chosen) == (c.status in ("ok", "degraded"))
    assert {p.compiled.status for p in compiled_elastic} == {"ok", "degraded"}
    assert any(c.status == "shared" for c in compiled_correlations)
    assert any(c.status == "impossible" for c in compiled_correlations)


def test_correlations_md_says_what_each_target_got_and_where(
    example_builds: Builds,
    compiled_correlations: list[CompiledCorrelation],
    elastic: list[PackagedCorrelation],
    compiled_elastic: list[PackagedCorrelation],
) -> None:
    text = (example_builds["macros"] / "correlations.md").read_text()
    packaged_section = text.split("## Packaged", 1)[1]
    rows = [line.split(" | ") for line in packaged_section.splitlines() if line.startswith("| k")]
    assert len(rows) == len(compiled_correlations)
    ids = {(p.file.stem, p.source.name): p.output_id for p in elastic}
    refused = {(p.file.stem, p.source.name) for p in compiled_elastic if p not in elastic}
    for row, c in zip(rows, compiled_correlations, strict=True):
        assert row[0].lstrip("| ") == c.correlation
        assert row[1] == c.source
        assert row[2] == c.target
        if c.status in ("shared", "impossible"):
            assert row[3] == "nothing"
            assert c.status in row[4]
        elif (c.correlation, c.source) in refused and c.target == "elastic":
            assert row[3] == "nothing"
            assert "not packaged" in row[4]
            assert "unknown column" in row[4]
        elif c.target == "splunk":
            assert row[3] == "saved search"
            assert "savedsearches.conf" in row[4]
        else:
            assert row[3] == "ES\\|QL detection rule"
            assert ids[(c.correlation, c.source)] in row[4]


# --- Splunk -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", TUNING_MODES)
def test_one_disabled_scheduled_alert_per_packaged_correlation(
    example_builds: Builds, splunk: list[PackagedCorrelation], corpus: Corpus, mode: str
) -> None:
    stanzas = correlation_stanzas(example_builds[mode])  # type: ignore[index]
    assert set(stanzas) == {stanza_name(p) for p in splunk}
    for p in splunk:
        s = stanzas[stanza_name(p)]
        assert (s["disabled"], s["enableSched"], s["realtime_schedule"]) == ("1", "1", "0")
        assert "dispatch.index_earliest" not in s, "event time: one window's events may be "
        "indexed apart"
        assert s["alert.severity"] == str(SPLUNK_SEVERITY[p.level])
        assert s["alert.track"] == ("1" if p.level != "informational" else "0")
        assert f"Sigma correlation rule {p.rule_id}" in s["description"]
        if p.compiled.status == "degraded":
            assert "DEGRADED: " + " ".join(p.why) in s["description"]
        else:
            assert "DEGRADED" not in s["description"]
        # throttled by the group-by fields, which the aggregated rows carry
        group = group_fields(p.query, "spl")
        assert s["alert.suppress.fields"].split(",") == list(group)
        assert len(group) == len(p.group_by)
        throttle = seconds(corpus.profile.throttle_period(p.theme))
        assert seconds(s["alert.suppress.period"]) == max(throttle, p.lookback_seconds)


@pytest.mark.parametrize("mode", TUNING_MODES)
def test_splunk_runs_read_every_correlation_window_whole(
    example_builds: Builds, splunk: list[PackagedCorrelation], mode: str
) -> None:
    """Whatever the schedule's phase (allow_skew), the first run 15 minutes after a window ends
    reads the whole window; and a window read whole twice is one alert (throttle >= range)."""
    stanzas = correlation_stanzas(example_builds[mode])  # type: ignore[index]
    for p in splunk:
        s = stanzas[stanza_name(p)]
        match = re.fullmatch(r"-(\d+[smhd])@m", s["dispatch.earliest_time"])
        assert match is not None
        assert s["dispatch.latest_time"] == "now"
        lookback = seconds(match.group(1))
        cron = re.fullmatch(r"\*/(\d+) \* \* \* \*", s["cron_schedule"])
        interval = int(cron.group(1)) * 60 if cron else 3600
        assert lookback >= p.window_seconds, "earliest covers the window"
        for phase in range(0, interval, 37):
            assert reads_every_window_whole(lookback, interval, p.window_seconds, True, phase)
        assert not all(
            reads_every_window_whole(lookback - interval, interval, p.window_seconds, True, phase)
            for phase in range(0, interval, 37)
        ), "a shorter look-back misses windows at some phase: the check can fail"
        assert seconds(s["alert.suppress.period"]) >= lookback


def test_inline_searches_are_the_compiled_correlations_with_triage_columns(
    example_builds: Builds, splunk: list[PackagedCorrelation]
) -> None:
    out = example_builds["inline"]
    stanzas = correlation_stanzas(out)
    for p in splunk:
        spl = out / "splunk" / "correlations" / f"{p.output_stem}.spl"
        assert spl.read_text() == p.query + "\n"
        search = stanzas[stanza_name(p)]["search"]
        head, _, triage = search.rpartition(" | eval ")
        assert head == one_line(p.query)
        assert triage.startswith(f'rule_id="{p.output_id}"')
        assert "`" not in search


@pytest.mark.parametrize("mode", ["macros", "lookups"])
def test_tuned_correlation_searches_expand_to_the_inline_ones(
    example_builds: Builds, splunk: list[PackagedCorrelation], corpus: Corpus, mode: str
) -> None:
    """The macros (and lookups) of the single rules serve the correlations too: expanded, the
    search minus its filter macro is the inline search; the filter macro is its own."""
    inline = correlation_stanzas(example_builds["inline"])
    tuned = correlation_stanzas(example_builds[mode])  # type: ignore[index]
    macros = conf(example_builds[mode], "default/macros.conf")  # type: ignore[index]
    for p in splunk:
        search = tuned[stanza_name(p)]["search"]
        body, _, last = search.rpartition(" | ")
        filter_macro = MACRO_CALL.fullmatch(last)
        assert filter_macro is not None
        assert filter_macro.group(1).endswith("_filter")
        assert macros[filter_macro.group(1)]["definition"] == "search *"
        calls = set(MACRO_CALL.findall(body))
        assert any(c.startswith("sigma_ext_k8s_controller_identities") for c in calls)
        leaks = [e for e in corpus.profile.lists["k8s_controller_identities"] if f'"{e}"' in body]
        assert leaks == [], "the tuning values live in the macros"
        if mode == "macros":
            assert expand(body, macros) == inline[stanza_name(p)]["search"]
    if mode == "lookups":
        macro_build = correlation_stanzas(example_builds["macros"])
        assert {n: s["search"] for n, s in tuned.items()} == {
            n: s["search"] for n, s in macro_build.items()
        }


def test_enterprise_security_correlation_searches(
    example_builds: Builds, splunk: list[PackagedCorrelation]
) -> None:
    plain = correlation_stanzas(example_builds["macros"])
    es = correlation_stanzas(example_builds["es"])
    for p in splunk:
        name = stanza_name(p)
        settings = es[name]
        assert {k: v for k, v in settings.items() if k not in ES_SETTINGS} == plain[name]
        _, techniques = split_tags(list(p.tags))
        annotations = json.loads(settings["action.correlationsearch.annotations"])
        assert annotations == {"mitre_attack": techniques}
        assert techniques
        assert settings["action.correlationsearch.label"] == name
        risk = json.loads(settings["action.risk.param._risk"])
        triage = settings["search"].rpartition(" | eval ")[2]
        if "user.username" in p.group_by:
            assert risk[0]["risk_object_field"] == "user"
            assert "user='" in triage
        assert f"{risk[0]['risk_object_field']}=" in triage or risk[0][
            "risk_object_field"
        ] in group_fields(p.query, "spl")
        assert ("action.notable" in settings) == (p.level != "informational")
        if "action.notable" in settings:
            assert settings["action.notable.param.severity"] == p.level
            drilldown = settings["action.notable.param.drilldown_search"]
            assert drilldown.startswith(settings["search"] + " | search ")


# --- Kibana -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kibana_lines(example_builds: Builds) -> list[dict[str, Any]]:
    text = (example_builds["macros"] / "elastic" / "detection-rules.ndjson").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_one_esql_rule_per_packaged_correlation_valid_for_kibana(
    kibana_lines: list[dict[str, Any]], elastic: list[PackagedCorrelation]
) -> None:
    lines = [r for r in kibana_lines if "Sigma: correlation" in r["tags"]]
    assert [r["rule_id"] for r in lines] == [p.output_id for p in elastic]
    assert kibana_lines[-len(lines) :] == lines, "after the single rules"
    validator = jsonschema.Draft202012Validator(kibana_rule_schema())
    for rule, p in zip(lines, elastic, strict=True):
        assert list(validator.iter_errors(rule)) == []
        assert (rule["type"], rule["language"], rule["enabled"]) == ("esql", "esql", False)
        assert "index" not in rule, "ES|QL names its indices in FROM"
        assert rule["query"].startswith(p.query + "\n| keep timebucket, ")
        assert rule["query"].endswith(", event_count") or rule["query"].endswith(
            ", event_type_count"
        )
        # an aggregating query: Kibana needs no _id for it (STATS drops the metadata columns)
        assert re.search(r"\| stats .* by timebucket, ", rule["query"])
        if p.primary:
            assert rule["rule_id"] == p.rule_id
        else:
            assert rule["rule_id"] == str(uuid.uuid5(uuid.UUID(p.rule_id), p.source.name))
        assert (rule["severity"], rule["risk_score"]) == KIBANA_SEVERITY[p.level]
        tactics, techniques = split_tags(list(p.tags))
        assert [t["tactic"]["name"].lower().replace(" ", "-") for t in rule["threat"]] == tactics
        assert {t["id"] for entry in rule["threat"] for t in entry["technique"]} == set(techniques)
        group = list(group_fields(p.query, "esql"))
        assert len(group) == len(p.group_by)
        assert rule["alert_suppression"]["group_by"] == group
        assert rule["investigation_fields"]["field_names"] == group
        assert ("building_block_type" in rule) == (p.level == "informational")
        if p.compiled.status == "degraded":
            assert all(reason in rule["note"] for reason in p.why)
        assert "timestamp_override" not in rule, "date_trunc buckets @timestamp"


def test_kibana_runs_read_every_correlation_window_whole(
    kibana_lines: list[dict[str, Any]], elastic: list[PackagedCorrelation]
) -> None:
    rules = {r["rule_id"]: r for r in kibana_lines}
    for p in elastic:
        rule = rules[p.output_id]
        match = re.fullmatch(r"now-(\d+[smhd])", rule["from"])
        assert match is not None
        assert rule["to"] == "now"
        lookback, interval = seconds(match.group(1)), seconds(rule["interval"])
        for phase in range(0, interval, 37):
            assert reads_every_window_whole(lookback, interval, p.window_seconds, False, phase)
        assert not all(
            reads_every_window_whole(lookback - interval, interval, p.window_seconds, False, phase)
            for phase in range(0, interval, 37)
        )
        duration = rule["alert_suppression"]["duration"]
        assert duration["value"] * UNITS[duration["unit"]] >= lookback


def test_a_query_naming_a_field_no_document_has_is_no_kibana_rule(
    compiled_elastic: list[PackagedCorrelation], elastic: list[PackagedCorrelation]
) -> None:
    """ES|QL refuses an unknown column (Lucene finds nothing): GKE's request-URI marker is
    defined by the mapping's ES|QL prelude; without it the rule would fail on every run."""
    assert elastic == compiled_elastic, "every compiled Elastic correlation is a Kibana rule"
    [gke] = [p for p in elastic if p.source.name == "kubernetes_audit_gke"]
    assert "sx_no_request_uri_in_gke" in gke.query
    assert unknown_columns(gke) == []
    prelude = re.search(r" \| EVAL [^|]*sx_no_request_uri_in_gke = TO_STRING\(null\)", gke.query)
    assert prelude is not None
    without = dataclasses.replace(
        gke,
        compiled=dataclasses.replace(gke.compiled, query=gke.query.replace(prelude.group(0), "")),
    )
    assert unknown_columns(without) == ["gcp.audit.sx_no_request_uri_in_gke"]
    why = refusal(without)
    assert why is not None
    assert "unknown column" in why


def test_correlation_queries_are_written_beside_the_rules(
    example_builds: Builds, compiled_elastic: list[PackagedCorrelation]
) -> None:
    for p in compiled_elastic:
        path = example_builds["macros"] / "elastic" / "correlations" / f"{p.output_stem}.esql"
        assert path.read_text() == p.query + "\n"
    assert app(example_builds["macros"]).is_dir()


# --- unknown ATT&CK tags --------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_and_build_report_unknown_attack_tags_with_the_other_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "init", str(tmp_path / "repo"))[0] == 0
    repo = tmp_path / "repo"
    [rule] = sorted((repo / "rules").rglob("*.yml"))
    text = rule.read_text()
    assert "    - attack.t1610\n" in text
    assert "theme: unauthorized-creator" in text
    text = text.replace("    - attack.t1610\n", "    - attack.t9999\n    - attack.bogus-tactic\n")
    rule.write_text(text.replace("theme: unauthorized-creator", "theme: nonsense"))
    lines = rule.read_text().splitlines()
    bogus_line = lines.index("    - attack.t9999") + 1
    monkeypatch.chdir(repo)
    code, _, err = run(capsys, "check")
    assert code == 1
    relative = rule.relative_to(repo)
    assert f"{relative}:{bogus_line}: unknown ATT&CK tag 'attack.t9999'" in err
    assert f"{relative}:{bogus_line + 1}: unknown ATT&CK tag 'attack.bogus-tactic'" in err
    assert "theme must be one of" in err, "reported among the rule's other problems"
    code, _, build_err = run(capsys, "build", "--out", str(tmp_path / "out"))
    assert code == 1
    assert "internal error" not in build_err
    assert "Traceback" not in build_err
    assert f"{relative}:{bogus_line}: unknown ATT&CK tag 'attack.t9999'" in build_err
    assert not (tmp_path / "out").exists()


def test_unknown_attack_tags_of_correlation_files_fail_check_and_build(
    tmp_path: Path, corpus: Corpus
) -> None:
    shutil.copytree(ROOT / "correlations", tmp_path / "correlations")
    [path] = list(tmp_path.rglob("kubernetes_audit_short_lived_pod.yml"))
    text = path.read_text()
    path.write_text(
        text.replace("    - attack.t1610\n", "    - attack.t1610\n    - attack.t0000\n")
    )
    line = path.read_text().splitlines().index("    - attack.t0000") + 1
    _, problems = load_correlations(tmp_path, corpus.profile)
    assert [(p.path, p.line) for p in problems] == [(str(path), line)]
    assert "attack.t0000" in problems[0].message
    other = dataclasses.replace(corpus, content_root=tmp_path)
    with pytest.raises(ProblemsFound) as caught:
        build(other, tmp_path / "out")
    assert [(p.path, p.line) for p in caught.value.problems] == [(str(path), line)]


def test_unknown_attack_tags_are_reported_even_when_pysigma_refuses_the_rule(
    tmp_path: Path,
) -> None:
    source = ROOT / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"
    text = source.read_text()
    assert "status: experimental" in text
    assert "    - attack.t1610\n" in text
    rule = tmp_path / "rules" / source.name
    rule.parent.mkdir()
    rule.write_text(
        text.replace("status: experimental", "status: sometimes").replace(
            "    - attack.t1610\n", "    - attack.t1610.999\n"
        )
    )
    line = rule.read_text().splitlines().index("    - attack.t1610.999") + 1
    _, problems = load_rules([tmp_path / "rules"])
    messages = [(p.line, p.message) for p in problems]
    assert (line, unknown_tag_message("attack.t1610.999")) in messages
    assert any("sometimes" in m for _, m in messages), "with pySigma's refusal"


def test_a_correlation_search_that_does_not_expand_back_fails_the_build(
    corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A correlation's tuned search is checked as the single rules' are: a macro that would
    not give back the compiled correlation stops the build, which writes nothing."""
    monkeypatch.setattr(correlation_searches, "expand_macros", lambda text, macros: text)
    with pytest.raises(ProblemsFound) as raised:
        build(corpus, tmp_path / "out", "macros")
    messages = [str(p) for p in raised.value.problems]
    assert any("correlation search does not expand to the compiled one" in m for m in messages)
    assert all("correlations/" in m for m in messages), "the single rules' searches still do"
    assert not (tmp_path / "out").exists()


# --- the packaged searches on emulated SIEM documents ---------------------------------------

SEQUENCES = sorted((ROOT / "fixtures").rglob("*.correlations.yml"))


@pytest.mark.parametrize("expected", SEQUENCES, ids=[p.name for p in SEQUENCES])
@pytest.mark.parametrize("source", sorted(DELIVERIES))
def test_packaged_searches_report_what_the_compiled_queries_report(
    expected: Path,
    source: str,
    corpus: Corpus,
    splunk: list[PackagedCorrelation],
    elastic: list[PackagedCorrelation],
) -> None:
    """Each sequence, delivered as the source delivers it, searched with what the packages run:
    the Splunk saved search (inline, and macros expanded without the 'search *' filter) and the
    Kibana rule's query give the compiled query's windows, groups and counts
    (tests/test_correlation_emulation.py holds those to the reference evaluator), plus the
    triage columns, which repeat the group-by fields."""
    jsonl = expected.with_name(expected.name.removesuffix(".correlations.yml") + ".jsonl")
    events = _delivered(jsonl, source)
    ours = [p for p in splunk if p.source.name == source]
    inline = tuned_with_correlations(corpus, [], ours, "inline").correlations
    macros = tuned_with_correlations(corpus, [], ours, "macros")
    documents = [build_document("splunk", source, event) for event in events]
    rows = 0
    for plain, tuned in zip(inline, macros.correlations, strict=True):
        want = spl_stats.run_search(plain.packaged.query, documents)
        expanded = expand_macros(tuned.search.rpartition(" | ")[0], macros.macros)
        for search in (plain.search, expanded):
            got = spl_stats.run_search(search, documents)
            assert [{k: r[k] for k in w} for r, w in zip(got, want, strict=True)] == want
            for row in got:
                assert row["rule_id"] == (plain.packaged.output_id,)
                for column, field in triage_columns(plain.packaged).items():
                    assert row[column] == row[field]
        rows += len(want)
    documents = [build_document("elastic", source, event) for event in events]
    for p in (p for p in elastic if p.source.name == source):
        want_rows = esql_stats.run_rows(p.query, documents)
        got_rows = esql_stats.run_rows(rule_query(p), documents)
        assert got_rows == want_rows, "KEEP names every column STATS returns"
        rows += len(want_rows)
    assert rows > 0, "the sequence fires somewhere: the comparison can fail"
