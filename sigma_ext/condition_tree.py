"""Walking a Sigma rule's condition tree, once for every engine that needs to.

pySigma gives a rule's condition as a tree of ``ConditionAND`` / ``ConditionOR`` /
``ConditionNOT`` over detection names (``ConditionIdentifier``) and quantifiers over them
(``ConditionSelector``, ``1 of filter_*``); each detection, postprocessed, is a tree of the same
boolean nodes over field/value leaves (``ConditionFieldEqualsValueExpression``). The reference
evaluator, the fast hunt's SQL and its gates, the SIEM compilers' every-element tests and the
Splunk tuning each turn that tree into something else; the walk itself is written here (``fold``,
``fold_condition``, ``leaves``), and so is the one translation of a Sigma string with wildcards
into a target's pattern syntax (``sigma_string_pattern``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionIdentifier,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaString, SpecialChars

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


@dataclass(frozen=True)
class Fold(Generic[T]):
    """What each kind of node of a condition or detection tree becomes, given its children's.

    ``all_of`` / ``any_of`` / ``negate`` for AND / OR / NOT; ``leaf`` for a field/value test,
    ``keyword`` for a value without a field, ``identifier`` for a detection name and
    ``selector`` for a quantifier (``1 of filter_*``), each as written. A node whose callback
    is None goes to ``other`` (by default a ``TypeError``) without being walked below.
    """

    all_of: Callable[[list[T]], T]
    any_of: Callable[[list[T]], T]
    negate: Callable[[T], T] | None = None
    leaf: Callable[[ConditionFieldEqualsValueExpression], T] | None = None
    keyword: Callable[[ConditionValueExpression], T] | None = None
    identifier: Callable[[str], T] | None = None
    selector: Callable[[ConditionSelector], T] | None = None
    other: Callable[[Any], T] = _unsupported


def fold(node: Any, how: Fold[T], descend: Callable[[Any], T] | None = None) -> T:
    """``node`` folded bottom-up, left to right, as ``how`` says.

    The children are folded by ``descend`` (by default this same fold), so a caller that
    treats some node specially (an OR of plain strings, say) passes its own function, which
    handles that node and calls ``fold`` for the rest.
    """
    child = descend if descend is not None else (lambda arg: fold(arg, how))
    match node:
        case ConditionAND():
            return how.all_of([child(arg) for arg in node.args])
        case ConditionOR():
            return how.any_of([child(arg) for arg in node.args])
        case ConditionNOT() if how.negate is not None:
            return how.negate(child(node.args[0]))
        case ConditionFieldEqualsValueExpression() if how.leaf is not None:
            return how.leaf(node)
        case ConditionValueExpression() if how.keyword is not None:
            return how.keyword(node)
        case ConditionIdentifier() if how.identifier is not None:
            return how.identifier(node.identifier)
        case ConditionSelector() if how.selector is not None:
            return how.selector(node)
    return how.other(node)


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

    def selected(node: ConditionSelector) -> T:
        return fold(node.cond_class(list(node.resolve_referenced_detections(detections))), how)

    how = Fold(all_of, any_of, negate, identifier=detection, selector=selected, other=other)
    return any_of([fold(c.parse(postprocess=False), how) for c in detections.parsed_condition])


def leaves(
    node: Any, through: tuple[type[ConditionItem], ...]
) -> list[ConditionFieldEqualsValueExpression] | None:
    """The field/value tests of a tree made of ``through`` nodes (such as ``(ConditionOR,)``)
    above them, left to right; None when any other node stands in it."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return [node]
    if not isinstance(node, ConditionItem) or not isinstance(node, through):
        return None
    found: list[ConditionFieldEqualsValueExpression] = []
    for arg in node.args:
        below = leaves(arg, through)
        if below is None:
            return None
        found.extend(below)
    return found


def conjuncts(parsed: Any) -> list[Any]:
    """The top-level conjuncts of a parsed condition (itself when it is no AND)."""
    return list(parsed.args) if isinstance(parsed, ConditionAND) else [parsed]


def negated_detection(node: Any) -> str | None:
    """The detection name in a ``not <name>`` node, else None."""
    if isinstance(node, ConditionNOT) and isinstance(node.args[0], ConditionIdentifier):
        return str(node.args[0].identifier)
    return None


def sigma_string_pattern(
    value: SigmaString,
    many: str,
    one: str,
    literal: Callable[[str], str],
    text_ok: Callable[[str], bool] | None = None,
) -> str | None:
    """A Sigma string as a pattern in some target's syntax: ``many`` and ``one`` for its
    wildcards ``*`` and ``?``, ``literal`` escaping each run of its text by the target's rules.

    None when the value holds a placeholder (no profile list filled it) or a run of its text
    fails ``text_ok``. Unanchored: the caller adds what its target needs around it.
    """
    out = []
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            out.append(many)
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append(one)
        elif isinstance(part, str) and (text_ok is None or text_ok(part)):
            out.append(literal(part))
        else:
            return None
    return "".join(out)
