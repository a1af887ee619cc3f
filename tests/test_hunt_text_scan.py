"""The runtime text log's scan (``sigma_ext.hunt.fast.text_scan``), both ways: with the
extension's automaton (``_line_dfa.c``) and in DuckDB. The same output as the reference engine
on the fixtures and on hostile lines, the claim and the gate equal to the Python parser's on any
line, and DuckDB's refusals (a carriage return, bytes that are not UTF-8) handed to the usual
path, where the automaton reads the file itself."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_ext.hunt import spool
from sigma_ext.hunt.fast import line_dfa, text_scan
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.text_scan import CLAIM, SMALL_TEXT, TextScan
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import recognize
from sigma_ext.sources.runtime_logs import LOGRUS, parse_runtime_line

from .conftest import ROOT, examples
from .test_hunt_shapes import both

FIXTURES = ROOT / "fixtures" / "container_runtime"

HOSTILE = [
    # a kubelet prefix before a logrus body: containerd's or CRI-O's messages, runtime kubelet
    'Nov 23 03:20:01 n1 kubelet[1]: time="t" level=info msg="PullImage \\"evil.io/x:1\\""',
    # containerd's prefix before a klog body: not a runtime event (nor any other source's)
    'Nov 23 03:20:01 n1 containerd[1]: I1123 03:20:00.9 1 kubelet.go:2421] "SyncLoop ADD" '
    'source="file" pods=["a/b"]',
    # no prefix, CRI-O's CRI method after the message: CRI-O's patterns only
    'time="t" level=info msg="Creating container: a/b/c" name=/runtime.v1.RuntimeService/X',
    'time="t" level=info msg="Pulling image: ghcr.io/a/b:1" name=/runtime.v1.ImageService/P',
    # escapes in a logrus message: unquoted before the patterns are tried
    'time="t" level=info msg="Pull\\Image \\"evil.io/x:1\\""',
    'time="t" level=info msg="Creat\\eContainer within sandbox \\"ab\\" for container '
    '&ContainerMetadata{Name:x,Attempt:0,}"',
    'time="t" level=info msg="PullImage \\"a\\\\b.io/x\\""',
    # a message whose closing quote is escaped: no logrus line
    'time="t" level=info msg="PullImage \\"evil.io/x:1\\"',
    # spacing Python's \\s reads and RE2's does not (vertical tab, separators), and tabs
    'I1123 03:20:00.9\x0b1 kubelet.go:1] "SyncLoop ADD" source="http" pods=["a/b"]',
    'I1123 03:20:00.9\x1c1 kubelet.go:1] "SyncLoop ADD" source="file" pods=["a/b"]',
    'I1123 03:20:00.9\t1 kubelet.go:1] "SyncLoop ADD" source="file" pods=["a/b"]',
    'Nov 23 03:20:01 n\x0b1 kubelet[1]: I1123 03:20:00.9 1 k.go:1] "SyncLoop ADD" '
    'source="file" pods=["a/b"]',
    # text outside ASCII: left to the reference engine
    'Nov 23 03:20:01 nœud kubelet[1]: I1123 03:20:00.9 1 k.go:1] "SyncLoop ADD" '
    'source="file" pods=["a/b"]',
    'time="t" level=info msg="PullImage \\"évil.io/x:1\\""',
    'I1123 03:20:00.9 \u0661 kubelet.go:1] "SyncLoop ADD" source="file" pods=["a/b"]',
    # the action's case, other sources' values, near misses of each message
    'time="t" level=info msg="pullimage \\"evil.io/x:1\\""',
    'I1123 03:20:00.9 1 k.go:1] "SyncLoop ADD" source="FILE" pods=["a/b"]',
    'I1123 03:20:00.9 1 k.go:1] "SyncLoop UPDATE" source="file" pods=["a/b"]',
    'time="t" level=info msg="PullImage \\"evil.io/x:1\\" returns image reference \\"s\\""',
    'Nov 23 03:20:01 n1 crio[9]: time="t" level=info msg="PullImage \\"evil.io/x\\""',
    # blank and whitespace lines, JSON events, a Sysmon text line, and a line of no source
    "",
    "   ",
    json.dumps({"Type": "container", "Action": "create", "Actor": {"ID": "1"}}),
    "not a log line at all",
    '{"broken": ',
]


def _lines() -> list[str]:
    return [
        line for path in sorted(FIXTURES.glob("*.log")) for line in path.read_text().splitlines()
    ]


def _write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    """``lines`` repeated until the file is large enough to be scanned in place."""
    body = newline.join(lines) + newline
    path.write_bytes((body * (SMALL_TEXT // max(len(body), 1) + 2)).encode())
    return path


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each text scan asked for read its file (False: it declined)."""
    seen: list[bool] = []
    real = TextScan.hunt

    def counted(self: TextScan, *args: Any, **kwargs: Any) -> Iterator[Any] | None:
        items = real(self, *args, **kwargs)
        seen.append(items is not None)
        return items

    monkeypatch.setattr(TextScan, "hunt", counted)
    return seen


@pytest.fixture(params=["automaton", "duckdb"])
def way(request: pytest.FixtureRequest, fast: FastHunt, monkeypatch: pytest.MonkeyPatch) -> str:
    """How the scan reads lines: the extension's automaton, or DuckDB (as without it)."""
    scan = fast.text_scan
    assert scan is not None
    monkeypatch.setattr(scan, "_dfa", None)
    if request.param == "duckdb":
        monkeypatch.setattr(line_dfa, "native_available", lambda: False)
    else:
        assert scan.line_dfa() is not None
    return str(request.param)


def test_the_fixtures_give_the_reference_output_through_the_scan(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, scans: list[bool], way: str
) -> None:
    log = _write(tmp_path / "nodes.log", _lines())
    _, out, err = both([str(log)], engine, fast, tmp_path)
    assert scans == [True]
    assert out.count("\n") > 0  # the malicious fixtures fire
    assert "container_runtime" in err


def test_hostile_lines_give_the_reference_output_through_the_scan(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, scans: list[bool], way: str
) -> None:
    log = _write(tmp_path / "hostile.log", [*_lines(), *HOSTILE])
    _, _, err = both([str(log)], engine, fast, tmp_path)
    assert scans == [True]
    assert "skipped" in err  # the bad lines are reported


@pytest.mark.parametrize(
    ("name", "newline", "extra"),
    [("crlf", "\r\n", b""), ("lone-cr", "\n", b"PullImage\r\n"), ("latin-1", "\n", b"\xe9\n")],
)
def test_a_file_duckdb_cannot_read_line_for_line_is_hunted_the_usual_way(
    name: str,
    newline: str,
    extra: bytes,
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
    scans: list[bool],
    way: str,
) -> None:
    # read_csv ends a line at a carriage return and fails on bytes that are not UTF-8; the
    # automaton reads lines as the reference engine does, leaving such lines to it
    log = _write(tmp_path / f"{name}.log", [*_lines(), *HOSTILE], newline)
    log.write_bytes(log.read_bytes() + extra)
    _, out, _ = both([str(log)], engine, fast, tmp_path)
    assert scans == [way == "automaton"]
    assert out.count("\n") > 0


_PARTS = st.sampled_from(
    [
        "Nov 23 03:20:01 ",
        "Nov 3 03:20:01 ",
        # the other timestamps of sigma_ext.sources.syslog, and near misses of them
        "Nov 23 03:20:01.086775 ",
        "2026-11-23T03:20:01.086775+00:00 ",
        "2026-11-23T03:20:01+0000 ",
        "2026-11-23T03:20:01Z ",
        "2026-11-23T03:20:01.5+0:00 ",
        "2026-11-23 03:20:01 ",
        "n1 ",
        "n\x0b1 ",
        "containerd[812]: ",
        "crio[9]: ",
        "kubelet[1]: ",
        'time="2026-11-23T03:20:01Z" ',
        'time="a"b" ',
        "level=info ",
        "level=Info ",
        'msg="',
        '"',
        '\\"',
        "\\",
        "\\\\",
        "PullImage ",
        "Pulled image ",
        "Pulling image: ",
        "Creating container: a/b/c",
        "Running pod sandbox: a/b/POD",
        "RunPodSandbox for &PodSandboxMetadata{Name:p,Uid:u,Namespace:n,",
        'CreateContainer within sandbox "0a" for container &ContainerMetadata{Name:c,',
        'StartContainer for "0a"',
        "I1123 03:20:00.912387",
        "W1123 03:20:00.9",
        " ",
        "  ",
        "\t",
        "\x0b",
        "\x1c",
        "1120 ",
        "kubelet.go:2421] ",
        '"SyncLoop ADD" source="file" pods=["kube-system/etcd"]',
        "evil.io/x:1",
        " name=/runtime.v1.ImageService/PullImage",
        "é",
        "=",
    ]
)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection for the module's examples (a new one costs some 30 ms)."""
    connection = duckdb.connect()
    yield connection
    connection.close()


@settings(max_examples=examples(400))
@given(parts=st.lists(_PARTS, min_size=1, max_size=12))
def test_the_claim_is_the_parser_s_on_any_ascii_line_of_plain_escapes(
    parts: list[str], con: duckdb.DuckDBPyConnection
) -> None:
    line = "".join(parts)
    claimed = con.execute(
        "SELECT strlen(?) = length(?) AND regexp_matches(?, ?)", [line, line, line, CLAIM]
    ).fetchone()
    event = parse_runtime_line(line)
    assert claimed is not None
    if claimed[0]:
        assert event is not None
        source = recognize(event)
        assert source is not None
        assert source.name == "container_runtime"
    elif line.isascii():
        # a message with an escape of another character than a quote or a backslash is left
        # to the reference engine: the gate looks for a message's text in the line as it is
        assert event is None or re.search(r'\\[^"\\]', line)


@settings(max_examples=examples(200))
@given(parts=st.lists(_PARTS, min_size=1, max_size=12))
def test_every_event_a_rule_fires_on_passes_the_gate(
    parts: list[str], engine: ReferenceEngine, fast: FastHunt, con: duckdb.DuckDBPyConnection
) -> None:
    scan = fast.text_scan
    assert scan is not None
    line = "".join(parts)
    event = parse_runtime_line(line)
    if event is None or not engine.match(event, scan.source):
        return
    sql = text_scan.scan_sql("(SELECT ? AS line)", scan.gate)
    row = con.execute(sql, [line]).fetchone()
    assert row is not None
    assert row[0] != "E" or row[2] == line


_ALTERNATION = re.compile(
    r'^time="(?P<time>[^"]*)" level=(?P<level>[a-z]+) msg="(?P<msg>(?:[^"\\]|\\.)*)"(?P<rest>.*)$'
)


@settings(max_examples=examples(400))
@given(parts=st.lists(_PARTS, min_size=1, max_size=12))
def test_the_unrolled_message_loop_reads_what_the_alternation_reads(parts: list[str]) -> None:
    # LOGRUS spells the quoted message as runs of plain characters and escapes, which
    # Python's re matches faster than an alternation per character
    line = "".join(parts)
    for body in (line, line.split(": ", 1)[-1]):
        found, expected = LOGRUS.match(body), _ALTERNATION.match(body)
        assert (found and found.groupdict()) == (expected and expected.groupdict())


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("whole", lambda data: data),
        ("truncated", lambda data: data[: len(data) * 2 // 3]),
        ("junk-after", lambda data: data + b"not gzip"),
        ("two-members", lambda data: data + gzip.compress(b"I1123 03:20:00.9 1 k.go:1] x\n")),
    ],
)
def test_a_gzip_runtime_log_is_read_as_it_is_unpacked(
    name: str,
    damage: Callable[[bytes], bytes],
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
    scans: list[bool],
    way: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # rotated runtime logs are gzip'd: the automaton reads one as it is unpacked, and what
    # went wrong unpacking it is reported after its last line, as the reference engine does
    monkeypatch.setattr(spool, "SMALL_TEXT", 0)  # (repeated lines pack small)
    plain = _write(tmp_path / f"{name}.log", [*_lines(), *HOSTILE], "\r\n")
    log = tmp_path / f"{name}.log.1.gz"
    log.write_bytes(damage(gzip.compress(plain.read_bytes())))
    _, out, err = both([str(log)], engine, fast, tmp_path)
    # without the extension a gzip runtime log is spooled, judged as the spool reads it
    assert scans == ([True] if way == "automaton" else [])
    assert out.count("\n") > 0
    problems = re.findall(
        r"skipped: (?:truncated gzip|\d+ byte\(s\) after the end of the gzip)", err
    )
    assert len(problems) == (name in ("truncated", "junk-after")), err
