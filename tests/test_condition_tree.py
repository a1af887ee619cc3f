"""The one walk over a rule's condition tree that the evaluator, the SQL and the gates share."""

from __future__ import annotations

from typing import Any

import pytest
from sigma.conditions import ConditionAND, ConditionOR
from sigma.rule import SigmaRule
from sigma.types import SigmaString

from sigma_ext.condition_tree import (
    Fold,
    conjuncts,
    fields_of,
    fold,
    fold_condition,
    leaves,
    negated_detection,
    rule_fields,
    sigma_string_pattern,
)


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

    def ask(name: str) -> str:
        asked.append(name)
        return name

    r = rule({"a": {"x": 1}, "b": {"y": 2}, "condition": "a and not b"})
    folded = fold_condition(
        r,
        detection=ask,
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


def _detection_tree(detection: dict[str, Any], name: str = "sel") -> Any:
    r = rule({**detection, "condition": name})
    return r.detection.detections[name].postprocess(r.detection)


def test_fold_renders_leaves_and_lets_the_caller_take_over_some_nodes() -> None:
    tree = _detection_tree({"sel": {"a": ["x", "y"], "b": "z", "c": 1}})
    plain: Fold[str] = Fold(
        all_of=lambda parts: "(" + " & ".join(parts) + ")",
        any_of=lambda parts: "(" + " | ".join(parts) + ")",
        leaf=lambda node: f"{node.field}={node.value}",
    )
    assert fold(tree, plain) == "((a=x | a=y) & b=z & c=1)"

    def descend(node: Any) -> str:  # an OR of one field as a set, the rest as before
        found = leaves(node, (ConditionOR,))
        if isinstance(node, ConditionOR) and found:
            return found[0].field + " in {" + ",".join(str(f.value) for f in found) + "}"
        return fold(node, plain, descend)

    assert descend(tree) == "(a in {x,y} & b=z & c=1)"


def test_leaves_only_through_the_nodes_named() -> None:
    tree = _detection_tree({"sel": {"a": ["x", "y"], "b": "z"}})
    assert leaves(tree, (ConditionOR,)) is None
    found = leaves(tree, (ConditionOR, ConditionAND))
    assert [(f.field, str(f.value)) for f in found or []] == [("a", "x"), ("a", "y"), ("b", "z")]


def test_conjuncts_and_negated_detections_of_a_parsed_condition() -> None:
    r = rule({"a": {"x": 1}, "b": {"y": 2}, "c": {"z": 3}, "condition": "a and not b and not (c)"})
    parsed = r.detection.parsed_condition[0].parse(postprocess=False)
    assert [negated_detection(arg) for arg in conjuncts(parsed)] == [None, "b", "c"]
    single = rule({"a": {"x": 1}, "condition": "not a"}).detection.parsed_condition[0]
    assert [negated_detection(arg) for arg in conjuncts(single.parse(postprocess=False))] == ["a"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ab*c?d", "<ab>%<c>_<d>"),
        ("*", "%"),
        ("plain", "<plain>"),
        ("a\\*b", "<a*b>"),  # an escaped wildcard is text
    ],
)
def test_a_sigma_string_becomes_a_pattern_in_the_target_syntax(text: str, expected: str) -> None:
    assert sigma_string_pattern(SigmaString(text), "%", "_", lambda t: f"<{t}>") == expected


def test_a_placeholder_or_refused_text_gives_no_pattern() -> None:
    value = SigmaString("a%list%b")
    value = value.insert_placeholders()
    assert sigma_string_pattern(value, "%", "_", str) is None
    assert sigma_string_pattern(SigmaString("é*"), "%", "_", str, str.isascii) is None
    assert sigma_string_pattern(SigmaString("e*"), "%", "_", str, str.isascii) == "e%"
