"""The native judge: each rule's whole condition, for the extension to decide a line itself.

The prefilter (``sigma_ext.hunt.fast.prefilter``) sets aside the lines on which no rule's
necessary condition holds; the lines it passed on were all judged by DuckDB, though most of
them are decided by a few plain tests (a pod created by a controller: verb, code, resource,
user name). Here each rule's condition is compiled, from the rule itself, into a postfix
program of three-valued tests for the extension. A test is known when its field is read as the
reference reads it (one value, no array on its path: ``SourcePlan.single_valued``; an array of
values the source documents, kept whole: ``listed``; or a field at or below such an array,
each element read and the values listed: ``below_array``) and its values are strings (any
case, with wildcards), integers, booleans or null; an every-element detection is its own
program, each test reading one pinned value; ``|exists`` is the null test (negated for
``true``). Anything else (``|cased``, ``|re``, ``|cidr``, a
keyword, a placeholder left unfilled) is unknown, and so is a value the extension does not
read as the reference does (an escape or a non-ASCII character, a number against a string,
more values than it keeps). AND, OR and NOT combine them as Kleene's logic does, so a verdict
known is the reference's whatever the unknown tests hold. A line whose every rule is known is
judged there and never reaches DuckDB (``judged_hits``: a correlation base rule's hit keeps the
event's time and group-by values, which the extension hands back when it read them exactly,
``CarriedValues``, else read from the line's text); the others are passed on as before.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import nullcontext
from io import BytesIO
from pathlib import Path
from typing import IO, Any, cast

from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCompareExpression,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
)

from sigma_ext.condition_tree import Fold, fields_of, fold, fold_condition
from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast.plan import SourcePlan
from sigma_ext.hunt.reference import Hit, read_line
from sigma_ext.reference.correlation import TIME_FIELDS
from sigma_ext.reference.correlation_engine import BaseRuleFile, carried, carried_strings
from sigma_ext.sources.catalogue import Source, recognize

OP_TEST, OP_UNKNOWN, OP_AND, OP_OR, OP_NOT, OP_EVERY = range(6)

Op = tuple[int, int]
"""(operation, argument): a test's index, an every-element detection's, or how many values an
AND or OR combines."""
Program = list[Op | tuple[str, list[Any]]]
"""A rule's postfix program before its tests are numbered: ``(field, values)`` for a test."""
Every = tuple[list[str], Program]
"""An every-element detection: its fields, and its program, each test reading one value."""
RuleProgram = tuple[int, bool, Program, list[int], list[Every]]
"""A rule for the judge before its fields are nodes: its bit, whether its hit carries the
event's values (a correlation base rule), its program, the indices of its necessary
conjunctions, its every-element detections."""
Alternative = tuple[int, int, bytes]
NO_VALUE = SigmaNull()
"""The value ``|exists`` tests are written with (``field: null``: the field has no value)."""


def exact_program(
    rule_file: RuleFile,
    rule: SigmaRule,
    known: Callable[[str, Any], bool],
    readable: Callable[[str], bool],
) -> tuple[Program, list[Every]]:
    """The rule's condition as a postfix program: a test for each field/value leaf that
    ``known(field, value)`` accepts, unknown for every other node; an every-element detection
    whose fields are all ``readable`` is one, with its own program."""
    detections = rule.detection
    unknown: Program = [(OP_UNKNOWN, 0)]
    everies: list[Every] = []

    def combined(op: int) -> Callable[[list[Program]], Program]:
        def join(parts: list[Program]) -> Program:
            if op == OP_OR:
                parts = _one_test_a_field(parts)
            if len(parts) == 1:
                return parts[0]
            return [op for part in parts for op in part] + [(op, len(parts))]

        return join

    def negate(part: Program) -> Program:
        return [*part, (OP_NOT, 0)]

    def leaf(node: ConditionFieldEqualsValueExpression) -> Program:
        value = node.value
        if isinstance(value, SigmaExists):
            # |exists: the field has a value (the reference's field_values: arrays flattened,
            # nulls left out), which is ``field: null`` negated; |exists: false is it
            if not known(node.field, NO_VALUE):
                return unknown
            absent: Program = [(node.field, [NO_VALUE])]
            return negate(absent) if value.exists else absent
        if not known(node.field, value):
            return unknown
        return [(node.field, [value])]

    how = Fold[Program](
        all_of=combined(OP_AND),
        any_of=combined(OP_OR),
        negate=negate,
        leaf=leaf,
        other=lambda _: unknown,
    )

    def detection(name: str) -> Program:
        tree = detections.detections[name].postprocess(detections)
        if name not in rule_file.every_element:
            return fold(tree, how)
        fields = sorted(fields_of(tree))
        if not fields or not all(readable(field) for field in fields):
            return unknown
        everies.append((fields, fold(tree, how)))
        return [(OP_EVERY, len(everies) - 1)]

    program = fold_condition(
        rule, detection, combined(OP_AND), combined(OP_OR), negate=negate, other=lambda _: unknown
    )
    return program, everies


def _one_test_a_field(parts: list[Program]) -> list[Program]:
    """An OR's parts, those that are one test of a field made one test of all their values, at
    the first one's place: the same value in Kleene's logic (the extension's test holds when one
    of its values does, is unknown when none does and one may be), with fewer tests to find."""
    joined: list[Program] = []
    at: dict[str, int] = {}
    for part in parts:
        test = part[0] if len(part) == 1 else None
        if test is None or not isinstance(test[0], str):
            joined.append(part)
            continue
        name, values = test
        if name in at:
            first = joined[at[name]][0]
            joined[at[name]] = [(name, [*cast(list[Any], first[1]), *values])]
            continue
        at[name] = len(joined)
        joined.append(part)
    return joined


def exact_value(value: Any) -> bool:
    """Whether the extension tests ``value`` as the reference does (on values it reads as the
    reference does): null, an integer, a boolean, a string compared in any case, a regular
    expression (those it can write as a POSIX ERE: ``alternative`` says which), a comparison
    with an integer (``|gt``: on a number, which is all it knows)."""
    if isinstance(
        value, SigmaNull | SigmaNumber | SigmaBool | SigmaRegularExpression | SigmaCompareExpression
    ):
        return True
    return isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString)


def listed(plan: SourcePlan, name: str) -> bool:
    """Whether the rules read ``name`` as an array of values, kept whole: the source documents
    it as an array, no path above it holds one, and the rules read no field below it."""
    return (
        name in plan.fields
        and name in plan.path.arrays
        and not any(path in plan.path.arrays for path in _above(name))
        and not any(other.startswith(name + ".") for other in plan.fields)
    )


def _above(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:depth]) for depth in range(1, len(parts))]


def below_array(plan: SourcePlan, name: str) -> bool:
    """Whether a field the rules read is at or below an array the source documents (its values
    listed, each element read), and not kept whole (``listed``)."""
    arrays = plan.path.arrays
    return (
        name in plan.fields
        and not listed(plan, name)
        and (name in arrays or any(path in arrays for path in _above(name)))
    )


def node_flags(plan: SourcePlan, path: str, field: bool) -> tuple[bool, bool, bool]:
    """(kept whole, holds an array, a field below an array) for a node of the trie."""
    return (
        field and listed(plan, path),
        path in plan.path.arrays,
        field and below_array(plan, path),
    )


def rule_programs(
    plan: SourcePlan,
    necessary_at: list[list[int]],
    alternative: Callable[[Any], Alternative | None],
) -> list[RuleProgram]:
    """Every rule of the plan for the judge (``necessary_at``: the indices of each rule's
    necessary conjunctions); none when a rule's index is beyond the 64 bits a verdict has."""
    if any(index >= 64 for index, _, _ in plan.rules):
        return []

    def readable(name: str) -> bool:
        return plan.single_valued(name) or listed(plan, name) or below_array(plan, name)

    def known(name: str, value: Any) -> bool:
        return readable(name) and exact_value(value) and alternative(value) is not None

    programs: list[RuleProgram] = []
    for (index, rule_file, rule), at in zip(plan.rules, necessary_at, strict=True):
        program, everies = exact_program(rule_file, rule, known, readable)
        programs.append((index, isinstance(rule_file, BaseRuleFile), program, at, everies))
    return programs


def fields_judged(programs: list[RuleProgram]) -> set[str]:
    """Every field the programs read."""
    names = set()
    for _, _, program, _, everies in programs:
        for part in [program, *(every for _, every in everies)]:
            names |= {op[0] for op in part if isinstance(op[0], str)}
        names |= {name for fields, _ in everies for name in fields}
    return names


NodeOf = Callable[[str], int]
Compiled = tuple[list[int], list[Any]]


def _numbered(
    program: Program,
    node: NodeOf,
    alternative: Callable[[Any], Alternative | None],
    ids: dict[tuple[int, tuple[Alternative, ...]], int] | None = None,
) -> Compiled:
    """The program's ops and tests (each with its id in ``ids``, shared by the same test of
    every rule, so that the extension finds it once a line)."""
    ops: list[int] = []
    tests: list[Any] = []
    for op, arg in program:
        if isinstance(op, str):
            alternatives = [cast(Alternative, alternative(v)) for v in cast(list[Any], arg)]
            ops += [OP_TEST, len(tests)]
            test = (node(op), tuple(sorted(alternatives)))
            if ids is None:
                tests.append((test[0], list(test[1])))
            else:
                tests.append((test[0], list(test[1]), ids.setdefault(test, len(ids))))
        else:
            ops += [op, cast(int, arg)]
    return ops, tests


def rules_spec(
    programs: list[RuleProgram], node: NodeOf, alternative: Callable[[Any], Alternative | None]
) -> list[Any]:
    """The judge's rules as the extension takes them (``_prefilter.c``: ``read_rule``), fields
    as their nodes in the trie."""
    rules: list[Any] = []
    ids: dict[tuple[int, tuple[Alternative, ...]], int] = {}
    for bit, carried_values, program, at, everies in programs:
        ops, tests = _numbered(program, node, alternative, ids)
        every = [
            ([node(name) for name in fields], *_numbered(inner, node, alternative))
            for fields, inner in everies
        ]
        rules.append((bit, carried_values, ops, tests, at, every))
    return rules


def carried_fields(plan: SourcePlan) -> list[str]:
    """The fields a correlation base rule's hit keeps of an event of the plan's source (its
    time and group-by fields: ``correlation_engine.BaseRuleFile.matched``), for the extension
    to read exactly and hand back (``CarriedValues``); none when no base rule is judged, when
    the source's native document is not its event, or when a field may hold more than one
    value (an array on its path)."""
    base = [rule_file for _, rule_file, _ in plan.rules if isinstance(rule_file, BaseRuleFile)]
    time = TIME_FIELDS.get(plan.source.name)
    if not base or time is None or not plan.source.decodes_as_is:
        return []
    names = sorted({time, *(name for rule_file in base for name in rule_file.group_by)})
    if any(on_array(plan, name) for name in names):
        return []
    return names


def on_array(plan: SourcePlan, name: str) -> bool:
    """Whether the source documents an array at ``name`` or on a path above it."""
    return any(path in plan.path.arrays for path in [*_above(name), name])


_LENGTH = struct.Struct("=I")
_NO_VALUE, _EXACT = 0, 1


class CarriedValues:
    """What the extension handed back for each judged line a correlation base rule fires on
    (``_prefilter.c``: ``carried_values``): the kind of line (0: an event of ``sources[0]``,
    1 + k: one that envelope k carries, of ``sources[1 + k]``, whose native document is that
    event as ``sources[0]``'s is) and, per field of ``fields``, no value (absent or null), the
    string read exactly, or "read it from the text"."""

    def __init__(self, path: Path, sources: list[Source], fields: tuple[str, ...]) -> None:
        self.path = path
        self.sources = sources
        self.fields = fields

    def documents(
        self, handle: IO[bytes] | None = None
    ) -> Generator[tuple[Mapping[str, str], Source] | None, None, None]:
        """For each line in order, the string each of ``fields`` holds in it (none: no value),
        which the hits read as they would read the native document of the line's source
        (``correlation_engine.carried_strings``), and that source; or None where the line is
        to be read from its text. Read from ``path``, or from ``handle`` (one chunk's values,
        ``prefilter_run.Judged``)."""
        with self.path.open("rb") if handle is None else nullcontext(handle) as read:
            while kind := read.read(1):
                yield self._document(read, kind[0])

    def _document(self, handle: IO[bytes], kind: int) -> tuple[Mapping[str, str], Source] | None:
        strings: dict[str, str] = {}
        exact = kind < len(self.sources) and bool(self.fields)
        for name in self.fields:
            tag = handle.read(1)[0]
            if tag == _NO_VALUE:
                continue
            if tag != _EXACT:
                exact = False
                continue
            (length,) = _LENGTH.unpack(handle.read(_LENGTH.size))
            strings[name] = handle.read(length).decode("ascii")
        return (strings, self.sources[kind]) if exact else None


def judged_hits(
    verdicts: Path,
    texts: Path | None,
    rule_files: list[RuleFile],
    path: Path | str,
    source: Source | None,
    values: CarriedValues | None = None,
) -> Iterator[Hit]:
    """The hits of the lines the judge decided (``verdicts``: their numbers in ``path`` and the
    bits of the rules that fire on each, bit i for ``rule_files[i]``, pairs of uint64), in line
    order, a line's in rule order; a correlation base rule's carries the event's values: those
    the extension read exactly (``values``: an event of its first source, or one an envelope
    carries), else read from its text (the lines' texts in ``texts``, in order), as
    ``carried_rows.CarriedRows`` reads a scanned row's."""
    base = base_bits(rule_files)
    with (
        texts.open("rb") if texts is not None and base else nullcontext(None) as handle,
        verdicts.open("rb") as pairs,
    ):
        documents = values.documents() if values is not None and base else None
        yield from _hits(_pairs(pairs), base, handle, documents, rule_files, path, source)


def chunk_hits(
    pairs: array[int],
    texts: bytes,
    values: CarriedValues | None,
    held: bytes,
    rule_files: list[RuleFile],
    path: Path | str,
    source: Source | None,
) -> Iterator[Hit]:
    """``judged_hits`` of one chunk's verdicts held in memory (``prefilter_run.Judged``: the line
    numbers and bits in ``pairs``, the texts and values of those a carried rule fires on)."""
    base = base_bits(rule_files)
    handle = BytesIO(texts) if base else None
    documents = values.documents(BytesIO(held)) if values is not None and base else None
    numbered = zip(pairs[::2], pairs[1::2], strict=True)
    yield from _hits(numbered, base, handle, documents, rule_files, path, source)


def base_bits(rule_files: list[RuleFile]) -> int:
    """The bits of the correlation base rules among ``rule_files``."""
    return sum(
        1 << i for i, rule_file in enumerate(rule_files) if isinstance(rule_file, BaseRuleFile)
    )


def _hits(
    pairs: Iterator[tuple[int, int]],
    base: int,
    handle: IO[bytes] | None,
    documents: Generator[tuple[Mapping[str, str], Source] | None, None, None] | None,
    rule_files: list[RuleFile],
    path: Path | str,
    source: Source | None,
) -> Iterator[Hit]:
    """The hits of the (line number, bits) ``pairs`` (``judged_hits``; ``base``: the bits of
    the correlation base rules, whose lines read ``handle`` and ``documents``)."""
    made: dict[int, list[Hit]] = {}
    try:
        for number, fired in pairs:
            if not fired & base:
                # the hits of each set of rules made once, then placed on each line
                placed = made.get(fired)
                if placed is None:
                    rules = fired_rules(fired, rule_files)
                    placed = made[fired] = [Hit.of(rule_file, path, 0) for rule_file in rules]
                for hit in placed:
                    yield hit.at(number)
                continue
            rules = fired_rules(fired, rule_files)
            assert handle is not None
            text = handle.readline()
            held = next(documents, None) if documents is not None else None
            if held is not None:
                rules = carried_strings(rules, *held)
            else:
                item = read_line(text.rstrip(b"\n"))
                recognised = source or (recognize(item) if isinstance(item, dict) else None)
                if isinstance(item, dict) and recognised is not None:
                    rules = carried(rules, recognised.decode(item), recognised)
            yield from (Hit.of(rule_file, path, number) for rule_file in rules)
    finally:
        if documents is not None:
            documents.close()


def fired_rules(fired: int, rule_files: list[RuleFile]) -> list[RuleFile]:
    """The rules of the bits set in ``fired`` (bit i: ``rule_files[i]``), in order."""
    return [rule_files[i] for i in range(fired.bit_length()) if fired >> i & 1]


def _pairs(handle: IO[bytes]) -> Iterator[tuple[int, int]]:
    """The (line number, bits) pairs of a verdicts file, a block at a time."""
    while block := handle.read(_BLOCK):
        numbers = array("Q")
        numbers.frombytes(block)
        yield from zip(numbers[::2], numbers[1::2], strict=True)


_BLOCK = 16 * 4096
"""Bytes of verdicts read at a time (4,096 pairs)."""
