"""Hostile log files, tried as an attacker would: each gives the same stdout and exit status in
both engines, and neither crashes nor skips an event the other judges."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from sigma_ext.cli import hunt as hunt_command
from sigma_ext.cli.exits import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED
from sigma_ext.cli.main import main
from sigma_ext.hunt.batches import read_documents
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.inputs import open_inputs
from sigma_ext.hunt.spool import SMALL
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.json_text import parse_json_line

from .conftest import ROOT, fixture_lines
from .test_cli import POD
from .test_hunt_shapes import both, hunt

LINE = json.dumps(POD)
POD_RULES = 3  # bare pod by a person, pod created, unapproved registry


def rules_at(out: str) -> list[tuple[int, str]]:
    return sorted((json.loads(h)["line"], json.loads(h)["rule"]) for h in out.splitlines())


def lines_hit(out: str) -> set[int]:
    return {line for line, _ in rules_at(out)}


def with_annotation(value: str) -> str:
    """POD with an annotation whose JSON value is ``value`` (a field no rule reads)."""
    return json.dumps({**POD, "annotations": {"x": "@"}}).replace('"@"', value)


def test_pod_fires_what_these_tests_count(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    log = tmp_path / "pod.jsonl"
    log.write_text(LINE + "\n")
    _, out, _ = both([str(log)], engine, fast, tmp_path)
    assert len(rules_at(out)) == POD_RULES


def test_a_line_over_32_mib_is_judged_by_both_engines(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    log = tmp_path / "long.jsonl"
    padded = with_annotation(json.dumps("x" * (33 << 20)))
    log.write_text(padded + "\n" + LINE + "\n")
    assert log.stat().st_size > SMALL  # scanned in place first, where DuckDB gives up
    code, out, err = both([str(log)], engine, fast, tmp_path)
    assert code == 0
    assert lines_hit(out) == {1, 2}
    assert "2 record(s) read (kubernetes_audit 2)" in err


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda text: list(read_documents(iter([text]))), id="batch reader"),
        pytest.param(lambda text: parse_json_line(text.replace("}", ",}", 1)), id="relaxed JSON"),
    ],
)
def test_a_long_string_costs_memory_in_proportion_to_its_length(
    read: Callable[[str], object],
) -> None:
    """Python's regular expressions keep about 150 bytes of backtracking state per character of
    ``"(?:[^"\\]|\\.)*"``: a 33 MiB string took 4 GB and 16 s to read before its loop was
    unrolled."""
    text = json.dumps({"x": "y" * (1 << 20) + '\\"'}) + "\n" + LINE
    tracemalloc.start()
    try:
        read(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(text)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("an integer of 5,000 digits in a field no rule reads", "9" * 5000),
        ("a number beyond the floats in a field no rule reads", "1e400"),
        ("an array nested 1,200 levels deep", "[" * 1200 + "]" * 1200),
        ("an object nested 20,000 levels deep", '{"a":' * 20_000 + "1" + "}" * 20_000),
    ],
)
def test_odd_values_in_an_unread_field_hide_no_event(
    name: str, value: str, engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    log = tmp_path / "odd.jsonl"
    log.write_text(with_annotation(value) + "\n" + LINE + "\n")
    code, out, err = both([str(log)], engine, fast, tmp_path, strict=True)
    assert code == 0, err
    fired = rules_at(out)
    assert [rule for n, rule in fired if n == 1] == [rule for n, rule in fired if n == 2]
    assert len(fired) == 2 * POD_RULES


@pytest.mark.parametrize("code_value", ["1e400", "2" + "0" * 5000, "-1e400"])
def test_numbers_beyond_range_in_a_compared_field_crash_nothing(
    code_value: str, engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    log = tmp_path / "code.jsonl"
    log.write_text(LINE.replace('"code": 201', f'"code": {code_value}') + "\n" + LINE + "\n")
    code, out, _ = both([str(log)], engine, fast, tmp_path)
    assert code == 0
    assert 2 in lines_hit(out)
    # no success code: the rules that need one stay quiet on line 1
    assert len([r for n, r in rules_at(out) if n == 1]) < POD_RULES


def test_a_truncated_gzip_is_read_up_to_the_break_and_reported(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    log = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress("".join(f"{LINE}\n" for _ in range(400)).encode(), mtime=0)
    log.write_bytes(whole[: len(whole) * 3 // 4])
    code, out, err = both([str(log)], engine, fast, tmp_path, strict=True)
    assert code == 1
    assert "truncated gzip" in err
    assert lines_hit(out)  # what came before the break was read


def test_junk_after_the_gzip_data_is_reported_and_ignored(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    log = tmp_path / "junk.jsonl.gz"
    log.write_bytes(gzip.compress(f"{LINE}\n".encode(), mtime=0) + b"not gzip\n" + LINE.encode())
    code, out, err = both([str(log)], engine, fast, tmp_path)
    assert code == 0
    assert lines_hit(out) == {1}
    assert f"{log}:1: skipped: {9 + len(LINE)} byte(s) after the end of the gzip data" in err
    # several members, and zero padding after the last, are ordinary gzip
    log.write_bytes(gzip.compress(f"{LINE}\n".encode()) * 2 + b"\0" * 512)
    code, out, err = both([str(log)], engine, fast, tmp_path, strict=True)
    assert (code, lines_hit(out)) == (0, {1, 2})


@pytest.mark.parametrize(
    ("name", "size"),
    [(name, "small") for name in ("a*.jsonl", "a?.jsonl", "a[1].jsonl", "~.jsonl", "~")]
    + [("a*.jsonl", "large"), ("a[1].jsonl", "large")],
)
def test_glob_characters_in_a_file_name_read_that_file_only(
    name: str, size: str, engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    """A small file is read through the spool, a large one in place (through a plain link)."""
    (tmp_path / "a1.jsonl").write_text(f"{LINE}\n{LINE}\n{LINE}\n")
    (tmp_path / "ab.jsonl").write_text(f"{LINE}\n{LINE}\n")
    log = tmp_path / name
    log.write_text(with_annotation(json.dumps("x" * SMALL)) if size == "large" else LINE)
    code, out, _ = both([str(log)], engine, fast, tmp_path)
    assert code == 0
    assert lines_hit(out) == {1}
    assert {json.loads(h)["file"] for h in out.splitlines()} == {str(log)}


def test_a_byte_order_mark_loses_no_event(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    plain, packed = tmp_path / "bom.jsonl", tmp_path / "bom.jsonl.gz"
    plain.write_bytes(b"\xef\xbb\xbf" + f"{LINE}\n{LINE}\n".encode())
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for log in (plain, packed):
        code, out, _ = both([str(log)], engine, fast, tmp_path, strict=True)
        assert (code, lines_hit(out)) == (0, {1, 2})


def test_every_input_is_checked_before_the_first_hit(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(LINE + "\n")
    for bad, reason in ((tmp_path / "missing.jsonl", "no such file"), (tmp_path, "directory")):
        code, out, err = both([str(good), str(bad)], engine, fast, tmp_path)
        assert (code, out) == (2, "")
        assert f"cannot read {bad}:" in err
        assert reason in err


def test_a_fifo_is_read_as_a_file_is(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outputs = []
    for chosen in (None, fast):

        def feed() -> None:
            with fifo.open("w") as writer:
                writer.write(f"{LINE}\n{LINE}\n")

        writer = threading.Thread(target=feed)
        writer.start()
        outputs.append(hunt([str(fifo)], engine, chosen, tmp_path))
        writer.join()
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 0
    assert lines_hit(outputs[0][1]) == {1, 2}


def test_a_file_rewritten_while_it_is_read_is_reported(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    log = tmp_path / "live.jsonl"
    results = []
    for chosen in (None, fast):
        log.write_text(LINE + "\n")
        folder = tmp_path / ("fast" if chosen else "reference")
        folder.mkdir(exist_ok=True)
        inputs, _ = open_inputs([str(log)], folder)
        log.write_text(f"{LINE}\n{LINE}\n")  # rewritten after the hunt took its measure
        out, err = io.StringIO(), io.StringIO()
        code = hunt_command.hunt_inputs(inputs, engine, chosen, None, False, folder, out, err)
        results.append((code, out.getvalue()))
        assert "CHANGED while it was read" in err.getvalue()
    assert results[0] == results[1]
    assert results[0][0] == 1


def test_many_small_files_are_one_scan(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = []
    for number in range(100):
        log = tmp_path / f"small-{number:03}.jsonl"
        log.write_text(LINE + "\n" if number % 10 == 0 else json.dumps({"verb": "get"}) + "\n")
        names.append(str(log))
    scans = []
    original = FastHunt.hunt_file

    def counted(self: FastHunt, path: Path, progress: object = None, **options: bool) -> object:
        scans.append(path)
        return original(self, path, progress, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(FastHunt, "hunt_file", counted)
    code, out, err = both(names, engine, fast, tmp_path)
    assert len(scans) == 1
    assert code == 0
    assert {json.loads(h)["file"] for h in out.splitlines()} == set(names[::10])
    *summaries, total = err.splitlines()
    assert len(summaries) == 100  # a summary per file, then what all held
    assert total == (
        "all 100 files: 100 record(s) read (kubernetes_audit 10); "
        "90 not recognised (in 90 of them); 0 malformed"
    )


def test_interrupted_hunt_ends_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    log = tmp_path / "pod.jsonl"
    log.write_text(LINE + "\n")
    monkeypatch.setattr(hunt_command, "hunt_inputs", interrupted)
    code = main(["hunt", "--root", str(ROOT), str(log)])
    assert code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "sigma-ext: interrupted\n"


@pytest.mark.parametrize("layout", ["lines", "gzip documents"])
@pytest.mark.parametrize("engine_name", ["fast", "reference"])
def test_a_closed_standard_output_ends_the_hunt_with_one_line(
    engine_name: str, layout: str, tmp_path: Path
) -> None:
    """(Many small gzip documents, each with a record nested 100,000 deep among CloudTrail's:
    split in C on the hunt's threads, the deep records left by DuckDB to the reference engine
    when the pipe closes; the hunt's generators end before the interpreter does, or nanobind
    reports DuckDB's objects as leaked.)"""
    log = tmp_path / "many.jsonl"
    log.write_text(f"{LINE}\n" * 3000)
    logs = [str(log)]
    if layout == "gzip documents":
        deep = '{"eventSource":"ecs.amazonaws.com","x":' + "[" * 100_000 + "]" * 100_000 + "}"
        records = ",".join([*fixture_lines("aws_cloudtrail")[:3], deep])
        logs = []
        for number in range(200):
            document = tmp_path / f"{number:03d}.json.gz"
            document.write_bytes(gzip.compress(('{"Records":[' + records + "]}").encode()))
            logs.append(str(document))
    hunt = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sigma_ext",
            "hunt",
            "--root",
            str(ROOT),
            "--engine",
            engine_name,
            *logs,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert hunt.stdout is not None
    assert hunt.stderr is not None
    first = hunt.stdout.readline()
    hunt.stdout.close()  # as `| head -1` does
    err = hunt.stderr.read().decode()
    assert hunt.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert json.loads(first)["line"] == 1
    assert err == "sigma-ext: stdout was closed before the output was complete (broken pipe)\n"


def test_the_total_line_counts_the_files_that_hold_a_problem() -> None:
    from sigma_ext.hunt.summary import FileSummary, total_line

    clean = FileSummary("a.jsonl", Counter({"kubernetes_audit": 3}))
    odd = FileSummary("b.jsonl", Counter({"falco": 1, "kubernetes_audit": 1}), malformed=2)
    odd.count(None, 4)
    moved = FileSummary("c.jsonl", malformed=1, changed=True)
    assert total_line([clean, odd, moved]) == (
        "all 3 files: 9 record(s) read (falco 1, kubernetes_audit 4); "
        "1 not recognised (in 1 of them); 3 malformed (in 2 of them); 1 CHANGED while read"
    )
