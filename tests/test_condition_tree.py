"""The one walk over a rule's condition tree that the evaluator, the SQL and the gates share."""

from __future__ import annotations

from typing import Any

import pytest
from sigma.rule import SigmaRule

from sigma_ext.condition_tree import fields_of, fold_condition, rule_fields


def rule(detection: dict[str, Any]) -> SigmaRule:
    return SigmaRule.from_dict(
        {"title": "t", "logsource": {"product": "p"}, "detection": detection}
    )


def render(r: SigmaRule, negate: bool = True) -> str:
    return fold_condition(
        r,
        detection=lambda name: name,
        all_of=lambda parts: "(" + " & ".join(parts) + ")",
        any_of=lambda parts: "(" + " | ".join(parts) + ")",
        negate=(lambda part: f"!{part}") if negate else None,
        other=lambda node: f"<{type(node).__name__}>",
    )


def test_the_fold_follows_the_condition_left_to_right() -> None:
    r = rule({"a": {"x": 1}, "b": {"y": 2}, "c": {"z": 3}, "condition": "a and not (b or c)"})
    assert render(r) == "((a & !(b | c)))"


def test_a_quantifier_is_the_and_or_or_of_the_detections_it_selects() -> None:
    r = rule(
        {
            "sel_a": {"x": 1},
            "sel_b": {"y": 2},
            "filter": {"z": 3},
            "condition": ["1 of sel_* and not filter", "all of sel_*"],
        }
    )
    assert render(r) == "(((sel_a | sel_b) & !filter) | (sel_a & sel_b))"


def test_without_negate_a_not_goes_to_other_and_its_detections_are_never_asked() -> None:
    asked: list[str] = []
    r = rule({"a": {"x": 1}, "b": {"y": 2}, "condition": "a and not b"})
    folded = fold_condition(
        r,
        detection=lambda name: asked.append(name) or name,
        all_of=lambda parts: "&".join(parts),
        any_of=lambda parts: "|".join(parts),
        negate=None,
        other=lambda node: "?",
    )
    assert folded == "a&?"
    assert asked == ["a"]


def test_an_unknown_node_is_a_type_error_by_default() -> None:
    r = rule({"a": {"x": 1}, "b": {"y": 2}, "condition": "a and not b"})
    with pytest.raises(TypeError, match="ConditionNOT"):
        fold_condition(r, lambda n: n, "".join, "".join, negate=None)


def test_fields_are_those_of_every_detection_and_every_nesting_level() -> None:
    r = rule(
        {
            "sel": {"verb": ["create", "update"], "objectRef.resource": "pods"},
            "list_sel": [{"a.b": 1}, {"c": 2}],
            "keywords": ["evil"],
            "condition": "sel and not list_sel or keywords",
        }
    )
    assert rule_fields(r) == {"verb", "objectRef.resource", "a.b", "c"}
    tree = r.detection.detections["list_sel"].postprocess(r.detection)
    assert fields_of(tree) == {"a.b", "c"}
    keywords = r.detection.detections["keywords"].postprocess(r.detection)
    assert fields_of(keywords) == set()
