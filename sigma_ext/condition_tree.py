"""Walking a Sigma rule's condition tree, once for every engine that needs to.

pySigma gives a rule's condition as a tree of ``ConditionAND`` / ``ConditionOR`` /
``ConditionNOT`` over detection names (``ConditionIdentifier``) and quantifiers over them
(``ConditionSelector``, ``1 of filter_*``); each detection, postprocessed, is a tree of the same
boolean nodes over field/value leaves (``ConditionFieldEqualsValueExpression``). The reference
evaluator, the fast hunt's SQL and its gates each turn that tree into something else; the walk
itself is written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionIdentifier,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.rule import SigmaRule

T = TypeVar("T")


def fields_of(node: Any) -> set[str]:
    """Every field a (postprocessed) detection tree tests."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return {node.field}
    if isinstance(node, ConditionItem):
        return set().union(*(fields_of(arg) for arg in node.args))
    return set()


def rule_fields(rule: SigmaRule) -> set[str]:
    """Every field any detection of the rule tests."""
    fields: set[str] = set()
    for detection in rule.detection.detections.values():
        fields |= fields_of(detection.postprocess(rule.detection))
    return fields


def _unsupported(node: Any) -> Any:
    raise TypeError(f"condition element {type(node).__name__} is not supported")


def fold_condition(
    rule: SigmaRule,
    detection: Callable[[str], T],
    all_of: Callable[[list[T]], T],
    any_of: Callable[[list[T]], T],
    negate: Callable[[T], T] | None,
    other: Callable[[Any], T] = _unsupported,
) -> T:
    """The rule's condition folded bottom-up, left to right: ``detection(name)`` for each
    detection it names, ``all_of`` / ``any_of`` / ``negate`` for AND / OR / NOT (a quantifier
    over detections is the AND or OR of those it selects) and ``any_of`` over the rule's
    conditions. ``other`` renders any other node (by default a ``TypeError``), and a NOT too
    when ``negate`` is None, without walking below it."""
    detections = rule.detection

    def walk(node: Any) -> T:
        match node:
            case ConditionIdentifier():
                return detection(node.identifier)
            case ConditionSelector():
                referenced = node.resolve_referenced_detections(detections)
                return walk(node.cond_class(list(referenced)))
            case ConditionAND():
                return all_of([walk(arg) for arg in node.args])
            case ConditionOR():
                return any_of([walk(arg) for arg in node.args])
            case ConditionNOT() if negate is not None:
                return negate(walk(node.args[0]))
        return other(node)

    return any_of([walk(c.parse(postprocess=False)) for c in detections.parsed_condition])
