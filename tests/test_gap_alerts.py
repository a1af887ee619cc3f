"""Telemetry gap alerts: a source gone quiet raises an alert, a source sending creations does not.

The Splunk gap searches run in the Splunk emulator over event sets built from the fixtures; the
Kibana ``.es-query`` rules' ``query_string`` runs in the Lucene emulator on the fixture documents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sigma_ext.build.elastic.gaps import gap_rules
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.gaps import GapSearch, gap_searches, gap_stanza
from sigma_ext.build.splunk.knowledge_objects import expand_macros
from sigma_ext.build.splunk.tuning import tuned_searches
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.fixtures import Case, load_cases
from sigma_ext.content.profile import load_profile
from sigma_ext.emulate import lucene, splunk_search
from sigma_ext.emulate.documents import build_document
from sigma_ext.emulate.verdict import compiled_matches
from sigma_ext.problems import ProblemsFound

from .conftest import ROOT


def example_with(folder: Path, text: str) -> tuple[Path, int]:
    """The example profile with ``text`` appended, and the line number ``text`` starts on."""
    base = (ROOT / "profiles" / "example.yml").read_text(encoding="utf-8")
    path = folder / "profile.yml"
    path.write_text(base + text, encoding="utf-8")
    return path, base.count("\n") + 1


@pytest.fixture(scope="module")
def cases(corpus: Corpus) -> list[Case]:
    return load_cases(ROOT / "fixtures", [r.stem for r in corpus.rules])


@pytest.fixture(scope="module")
def splunk_gaps(corpus: Corpus, compiled: list[Compiled]) -> list[tuple[GapSearch, str]]:
    """Each gap search of the app (macros mode), with its macros expanded as Splunk does."""
    tuning = tuned_searches(corpus, compiled, "macros")
    return [
        (gap, expand_macros(gap.search, tuning.macros))
        for gap in gap_searches(tuning.searches, corpus.profile)
    ]


def creations(gap_rules_: tuple[Compiled, ...], source: str, cases: list[Case]) -> list[Case]:
    """The fixture events of ``source`` that one of its visibility rules fires on."""
    stems = {c.rule.stem for c in gap_rules_}
    return [case for case in cases if case.source == source and case.fires & stems]


def test_every_source_with_an_emitted_visibility_search_has_a_gap_search(
    compiled: list[Compiled], splunk_gaps: list[tuple[GapSearch, str]]
) -> None:
    expected = {
        c.source.name
        for c in compiled
        if c.target.name == "splunk" and c.rule.theme == "visibility" and c.query is not None
    }
    assert {gap.source_name for gap, _ in splunk_gaps} == expected


def test_the_splunk_gap_search_alerts_on_silence_and_not_on_a_creation(
    splunk_gaps: list[tuple[GapSearch, str]], cases: list[Case]
) -> None:
    for gap, search in splunk_gaps:
        found = creations(gap.rules, gap.source_name, cases)
        assert found, f"{gap.source_name}: no creation fixture event to test its gap search on"
        assert splunk_search.run_events(search, []) == [{"count": ("0",)}], gap.source_name
        for case in found:
            doc = build_document("splunk", case.source, case.event)
            assert splunk_search.run_events(search, [doc]) == [], f"{gap.source_name} {case.where}"
        # events of the source that are no creation (benign noise) do not hide a gap
        quiet = [
            build_document("splunk", case.source, case.event)
            for case in cases
            if case.source == gap.source_name and case not in found
        ]
        if quiet:
            assert splunk_search.run_events(search, quiet) == [{"count": ("0",)}], gap.source_name


def test_the_splunk_gap_stanza_counts_by_index_time_over_the_profile_window(
    corpus: Corpus, splunk_gaps: list[tuple[GapSearch, str]], tmp_path: Path
) -> None:
    profile = load_profile(
        example_with(
            tmp_path, "telemetry_gap:\n  default: 3h\n  every: 10m\n  aws_cloudtrail: 1d\n"
        )[0]
    )
    assert (profile.gap_window("aws_cloudtrail"), profile.gap_window("falco")) == ("1d", "3h")
    for gap, _ in splunk_gaps:
        window = profile.gap_window(gap.source_name)
        name, settings = gap_stanza(
            GapSearch(gap.source_name, gap.source_label, gap.rules, gap.search, window, "10m")
        )
        minutes = {"3h": 180, "1d": 1440}[window]
        assert settings["dispatch.index_earliest"] == f"-{minutes}m"
        assert settings["cron_schedule"] == "*/10 * * * *"
        assert settings["disabled"] == "1"
        assert settings["search"].endswith("| stats count | where count=0")
        assert gap.source_label in name


def test_the_kibana_gap_rule_matches_the_creation_events(
    corpus: Corpus, compiled: list[Compiled], cases: list[Case]
) -> None:
    rules = gap_rules(compiled, corpus.profile)
    visibility = [
        c
        for c in compiled
        if c.target.name == "elastic" and c.rule.theme == "visibility" and c.query is not None
    ]
    assert set(rules) == {c.source.name for c in visibility}
    lucene_sources = 0
    for source, body in rules.items():
        params: dict[str, Any] = body["params"]
        assert (body["rule_type_id"], body["consumer"], body["enabled"]) == (
            ".es-query",
            "stackAlerts",
            False,
        )
        assert params["timeField"] == "event.ingested"
        if params["searchType"] == "esqlQuery":
            assert params["esqlQuery"]["esql"].endswith(
                "| STATS count = COUNT(*) | WHERE count == 0"
            )
            assert (params["thresholdComparator"], params["threshold"]) == (">", [0])
            continue
        lucene_sources += 1
        assert (params["thresholdComparator"], params["threshold"]) == ("<", [1])
        query = json.loads(params["esQuery"])["query"]["query_string"]["query"]
        mine = [c for c in visibility if c.source.name == source]
        seen = 0
        for case in (c for c in cases if c.source == source):
            doc = build_document("elastic", case.source, case.event)
            # what any of the source's visibility rules sees is a creation, and only that
            expected = any(compiled_matches(c, case.event) for c in mine)
            assert lucene.matches(query, doc) == expected, f"{source} {case.where}"
            seen += expected
        assert seen, f"{source}: no creation fixture event matched"
    assert lucene_sources >= 5


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("telemetry_gap:\n  default: 2 hours\n", 2, "telemetry_gap/default"),
        ("telemetry_gap:\n  every: 2h\n", 2, "telemetry_gap/every"),
        ("telemetry_gap:\n  default: 2h\n  aws_cloudtrial: 6h\n", 3, "'aws_cloudtrial'"),
        ("telemetry_gap:\n  falco: 0h\n", 2, "telemetry_gap/falco"),
    ],
    ids=["words", "every-in-hours", "misspelt-source", "zero-window"],
)
def test_a_bad_telemetry_gap_is_refused_at_its_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path, first = example_with(tmp_path, text)
    with pytest.raises(ProblemsFound) as caught:
        load_profile(path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == (str(path), first + line - 1)
    assert fragment in problem.message
