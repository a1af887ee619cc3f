"""The Kibana import file: every line valid against the detection rule schema, and faithful.

``sigma_ext/data/kibana_detection_rule.schema.json`` is written from Kibana's rule schema; the
tests below also show that it rejects what Kibana rejects, so that a valid line means something.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any

import jsonschema
import pytest

from sigma_ext.build.elastic.kibana import KIBANA_SEVERITY, kibana_rule_schema
from sigma_ext.build.elastic.triage import SOURCES as ELASTIC_SOURCES
from sigma_ext.build.elastic.triage import field_types
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.tuning_modes import DEFAULT_TUNING
from sigma_ext.content.attack import attack_data, split_tags
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import state_value

from .conftest import Builds

Rule = dict[str, Any]


@pytest.fixture(scope="module")
def elastic(compiled: list[Compiled]) -> list[Compiled]:
    return [c for c in compiled if c.target.name == "elastic" and c.query is not None]


@pytest.fixture(scope="module")
def all_lines(example_builds: Builds) -> list[Rule]:
    """Every line: the single rules', then the correlations' (test_packages_correlations.py)."""
    out = example_builds[DEFAULT_TUNING]
    text = (out / "elastic" / "detection-rules.ndjson").read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert "\n\n" not in text
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def lines(all_lines: list[Rule]) -> list[Rule]:
    """The single rules' lines."""
    return [r for r in all_lines if "Sigma: correlation" not in r["tags"]]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = kibana_rule_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, rule: Rule) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message[:160]}"
        for e in validator.iter_errors(rule)
    ]


def test_every_line_is_a_valid_kibana_rule(
    all_lines: list[Rule], validator: jsonschema.Draft202012Validator
) -> None:
    invalid = {r.get("name", "?"): errors(validator, r) for r in all_lines}
    assert {name: e for name, e in invalid.items() if e} == {}
    assert {r["type"] for r in all_lines} <= {"query", "esql", "eql"}


def test_one_line_per_elastic_result_with_unique_rule_ids(
    all_lines: list[Rule], lines: list[Rule], elastic: list[Compiled]
) -> None:
    assert [r["rule_id"] for r in lines] == [c.output_id for c in elastic]
    assert all_lines[: len(lines)] == lines, "the single rules first"
    assert len({r["rule_id"] for r in all_lines}) == len(all_lines)


def _mutations() -> list[tuple[str, Any]]:
    def drop(key: str) -> Any:
        return lambda r: r.pop(key)

    def put(key: str, value: Any) -> Any:
        return lambda r: r.__setitem__(key, value)

    return [
        ("no rule_id", drop("rule_id")),
        ("no version", drop("version")),
        ("empty name", put("name", "")),
        ("risk score above 100", put("risk_score", 101)),
        ("risk score as text", put("risk_score", "73")),
        ("unknown severity", put("severity", "informational")),
        ("unknown key", put("sigma_level", "high")),
        ("interval in words", put("interval", "5 minutes")),
        ("from without now", put("from", "-6m")),
        ("unknown rule type", put("type", "sigma")),
        ("enabled as text", put("enabled", "false")),
        ("building block other than default", put("building_block_type", "yes")),
        (
            "tactic id not TAxxxx",
            lambda r: r["threat"][0]["tactic"].__setitem__("id", "execution"),
        ),
        ("threat without tactic", lambda r: r["threat"][0].pop("tactic")),
        (
            "exception list without namespace",
            put("exceptions_list", [{"id": "a", "list_id": "a", "type": "detection"}]),
        ),
    ]


@pytest.mark.parametrize(("what", "mutate"), _mutations(), ids=[m[0] for m in _mutations()])
def test_schema_rejects_what_kibana_rejects(
    lines: list[Rule], validator: jsonschema.Draft202012Validator, what: str, mutate: Any
) -> None:
    rule = copy.deepcopy(next(r for r in lines if r["threat"]))
    assert errors(validator, rule) == []
    mutate(rule)
    assert errors(validator, rule), what


def test_schema_knows_each_rule_type(
    lines: list[Rule], validator: jsonschema.Draft202012Validator
) -> None:
    query = copy.deepcopy(next(r for r in lines if r["type"] == "query"))
    esql = copy.deepcopy(next(r for r in lines if r["type"] == "esql"))
    assert errors(validator, {**query, "language": "esql"})
    assert errors(validator, {**esql, "index": ["logs-*"]}), "ES|QL names indices in FROM"
    assert errors(validator, {**esql, "query": "where true"}), "ES|QL starts with FROM"
    eql = {**query, "type": "eql", "language": "eql", "query": "process where true"}
    assert errors(validator, eql) == []
    assert errors(validator, {k: v for k, v in eql.items() if k != "query"})


def test_rules_carry_the_sigma_rule_faithfully(
    lines: list[Rule], elastic: list[Compiled], corpus: Corpus
) -> None:
    for compiled, line in zip(elastic, lines, strict=True):
        rule = compiled.rule
        severity, risk = KIBANA_SEVERITY[rule.level]
        expected_id = (
            rule.id
            if compiled.primary
            else str(uuid.uuid5(uuid.UUID(rule.id), compiled.source.name))
        )
        assert line["rule_id"] == expected_id
        assert line["name"] == compiled.output_name
        assert line["description"] == " ".join(str(rule.data["description"]).split())
        assert (line["severity"], line["risk_score"]) == (severity, risk)
        schedule = ("60m", "now-119m") if rule.theme == "visibility" else ("5m", "now-6m")
        assert (line["interval"], line["from"], line["to"]) == (*schedule, "now")
        assert line["references"] == rule.data.get("references", [])
        assert line["false_positives"] == rule.data.get("falsepositives", [])
        assert line["author"] == [rule.data["author"]]
        assert (line["license"], line["version"], line["enabled"]) == ("Apache-2.0", 1, False)
        assert line["query"] == compiled.query
        index = state_value(corpus.mapping("elastic", compiled.source), "index")
        if line["type"] == "esql":
            assert line["language"] == "esql"
            assert "index" not in line
            assert line["query"].lower().startswith(f"from {index} ")
        else:
            assert (line["language"], line["index"]) == (compiled.language, [index])
        assert ("building_block_type" in line) == (rule.theme == "visibility")
        assert bool(line["note"]) == (compiled.status == "degraded")
        assert all(reason in line["note"] for reason in compiled.why)


def test_threat_is_built_offline_from_the_attack_tags(
    lines: list[Rule], elastic: list[Compiled]
) -> None:
    data = attack_data()
    for compiled, line in zip(elastic, lines, strict=True):
        tactics, techniques = split_tags([str(t) for t in compiled.rule.data.get("tags", [])])
        assert [t["tactic"]["id"] for t in line["threat"]] == [
            data["tactics"][t]["id"] for t in tactics
        ]
        listed = {
            sub["id"]
            for threat in line["threat"]
            for technique in threat["technique"]
            for sub in [technique, *technique["subtechnique"]]
        }
        # every tagged technique appears under a tactic it belongs to, parents included
        assert {t for t in techniques} <= listed
        assert listed <= {t for t in techniques} | {t.split(".")[0] for t in techniques}


def test_rules_search_on_ingest_time_and_suppress_per_creator_and_object(
    lines: list[Rule], elastic: list[Compiled], corpus: Corpus
) -> None:
    for compiled, line in zip(elastic, lines, strict=True):
        info = ELASTIC_SOURCES[compiled.source.name]
        assert line["timestamp_override"] == "event.ingested"
        suppression = line["alert_suppression"]
        assert suppression["group_by"] == list(info.suppress_by)
        period = corpus.profile.throttle_period(compiled.rule.theme)
        assert suppression["duration"] == {"value": int(period[:-1]), "unit": period[-1]}
        assert suppression["missing_fields_strategy"] == "suppress"


def test_investigation_and_required_fields_are_mapped_with_their_types(
    lines: list[Rule], elastic: list[Compiled]
) -> None:
    """Every field named is declared in the source's document spec (what the integration maps),
    required_fields list exactly the declared fields the query reads, with the spec's types."""
    for compiled, line in zip(elastic, lines, strict=True):
        types = field_types(compiled.source.name)
        assert set(line["investigation_fields"]["field_names"]) <= set(types)
        assert set(line["alert_suppression"]["group_by"]) <= set(types)
        required = {f["name"]: f["type"] for f in line["required_fields"]}
        assert required, compiled.output_stem
        assert all(types[name] == kind for name, kind in required.items())
        query = line["query"]
        for name in required:
            assert name in query or name.replace("/", "\\/") in query, name
        for name in set(types) - set(required):
            assert not re.search(rf"(?<![\w.@]){re.escape(name)}(?![\w@])", query), name


def test_integrations_setup_and_tags_follow_elastics_convention(
    lines: list[Rule], elastic: list[Compiled]
) -> None:
    data = attack_data()
    for compiled, line in zip(elastic, lines, strict=True):
        info = ELASTIC_SOURCES[compiled.source.name]
        assert line["related_integrations"] == [
            {"package": info.package, "integration": info.integration, "version": info.version}
        ]
        assert info.package in line["setup"]
        assert "event.ingested" in line["setup"]
        tags = line["tags"]
        assert any(t.startswith("Domain: ") for t in tags)
        assert any(t.startswith("Data Source: ") for t in tags)
        assert sum(t.startswith("Use Case: ") for t in tags) == 1
        tactics, _ = split_tags([str(t) for t in compiled.rule.data.get("tags", [])])
        assert [t for t in tags if t.startswith("Tactic: ")] == [
            f"Tactic: {data['tactics'][t]['name']}" for t in tactics
        ]
        building_block = compiled.rule.theme == "visibility"
        assert ("Rule Type: BBR" in tags) == building_block
        if building_block:
            # Elastic's building-block convention: every 60 minutes over at least now-119m
            assert (line["interval"], line["from"]) == ("60m", "now-119m")
