"""The native prefilter: the lines no rule can fire on, set aside before DuckDB reads the file.

The typed scan (``sigma_ext.hunt.fast.typed_scan``) pays for every line of a file: DuckDB reads
it as JSON, tests its text, and carries it through every layer of the query, though about 90%
of the lines of an audit log have no hit. The prefilter, a small C extension
(``_prefilter.c``, built by the project's own install), reads the file first, in chunks, on
every core, and passes on to the typed scan only the lines it cannot dismiss, with their line
numbers; the typed scan then judges those exactly as before.

A line is dismissed only when all of these hold, so that its verdict is the reference engine's:

* it is strict JSON (RFC 8259, valid UTF-8, at most 64 deep, no number longer than 64
  characters): the reference engine reads it, and finds no malformed line;
* it starts with the first keys of the first fast source (``FastPath.raw_prefix``), or the
  source is forced: the reference engine recognises it as that source (the summary counts it);
* no rule's necessary condition holds (``sigma_ext.hunt.fast.gates.necessary``, per rule, in
  disjunctive form): each test is a field the rules read with one value (no array on its
  path), equal to one of the rule's strings (any case, with wildcards), integers or null. The
  value is read at the field's path as the reference reads it: a tested key spelled with an
  escape or repeated, an array or a scalar where a tested path goes on, or a key spelling a
  dotted run of a tested path (``objectRef.resource``) make the line go on; a value with an
  escape or a non-ASCII character, or of another type than the test's, may equal anything.

A line some condition holds on is then tried by the native judge (``judge``: each rule's whole
condition, in three-valued logic); when every rule's verdict is known it is set aside too, with
the rules that fire on it (``Passed.merged``).

Everything else is passed on: malformed lines, blank lines, text logs, envelopes, other
sources. When most of a file's first chunk is passed on (envelopes, another source), the
prefilter stops, and the typed scan reads the file as it always did.

Without the extension (``native_available()`` false: no C compiler at install, or
``SIGMA_EXT_NATIVE=0``) the typed scan reads every line itself: the same output, slower.

The prefilter runs over a file in ``prefilter_run``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

from sigma.types import (
    SigmaBool,
    SigmaCompareExpression,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
)

from sigma_ext.condition_tree import sigma_string_pattern
from sigma_ext.hunt.fast.gates import necessary
from sigma_ext.hunt.fast.judge import (
    Program,
    RuleProgram,
    carried_fields,
    fields_judged,
    node_flags,
    rule_programs,
    rules_spec,
)
from sigma_ext.hunt.fast.native_recognizers import (
    ENVELOPE_TEXT,
    IsObject,
    Matches,
    Present,
    guard_program,
)
from sigma_ext.hunt.fast.plan import SourcePlan, dotted_runs
from sigma_ext.hunt.fast.posix_regex import ere_of, posix_ere
from sigma_ext.sources.catalogue import SOURCES

LARGEST_INT = 10**15
"""Integer test values the extension compares exactly (a longer number may equal anything)."""
MOST_CONJUNCTIONS = 256
"""A rule whose condition spreads into more conjunctions than this is taken as unknown."""

GLOB, INT, NULL, BOOL, REGEX, PRESENT, LT, LTE, GT, GTE, OBJECT = range(11)
_COMPARED = {
    SigmaCompareExpression.CompareOperators.LT: LT,
    SigmaCompareExpression.CompareOperators.LTE: LTE,
    SigmaCompareExpression.CompareOperators.GT: GT,
    SigmaCompareExpression.CompareOperators.GTE: GTE,
}
_MANY, _ONE = "\x01", "\x02"

Alternative = tuple[int, int, bytes]
"""(kind, integer, lower-case glob or POSIX ERE): one value a test accepts."""
Conjunction = tuple[tuple[str, frozenset[Alternative]], ...]


Scan = tuple[bytes, bytes, int, tuple[int, ...], bytes, bytes, bytes, bytes, bytes]
"""What the extension gives for a chunk: the lines passed on, their indices in the chunk (uint32),
its lines, the lines set aside (the source's own events, then those of each envelope), and of
those the ones the judge found rules firing on: their indices (uint32), the rules' bits
(uint64), the text of those a correlation base rule fires on (each with a line end) and what
each of those keeps of its event (``judge.CarriedValues`` reads them); when asked, each line's
kind (a byte: the index of its count among those set aside, ``PASSED`` when passed on)."""

PASSED = 255
"""The kind of a line passed on (``run``'s ``kinds``)."""


class _Native(Protocol):
    def scan(self, buffer: bytes | bytearray | memoryview, kinds: bool = False) -> Scan: ...


def _load() -> Callable[..., _Native] | None:
    if os.environ.get("SIGMA_EXT_NATIVE", "1") == "0":
        return None
    try:
        from sigma_ext.hunt.fast import _prefilter  # type: ignore[attr-defined]
    except ImportError:
        return None
    return cast(Callable[..., _Native], _prefilter.Prefilter)


def native_available() -> bool:
    """Whether the extension is built (and not turned off with ``SIGMA_EXT_NATIVE=0``)."""
    return _load() is not None


def _printable(text: str) -> bool:
    return all(" " <= c <= "~" for c in text)


def _alternative(value: Any) -> Alternative | None:
    """One Sigma value as the extension tests it; None for one it cannot test."""
    if isinstance(value, SigmaNull):
        return (NULL, 0, b"")
    if isinstance(value, SigmaBool):
        return (BOOL, int(value.boolean), b"")
    if isinstance(value, SigmaNumber):
        number = value.number
        if isinstance(number, int) and abs(number) < LARGEST_INT:
            return (INT, number, b"")
        return None
    if isinstance(value, SigmaString):
        glob = sigma_string_pattern(value, _MANY, _ONE, str.lower, _printable)
        return None if glob is None else (GLOB, 0, glob.encode("ascii"))
    return None


def _judged_alternative(value: Any) -> Alternative | None:
    """One Sigma value as the judge tests it: as ``_alternative``, a regular expression as a
    POSIX ERE (``sigma_ext.hunt.fast.posix_regex``) and a comparison with an integer (the
    necessary conditions hold neither); a guard's tests (``native_recognizers``) as an ERE, a
    key's presence or an object."""
    if isinstance(value, SigmaRegularExpression | Matches):
        ere = (
            posix_ere(value) if isinstance(value, SigmaRegularExpression) else ere_of(value.pattern)
        )
        return None if ere is None else (REGEX, 0, ere.encode("ascii"))
    if isinstance(value, Present):
        return (PRESENT, 0, b"")
    if isinstance(value, IsObject):
        return (OBJECT, 0, b"")
    if isinstance(value, SigmaCompareExpression):
        bound = value.number.number
        if isinstance(bound, int) and abs(bound) < LARGEST_INT:
            return (_COMPARED[value.op], bound, b"")
        return None
    return _alternative(value)


Dnf = tuple[Conjunction, ...]
"""A condition in disjunctive form: one of its conjunctions holds."""


def _in_order(conjunction: Conjunction) -> tuple[tuple[str, list[Alternative]], ...]:
    """A conjunction as it sorts the same in every run: its alternatives listed in order (a set
    of them is only partly ordered, and iterates in the order of the run's string hashing)."""
    return tuple((name, sorted(alternatives)) for name, alternatives in conjunction)


def _all_of(parts: list[Dnf | None]) -> Dnf | None:
    """Every part holds (a part not known says nothing): the product of the parts, or when
    that grows too large, the smallest part alone (still a necessary condition)."""
    known = [part for part in parts if part is not None]
    if not known:
        return None
    product: list[Conjunction] = [()]
    for part in known:
        product = [left + right for left in product for right in part]
        if len(product) > MOST_CONJUNCTIONS:
            smallest = min(known, key=len)
            return smallest if len(smallest) <= MOST_CONJUNCTIONS else None
    return tuple(product)


def _any_of(parts: list[Dnf | None]) -> Dnf | None:
    """One part holds: every conjunction of every part (unknown if a part is)."""
    if not parts or any(part is None for part in parts):
        return None
    joined = tuple(c for part in parts for c in cast(Dnf, part))
    return joined if len(joined) <= MOST_CONJUNCTIONS else None


@dataclass(frozen=True)
class Spec:
    """What the extension is built with (``_prefilter.c`` documents the shapes)."""

    nodes: list[tuple[int, bytes, bool, bool, bool, bool]]
    conjunctions: list[list[tuple[int, list[Alternative]]]]
    dotted: list[bytes]
    prefix: list[tuple[bytes, bytes]]
    envelopes: list[Any]
    sources: list[str]
    """The source each kind of dismissed line is counted as: the first fast source, then the
    source of each envelope."""
    rules: list[Any]
    """The judge's rules (``_prefilter.c`` documents the shape), after the guard if there is
    one; none: no judge."""
    values: list[int] = field(default_factory=list)
    """The nodes of ``value_fields``."""
    value_fields: list[str] = field(default_factory=list)
    """The fields whose values the hit of a line a correlation base rule fires on keeps (its
    time and group-by fields), handed back for each such line (none: read from its text)."""
    guarded: bool = False
    """Whether the first of ``rules`` is the guard (``guard_program``)."""
    first_rule: int = 0
    """The index among all rules (``FastHunt.rule_files``) of the rule of bit 0."""


def prefilter_spec(
    plans: list[SourcePlan], *, forced: bool, envelopes: tuple[str, ...] = ()
) -> Spec | None:
    """The prefilter of the first fast source's rules, opening the ``envelopes`` (source names,
    in order, each carrying that source's events with its rules); None when no line could be
    dismissed (no fast source, no first keys to recognise it by, a rule with no necessary
    test)."""
    if not plans:
        return None
    plan = replace(plans[0], typed=True, shape_column="sx_shape")
    if forced:
        prefix: list[tuple[str, str]] = []
    elif plan.path.raw_prefix and plan.source is SOURCES[0]:
        prefix = list(plan.path.raw_prefix)
    else:
        return None
    return _source_spec(plan, prefix, None, envelopes)


def recognised_spec(plan: SourcePlan) -> Spec | None:
    """The prefilter of one fast source's rules, its lines known by its recogniser, not by
    first keys (a source after the first: ``guard_program``); None when a recogniser it needs
    is not written for the judge, or no line could be dismissed."""
    guard = guard_program(plan.source, plan)
    if guard is None or any(_judged_alternative(v) is None for v in _values(guard)):
        return None
    # the rules' bits counted from this source's first rule (a verdict has 64)
    first = plan.rules[0][0] if plan.rules else 0
    rules = [(index - first, rule_file, rule) for index, rule_file, rule in plan.rules]
    typed = replace(plan, rules=rules, typed=True, shape_column="sx_shape")
    spec = _source_spec(typed, [], guard, ())
    return None if spec is None else replace(spec, first_rule=first)


def _source_spec(
    plan: SourcePlan,
    prefix: list[tuple[str, str]],
    guard: Program | None,
    envelopes: tuple[str, ...],
) -> Spec | None:
    """The prefilter of ``plan``'s rules: its lines known by their first keys (``prefix``; none
    and no guard: forced), or by ``guard``."""

    def test(name: str, values: list[Any]) -> Dnf | None:
        if not plan.single_valued(name):
            return None
        alternatives = [_alternative(value) for value in values]
        if any(a is None for a in alternatives):
            return None
        return (((name, frozenset(cast(list[Alternative], alternatives))),),)

    conditions: list[Dnf] = []
    for _, rule_file, rule in plan.rules:
        condition = necessary(rule_file, rule, test, _all_of, _any_of)
        if condition is None:
            return None
        conditions.append(condition)
    conjunctions = sorted({c for condition in conditions for c in condition}, key=_in_order)
    at = {conjunction: number for number, conjunction in enumerate(conjunctions)}
    necessary_at = [sorted({at[c] for c in condition}) for condition in conditions]
    programs = rule_programs(plan, necessary_at, _judged_alternative)
    if guard is not None:
        programs = [(0, False, guard, [], []), *programs]
    opened: list[str] = []
    for name in envelopes if prefix else ():
        if name not in ENVELOPE_TEXT:
            break  # a later envelope may only be opened after every one before it
        opened.append(name)
    spec = _compile(conjunctions, prefix, programs, plan, carried_fields(plan))
    return replace(
        spec,
        envelopes=[ENVELOPE_TEXT[name].spec() for name in opened],
        sources=[plan.source.name, *opened],
        guarded=guard is not None,
    )


def _values(program: Program) -> list[Any]:
    """The values a program's tests test."""
    return [value for op in program if isinstance(op[0], str) for value in op[1]]


def _compile(
    conjunctions: list[Conjunction],
    prefix: list[tuple[str, str]],
    programs: list[RuleProgram] | None = None,
    plan: SourcePlan | None = None,
    value_fields: list[str] | None = None,
) -> Spec:
    """The trie of the tested paths (and of ``value_fields``, read as exactly), the conjunctions
    over its nodes and the judge's rules (``plan``: the source's shape, which fields are
    arrays)."""
    programs = programs or []
    value_fields = value_fields or []
    nodes: list[tuple[int, bytes, bool, bool, bool, bool]] = [(-1, b"", False, False, False, False)]
    index: dict[tuple[str, ...], int] = {(): 0}
    tested = {name for conjunction in conjunctions for name, _ in conjunction}
    fields = sorted(tested | fields_judged(programs) | set(value_fields))

    def flags(path: str, field: bool) -> tuple[bool, bool, bool]:
        return node_flags(plan, path, field) if plan is not None else (False, False, False)

    keyed = plan.source.keys_with_dots if plan is not None else frozenset()

    def split(name: str) -> tuple[str, ...]:
        return keys_of(name, keyed)

    for name in fields:
        parts = split(name)
        for depth in range(1, len(parts) + 1):
            if parts[:depth] not in index:
                index[parts[:depth]] = len(nodes)
                key = parts[depth - 1].encode()
                path = ".".join(parts[:depth])
                nodes.append((index[parts[: depth - 1]], key, False, *flags(path, False)))
        at = index[parts]
        nodes[at] = (nodes[at][0], nodes[at][1], True, *flags(name, True))
    compiled = [
        [(index[split(name)], sorted(alternatives)) for name, alternatives in c]
        for c in conjunctions
    ]
    dotted = sorted({key.encode() for name in fields for key in other_keys(name, keyed)})
    rules = rules_spec(programs, lambda name: index[split(name)], _judged_alternative)
    prefix_bytes = [(k.encode(), v.encode()) for k, v in prefix]
    values = [index[split(name)] for name in value_fields]
    return Spec(nodes, compiled, dotted, prefix_bytes, [], [], rules, values, value_fields)


def keys_of(name: str, keyed: frozenset[str]) -> tuple[str, ...]:
    """The keys the prefilter reads a field through: its name split at dots, but below a path
    of ``keyed`` (``Source.keys_with_dots``), where the rest is one key."""
    for path in keyed:
        if name.startswith(path + ".") and len(name) > len(path) + 1:
            return (*path.split("."), name[len(path) + 1 :])
    return tuple(name.split("."))


def other_keys(name: str, keyed: frozenset[str]) -> set[str]:
    """The keys of every other way the reference may split the field's name (``dotted_runs``
    but the prefilter's own keys, and the parts of a key that holds dots): a line holding one
    anywhere is passed on."""
    own = keys_of(name, keyed)
    inner = {part for key in own if "." in key for part in key.split(".")}
    return (dotted_runs(name) - set(own)) | inner


@dataclass(frozen=True)
class Prefilter:
    """The extension built with a spec, and the source each kind of dismissed line counts as."""

    native: _Native
    sources: tuple[str, ...]
    value_fields: tuple[str, ...] = ()
    """The fields whose values the extension hands back (``Spec.value_fields``)."""
    first_rule: int = 0
    """The index among all rules of the rule of bit 0 (``Spec.first_rule``)."""


def build(spec: Spec) -> Prefilter | None:
    """The extension built with ``spec``; None without it."""
    native = _load()
    if native is None:
        return None
    built = native(
        spec.nodes,
        spec.conjunctions,
        spec.dotted,
        spec.prefix,
        spec.envelopes,
        spec.rules,
        spec.values,
        spec.guarded,
    )
    return Prefilter(built, tuple(spec.sources), tuple(spec.value_fields), spec.first_rule)
