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

Until a line is passed on, each chunk's judged lines are handed on as soon as the chunk is
scanned (``scanning``): their hits are made and printed while the next chunks are scanned, on
the core the scan leaves. After, they wait in a file, to come at their place between the hits
of the lines passed on.

Memory: the chunks in flight (``CHUNK`` bytes each, at most twice the threads, and what each
passes on); the line numbers of the lines passed on go to a file, read back in order, and so
do the judge's verdicts and the text of the lines a correlation base rule fires on (those not
handed on: a chunk's are held until its hits are made).
"""

from __future__ import annotations

import gzip
import heapq
import os
import struct
from array import array
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from io import BufferedIOBase
from pathlib import Path
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
from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast.gates import necessary
from sigma_ext.hunt.fast.judge import (
    CarriedValues,
    Program,
    RuleProgram,
    carried_fields,
    chunk_hits,
    fields_judged,
    judged_hits,
    node_flags,
    rule_programs,
    rules_spec,
)
from sigma_ext.hunt.fast.line_kinds import LineKinds
from sigma_ext.hunt.fast.native_recognizers import (
    ENVELOPE_TEXT,
    IsObject,
    Matches,
    Present,
    guard_program,
)
from sigma_ext.hunt.fast.plan import SourcePlan, dotted_runs
from sigma_ext.hunt.fast.posix_regex import ere_of, posix_ere
from sigma_ext.hunt.progress import Progress
from sigma_ext.hunt.reference import BadLine, Hit, is_gzip
from sigma_ext.sources.catalogue import SOURCES, Source, source_named

CHUNK = 8 << 20
"""Bytes read at a time (whole lines: a chunk ends at its last line end)."""
GIVE_UP = 0.5
"""The share of the first chunk's bytes passed on from which the prefilter stops."""
LARGEST_INT = 10**15
"""Integer test values the extension compares exactly (a longer number may equal anything)."""
MOST_CONJUNCTIONS = 256
"""A rule whose condition spreads into more conjunctions than this is taken as unknown."""

SHARE = 90.0
"""The part of the ``scan`` phase of the progress the prefilter reports."""

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


@dataclass(frozen=True)
class Passed:
    """What the prefilter wrote: ``lines`` passed on (to ``kept``, their line numbers to
    ``numbers``), of the file's ``total`` lines; ``dismissed`` lines, per source, are the events
    it set aside: those no rule fires on and the ``judged`` ones, whose rules the native judge
    found (``sigma_ext.hunt.fast.judge``)."""

    kept: Path
    numbers: Path
    lines: int
    total: int
    dismissed: dict[str, int]
    judged: int = 0
    """The lines set aside that rules fire on (the judge's)."""
    verdicts: Path | None = None
    """For each not handed on as its chunk was scanned (``scanning``), in order, its line number
    and the bits of the rules that fire on it (bit i: ``FastHunt.rule_files[i]``), two uint64."""
    carried: Path | None = None
    """The text of the judged lines a correlation base rule fires on, in order."""
    values: CarriedValues | None = None
    """What the hit of each keeps of its event, in the same order."""

    def merged(
        self,
        scanned: Iterator[Hit | BadLine] | None,
        rule_files: list[RuleFile],
        path: Path | str,
        source: Source | None = None,
    ) -> Iterator[Hit | BadLine]:
        """``scanned`` (the hits and bad lines of the lines passed on, in line order; None when
        none was) with the hits of the judged lines (``judge.judged_hits``), in line order."""
        if not self.judged or self.verdicts is None:
            return iter(()) if scanned is None else scanned
        hits = judged_hits(self.verdicts, self.carried, rule_files, path, source, self.values)
        if scanned is None:
            return hits
        return heapq.merge(scanned, hits, key=lambda item: item.line)


_NUMBER = struct.Struct("<Q")


@dataclass(frozen=True)
class Judged:
    """One chunk's lines the native judge decided, handed on as soon as the chunk is scanned
    (``scanning``): the line numbers and bits of each (``Passed.verdicts``' pairs), and the
    texts and values of those a correlation base rule fires on (``Passed.carried`` and
    ``Passed.values``')."""

    pairs: array[int]
    texts: bytes
    held: bytes
    values: CarriedValues

    def hits(
        self, rule_files: list[RuleFile], path: Path | str, source: Source | None = None
    ) -> Iterator[Hit]:
        """Their hits, as ``Passed.merged`` makes them."""
        return chunk_hits(self.pairs, self.texts, self.values, self.held, rule_files, path, source)


def run(
    prefilter: Prefilter,
    path: Path,
    folder: Path,
    threads: int,
    progress: Progress | None = None,
    kinds: LineKinds | None = None,
) -> Passed | None:
    """``scanning``, every judged line left in the files ``Passed.merged`` reads."""
    chunks = scanning(prefilter, path, folder, threads, progress, kinds, handed=False)
    try:
        next(chunks)
    except StopIteration as stop:
        return cast(Passed | None, stop.value)
    raise AssertionError("scanning handed a chunk on when told not to")


def scanning(
    prefilter: Prefilter,
    path: Path,
    folder: Path,
    threads: int,
    progress: Progress | None = None,
    kinds: LineKinds | None = None,
    *,
    handed: bool = True,
) -> Generator[Judged, None, Passed | None]:
    """Prefilter ``path`` into ``folder``; None when it stopped (most of its first chunk was
    passed on), and nothing is left to use. ``kinds`` is told every line's kind (nothing, when
    the prefilter stops).

    ``handed``: while no line has been passed on, each chunk's judged lines are handed on
    (yielded) as soon as it is scanned, so that their hits are made while the next chunks are
    scanned; from the first chunk holding a line passed on, they are left in the files
    ``Passed.merged`` reads, to come in line order between the hits of the lines passed on."""
    kept, numbers = folder / "kept.jsonl", folder / "kept.numbers"
    size = max(path.stat().st_size, 1)
    base = passed = 0
    dismissed = dict.fromkeys(prefilter.sources, 0)
    judged = 0
    verdicts, carried = folder / "judged.verdicts", folder / "carried.jsonl"
    values = folder / "carried.values"
    read_values = CarriedValues(
        values, [source_named(name) for name in prefilter.sources], prefilter.value_fields
    )
    workers = max(threads, 1)
    with (
        path.open("rb") as stored,
        kept.open("wb") as kept_out,
        numbers.open("wb") as numbers_out,
        verdicts.open("wb") as verdicts_out,
        carried.open("wb") as carried_out,
        values.open("wb") as values_out,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        handle: BufferedIOBase = gzip.GzipFile(fileobj=stored) if is_gzip(path) else stored
        reader = _Chunks(handle)
        pending: list[tuple[Future[Scan], bytearray, int]] = []

        def fill() -> None:
            while len(pending) < 2 * workers and (chunk := reader.next()) is not None:
                buffer, length = chunk
                view = memoryview(buffer)[:length]
                scan = pool.submit(prefilter.native.scan, view, kinds is not None)
                pending.append((scan, buffer, length))

        first = True
        try:
            while True:
                fill()
                if not pending:
                    break
                future, buffer, length = pending.pop(0)
                out, indices, lines, gone, judged_at, judged_bits, texts, held, kind = (
                    future.result()
                )
                reader.spare.append(buffer)
                if first and len(out) > GIVE_UP * length:
                    return None
                first = False
                fill()  # the next chunks scanned while this one's hits are made
                kept_out.write(out)
                if kinds is not None:
                    kinds.set_aside(kind, prefilter.sources)
                offsets = memoryview(indices).cast("I")
                numbers_out.write(array("Q", [base + i + 1 for i in offsets]).tobytes())
                passed += len(offsets)
                fired = memoryview(judged_bits).cast("Q")
                at = memoryview(judged_at).cast("I")
                pairs = array("Q", [n for k, i in enumerate(at) for n in (base + i + 1, fired[k])])
                judged += len(at)
                for name, count in zip(prefilter.sources, gone, strict=True):
                    dismissed[name] += count
                base += lines
                if progress is not None:
                    # the scan of the lines passed on is the rest of the phase
                    progress("scan", min(SHARE * stored.tell() / size, SHARE))
                if handed and not passed:
                    if pairs:
                        yield Judged(pairs, texts, held, read_values)
                    continue
                verdicts_out.write(pairs.tobytes())
                carried_out.write(texts)
                values_out.write(held)
        finally:
            for left, _, _ in pending:
                left.cancel()
    return Passed(kept, numbers, passed, base, dismissed, judged, verdicts, carried, read_values)


_ROOM = 1 << 20
"""Room in a buffer for the start of a line a chunk cut (a buffer too small for it is made
anew: a new one per chunk would cost zeroing and faulting in its pages every time)."""


class _Chunks:
    """The file's bytes, about ``CHUNK`` at a time, each ending at a line end (the last,
    perhaps not), read into buffers used again once their chunk is scanned (``spare``)."""

    def __init__(self, handle: BufferedIOBase) -> None:
        self.handle = handle
        self.rest = b""
        self.spare: list[bytearray] = []

    def next(self) -> tuple[bytearray, int] | None:
        """A buffer and the length of the chunk it starts with; None at the end."""
        while True:
            held = len(self.rest)
            buffer = self.spare.pop() if self.spare else bytearray(CHUNK + _ROOM)
            if len(buffer) < held + CHUNK:
                # the start of a line longer than the room left for it
                buffer = bytearray(held + CHUNK + _ROOM)
            buffer[:held] = self.rest
            got = self.handle.readinto(memoryview(buffer)[held : held + CHUNK])
            total = held + got
            if not got:
                self.rest = b""
                if total:
                    return buffer, total
                self.spare.append(buffer)
                return None
            end = buffer.rfind(b"\n", 0, total) + 1
            self.rest = bytes(buffer[end:total]) if end else bytes(buffer[:total])
            if end:
                return buffer, end
            self.spare.append(buffer)


class LineNumbers:
    """The line numbers of the lines passed on, read forward from their file by ordinal."""

    def __init__(self, numbers: Path) -> None:
        self.handle = numbers.open("rb")
        self.read = 0
        self.last = 0

    def of(self, ordinal: int) -> int:
        """The line number of the ``ordinal``-th line passed on (1-based, only increasing)."""
        if ordinal > self.read:
            self.handle.seek((ordinal - 1) * _NUMBER.size)
            (self.last,) = _NUMBER.unpack(self.handle.read(_NUMBER.size))
            self.read = ordinal
        return self.last

    def close(self) -> None:
        self.handle.close()
