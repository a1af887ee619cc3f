"""The necessary-condition gates: cheap tests that let most rows skip the rules.

``necessary`` derives from a rule's positive tests a condition that holds whenever the rule may
fire or be undecidable. The typed scan renders it as SQL over typed values (``necessary_sql``
with ``gate_test`` per field, over the columns of ``gate_column_sql``); the text test of
``sigma_ext.hunt.fast.raw_gate`` renders it as values per field (``necessary_patterns``) that a
line's text must hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from sigma.conditions import (
    ConditionFieldEqualsValueExpression,
    ConditionOR,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaNull, SigmaString

from sigma_ext.condition_tree import Fold, fold, fold_condition
from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast.duckdb_backend import folded_pattern, sql_string
from sigma_ext.hunt.fast.plan import SourcePlan, ident

FieldPatterns = dict[str, frozenset[str]]
_T = TypeVar("_T")


def necessary(
    rule_file: RuleFile,
    rule: SigmaRule,
    test: Callable[[str, list[Any]], _T | None],
    all_of: Callable[[list[_T | None]], _T | None],
    any_of: Callable[[list[_T | None]], _T | None],
) -> _T | None:
    """A condition that holds whenever the rule may fire or be undecidable (None: none known).

    Built from the rule's positive tests, each rendered by ``test(field, values)`` (the field
    equals one of the values; None when it cannot say), combined by ``all_of`` for an AND and
    ``any_of`` for an OR; a NOT, an every-element detection or any other test says nothing.
    Far cheaper than the rule, it lets most rows skip it: as SQL over typed values
    (``necessary_sql``) or as regular expressions per field over a line's text
    (``necessary_patterns``).
    """
    detections = rule.detection

    positive = Fold[_T | None](
        all_of=all_of,
        any_of=any_of,
        leaf=lambda node: test(node.field, [node.value]),
        other=lambda _: None,
    )

    def item(node: Any) -> _T | None:
        if isinstance(node, ConditionOR) and (same := _same_field(node.args)) is not None:
            return test(same[0].field, [a.value for a in same])
        return fold(node, positive, item)

    def detection(name: str) -> _T | None:
        if name in rule_file.every_element:
            return None
        return item(detections.detections[name].postprocess(detections))

    return fold_condition(rule, detection, all_of, any_of, negate=None, other=lambda _: None)


def necessary_sql(
    rule_file: RuleFile, rule: SigmaRule, test: Callable[[str, list[Any]], str | None]
) -> str:
    """``necessary`` as a SQL boolean (an AND keeps its parts, an OR needs one of them)."""
    return necessary(rule_file, rule, test, _all_of, _one_of) or "TRUE"


def necessary_patterns(
    rule_file: RuleFile,
    rule: SigmaRule,
    test: Callable[[str, list[Any]], FieldPatterns | None],
) -> FieldPatterns | None:
    """``necessary`` as values per field, one of which the field must hold. An AND keeps every
    child's fields (one test each), an OR the fields all its children test, with all their
    values: coarser than ``necessary_sql``, so that several rules share the tests."""
    return necessary(rule_file, rule, test, all_of_patterns, any_of_patterns)


def all_of_patterns(parts: list[FieldPatterns | None]) -> FieldPatterns | None:
    """Every part must hold: each field's smallest set of values."""
    merged: FieldPatterns = {}
    for part in parts:
        for name, patterns in (part or {}).items():
            if name not in merged or len(patterns) < len(merged[name]):
                merged[name] = patterns
    return merged or None


def any_of_patterns(parts: list[FieldPatterns | None]) -> FieldPatterns | None:
    """One part must hold: the fields every part tests, with all their values."""
    if not parts or any(part is None for part in parts):
        return None
    known = [part for part in parts if part is not None]
    common = set.intersection(*(set(part) for part in known))
    return {name: frozenset().union(*(part[name] for part in known)) for name in common} or None


def _all_of(parts: list[str | None]) -> str | None:
    """SQL that holds when every known part holds (None: nothing known)."""
    known = sorted({part for part in parts if part is not None})
    return "(" + " AND ".join(known) + ")" if known else None


def _one_of(parts: list[str | None]) -> str | None:
    """SQL that holds when one part holds (None when a part says nothing)."""
    if not parts or any(part is None for part in parts):
        return None
    return "(" + " OR ".join(sorted({part for part in parts if part is not None})) + ")"


def _same_field(args: list[Any]) -> list[ConditionFieldEqualsValueExpression] | None:
    """The arguments, when every one tests one and the same field."""
    tests = [a for a in args if isinstance(a, ConditionFieldEqualsValueExpression)]
    if not tests or len(tests) != len(args) or len({t.field for t in tests}) != 1:
        return None
    return tests


def _like_pattern(value: SigmaString) -> str | None:
    """``value`` as a lower-case LIKE pattern (escape ``\\``), or None if not plain ASCII."""
    return folded_pattern(value, "%", "_", lambda text: re.sub(r"([%_\\])", r"\\\1", text))


def _gate_columns(plan: SourcePlan, name: str) -> tuple[str, str, str]:
    """(doubt, lower, value) column names of a field the gate tests."""
    return (
        ident(f"{plan.prefix}gd_{name}"),
        ident(f"{plan.prefix}gl_{name}"),
        ident(f"{plan.prefix}gv_{name}"),
    )


def gate_column_sql(plan: SourcePlan, name: str) -> list[str]:
    """The columns ``gate_test`` reads: the value, whether the row's shape or the value puts
    the test in doubt (a dotted key, an array in disguise, non-ASCII text, where Python's case
    folding differs), and the value lower-cased."""
    raw = plan.value_expr(name)
    doubt, lower, value = _gate_columns(plan, name)
    v = raw.expr
    return [
        f"{v} AS {value}",
        f"coalesce(({raw.unknown}) OR starts_with({v}, '[') OR strlen({v}) <> length({v}), "
        f"FALSE) AS {doubt}",
        f"lower({v}) AS {lower}",
    ]


def gate_test(plan: SourcePlan, name: str, values: list[Any], used: set[str]) -> str | None:
    """A cheap test that holds whenever the reference may find ``name`` equal to one of
    ``values`` (None: no such test). Only for a field with one value (no array on its path)
    and string or null values."""
    if not plan.single_valued(name):
        return None
    doubt, lower, value = _gate_columns(plan, name)
    plain: set[str] = set()
    patterns: set[str] = set()
    tests: list[str] = []
    for sigma_value in values:
        if isinstance(sigma_value, SigmaNull):
            tests.append(f"{value} IS NULL")
            continue
        if not isinstance(sigma_value, SigmaString):
            return None
        pattern = _like_pattern(sigma_value)
        if pattern is None:
            return None
        if sigma_value.contains_special():
            patterns.add(pattern)
        else:
            plain.add("".join(str(part) for part in sigma_value.s).lower())
    if plain:
        listed = ", ".join(sql_string(p) for p in sorted(plain))
        tests.append(f"coalesce({lower} IN ({listed}), FALSE)")
    for pattern in sorted(patterns):
        tests.append(f"coalesce({lower} LIKE {sql_string(pattern)} ESCAPE '\\', FALSE)")
    used.add(name)
    return "(" + " OR ".join([doubt, *tests]) + ")"
