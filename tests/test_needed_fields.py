"""Rules need only what carries meaning: each rule's ``needed_fields`` are enough to fire.

Every positive fixture of a rule, with every field outside the rule's ``needed_fields`` removed
(after the source's envelope is opened, in the paths the native mapping reads for each field),
must still fire the rule. Exports and pipelines that drop ``stage``, ``requestURI``,
``userAgent``, ``sourceIPs`` or annotations leave the Kubernetes rules working.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from sigma.rule import SigmaRule

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.fixtures import load_cases
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.reference.evaluator import Fields
from sigma_ext.sources.catalogue import Source, source_named
from sigma_ext.targets import NATIVE

from .conftest import ROOT

RULE_STEMS = sorted(p.stem for p in (ROOT / "rules").rglob("*.yml"))
CASES = load_cases(ROOT / "fixtures", RULE_STEMS)
MEANINGLESS = {"stage", "requestURI", "userAgent", "sourceIPs", "annotations"}


def native_paths(corpus: Corpus, source: Source, field: str) -> set[str]:
    """The event paths the native mapping reads for one of the rules' fields."""
    rule = SigmaRule.from_dict(
        {
            "title": "one field",
            "logsource": {"product": source.product, "service": source.service},
            "detection": {"selection": {field: "x"}, "condition": "selection"},
        }
    )
    conversion_pipeline(corpus.mapping(NATIVE.mapping_dir, source), corpus.profile).apply(rule)
    paths: set[str] = set()

    def walk(node: Any) -> None:
        for item in getattr(node, "detection_items", []):
            if getattr(item, "field", None) is not None:
                paths.add(item.field)
            walk(item)

    for detection in rule.detection.detections.values():
        walk(detection)
    return paths


def keep_only(value: Any, paths: Iterable[str]) -> Any:
    """``value`` with only the given dotted paths (and what is under them); lists are crossed."""
    paths = set(paths)
    if isinstance(value, list):
        return [keep_only(element, paths) for element in value]
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for key, child in value.items():
        if key in paths:
            kept[key] = child
            continue
        below = {p[len(key) + 1 :] for p in paths if p.startswith(key + ".")}
        if below:
            kept[key] = keep_only(child, below)
    return kept


def test_every_needed_field_is_a_field_the_rule_reads(corpus: Corpus) -> None:
    unread = []
    for rule_file in corpus.rules:
        read = set()
        for detection in rule_file.fresh().detection.detections.values():
            stack: list[Any] = [detection]
            while stack:
                node = stack.pop()
                if getattr(node, "field", None) is not None:
                    read.add(node.field)
                stack.extend(getattr(node, "detection_items", []))
        unread += [f"{rule_file.stem}: {f}" for f in rule_file.needed_fields if f not in read]
    assert not unread, "\n".join(unread)


def test_no_kubernetes_rule_needs_what_exports_drop(corpus: Corpus) -> None:
    for rule_file in corpus.rules:
        assert rule_file.needed_fields, rule_file.stem
        if rule_file.product == "kubernetes":
            assert not MEANINGLESS & {f.split(".")[0] for f in rule_file.needed_fields}


@pytest.mark.parametrize("stem", RULE_STEMS)
def test_each_rule_fires_on_its_positives_with_only_its_needed_fields(
    stem: str, corpus: Corpus, engine: ReferenceEngine
) -> None:
    rule_file = next(r for r in corpus.rules if r.stem == stem)
    positives = [case for case in CASES if stem in case.fires]
    assert positives, f"{stem} has no positive fixture"
    silent = []
    for case in positives:
        source = source_named(case.source)
        loaded = next(x for x in engine.rules_for(source) if x.rule_file.stem == stem)
        paths = {
            path
            for field in rule_file.needed_fields
            for path in native_paths(corpus, source, field)
        }
        stripped = keep_only(dict(source.decode(case.event)), paths)
        if not loaded.compiled.matches(Fields(stripped)):
            silent.append(f"{case.where} {case.name}: {sorted(stripped)}")
    assert not silent, "\n".join(silent)


def test_needed_fields_hold_what_coverage_finds_every_alternative_needs(
    corpus: Corpus, engine: ReferenceEngine
) -> None:
    """``sigma_ext.coverage.needs`` works the needs out of each rule's condition; every field it
    finds every way of firing needs is in the rule's list (or on the same path)."""
    from sigma_ext.coverage.needs import needed_fields, required

    missing = []
    checked = 0
    for source in {s for r in corpus.rules for s in corpus.sources_of(r)}:
        for loaded in engine.rules_for(source):
            listed = {
                path
                for field in loaded.rule_file.needed_fields
                for path in native_paths(corpus, source, field)
            }
            formula = needed_fields(loaded.compiled.rule, loaded.rule_file.every_element)
            for field in required(formula):
                checked += 1
                if not any(
                    field == path or path.startswith(field + ".") or field.startswith(path + ".")
                    for path in listed
                ):
                    missing.append(f"{loaded.rule_file.stem} ({source.name}): {field}")
    assert checked > len(corpus.rules)
    assert not missing, "\n".join(sorted(missing))
