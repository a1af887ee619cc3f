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
closures once; evaluating an event does no parsing. Each event's field values are looked up
once however many rules read them (``Fields``), and an OR of plain strings on one field (an
allowlist, a list of verbs) is one set lookup.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sigma.conditions import (
    ConditionFieldEqualsValueExpression,
    ConditionOR,
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
)

from sigma_ext.condition_tree import (
    Fold,
    fields_of,
    fold,
    fold_condition,
    sigma_string_pattern,
)

Event = Mapping[str, Any]
ValueTest = Callable[[Any], bool]


class UnsupportedConstruct(Exception):
    """A Sigma construct the reference evaluator does not implement."""


class _Object:
    """Marks an object or array found at the end of a path: it exists but is no scalar."""


OBJECT = _Object()


def field_values(event: Any, path: str) -> list[Any]:
    """Every scalar at the dotted path, arrays flattened at any depth, nulls left out."""
    out: list[Any] = []
    _collect(event, _path_keys(path), 0, out)
    return out


@lru_cache(maxsize=4096)
def _path_keys(path: str) -> tuple[tuple[tuple[str, int], ...], ...]:
    """For each position in the path, the keys that may start there and where each ends.

    ``a.b.c`` at position 0 may be the key ``a`` (then ``b`` follows), ``a.b`` or ``a.b.c``:
    a key that itself contains dots is found too.
    """
    parts = path.split(".")
    return tuple(
        tuple((".".join(parts[index:end]), end) for end in range(index + 1, len(parts) + 1))
        for index in range(len(parts))
    )


def _collect(
    node: Any, keys: tuple[tuple[tuple[str, int], ...], ...], index: int, out: list[Any]
) -> None:
    if isinstance(node, list):
        for element in node:
            _collect(element, keys, index, out)
        return
    if index == len(keys):
        if isinstance(node, dict):
            out.append(OBJECT)
        elif node is not None:
            out.append(node)
        return
    if not isinstance(node, dict):
        return
    for key, end in keys[index]:
        if key in node:
            _collect(node[key], keys, end, out)


class Fields:
    """One event's field values, each path looked up once however many rules read it."""

    __slots__ = ("_found", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._found: dict[str, list[Any]] = {}

    def values(self, path: str) -> list[Any]:
        found = self._found.get(path)
        if found is None:
            found = self._found[path] = field_values(self.event, path)
        return found


class _Pinned(Fields):
    """The event with some fields pinned to one value each (one element of a pooled list)."""

    __slots__ = ("_base", "_pinned")

    def __init__(self, base: Fields, pinned: Mapping[str, list[Any]]) -> None:
        super().__init__(base.event)
        self._base = base
        self._pinned = pinned

    def values(self, path: str) -> list[Any]:
        pinned = self._pinned.get(path)
        return self._base.values(path) if pinned is None else pinned


Predicate = Callable[[Fields], bool]


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
    pattern = sigma_string_pattern(value, ".*", ".", re.escape)
    if pattern is None:
        raise UnsupportedConstruct(f"unfilled placeholder in {value}")
    return "^" + pattern + "$"


def _string_test(value: SigmaString) -> ValueTest:
    if any(isinstance(part, Placeholder) for part in value.s):
        raise UnsupportedConstruct(f"unfilled placeholder in {value}: no profile list fills it")
    cased = isinstance(value, SigmaCasedString)
    if value.contains_special():
        flags = re.DOTALL | (0 if cased else re.IGNORECASE)
        # compiled at the first value it tests: a hunt compiles every rule of every source, and
        # a long list of wildcard values (the risky host-CLI flags) would cost its start-up the
        # regexes of sources the input never holds
        compiled: list[re.Pattern[str]] = []

        def test_wildcard(candidate: Any) -> bool:
            text = _as_text(candidate)
            if text is None:
                return False
            if not compiled:
                compiled.append(re.compile(sigma_string_regex(value), flags))
            return compiled[0].fullmatch(text) is not None

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


def regex_flags(value: SigmaRegularExpression) -> int:
    """The ``re`` flags a ``|re`` value is searched with."""
    flags = 0
    for flag in value.flags:
        flags |= _RE_FLAGS[flag]
    return flags


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
            pattern = re.compile(str(value.regexp), regex_flags(value))

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


def _leaf(node: ConditionFieldEqualsValueExpression) -> Predicate:
    field, value = node.field, node.value
    if isinstance(value, SigmaNull):
        return lambda fields: not fields.values(field)
    if isinstance(value, SigmaExists):
        wanted = value.exists
        return lambda fields: bool(fields.values(field)) == wanted
    if isinstance(value, SigmaFieldReference):
        other = value.field

        def test_reference(fields: Fields) -> bool:
            left = {_as_text(v) for v in fields.values(field)} - {None}
            right = {_as_text(v) for v in fields.values(other)} - {None}
            return bool(left & right)

        return test_reference
    test = value_test(value)

    def test_any(fields: Fields) -> bool:
        for candidate in fields.values(field):  # noqa: SIM110 (a loop is faster than any())
            if test(candidate):
                return True
        return False

    return test_any


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

    return lambda fields: scan(fields.event)


def _all_of(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]

    def test_all(fields: Fields) -> bool:
        for part in parts:  # noqa: SIM110 (a loop is faster than all())
            if not part(fields):
                return False
        return True

    return test_all


def _one_of(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]

    def test_one(fields: Fields) -> bool:
        for part in parts:  # noqa: SIM110 (a loop is faster than any())
            if part(fields):
                return True
        return False

    return test_one


def _not(inner: Predicate) -> Predicate:
    return lambda fields: not inner(fields)


def _plain_string(node: Any) -> tuple[str, SigmaString] | None:
    """The field and value of a leaf comparing a field with a string without wildcards."""
    if not isinstance(node, ConditionFieldEqualsValueExpression):
        return None
    value = node.value
    if not isinstance(value, SigmaString) or value.contains_special():
        return None
    if any(isinstance(part, Placeholder) for part in value.s):
        return None
    return node.field, value


def _any_of(field: str, values: list[SigmaString]) -> Predicate:
    """``field`` equals one of the plain strings: the OR of their leaves, as set lookups."""
    cased = frozenset(str(v.s[0]) if v.s else "" for v in values if isinstance(v, SigmaCasedString))
    folded = frozenset(
        (str(v.s[0]) if v.s else "").casefold()
        for v in values
        if not isinstance(v, SigmaCasedString)
    )

    def test(fields: Fields) -> bool:
        for candidate in fields.values(field):
            text = _as_text(candidate)
            if text is not None and (text in cased or text.casefold() in folded):
                return True
        return False

    return test


def _compile_or(node: ConditionOR) -> Predicate:
    """An OR; its plain-string leaves on one field become one set lookup (same meaning)."""
    by_field: dict[str, list[SigmaString]] = {}
    parts: list[Predicate] = []
    for arg in node.args:
        plain = _plain_string(arg)
        if plain is None:
            parts.append(compile_condition(arg))
        else:
            by_field.setdefault(plain[0], []).append(plain[1])
    return _one_of([_any_of(field, values) for field, values in by_field.items()] + parts)


def _unsupported(node: Any) -> Predicate:
    if node is None:
        raise UnsupportedConstruct("empty detection")
    raise UnsupportedConstruct(f"condition element {type(node).__name__} is not supported")


_DETECTION = Fold[Predicate](
    all_of=_all_of, any_of=_one_of, negate=_not, leaf=_leaf, keyword=_keyword, other=_unsupported
)


def compile_condition(node: Any) -> Predicate:
    """Closures for a postprocessed condition tree (leaves are field/value expressions)."""
    if isinstance(node, ConditionOR):
        return _compile_or(node)
    return fold(node, _DETECTION, descend=compile_condition)


def _every_element(node: Any) -> Predicate:
    """Match when every value of the detection's field(s) matches the detection."""
    inner = compile_condition(node)
    fields = sorted(fields_of(node))

    def test(event: Fields) -> bool:
        values = [v for field in fields for v in event.values(field)]
        return all(inner(_Pinned(event, {field: [v] for field in fields})) for v in values)

    return test


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run on events."""

    rule: SigmaRule
    predicate: Predicate

    def matches(self, event: Event | Fields) -> bool:
        """Whether the rule fires; pass one ``Fields`` to every rule to share the lookups."""
        return self.predicate(event if isinstance(event, Fields) else Fields(event))


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

    return CompiledRule(
        rule, fold_condition(rule, detection, _all_of, _one_of, _not, other=_unsupported)
    )
