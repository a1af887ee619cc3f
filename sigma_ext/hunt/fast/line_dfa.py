"""Regular expressions over a line's bytes, compiled into one DFA that ``_line_dfa.c`` runs.

The fast hunt of a runtime text log (``sigma_ext.hunt.fast.text_scan``) asks two things of every
line: does the parser claim it (``CLAIM``), and may a rule fire on it (the gate). Both are
regular expressions anchored at the line's start and matched as prefixes, as RE2's
``regexp_matches`` reads them. Here they are compiled together (Thompson's construction, then
the subset construction over classes of bytes) into one deterministic automaton whose states
say which expressions have matched by then and which still can; C runs it over each line and
stops as soon as nothing more can change. A state that leaves itself on at most three ASCII
bytes is *accelerated*: C skips to the next of them eight bytes at a time (the body of a quoted
message, a quoted time).

The automaton reads bytes, and the expressions spell every class as ASCII ranges
(``text_scan.re2``), so its verdict is RE2's on a line of ASCII text; C reports a line holding
any other byte apart, and the caller leaves such lines to the reference engine.

Only the syntax ``text_scan`` writes is read: ``^`` first, groups (``(?:``, ``(?P<name>``,
``(``), ``|``, classes of characters and ``\\xNN`` ranges, ``\\`` before a character that is
not a letter or digit, ``.``, ``$`` (the line's end, which C reads as a ``\\n``: no class holds
one, a line has none), and the quantifiers ``* + ? {n} {n,} {n,m}``. Anything else raises
``ValueError`` (the caller then keeps DuckDB's scan), as does an automaton of more than
``MAX_STATES`` states. ``quoted`` rewrites an expression over some text into one over that text
as a quoted string writes it (the gate reads a logrus message so).
"""

from __future__ import annotations

import struct
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from io import BufferedIOBase
from typing import Any

MAX_STATES = 2048
"""The most ``_line_dfa.c`` lays out (a state in 11 bits of a cell; the table then outgrows the
caches it is meant to sit in)."""

_BYTES = range(256)
_ALL = (1 << 256) - 1
_NEWLINE = 1 << 0x0A
_END = _NEWLINE
"""What ``$`` reads: C reads a line's end as a ``\\n`` (which no class holds: a line has none)."""


@dataclass
class _Node:
    edges: list[tuple[int, int]]
    """(set of bytes as a 256-bit mask, next node)."""
    empty: list[int]
    """Nodes reached reading nothing."""
    final: int = 0
    """The bit of the expression this node ends (0: none)."""


class _Nfa:
    def __init__(self) -> None:
        self.nodes: list[_Node] = []

    def node(self) -> int:
        self.nodes.append(_Node([], []))
        return len(self.nodes) - 1


@dataclass(frozen=True)
class _Set:
    mask: int


@dataclass(frozen=True)
class _Seq:
    items: tuple[_Tree, ...]


@dataclass(frozen=True)
class _Alt:
    branches: tuple[_Tree, ...]


@dataclass(frozen=True)
class _Repeat:
    item: _Tree
    least: int
    most: int | None


_Tree = _Set | _Seq | _Alt | _Repeat


def parse(pattern: str) -> _Tree:
    """The syntax tree of an anchored expression (its leading ``^`` dropped)."""
    if not pattern.startswith("^"):
        raise ValueError(f"not anchored at the line's start: {pattern!r}")
    reader = _Reader(pattern, 1)
    tree = reader.alternation()
    if reader.at != len(pattern):
        raise reader.fail("unexpected ')'")
    return tree


class _Reader:
    def __init__(self, text: str, at: int) -> None:
        self.text = text
        self.at = at

    def fail(self, why: str) -> ValueError:
        return ValueError(f"{why} at {self.at} of {self.text!r}")

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def take(self) -> str:
        if self.at >= len(self.text):
            raise self.fail("unexpected end")
        char = self.text[self.at]
        self.at += 1
        return char

    def alternation(self) -> _Tree:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.at += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else _Alt(tuple(branches))

    def sequence(self) -> _Tree:
        items: list[_Tree] = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return items[0] if len(items) == 1 else _Seq(tuple(items))

    def atom(self) -> _Tree:
        char = self.take()
        if char == "(":
            if self.text.startswith("?:", self.at):
                self.at += 2
            elif self.text.startswith("?P<", self.at):
                end = self.text.find(">", self.at)
                if end < 0 or not self.text[self.at + 3 : end].isidentifier():
                    raise self.fail("bad group name")
                self.at = end + 1
            elif self.peek() == "?":
                raise self.fail("unsupported group")
            inner = self.alternation()
            if self.take() != ")":
                raise self.fail("missing ')'")
            return inner
        if char == "[":
            return _Set(self.klass())
        if char == "\\":
            return _Set(self.escape() & ~_NEWLINE)
        if char == ".":
            return _Set(_ALL & ~_NEWLINE)
        if char == "$":
            return _Set(_END)
        if char in "*+?{^)":
            raise self.fail(f"unsupported {char!r}")
        return _Set(self.char_mask(char))

    def char_mask(self, char: str) -> int:
        if ord(char) > 0x7F:
            raise self.fail("a character outside ASCII")
        return 1 << ord(char) & ~_NEWLINE

    def escape(self) -> int:
        char = self.take()
        if char == "x":
            digits = self.text[self.at : self.at + 2]
            if len(digits) != 2 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise self.fail("bad \\x escape")
            self.at += 2
            return 1 << int(digits, 16)
        if char.isalnum():
            raise self.fail(f"unsupported escape \\{char}")
        return self.char_mask(char)

    def klass(self) -> int:
        negated = self.peek() == "^"
        self.at += negated
        mask, first = 0, True
        while first or self.peek() != "]":
            first = False
            low = self.member()
            if self.peek() == "-" and self.text[self.at + 1 : self.at + 2] not in ("]", ""):
                self.at += 1
                high = self.member()
                if high < low:
                    raise self.fail("bad range")
                mask |= ((1 << (high + 1)) - 1) & ~((1 << low) - 1)
            else:
                mask |= 1 << low
        self.at += 1
        return (_ALL & ~mask if negated else mask) & ~_NEWLINE

    def member(self) -> int:
        char = self.take()
        if char != "\\":
            self.char_mask(char)  # (ASCII)
            return ord(char)
        return self.escape().bit_length() - 1

    def quantified(self, tree: _Tree) -> _Tree:
        while True:
            char = self.peek()
            if char in ("*", "+", "?"):
                self.at += 1
                least, most = {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
            elif char == "{":
                end = self.text.find("}", self.at)
                body = self.text[self.at + 1 : end] if end > 0 else ""
                low, comma, high = body.partition(",")
                if not low.isdigit() or (high and not high.isdigit()):
                    raise self.fail("bad repeat")
                self.at = end + 1
                least = int(low)
                most = (int(high) if high else None) if comma else least
                if most is not None and most < least:
                    raise self.fail("bad repeat")
            else:
                return tree
            if self.peek() in ("?", "+"):
                raise self.fail("lazy or possessive quantifiers are not read")
            tree = _Repeat(tree, least, most)


def quoted(pattern: str, quote: str = '"', escape: str = "\\") -> str:
    """An anchored expression over some text, rewritten over that text as a quoted string
    writes it: ``quote`` and ``escape`` each written after ``escape``, every other character as
    it is, and the text's end (``$``) the closing ``quote``. (Without its ``^``: it is read
    where the quoted text starts.)"""
    quote_bit, escape_bit = 1 << ord(quote), 1 << ord(escape)

    def rewritten(tree: _Tree) -> _Tree:
        if isinstance(tree, _Set):
            if tree.mask == _END:
                return _Set(quote_bit)
            options: list[_Tree] = []
            if plain := tree.mask & ~quote_bit & ~escape_bit:
                options.append(_Set(plain))
            for special in (quote_bit, escape_bit):
                if tree.mask & special:
                    options.append(_Seq((_Set(escape_bit), _Set(special))))
            return options[0] if len(options) == 1 else _Alt(tuple(options))
        if isinstance(tree, _Seq):
            return _Seq(tuple(rewritten(item) for item in tree.items))
        if isinstance(tree, _Alt):
            return _Alt(tuple(rewritten(branch) for branch in tree.branches))
        return _Repeat(rewritten(tree.item), tree.least, tree.most)

    return _written(rewritten(parse(pattern)))


def byte_class(members: Iterable[int]) -> str:
    """A class of the byte values ``members`` (in increasing order), written as ranges."""
    ranges: list[tuple[int, int]] = []
    for byte in members:
        if ranges and ranges[-1][1] == byte - 1:
            ranges[-1] = (ranges[-1][0], byte)
        else:
            ranges.append((byte, byte))
    return (
        "["
        + "".join(f"\\x{a:02x}" if a == b else f"\\x{a:02x}-\\x{b:02x}" for a, b in ranges)
        + "]"
    )


def _written(tree: _Tree) -> str:
    """The tree as an expression ``parse`` reads (groups not capturing, classes as ranges)."""
    if isinstance(tree, _Set):
        if tree.mask == _END:
            return "$"
        if not tree.mask:
            raise ValueError("a class of no character")
        return byte_class(byte for byte in _BYTES if tree.mask >> byte & 1)
    if isinstance(tree, _Seq):
        return "".join(f"(?:{_written(item)})" for item in tree.items)
    if isinstance(tree, _Alt):
        return "(?:" + "|".join(_written(branch) for branch in tree.branches) + ")"
    most = "" if tree.most is None else str(tree.most)
    return f"(?:{_written(tree.item)}){{{tree.least},{most}}}"


def _build(nfa: _Nfa, tree: _Tree) -> tuple[int, int]:
    """The NFA fragment (start, end) of ``tree``: a fresh copy each call."""
    if isinstance(tree, _Set):
        start, end = nfa.node(), nfa.node()
        nfa.nodes[start].edges.append((tree.mask, end))
        return start, end
    if isinstance(tree, _Seq):
        start = end = nfa.node()
        for item in tree.items:
            first, last = _build(nfa, item)
            nfa.nodes[end].empty.append(first)
            end = last
        return start, end
    if isinstance(tree, _Alt):
        start, end = nfa.node(), nfa.node()
        for branch in tree.branches:
            first, last = _build(nfa, branch)
            nfa.nodes[start].empty.append(first)
            nfa.nodes[last].empty.append(end)
        return start, end
    start = end = nfa.node()
    for _ in range(tree.least):
        first, last = _build(nfa, tree.item)
        nfa.nodes[end].empty.append(first)
        end = last
    if tree.most is None:
        first, last = _build(nfa, tree.item)
        loop = nfa.node()
        nfa.nodes[end].empty.append(loop)
        nfa.nodes[loop].empty.append(first)
        nfa.nodes[last].empty.append(loop)
        return start, loop
    tail = nfa.node()
    nfa.nodes[end].empty.append(tail)
    for _ in range(tree.most - tree.least):
        first, last = _build(nfa, tree.item)
        nfa.nodes[end].empty.append(first)
        nfa.nodes[last].empty.append(tail)
        end = last
    return start, tail


@dataclass(frozen=True)
class LineDfa:
    """The automaton as ``_line_dfa.c`` reads it (the shapes are checked there too)."""

    classes: bytes
    """The class of each byte value (256 bytes)."""
    width: int
    """The number of classes."""
    table: bytes
    """The next state per (state, class), native ``uint16``, state 0 dead."""
    flags: bytes
    """Per state: the expressions it ends (bit i for expression i, low nibble) and those a
    later state can still end (high nibble)."""
    accel: bytes
    """Per state four bytes: how many ASCII bytes other than ``\\n`` leave it (1 to 3, else 0
    for no acceleration), then those bytes."""
    start: int

    def run(self, line: bytes) -> int:
        """The expressions that match a prefix of ``line`` (bit i for expression i), as C
        computes it, without acceleration: the reference the tests hold C to."""
        state, seen = self.start, self.flags[self.start] & 0x0F
        for byte in [*line, 0x0A]:  # the line's end read as '\n' (what ``$`` matches)
            if not self.flags[state] >> 4 & ~seen:
                break
            cell = 2 * (state * self.width + self.classes[byte])
            state = struct.unpack_from("=H", self.table, cell)[0]
            seen |= self.flags[state] & 0x0F
        return seen


def compile_lines(patterns: list[str]) -> LineDfa:
    """One automaton for up to four anchored expressions (expression i ends in bit i)."""
    if not 1 <= len(patterns) <= 4:
        raise ValueError("one to four expressions")
    nfa = _Nfa()
    root = nfa.node()
    for number, pattern in enumerate(patterns):
        first, last = _build(nfa, parse(pattern))
        nfa.nodes[root].empty.append(first)
        final = nfa.node()
        nfa.nodes[last].empty.append(final)
        nfa.nodes[final].final = 1 << number
    classes, width = _byte_classes(nfa)
    representative = [classes.index(number) for number in range(width)]

    closures: dict[int, frozenset[int]] = {}

    def closure(seed: int) -> frozenset[int]:
        """The nodes reached from ``seed`` reading nothing (those that read or end)."""
        if (known := closures.get(seed)) is None:
            seen, stack = {seed}, [seed]
            while stack:
                for nxt in nfa.nodes[stack.pop()].empty:
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            nodes = nfa.nodes
            known = closures[seed] = frozenset(n for n in seen if nodes[n].edges or nodes[n].final)
        return known

    # per node: (class, the closure an edge reaches on it)
    steps = {
        node: [
            (number, closure(nxt))
            for mask, nxt in nfa.nodes[node].edges
            for number, byte in enumerate(representative)
            if mask >> byte & 1
        ]
        for node in range(len(nfa.nodes))
        if nfa.nodes[node].edges
    }
    dead: frozenset[int] = frozenset()
    start_set = closure(root)
    index: dict[frozenset[int], int] = {dead: 0, start_set: 1}
    order = [dead, start_set]
    rows: list[list[int]] = [[0] * width]
    at = 1
    while at < len(order):
        moves: list[set[int]] = [set() for _ in range(width)]
        for node in order[at]:
            for number, reached in steps.get(node, ()):
                moves[number] |= reached
        row = []
        for move in moves:
            moved = frozenset(move)
            if moved not in index:
                if len(order) >= MAX_STATES:
                    raise ValueError(f"more than {MAX_STATES} states")
                index[moved] = len(order)
                order.append(moved)
            row.append(index[moved])
        rows.append(row)
        at += 1
    ends = [_ends(nfa, state) for state in order]
    reach = _reach(rows, ends)
    flags = bytes(end | later << 4 for end, later in zip(ends, reach, strict=True))
    accel = bytearray()
    for number, row in enumerate(rows):
        leaving = [b for b in range(128) if b != 0x0A and row[classes[b]] != number]
        accel += (
            bytes([len(leaving), *leaving, 0, 0, 0])[:4]
            if len(leaving) <= 3 and leaving
            else bytes(4)
        )
    table = struct.pack(f"={len(rows) * width}H", *(n for row in rows for n in row))
    return LineDfa(bytes(classes), width, table, flags, bytes(accel), 1)


def _ends(nfa: _Nfa, state: frozenset[int]) -> int:
    bits = 0
    for node in state:
        bits |= nfa.nodes[node].final
    return bits


def _reach(rows: list[list[int]], ends: list[int]) -> list[int]:
    """Per state, the expressions some later state (one byte or more on) ends: found walking
    back from the states that end each."""
    before: list[set[int]] = [set() for _ in rows]
    for number, row in enumerate(rows):
        for nxt in row:
            before[nxt].add(number)
    reach = [0] * len(rows)
    for bit in (1, 2, 4, 8):
        stack = [state for state, end in enumerate(ends) if end & bit]
        marked: set[int] = set()
        while stack:
            for earlier in before[stack.pop()]:
                if earlier not in marked:
                    marked.add(earlier)
                    reach[earlier] |= bit
                    stack.append(earlier)
    return reach


def _byte_classes(nfa: _Nfa) -> tuple[list[int], int]:
    """Each byte's class: bytes no edge tells apart share one. ``\\n`` has a class of its own
    (C never reads it: it ends the line)."""
    masks = {mask for node in nfa.nodes for mask, _ in node.edges} | {_NEWLINE}
    parts = [_ALL]
    for mask in sorted(masks):
        parts = [piece for part in parts for piece in (part & mask, part & ~mask) if piece]
    parts.sort(key=lambda part: (part & -part).bit_length())
    classes = [0] * 256
    for number, part in enumerate(parts):
        for byte in _BYTES:
            if part >> byte & 1:
                classes[byte] = number
    return classes, len(parts)


CHUNK = 1 << 20
"""Bytes of lines one call of the extension reads (``_blocks``)."""


def native_available() -> bool:
    return _load() is not None


def _load() -> Callable[..., Any] | None:
    try:
        from sigma_ext.hunt.fast import _line_dfa  # type: ignore[attr-defined]
    except ImportError:  # built without a C compiler: the caller keeps its other scan
        return None
    automaton: Callable[..., Any] = _line_dfa.Automaton
    return automaton


def native(dfa: LineDfa) -> Any:
    """The automaton checked and laid out by the extension, once (``ValueError`` when it
    cannot hold it, ``RuntimeError`` without the extension)."""
    automaton = _load()
    if automaton is None:
        raise RuntimeError("the _line_dfa extension is not built")
    return automaton(dfa.classes, dfa.table, dfa.flags, dfa.accel, dfa.start)


@dataclass(frozen=True)
class Lines:
    """What one call read: a block of whole lines, the lines per outcome (``EMPTY``,
    ``NON_ASCII``, else the bits of the expressions matched), and the picked lines as
    (outcome, number, start, stop), ``data[start:stop]`` a line with its ``\\n``."""

    data: memoryview
    counts: tuple[int, ...]
    picks: list[tuple[int, int, int, int]]


NON_ASCII = 16
EMPTY = 17


def _blocks(handle: BufferedIOBase, count: int) -> Iterator[memoryview]:
    """The file's bytes in blocks of whole lines of about ``CHUNK`` bytes, read (not mapped: a
    log truncated while it is read ends early instead of killing the process) into ``count``
    buffers used in turn: a block's bytes are overwritten ``count`` blocks later."""
    buffers: list[bytearray] = []
    carry = b""
    turn = 0
    while True:
        if len(buffers) < count:
            buffers.append(bytearray(CHUNK))
        buffer = buffers[turn % count]
        held = len(carry)
        if len(buffer) < held + CHUNK:  # a line longer than a block: held whole
            buffer = buffers[turn % count] = bytearray(held + CHUNK)
        buffer[:held] = carry
        got = handle.readinto(memoryview(buffer)[held : held + CHUNK])
        end = held + (got or 0)
        if end == held:
            if held:
                yield memoryview(buffer)[:held]
            return
        cut = buffer.rfind(b"\n", held, end) + 1  # the carried text holds no line end
        if cut == 0:
            carry = bytes(buffer[:end])
            continue
        carry = bytes(buffer[cut:end])
        turn += 1
        yield memoryview(buffer)[:cut]


def scan_lines(
    handle: BufferedIOBase, automaton: Any, pick: frozenset[int], threads: int
) -> Iterator[Lines]:
    """The lines of the file (numbered from 1), a block at a time in order, read by up to
    ``threads`` calls of ``automaton`` (``native``) at once (it releases the GIL): ``threads``
    + 2 blocks are held. A block's ``data`` is read again once the next block is asked for."""
    mask = sum(1 << outcome for outcome in pick)

    def read(data: memoryview) -> tuple[memoryview, int, bytes, bytes]:
        return (data, *automaton.scan(data, mask))

    before = 0
    workers = max(1, threads)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ahead: deque[Future[tuple[memoryview, int, bytes, bytes]]] = deque()
        blocks = _blocks(handle, workers + 2)
        while True:
            while len(ahead) < workers and (data := next(blocks, None)) is not None:
                ahead.append(pool.submit(read, data))
            if not ahead:
                return
            data, count, counts, picks = ahead.popleft().result()
            found = array("q", picks)
            yield Lines(
                data,
                tuple(array("q", counts)),
                [
                    (found[k], before + found[k + 1] + 1, found[k + 2], found[k + 3])
                    for k in range(0, len(found), 4)
                ],
            )
            before += count
