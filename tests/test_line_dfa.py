"""The line automaton (``sigma_ext.hunt.fast.line_dfa`` and ``_line_dfa.c``): its verdict is
Python's ``re`` on every line of ASCII text, C's (accelerated) run is the automaton's, lines
are split, numbered and picked as the reference engine reads them, a chunk at a time or whole,
and what the extension cannot read is refused before anything is judged."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sigma_ext.hunt.fast import line_dfa
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.line_dfa import EMPTY, NON_ASCII, LineDfa, compile_lines, parse
from sigma_ext.hunt.fast.text_scan import CLAIM, CLAIMED, GATED, TextScan, gated_expression
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.runtime_logs import MESSAGES, parse_runtime_line

from .conftest import examples

pytestmark = pytest.mark.skipif(
    not line_dfa.native_available(), reason="the _line_dfa extension is not built"
)

EXPRESSIONS = [
    r"^ab+c",
    r"^(?:a|ab)(?:c|bcd)?",
    r"^x{2,3}y",
    r"^[^\"\\]*(?:\\[\"\\][^\"\\]*)*\"",
    r"^\w+:\s*\d{2,}",
    r"^.\.[a-c-]",
    r"^(?P<k>[a-z]+)=(?:\"[^\"]*\"|\S+) ",
    r"^a?",
]
GROUPS = [
    EXPRESSIONS[:4],
    # a class that takes a carriage return last (the line is read without its trailing ones),
    # and states left on three, two and one byte (accelerated: C skips to the next of them)
    [r"^a[^b]", r"^[^xyz]*z", r"^[^\"\\]*\\", r"^[^\"]*\""],
    # the end of the line (``$``), which C reads as a '\n' no class holds
    [r"^ab*$", r"^[^x]*x$", r"^a\x0d?$", r"^(?:a|b)+c?$"],
    # alone, each state of the loops is accelerated (together they leave on five bytes)
    [r"^[^xyz]*z"],
    [r"^[^\"\\]*\\"],
]

_TEXT = st.text(alphabet=st.sampled_from('ab"\\cxyz:= .-\t\r\x0b09_é'), max_size=30)


def _re2_ascii(expression: str) -> str:
    """The expression as ``text_scan.re2`` writes it: classes spelled as ASCII ranges."""
    from sigma_ext.hunt.fast.text_scan import re2

    return re2(expression)


@dataclass(frozen=True)
class Block:
    """A block's counts and picks (outcome, number, the line's bytes without its ``\\n``),
    copied as it is read: its buffer is read into again later."""

    counts: tuple[int, ...]
    picks: list[tuple[int, int, bytes]]
    size: int


def _scan(dfa: LineDfa, text: bytes, pick: frozenset[int], threads: int = 1) -> list[Block]:
    return _read(io.BytesIO(text), dfa, pick, threads)


def _read(handle: Any, dfa: LineDfa, pick: frozenset[int], threads: int) -> list[Block]:
    return [
        Block(
            lines.counts,
            [(o, n, bytes(lines.data[a:z]).removesuffix(b"\n")) for o, n, a, z in lines.picks],
            len(lines.data),
        )
        for lines in line_dfa.scan_lines(handle, line_dfa.native(dfa), pick, threads)
    ]


def _lines_of(body: bytes) -> list[bytes]:
    """The lines as a binary file's iteration gives them, without their ``\\n``."""
    lines = body.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


def _outcomes(dfa: LineDfa, text: bytes) -> list[int]:
    every = frozenset(range(18))
    blocks = _scan(dfa, text, every)
    picked = [p for block in blocks for p in block.picks]
    assert [line for _, _, line in picked] == _lines_of(text)
    return [outcome for outcome, _, _ in picked]


@settings(max_examples=examples(300))
@given(lines=st.lists(_TEXT, max_size=8), group=st.sampled_from(GROUPS))
@example(lines=["a\r", "a\r\r", "ab\r", "\r", "a\rb"], group=GROUPS[1])
@example(lines=["a", "ab", "abb\r", "x", "cx", "ab\rc", "a\r", "bac", "abc"], group=GROUPS[2])
@example(lines=["c" * n + end for n in range(20) for end in 'xyz"\\'], group=GROUPS[3])
@example(lines=["c" * n + end for n in range(20) for end in 'xyz"\\'], group=GROUPS[4])
def test_each_line_s_outcome_is_python_s_re_on_its_ascii_text(
    lines: list[str], group: list[str]
) -> None:
    patterns = [_re2_ascii(e) for e in group]
    dfa = compile_lines(patterns)
    compiled = [re.compile(p) for p in patterns]
    body = "\n".join(lines).encode()
    expected = []
    for line in _lines_of(body):
        if not line:
            expected.append(EMPTY)
        elif not line.isascii():
            expected.append(NON_ASCII)
        else:
            # the reference engine reads a text line without its trailing carriage returns
            text = line.decode().rstrip("\r")
            expected.append(sum(1 << n for n, c in enumerate(compiled) if c.match(text)))
    assert _outcomes(dfa, body) == expected
    assert [
        dfa.run(line.rstrip(b"\r")) for line in body.split(b"\n") if line.isascii() and line
    ] == [o for o in expected if o < NON_ASCII]


@pytest.mark.parametrize("expression", EXPRESSIONS[4:])
def test_other_expressions_match_as_python_s_re(expression: str) -> None:
    pattern = _re2_ascii(expression)
    dfa = compile_lines([pattern])
    compiled = re.compile(pattern)
    samples = ["ab:  12", "ab:1", "a.b", "a.-", 'k="v w" ', "k=v ", 'k="v ', "", "x", "é:12"]
    for sample in samples:
        if sample.isascii() and sample:
            assert dfa.run(sample.encode()) == (1 if compiled.match(sample) else 0), sample


def test_lines_are_numbered_split_and_picked_as_the_reference_engine_reads_them() -> None:
    dfa = compile_lines([r"^a", r"^ab"])
    text = b"ab\n\nb\r\nab\r\r\n\xe9a\na"
    blocks = _scan(dfa, text, frozenset({0, 1, 3, NON_ASCII}))
    counts = [sum(c) for c in zip(*(b.counts for b in blocks), strict=True)]
    assert (counts[EMPTY], counts[3], counts[1]) == (1, 2, 1)
    # the last line, without its '\n', is a block of its own
    assert [len(b.picks) for b in blocks] == [4, 1]
    assert [(o, n) for b in blocks for o, n, _ in b.picks] == [
        (3, 1),
        (0, 3),
        (3, 4),
        (NON_ASCII, 5),
        (1, 6),
    ]
    assert [line for b in blocks for _, _, line in b.picks] == [
        b"ab",
        b"b\r",
        b"ab\r\r",
        b"\xe9a",
        b"a",
    ]


@settings(max_examples=examples(100))
@given(
    lines=st.lists(_TEXT, min_size=1, max_size=40),
    chunk=st.integers(min_value=1, max_value=64),
    threads=st.integers(min_value=1, max_value=3),
)
def test_chunks_read_in_parallel_give_what_the_whole_gives(
    lines: list[str], chunk: int, threads: int
) -> None:
    dfa = compile_lines([_re2_ascii(EXPRESSIONS[0]), _re2_ascii(EXPRESSIONS[1])])
    body = "\n".join(lines).encode()
    every = frozenset(range(18))
    whole = _scan(dfa, body, every)
    saved = line_dfa.CHUNK
    line_dfa.CHUNK = chunk
    try:
        pieces = _scan(dfa, body, every, threads)
    finally:
        line_dfa.CHUNK = saved

    assert [p for b in pieces for p in b.picks] == [p for b in whole for p in b.picks]
    counts = [sum(c) for c in zip(*(p.counts for p in pieces), strict=True)]
    assert counts == [sum(c) for c in zip(*(w.counts for w in whole), strict=True)]
    assert sum(counts) == len(_lines_of(body))


def test_a_file_is_read_in_blocks_of_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lines.log"
    path.write_bytes(b"ab\nzz\n" * 1000 + b"z" * 300 + b"\nab")
    monkeypatch.setattr(line_dfa, "CHUNK", 100)  # a line longer than a block: held whole
    dfa = compile_lines([r"^ab"])
    with path.open("rb") as handle:
        blocks = _read(handle, dfa, frozenset({1}), 2)
    assert len(blocks) > 10
    assert sum(b.counts[1] for b in blocks) == 1001
    assert sum(b.counts[0] for b in blocks) == 1001
    numbers = [n for b in blocks for _, n, _ in b.picks]
    assert numbers == [*range(1, 2000, 2), 2002]
    assert all(b.size <= 100 + 400 for b in blocks)


@pytest.mark.parametrize(
    "expression",
    [
        "ab",  # not anchored
        r"^a\d",  # a class escape (text_scan.re2 spells them as ranges)
        r"^a*?",
        r"^(?=a)",
        r"^(a",
        r"^a)",
        r"^é",
        r"^[z-a]",
        r"^a{x}",
        r"^a{3,1}",
    ],
)
def test_syntax_the_automaton_does_not_read_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match=r" at \d+ of |not anchored"):
        parse(expression)


def test_an_automaton_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(line_dfa, "MAX_STATES", 8)
    with pytest.raises(ValueError, match="states"):
        compile_lines([r"^abcdefghijkl"])


def test_the_compiler_refuses_what_the_extension_cannot_hold() -> None:
    # an automaton compile_lines makes is one the extension lays out (else the hunt would fail
    # on its first block, not fall back to DuckDB)
    from sigma_ext.hunt.fast import _line_dfa  # type: ignore[attr-defined]

    def states(count: int) -> tuple[bytes, bytes, bytes, bytes, int]:
        return bytes(256), bytes(2 * count), bytes(count), bytes(4 * count), 0

    _line_dfa.Automaton(*states(line_dfa.MAX_STATES))
    with pytest.raises(ValueError, match="too many states"):
        _line_dfa.Automaton(*states(line_dfa.MAX_STATES + 1))


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("classes", b"\x00" * 255, "classes"),
        ("table", b"\x00\x00", "table"),
        ("table", None, "out of range"),
        ("accel", b"\x04abc", "accel"),
        ("accel", b"\x01\n\x00\x00", "accel"),
    ],
)
def test_the_extension_checks_what_it_is_given(
    field: str, value: bytes | None, problem: str
) -> None:
    from sigma_ext.hunt.fast import _line_dfa  # type: ignore[attr-defined]

    dfa = compile_lines([r"^a"])
    given_ = {
        "classes": dfa.classes,
        "table": dfa.table,
        "accel": dfa.accel + b"",
    }
    if field == "table" and value is None:
        value = b"\xff\xff" + dfa.table[2:]
    if field == "accel":
        assert value is not None
        value = value + dfa.accel[4:]
    given_[field] = value if value is not None else given_[field]
    with pytest.raises(ValueError, match=problem):
        _line_dfa.Automaton(given_["classes"], given_["table"], dfa.flags, given_["accel"], 1)


RUNTIME_PARTS = st.sampled_from(
    [
        "Nov 23 03:20:01 n1 containerd[812]: ",
        "Nov 23 03:20:01 n1 kubelet[1]: ",
        "2026-11-23T03:20:01Z n1 crio[9]: ",
        'time="2026-11-23T03:20:01Z" level=info msg="',
        "I1123 03:20:00.912387    1120 kubelet.go:2421] ",
        '"SyncLoop ADD" source="file" pods=["kube-system/etcd"]',
        '"SyncLoop ADD" source=',
        'PullImage \\"evil.io/x:1\\"',
        'PullImage \\"',
        "PullImage ",
        "Pulling image: ghcr.io/a/b:1",
        "Creating container: a/b/c",
        'CreateContainer within sandbox \\"0a\\" for container &ContainerMetadata{Name:c,',
        "CreateContainer within sandbox ",
        '"',
        '\\"',
        "\\\\",
        " name=/runtime.v1.ImageService/PullImage",
        "\r",
        " ",
        "x",
    ]
)


def _gated_scan(fast: FastHunt) -> tuple[TextScan, LineDfa, frozenset[int]]:
    """The hunt's runtime scan, its automaton and its gate (which it has)."""
    scan = fast.text_scan
    assert scan is not None
    assert scan.gate
    dfa = scan.line_dfa()
    assert dfa is not None
    return scan, dfa, scan.gate


@settings(max_examples=examples(400))
@given(parts=st.lists(RUNTIME_PARTS, min_size=1, max_size=8))
def test_every_event_a_rule_fires_on_is_claimed_and_passes_the_gate(
    parts: list[str], engine: ReferenceEngine, fast: FastHunt
) -> None:
    scan, dfa, _ = _gated_scan(fast)
    line = "".join(parts)
    outcome = _outcomes(dfa, line.encode())
    event = parse_runtime_line(line.rstrip("\r"))
    claimed = bool(outcome) and outcome[0] < NON_ASCII and outcome[0] & CLAIMED
    if claimed:
        assert event is not None
    if event is not None and engine.match(event, scan.source) and claimed:
        assert outcome[0] & GATED, line


def test_the_gate_reads_each_message_s_pattern_quoted_as_its_runtime_writes_it() -> None:
    gated = gated_expression(frozenset({0, 9}))
    assert gated is not None
    dfa = compile_lines([CLAIM, gated])
    # PullImage is containerd's (logrus: the quote escaped), SyncLoop ADD kubelet's (klog)
    assert dfa.run(b'time="t" level=info msg="PullImage \\"a\\""') == CLAIMED | GATED
    assert dfa.run(b'time="t" level=info msg="PullImage a"') == CLAIMED
    assert dfa.run(b'I1123 03:20:00.9 1 k.go:1] "SyncLoop ADD" source="file" pods=["a/b"]') == (
        CLAIMED | GATED
    )
    assert dfa.run(b'I1123 03:20:00.9 1 k.go:1] "SyncLoop UPDATE" source="file"') == CLAIMED
    # a logrus message of kubelet's text, a klog line of containerd's: not gated
    assert dfa.run(b'time="t" level=info msg="\\"SyncLoop ADD\\" source=\\"f\\""') == CLAIMED
    assert dfa.run(b'I1123 03:20:00.9 1 k.go:1] PullImage "a"') == CLAIMED
    # the whole pattern: PullImage's image is the whole message, a backslash in it escaped
    assert dfa.run(b'time="t" level=info msg="PullImage \\"a\\" returns x"') == CLAIMED
    assert dfa.run(b'time="t" level=info msg="PullImage \\"a\\\\b\\""') == CLAIMED | GATED
    assert dfa.run(b'time="t" level=info msg="PullImage \\"\\""') == CLAIMED


@settings(max_examples=examples(400))
@given(parts=st.lists(RUNTIME_PARTS, min_size=1, max_size=8))
def test_a_gated_line_is_an_event_of_a_gated_message(parts: list[str], fast: FastHunt) -> None:
    # the gate is exact on claimed lines: a message of the gate, of its runtime, matches it
    _, dfa, gate = _gated_scan(fast)
    line = "".join(parts)
    (outcome,) = _outcomes(dfa, line.encode()) or [EMPTY]
    if outcome >= NON_ASCII or outcome != CLAIMED | GATED:
        return
    event = parse_runtime_line(line.rstrip("\r"))
    assert event is not None
    message = event["message"]
    assert any(
        MESSAGES[n].pattern.match(message)
        and (MESSAGES[n].runtime == "kubelet") == (event["runtime"] == "kubelet")
        for n in gate
    ), line


@settings(max_examples=examples(300))
@given(
    text=st.text(alphabet=st.sampled_from('ab"\\x. '), max_size=12),
    after=st.sampled_from(["", " k=v", '"', "\\"]),
    pattern=st.sampled_from([r'^a[^"]*"b$', r"^[^\\]+$", r"^x.y", r'^(?:a|")+\\?$', r"^a", r'^"$']),
)
def test_a_quoted_expression_reads_the_text_as_the_quoted_string_writes_it(
    text: str, after: str, pattern: str
) -> None:
    # a logrus message: quotes and backslashes escaped, the text's end its closing quote
    written = text.replace("\\", "\\\\").replace('"', '\\"') + '"' + after
    dfa = compile_lines(["^" + line_dfa.quoted(_re2_ascii(pattern))])
    assert dfa.run(written.encode()) == (1 if re.match(pattern, text) else 0)
