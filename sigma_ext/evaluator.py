"""The reference evaluator: does a Sigma rule, with the tuning profile applied, match an event?

It runs the rule as pySigma parsed it (after the native mapping pipeline filled placeholders and
expanded abstract fields) directly on the JSON event, with Sigma's semantics:

* strings compare case-insensitively (``|cased`` makes them case-sensitive), ``*`` and ``?`` are
  wildcards anchored at both ends, ``|re`` searches with Python's ``re`` and its flags;
* a field holding an array, at any depth of its path, matches when any element matches; a key
  that itself contains dots (``authorization.k8s.io/decision``) is found too;
* ``field: null`` matches a missing or null field, ``|exists``, ``|cidr``, ``|gt`` and friends,
  ``|fieldref``, numbers and booleans behave as the Sigma specification says;
* a detection named in ``match_every_element`` matches only when every element of its field
  matches (vacuously when there is none), so ``not <detection>`` means "some element does not".

Anything else raises ``UnsupportedConstruct`` instead of guessing. Rules are compiled to
closures once; evaluating an event does no parsing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

Event = Mapping[str, Any]
Overrides = Mapping[str, list[Any]]
Predicate = Callable[[Event, Overrides], bool]
ValueTest = Callable[[Any], bool]


class UnsupportedConstruct(Exception):
    """A Sigma construct the reference evaluator does not implement."""


class _Object:
    """Marks an object or array found at the end of a path: it exists but is no scalar."""


OBJECT = _Object()


def field_values(event: Any, path: str) -> list[Any]:
    """Every scalar at the dotted path, arrays flattened at any depth, nulls left out."""
    out: list[Any] = []
    _collect(event, path.split("."), 0, out)
    return out


def _collect(node: Any, parts: list[str], index: int, out: list[Any]) -> None:
    if isinstance(node, list):
        for element in node:
            _collect(element, parts, index, out)
        return
    if index == len(parts):
        if isinstance(node, dict):
            out.append(OBJECT)
        elif node is not None:
            out.append(node)
        return
    if not isinstance(node, dict):
        return
    for end in range(index + 1, len(parts) + 1):
        key = parts[index] if end == index + 1 else ".".join(parts[index:end])
        if key in node:
            _collect(node[key], parts, end, out)


def _as_text(value: Any) -> str | None:
    if value is OBJECT:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is OBJECT:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def sigma_string_regex(value: SigmaString) -> str:
    """An anchored Python regex for a Sigma string with wildcards."""
    parts = []
    for part in value.s:
        if isinstance(part, str):
            parts.append(re.escape(part))
        elif part == SpecialChars.WILDCARD_MULTI:
            parts.append(".*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            parts.append(".")
        else:
            raise UnsupportedConstruct(f"unfilled placeholder in {value}")
    return "^" + "".join(parts) + "$"


def _string_test(value: SigmaString) -> ValueTest:
    if any(isinstance(part, Placeholder) for part in value.s):
        raise UnsupportedConstruct(f"unfilled placeholder in {value}: no profile list fills it")
    cased = isinstance(value, SigmaCasedString)
    if value.contains_special():
        pattern = re.compile(sigma_string_regex(value), re.DOTALL | (0 if cased else re.IGNORECASE))

        def test_wildcard(candidate: Any) -> bool:
            text = _as_text(candidate)
            return text is not None and pattern.match(text) is not None

        return test_wildcard
    plain = str(value.s[0]) if value.s else ""
    expected = plain if cased else plain.casefold()

    def test_plain(candidate: Any) -> bool:
        text = _as_text(candidate)
        if text is None:
            return False
        return (text if cased else text.casefold()) == expected

    return test_plain


_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def value_test(value: Any) -> ValueTest:
    """A test of one scalar event value against one Sigma value."""
    match value:
        case SigmaString():
            return _string_test(value)
        case SigmaBool():
            expected_bool = value.boolean

            def test_bool(candidate: Any) -> bool:
                if isinstance(candidate, bool):
                    return candidate is expected_bool
                text = _as_text(candidate)
                return text is not None and text.casefold() == str(expected_bool).casefold()

            return test_bool
        case SigmaNumber():
            expected_number = float(value.number)
            return lambda candidate: _as_number(candidate) == expected_number
        case SigmaRegularExpression():
            flags = 0
            for flag in value.flags:
                flags |= _RE_FLAGS[flag]
            pattern = re.compile(str(value.regexp), flags)

            def test_regex(candidate: Any) -> bool:
                text = _as_text(candidate)
                return text is not None and pattern.search(text) is not None

            return test_regex
        case SigmaCIDRExpression():
            network = ipaddress.ip_network(str(value.cidr), strict=False)

            def test_cidr(candidate: Any) -> bool:
                try:
                    return ipaddress.ip_address(str(candidate)) in network
                except ValueError:
                    return False

            return test_cidr
        case SigmaCompareExpression():
            operators: dict[Any, Callable[[float, float], bool]] = {
                SigmaCompareExpression.CompareOperators.LT: lambda a, b: a < b,
                SigmaCompareExpression.CompareOperators.LTE: lambda a, b: a <= b,
                SigmaCompareExpression.CompareOperators.GT: lambda a, b: a > b,
                SigmaCompareExpression.CompareOperators.GTE: lambda a, b: a >= b,
            }
            compare, bound = operators[value.op], float(value.number.number)

            def test_compare(candidate: Any) -> bool:
                number = _as_number(candidate)
                return number is not None and compare(number, bound)

            return test_compare
    raise UnsupportedConstruct(f"value type {type(value).__name__} is not supported")


def _values(event: Event, overrides: Overrides, field: str) -> list[Any]:
    if field in overrides:
        return overrides[field]
    return field_values(event, field)


def _leaf(node: ConditionFieldEqualsValueExpression) -> Predicate:
    field, value = node.field, node.value
    if isinstance(value, SigmaNull):
        return lambda event, overrides: not _values(event, overrides, field)
    if isinstance(value, SigmaExists):
        wanted = value.exists
        return lambda event, overrides: bool(_values(event, overrides, field)) == wanted
    if isinstance(value, SigmaFieldReference):
        other = value.field

        def test_reference(event: Event, overrides: Overrides) -> bool:
            left = {_as_text(v) for v in _values(event, overrides, field)} - {None}
            right = {_as_text(v) for v in _values(event, overrides, other)} - {None}
            return bool(left & right)

        return test_reference
    test = value_test(value)
    return lambda event, overrides: any(test(v) for v in _values(event, overrides, field))


def _keyword(node: ConditionValueExpression) -> Predicate:
    value = node.value
    if not isinstance(value, SigmaString):
        raise UnsupportedConstruct("keywords must be strings")
    text = str(value) if value.contains_special() else f"*{value}*"
    test = value_test(SigmaString(text))

    def scan(node: Any) -> bool:
        if isinstance(node, dict):
            return any(scan(v) for v in node.values())
        if isinstance(node, list):
            return any(scan(v) for v in node)
        return test(node)

    return lambda event, overrides: scan(event)


def _boolean(node: Any, child: Callable[[Any], Predicate]) -> Predicate | None:
    """Closures for AND, OR and NOT over children compiled by ``child``; None for other nodes."""
    match node:
        case ConditionAND():
            parts = [child(arg) for arg in node.args]
            return lambda event, overrides: all(part(event, overrides) for part in parts)
        case ConditionOR():
            parts = [child(arg) for arg in node.args]
            return lambda event, overrides: any(part(event, overrides) for part in parts)
        case ConditionNOT():
            inner = child(node.args[0])
            return lambda event, overrides: not inner(event, overrides)
    return None


def compile_condition(node: Any) -> Predicate:
    """Closures for a postprocessed condition tree (leaves are field/value expressions)."""
    boolean = _boolean(node, compile_condition)
    if boolean is not None:
        return boolean
    match node:
        case ConditionFieldEqualsValueExpression():
            return _leaf(node)
        case ConditionValueExpression():
            return _keyword(node)
        case None:
            raise UnsupportedConstruct("empty detection")
    raise UnsupportedConstruct(f"condition element {type(node).__name__} is not supported")


def _fields_of(node: Any) -> set[str]:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return {node.field}
    if isinstance(node, ConditionItem):
        return set().union(*(_fields_of(arg) for arg in node.args))
    return set()


def _every_element(node: Any) -> Predicate:
    """Match when every value of the detection's field(s) matches the detection."""
    inner = compile_condition(node)
    fields = sorted(_fields_of(node))

    def test(event: Event, overrides: Overrides) -> bool:
        values = [v for field in fields for v in _values(event, overrides, field)]
        return all(inner(event, {field: [v] for field in fields}) for v in values)

    return test


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run on events."""

    rule: SigmaRule
    predicate: Predicate

    def matches(self, event: Event) -> bool:
        return self.predicate(event, {})


def compile_rule(rule: SigmaRule, every_element: tuple[str, ...] = ()) -> CompiledRule:
    """Compile a rule that its pipeline has already processed."""
    detections = rule.detection
    compiled: dict[str, Predicate] = {}

    def detection(name: str) -> Predicate:
        if name not in compiled:
            tree = detections.detections[name].postprocess(detections)
            compiled[name] = (
                _every_element(tree) if name in every_element else compile_condition(tree)
            )
        return compiled[name]

    def walk(node: Any) -> Predicate:
        match node:
            case ConditionIdentifier():
                return detection(node.identifier)
            case ConditionSelector():
                referenced = node.resolve_referenced_detections(detections)
                return walk(node.cond_class(list(referenced)))
        boolean = _boolean(node, walk)
        if boolean is None:
            raise UnsupportedConstruct(f"condition element {type(node).__name__} is not supported")
        return boolean

    conditions = [walk(c.parse(postprocess=False)) for c in detections.parsed_condition]
    return CompiledRule(rule, lambda event, overrides: any(c(event, overrides) for c in conditions))
