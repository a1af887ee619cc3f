"""Every rule's verdict on every fixture event, by the reference evaluator and by hunt."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sigma_ext.build.every_element import element_tests
from sigma_ext.build.siem_compiler import sigma_value_regex
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.fixtures import Case, load_cases
from sigma_ext.content.image_refs import is_approved
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.hunt.reference import Hit, hunt_file
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.reference.evaluator import compile_rule
from sigma_ext.sources.catalogue import source_named

from .conftest import ROOT

RULE_STEMS = sorted(p.stem for p in (ROOT / "rules").rglob("*.yml"))
CASES = load_cases(ROOT / "fixtures", RULE_STEMS)


def test_fixtures_exist() -> None:
    assert len(CASES) >= 50
    assert {"kubernetes_audit", "aws_cloudtrail"} <= {c.source for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file.name}:{c.line} {c.name}" for c in CASES])
def test_reference_verdict(case: Case, engine: ReferenceEngine) -> None:
    fired = {r.stem for r in engine.match(case.event, source_named(case.source))}
    assert fired == case.fires, (
        f"{case.where} {case.name}\n missing: {sorted(case.fires - fired)}\n unexpected: {sorted(fired - case.fires)}"
    )


def test_hunt_gives_the_same_verdicts_and_recognises_the_source(engine: ReferenceEngine) -> None:
    expected = {(str(c.file), c.line, stem) for c in CASES for stem in c.fires}
    found = set()
    for jsonl in sorted({c.file for c in CASES}):
        for item in hunt_file(engine, jsonl):
            assert isinstance(item, Hit), str(item)
            found.add((item.file, item.line, item.rule))
    assert found == expected


def test_every_rule_fires_somewhere_and_has_a_near_miss(corpus: Corpus) -> None:
    """A near miss: the rule's selections match, its filters keep it quiet (a rule without any
    filter, such as a visibility rule matching every creation, has none to prove)."""
    offenders = []
    for rule_file in corpus.rules:
        fires = [c for c in CASES if rule_file.stem in c.fires]
        if not any(name.startswith("filter") for name in rule_file.data["detection"]):
            if not fires:
                offenders.append(f"{rule_file.stem}: never fires")
            continue
        selections = rule_file.fresh(condition="1 of selection*")
        conversion_pipeline(
            corpus.mapping("native", corpus.sources_of(rule_file)[0]), corpus.profile
        ).apply(selections)
        selected = compile_rule(selections)
        near = [
            c
            for c in CASES
            if rule_file.stem not in c.fires
            and selected.matches(source_named(c.source).decode(c.event))
        ]
        if not fires or not near:
            offenders.append(f"{rule_file.stem}: {len(fires)} firing, {len(near)} near misses")
    assert not offenders, "\n".join(offenders)


def test_mixed_pod_is_detected_by_evaluator_and_hunt(
    engine: ReferenceEngine, tmp_path: Path
) -> None:
    mixed = [
        c
        for c in CASES
        if len(images := _images(c.event)) > 1
        and any(is_approved(i, _approved()) for i in images)
        and not all(is_approved(i, _approved()) for i in images)
        and c.event.get("verb") == "create"
        and not _controller_pod(c.event)
    ]
    assert mixed, "the fixtures need a pod with one approved and one unapproved image"
    rule = "kubernetes_audit_pod_or_workload_image_from_unapproved_registry"
    for case in mixed:
        assert rule in case.fires
        assert rule in {r.stem for r in engine.match(case.event)}
        log = tmp_path / "mixed.jsonl"
        log.write_text(json.dumps(case.event) + "\n")
        assert rule in {h.rule for h in hunt_file(engine, log) if isinstance(h, Hit)}


def test_splunk_element_regex_agrees_with_the_reference(corpus: Corpus) -> None:
    """The regex the Splunk search runs in mvfilter gives the evaluator's verdict on every image."""
    rule_file = corpus.rule("kubernetes_audit_pod_or_workload_image_from_unapproved_registry")
    (test,) = element_tests(
        rule_file,
        conversion_pipeline(
            corpus.mapping("splunk", corpus.sources_of(rule_file)[0]), corpus.profile
        ),
    )
    regex = re.compile("|".join(sigma_value_regex(v) for v in test.values))
    images = sorted({i for c in CASES for i in _images(c.event)})
    assert len(images) > 10
    disagreements = [
        i for i in images if (regex.search(i) is not None) != is_approved(i, _approved())
    ]
    assert not disagreements, disagreements


def _approved() -> tuple[str, ...]:
    from sigma_ext.content.profile import load_profile

    return load_profile(ROOT / "profiles" / "example.yml").lists["approved_registries"]


def _images(event: dict[str, object]) -> list[str]:
    from sigma_ext.reference.evaluator import field_values

    paths = [
        f"requestObject.spec.{prefix}{kind}.image"
        for prefix in ("", "template.spec.", "jobTemplate.spec.template.spec.")
        for kind in ("containers", "initContainers", "ephemeralContainers")
    ]
    return [str(v) for p in paths for v in field_values(event, p)]


def _controller_pod(event: dict[str, object]) -> bool:
    """Pods the built-in controllers create from an already-checked template (exempt by design)."""
    from sigma_ext.content.profile import load_profile
    from sigma_ext.reference.evaluator import field_values

    controllers = load_profile(ROOT / "profiles" / "example.yml").lists["k8s_controller_identities"]
    return field_values(event, "objectRef.resource") == ["pods"] and any(
        u in controllers for u in field_values(event, "user.username")
    )
