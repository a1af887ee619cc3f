"""A small file's scan (the prepared query, its codes held) finds what the scan into a codes file
finds, row by row, and the hunt's output is the same either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_ext.cli.hunt import hunt_engine_or_report
from sigma_ext.content.corpus import Corpus
from sigma_ext.hunt.fast import running
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.present import sources_in
from sigma_ext.hunt.reference import BadLine, BaseRuleHit, Hit, grouper_of_file
from sigma_ext.reference.engine import ReferenceEngine

from .test_hunt_duckdb import FIXTURES, ODD_LINES, TYPED, Together


@pytest.fixture(scope="module")
def fast_hunting(corpus: Corpus, engine: ReferenceEngine) -> FastHunt:
    """The fast hunt with the correlation base rules (whose hits read their rows again)."""
    hunting = hunt_engine_or_report(corpus, engine)
    assert hunting is not None
    return FastHunt(hunting)


def _parquet_rows(
    fast: FastHunt, log: Path, select: str, folder: Path
) -> tuple[running.Scanned, list[tuple[str | None, int | None, int | None]]] | None:
    con = fast.connect()
    try:
        codes = folder / "codes.parquet"
        scanned = running.scan_typed(con, select, log, codes, None)
        if scanned is None:
            return None
        rows = con.execute(f"SELECT code, n, src FROM read_parquet('{codes}')").fetchall()
        return scanned, rows
    finally:
        con.close()


def _odd_log(folder: Path) -> Path:
    """Lines DuckDB reads its own way: blank ones, its extra whitespace, bad JSON, a byte order
    mark, arrays, a truncated event, then creations (which rules fire on)."""
    creation = json.dumps(next(e for e in TYPED if e.get("verb") == "create"))
    lines = [
        *ODD_LINES,
        "",
        "\x0c" + creation + "\x0b",
        creation[:-1] + ",}",
        "\ufeff" + creation,
        creation[: len(creation) // 2],
        "[" + creation + "]",
        "  ",
        creation,
    ]
    log = folder / "odd.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return log


def test_the_held_scan_gives_the_codes_file_row_by_row(
    fast_hunting: FastHunt, tmp_path: Path
) -> None:
    every = Together(
        [path for path in FIXTURES if grouper_of_file(path) is None], tmp_path / "all.jsonl"
    ).log
    odd = _odd_log(tmp_path)
    every.write_bytes(every.read_bytes() + odd.read_bytes())
    compared = 0
    # every source's query over every fixture, and the query of the sources of the odd lines
    for log, present in ((every, None), (odd, sources_in(odd))):
        select = fast_hunting.typed_select_for(present)
        expected = _parquet_rows(fast_hunting, log, select, tmp_path)
        assert expected is not None
        held = fast_hunting.prepared.scan(select, log)
        assert held is not None
        scanned, rows = expected
        assert held.rows == rows
        assert held.scanned == scanned
        assert list(held.coded()) == [
            (ordinal, code)
            for ordinal, (code, _, _) in enumerate(rows, start=1)
            if code is not None
        ]
        compared += len(rows)
    assert compared > 500


def test_the_held_offsets_are_where_the_rows_start(fast_hunting: FastHunt, tmp_path: Path) -> None:
    # files whose every line is a row: the offsets are used only then (running.all_lines_read)
    whole = [
        path
        for path in FIXTURES
        if path.suffix == ".jsonl" and b"\n\n" not in path.read_bytes().strip(b"\n")
    ]
    every = Together(whole, tmp_path / "all.jsonl").log
    select = fast_hunting.typed_select
    held = fast_hunting.prepared.scan(select, every)
    assert held is not None
    con = fast_hunting.connect()
    try:
        codes = tmp_path / "codes.parquet"
        scanned = running.scan_typed(con, select, every, codes, None)
        assert scanned is not None
        from_file = running.ParquetCodes(con, codes, scanned)
        base = [str(i) for i in range(len(fast_hunting.rule_files))]
        offsets = held.offsets(base)
        assert offsets == from_file.offsets(base)
        assert running.all_lines_read(every, held.scanned.rows, held.scanned.length)
        assert len(offsets) > 50
        data = every.read_bytes()
        for start, length in offsets.values():
            assert data[start : start + length].startswith(b"{")
            assert data[start + length : start + length + 1] == b"\n"
    finally:
        con.close()


def test_a_file_duckdb_cannot_read_is_left_to_the_codes_file_scan(
    fast: FastHunt, tmp_path: Path
) -> None:
    log = tmp_path / "odd.jsonl"
    log.write_bytes(b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","objectRef":["\xf3\xa0"]}\n')
    select = fast.typed_select_for(None)
    held = fast.prepared.scan(select, log)
    expected = _parquet_rows(fast, log, select, tmp_path)
    if expected is None:
        assert held is None
    else:
        assert held is not None
        assert held.rows == expected[1]


def _items(fast: FastHunt, log: Path) -> list[Hit | BadLine]:
    return list(fast.hunt_file(log))


def test_the_hunt_is_the_same_with_and_without_the_held_scan(
    fast_hunting: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [path for path in FIXTURES if grouper_of_file(path) is None]
    log = Together(paths, tmp_path / "all.jsonl").log
    log.write_bytes(log.read_bytes() + _odd_log(tmp_path).read_bytes())
    assert running.small_scan(log)
    held = _items(fast_hunting, log)
    monkeypatch.setattr(running, "SMALL_SCAN", 0)
    assert not running.small_scan(log)
    assert _items(fast_hunting, log) == held
    assert any(isinstance(item, BaseRuleHit) and item.base_hit() for item in held)
    assert any(isinstance(item, BadLine) for item in held)
    assert sum(isinstance(item, Hit) for item in held) > 100
