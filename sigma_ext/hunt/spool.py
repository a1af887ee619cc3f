"""The fast engine over inputs of every shape: what DuckDB scans, and where its hits were.

DuckDB scans JSON Lines files. An input it can read as it is (a plain JSON Lines file of some
size, no byte order mark) is scanned in place, through a link with a plain name (DuckDB would
expand ``*``, ``?``, ``[`` and ``~`` in a file name and read other files). Every other input is
written to one temporary JSON Lines file, the *spool*, with consecutive such inputs together, so
that many small files cost one scan: batch documents one record per line (``sigma_ext.hunt
.batches``: the same text the reference engine judges), standard input, FIFOs and gzip files
unpacked (``sigma_ext.hunt.inputs``: the same bytes), files with a byte order mark without it.
A line too long for DuckDB (``LONG_LINE``) is left out of the spool and judged by the reference
engine in its place. Each hit and bad line of the spool is mapped back to its input, line and
record.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import duckdb

from sigma_ext.hunt.batches import Record
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.inputs import BOM, Input, Line, Trouble, read_units
from sigma_ext.hunt.progress import stderr_progress
from sigma_ext.hunt.reference import BadLine, Hit, unit_item, unit_place
from sigma_ext.hunt.summary import FileSummary
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import Source, recognize

SMALL = 8 << 20
"""Plain JSON Lines files smaller than this are scanned together, in one spool."""

LONG_LINE = 16 << 20
"""A line or record longer than this (bytes) is judged by the reference engine: DuckDB's JSON
reader stops at objects of 32 MiB (``maximum_object_size``) or so."""


@dataclass
class _Spool:
    """The spool being written: its lines' origins, and what goes between them."""

    path: Path
    inputs: list[Input] = field(default_factory=list)
    starts: array[int] = field(default_factory=lambda: array("q"))
    owners: array[int] = field(default_factory=lambda: array("i"))
    lines: array[int] = field(default_factory=lambda: array("q"))
    records: array[int] = field(default_factory=lambda: array("q"))
    written: int = 0
    between: list[tuple[int, Hit | BadLine]] = field(default_factory=list)
    """Items placed after spool line N (0: before the first), in order."""

    def origin(self, number: int) -> tuple[Input, int, int | None]:
        at = bisect.bisect_right(self.starts, number) - 1
        record = self.records[at]
        found = self.inputs[self.owners[at]]
        if record < 0:
            return found, self.lines[at] + number - self.starts[at], None
        return found, self.lines[at], record

    def segment(self, owner: int, line: int, record: int | None) -> None:
        self.starts.append(self.written + 1)
        self.owners.append(owner)
        self.lines.append(line)
        self.records.append(-1 if record is None else record)


class FastInputs:
    """Runs a ``FastHunt`` over inputs, in order, counting what each holds."""

    def __init__(
        self,
        fast: FastHunt,
        engine: ReferenceEngine,
        folder: Path,
        source: Source | None = None,
    ) -> None:
        self.fast = fast
        self.engine = engine
        self.folder = folder
        self.source = source
        self.made = 0

    def hunt(self, inputs: list[Input]) -> Iterator[Hit | BadLine]:
        """Every hit and bad line of every input, in order; each input's summary counts."""
        group: list[Input] = []
        for found in inputs:
            if self._in_place(found):
                yield from self._spooled(group)
                group = []
                yield from self._scanned(found)
            else:
                group.append(found)
        yield from self._spooled(group)

    def _in_place(self, found: Input) -> bool:
        if found.gzip or found.batch or found.signature is None:
            return False
        if found.path.stat().st_size < SMALL:
            return False
        with found.path.open("rb") as probe:
            return probe.read(len(BOM)) != BOM

    def _name(self, suffix: str) -> Path:
        self.made += 1
        return self.folder / f"scan-{self.made}{suffix}"

    def _scanned(self, found: Input) -> Iterator[Hit | BadLine]:
        """A plain JSON Lines file scanned in place, through a link with a plain name."""
        link = self._name(".jsonl")
        link.symlink_to(found.path.resolve())
        counted = FileSummary(found.name)
        items = self.fast.hunt_file(link, stderr_progress(found.path), counted)
        try:
            first = next(items, None)
        except duckdb.Error:
            # a line DuckDB cannot hold: the spool judges such lines with the reference engine
            yield from self._spooled([found])
            return
        found.summary = counted
        if first is None:
            return
        yield _renamed(first, found)
        for item in items:
            yield _renamed(item, found)

    def _count(self, unit: Line | Record | Trouble, summary: FileSummary) -> None:
        if isinstance(unit, Trouble):
            summary.malformed += 1
            return
        item = unit_item(unit)
        if item is None:
            return
        if isinstance(item, str):
            summary.malformed += 1
            return
        line, record = unit_place(unit)
        summary.count(self.source or recognize(item), line, record)

    def _spooled(self, group: list[Input]) -> Iterator[Hit | BadLine]:
        if not group:
            return
        spool = _Spool(self._name(".jsonl"), group)
        with spool.path.open("wb") as out:
            for owner, found in enumerate(group):
                self._write(spool, owner, found, out)
        pending = iter(spool.between)
        upcoming = next(pending, None)
        for item in self.fast.hunt_file(spool.path):
            while upcoming is not None and upcoming[0] < item.line:
                yield upcoming[1]
                upcoming = next(pending, None)
            found, line, record = spool.origin(item.line)
            yield _moved(item, found, line, record)
        while upcoming is not None:
            yield upcoming[1]
            upcoming = next(pending, None)

    def _write(
        self,
        spool: _Spool,
        owner: int,
        found: Input,
        out: IO[bytes],
    ) -> None:
        summary = found.summary
        write = out.write
        run = False  # whether the last segment is a run of lines
        for unit in read_units(found):
            line, record = unit_place(unit)
            if isinstance(unit, Trouble):
                summary.malformed += 1
                spool.between.append(
                    (spool.written, BadLine(found.name, line, unit.reason, unit.record))
                )
                continue
            self._count(unit, summary)
            data = (
                unit.raw if isinstance(unit, Line) else unit.text.encode("utf-8", "replace") + b"\n"
            )
            if len(data) > LONG_LINE:
                spool.between.extend((spool.written, item) for item in self._judged(unit, found))
                data = b"\n"  # keeps the lines of a run in step
            if isinstance(unit, Line):
                if not run:
                    spool.segment(owner, line, None)
                    run = True
                if not data.endswith(b"\n"):
                    data += b"\n"
            else:
                spool.segment(owner, line, record)
                run = False
            write(data)
            spool.written += 1

    def _judged(self, unit: Line | Record, found: Input) -> list[Hit | BadLine]:
        """The reference verdict on one line or record."""
        line, record = unit_place(unit)
        item = unit_item(unit)
        if item is None:
            return []
        if isinstance(item, str):
            return [BadLine(found.name, line, item, record)]
        recognised = self.source or recognize(item)
        if recognised is None:
            return []
        return [
            Hit.of(rule_file, found.name, line, record)
            for rule_file in self.engine.match(item, recognised)
        ]


def _renamed(item: Hit | BadLine, found: Input) -> Hit | BadLine:
    if isinstance(item, Hit):
        return item.moved(found.name, item.line, None)
    return BadLine(found.name, item.line, item.reason)


def _moved(item: Hit | BadLine, found: Input, line: int, record: int | None) -> Hit | BadLine:
    if isinstance(item, Hit):
        return item.moved(found.name, line, record)
    return BadLine(found.name, line, item.reason, record)
