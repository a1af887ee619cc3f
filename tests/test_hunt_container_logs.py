"""Container log files (CRI and Docker's json-file, ``sigma_ext.sources.container_logs``): each line
the container wrote, however the runtime split it into parts and interleaved its streams, gets
the verdicts it gets as a line of its own, at its first part's line, in both engines; what is
not a container log line is reported, never dropped."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources import container_logs
from sigma_ext.sources.container_logs import unwrap_container_lines, wrapping_of

from .conftest import ROOT, examples
from .test_hunt_shapes import both

SOURCES = ("kubernetes_audit", "falco", "tetragon", "docker_events", "container_runtime")
EVENTS = [
    line
    for name in SOURCES
    for path in sorted((ROOT / "fixtures" / name).glob("*.*"))
    if path.suffix in (".jsonl", ".log")
    for line in path.read_text().splitlines()
    if line.strip()
]


def stamp(number: int) -> str:
    return f"2026-11-23T03:20:{number // 1000 % 60:02d}.{number % 1000:03d}123456Z"


def cri(events: list[tuple[int, str, list[int]]]) -> tuple[list[str], list[int]]:
    """CRI lines for (event index, stream, cut points) in order, the parts of the events of the
    two streams interleaved as given; the line each event starts at."""
    lines: list[str] = []
    starts: list[int] = []
    for index, stream, cuts in events:
        text = EVENTS[index]
        bounds = [0, *sorted({c % (len(text) + 1) for c in cuts}), len(text)]
        parts = [text[a:b] for a, b in itertools.pairwise(bounds)]
        starts.append(len(lines) + 1)
        for number, part in enumerate(parts):
            tag = "F" if number == len(parts) - 1 else "P"
            lines.append(f"{stamp(len(lines))} {stream} {tag} {part}")
    return lines, starts


def json_file(events: list[tuple[int, str, list[int]]]) -> tuple[list[str], list[int]]:
    lines: list[str] = []
    starts: list[int] = []
    for index, stream, cuts in events:
        text = EVENTS[index] + "\n"
        bounds = [0, *sorted({c % len(text) for c in cuts if c % len(text)}), len(text)]
        starts.append(len(lines) + 1)
        for a, b in itertools.pairwise(bounds):
            entry = {"log": text[a:b], "stream": stream, "time": stamp(len(lines))}
            lines.append(json.dumps(entry, separators=(",", ":")))
    return lines, starts


def by_line(out: str) -> dict[int, set[str]]:
    fired: dict[int, set[str]] = {}
    for line in out.splitlines():
        hit = json.loads(line)
        fired.setdefault(hit["line"], set()).add(hit["rule"])
    return fired


@pytest.fixture(scope="module")
def alone(
    engine: ReferenceEngine, fast: FastHunt, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, set[str]]:
    """The rules each event fires as a line of its own (line number - 1: its index)."""
    folder = tmp_path_factory.mktemp("alone")
    flat = folder / "alone.log"
    flat.write_text("\n".join(EVENTS) + "\n")
    _, out, _ = both([str(flat)], engine, fast, folder)
    fired = by_line(out)
    assert fired
    assert len(fired) < len(EVENTS)
    return {index: fired.get(index + 1, set()) for index in range(len(EVENTS))}


EVENT_ORDERS = st.lists(
    st.tuples(
        st.integers(0, len(EVENTS) - 1),
        st.sampled_from(["stdout", "stderr"]),
        st.lists(st.integers(0, 4000), max_size=4),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(events=EVENT_ORDERS, wrapping=st.sampled_from(["cri", "json-file"]), gzipped=st.booleans())
def test_each_line_the_container_wrote_gets_its_own_verdicts_in_both_engines(
    events: list[tuple[int, str, list[int]]],
    wrapping: str,
    gzipped: bool,
    alone: dict[int, set[str]],
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
) -> None:
    lines, starts = (cri if wrapping == "cri" else json_file)(events)
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / ("0.log.gz" if gzipped else "0.log")
    path.write_bytes(gzip.compress(text, mtime=0) if gzipped else text)
    code, out, err = both([str(path)], engine, fast, tmp_path, strict=True)
    assert code == 0, err
    wanted = {
        start: alone[index]
        for start, (index, _, _) in zip(starts, events, strict=True)
        if alone[index]
    }
    assert by_line(out) == wanted
    assert f"{len(events)} record(s) read" in err


def test_interleaved_streams_are_joined_each_on_its_own() -> None:
    lines = [
        (1, f"{stamp(1)} stdout P {{"),
        (2, f"{stamp(2)} stderr P I1123 03:20:00.1 "),
        (3, f"{stamp(3)} stdout F }}"),
        (4, f"{stamp(4)} stderr F done"),
        (5, f"{stamp(5)} stdout F:x-future-tag [1]"),  # the first tag counts (kubelet)
    ]
    assert list(unwrap_container_lines(lines)) == [
        (1, "{}"),
        (2, "I1123 03:20:00.1 done"),
        (5, "[1]"),
    ]


@pytest.mark.parametrize(
    ("text", "wrapping"),
    [
        pytest.param(f"{stamp(0)} stdout F {{}}", "cri", id="CRI"),
        pytest.param(f"{stamp(0)[:-1]}+01:00 stderr P x", "cri", id="CRI with an offset"),
        pytest.param('{"log":"{}\\n","stream":"stdout","time":"t"}', "json-file", id="json-file"),
        pytest.param(
            '{"log":"x","stream":"stderr","attrs":{"tag":"a"},"time":"t"}',
            "json-file",
            id="json-file with labels, partial",
        ),
        pytest.param(f"{stamp(0)} stdin F {{}}", None, id="not a stream"),
        pytest.param(f"{stamp(0)} stdout F", None, id="no content field"),
        pytest.param(
            '{"log":"x\\n","stream":"stdout","time":"t","kind":"Event"}', None, id="a key more"
        ),
        pytest.param('{"log":1,"stream":"stdout","time":"t"}', None, id="log not a string"),
        pytest.param('{"kind":"Event","log":"x\\n","stream":"stdout"}', None, id="log not first"),
        pytest.param("Nov 23 03:20:01 node-1 containerd[812]: x", None, id="syslog"),
    ],
)
def test_a_file_is_a_container_log_by_its_first_line(text: str, wrapping: str | None) -> None:
    assert wrapping_of(text) == wrapping


def test_what_is_no_container_log_line_is_reported_at_its_line(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    """Falco's start-up banner (text) among its JSON alerts; a json-file entry holding a line
    feed inside (Docker never writes one: kept whole, one line, not recognised); a part left
    open at the end of the file; an entry nested deeper than Python's recursion (read as the
    line it is: a JSON object no source recognises)."""
    alert = next(e for e in EVENTS if e.startswith('{"hostname"'))
    path = tmp_path / "falco-json.log"
    lines = [
        json.dumps({"log": alert + "\n", "stream": "stdout", "time": "t"}),
        "Sun Nov 23 22:40:01 2026: Falco version: 0.39.2 (x86_64)",
        json.dumps({"log": "a\nb\n", "stream": "stdout", "time": "t"}),
        json.dumps({"log": alert[:100], "stream": "stdout", "time": "t"}),
        '{"log":' + "[" * 100_000 + "]" * 100_000 + "}",  # deeper than Python's recursion
    ]
    path.write_text("\n".join(lines) + "\n")
    code, out, err = both([str(path)], engine, fast, tmp_path, strict=True)
    assert code == 1
    assert {json.loads(line)["line"] for line in out.splitlines()} <= {1}
    assert f"{path}:2: skipped: not JSON" in err
    assert f"{path}:4: skipped: not JSON" in err
    assert err.splitlines()[-1] == (
        f"{path}: 5 record(s) read (falco 1); 2 not recognised (at line 3, line 5); 2 malformed"
    )


def test_parts_past_the_bound_are_handed_on_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container_logs, "MAX_HELD", 10)
    lines = [(n, f"{stamp(n)} stdout P {'x' * 6}") for n in range(1, 5)]
    lines.append((5, f"{stamp(5)} stdout F y"))
    assert list(unwrap_container_lines(lines)) == [(1, "x" * 12), (3, "x" * 12), (5, "y")]
