"""The fast engine over inputs of every shape: what DuckDB scans, and where its hits were.

DuckDB scans JSON Lines files. An input it can read as it is (a plain JSON Lines file of some
size, no byte order mark, whose first line is an event the SQL judges or of no known source) is
scanned in place, through a link with a plain name (DuckDB would expand ``*``, ``?``, ``[`` and
``~`` in a file name and read other files). Every other input is
written to one temporary JSON Lines file, the *spool*, with consecutive such inputs together, so
that many small files cost one scan: batch documents one record per line (``sigma_ext.hunt
.batches``: the same text the reference engine judges), standard input, FIFOs and gzip files
unpacked (``sigma_ext.hunt.inputs``: the same bytes), files with a byte order mark without it.
A line too long for DuckDB (``LONG_LINE``) is left out of the spool and judged by the reference
engine in its place, and so is every event of a source the SQL does not judge (it would hand
it back to the reference engine): judged as the spool is written, on the event already parsed,
with a blank line in the spool in its place; a spool with nothing left to scan is not scanned.
Such verdicts are printed at once until the spool holds a line for DuckDB; after it, they wait
for the scan (memory: the hits and bad lines of those events, in one group of spooled inputs).
Each hit and bad line of the spool is mapped back to its input, line and record. Every event
left in the spool is of a source the spool recognised (``spool.sources``); a spool of one such
source is scanned as that source's (``FastHunt.hunt_file``'s ``recognised``).

A batch document of the plain shape (an S3 export's CloudTrail files, most of all) is split in C
instead (``sigma_ext.hunt.batch_split``; small ones ahead, on the hunt's threads): its records
are written as they are, neither parsed nor recognised, and counted after the scan from what it
found each line to be (``sigma_ext.hunt.fast.line_kinds``: the source the prefilter set it
aside as, or the scan judged it as); the lines it named no source for are read back, parsed and
recognised as before.
"""

from __future__ import annotations

import bisect
from array import array
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb

from sigma_ext.hunt import judged_splits
from sigma_ext.hunt.batch_split import Refused, Split, TooLarge, split_input, split_pieces
from sigma_ext.hunt.batches import Record
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.line_kinds import LineKinds
from sigma_ext.hunt.fast.present import sources_in
from sigma_ext.hunt.fast.text_scan import SMALL_TEXT
from sigma_ext.hunt.fast.text_scan import SOURCE as TEXT_SOURCE
from sigma_ext.hunt.inputs import BOM, Input, Line, Trouble, open_content, read_units
from sigma_ext.hunt.judged_splits import HitMaker, Judged, Verdicts
from sigma_ext.hunt.progress import stderr_progress
from sigma_ext.hunt.reference import BadLine, Hit, read_line, unit_item, unit_place
from sigma_ext.hunt.summary import FileSummary
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import Source, recognize

SMALL = 8 << 20
"""Plain JSON Lines files smaller than this are scanned together, in one spool."""

FIRST_LINE = 1 << 20
"""How much of a file's first line decides whether it is scanned in place (its source)."""

SPOOL_BUFFER = 1 << 20
"""Bytes the spool's writes are gathered in (one system call per buffer, not per few records)."""

AHEAD_INPUT = 1 << 20
"""Inputs up to this size on disk are split ahead (``FastInputs._splits``)."""

AHEAD_UNPACKED = 16 << 20
"""The most an input split ahead may unpack to."""

BETWEEN_MOST = 64 << 20
"""The most bytes of verdicts a spool holds back for its scan (``judged_splits.Verdicts.size``:
about 16 bytes per record, and the text of those a correlation base rule fires on): past it,
the spool is scanned and the group's next inputs go to another."""

LONG_LINE = 16 << 20
"""A line or record longer than this (bytes) is judged by the reference engine: DuckDB's JSON
reader stops at objects of 32 MiB (``maximum_object_size``) or so."""


_SPLIT = -2
"""The record of a segment that is an input C split (``_Spool.parts``)."""


@dataclass(frozen=True)
class _SplitInput:
    """An input whose records were written as C split them, to be counted after the scan."""

    owner: int
    first: int
    """The spool line of its first record."""
    offset: int
    """The spool byte its first record starts at."""
    lines: array[int]
    """The line of each record in the input."""
    before: int
    """The input's records before these (a piece of an input too large to be held whole)."""
    ends: array[int]
    """Where each record's text ends (past its ``\\n``), from ``offset``."""
    records: array[int] | None = None
    """The 1-based record number of each, when they are not the input's next ones (the records
    the prefilter passed on, ``judged_splits``)."""

    def record(self, index: int) -> int:
        """The 1-based record number of the ``index``-th (0-based)."""
        return self.before + index + 1 if self.records is None else self.records[index]


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
    size: int = 0
    """Bytes written."""
    scanned: int = 0
    """Lines written for DuckDB to judge (the others are blank)."""
    between: list[tuple[int, Hit | BadLine | Verdicts]] = field(default_factory=list)
    """Items placed after spool line N (0: before the first), in order; the verdicts of an
    input's judged records stand for their hits, N the spool's lines before its first record
    passed on (``judged_splits.Verdicts.keyed``)."""
    held: int = 0
    """The bytes of the verdicts ``between`` holds."""
    sources: set[str] = field(default_factory=set)
    """The sources of the events written for DuckDB (its query judges only those), but for
    those of ``parts``."""
    parts: dict[int, _SplitInput] = field(default_factory=dict)
    """The inputs (or pieces of one) C split, by their segment (``records`` holds ``_SPLIT``),
    in spool order."""

    def origin(self, number: int) -> tuple[Input, int, int | None]:
        at = bisect.bisect_right(self.starts, number) - 1
        record = self.records[at]
        found = self.inputs[self.owners[at]]
        if record == _SPLIT:
            index = number - self.starts[at]
            part = self.parts[at]
            return found, part.lines[index], part.record(index)
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
        self.hits = HitMaker(fast.rule_files)

    def hunt(self, inputs: list[Input]) -> Generator[Hit | BadLine, None, None]:
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
        if found.batch or found.grouper is not None or found.signature is None:
            return False
        if found.gzip:
            return self._gzip_text_log(found)
        size = found.path.stat().st_size
        if size < SMALL and (self.fast.text_scan is None or size < SMALL_TEXT):
            return False
        with found.path.open("rb") as probe:
            if probe.read(len(BOM)) == BOM:
                return False
            probe.seek(0)
            first, recognised = self._first(probe)
        if not isinstance(first, dict):
            return size >= SMALL
        if recognised is not None and recognised.name == TEXT_SOURCE:
            # a runtime text log: its lines are claimed and gated in C, or in DuckDB
            # (sigma_ext.hunt.fast.text_scan)
            return self.fast.text_scan is not None
        if size < SMALL:
            return False
        # a file of events the SQL hands back (a text log...) is spooled: the spool judges them
        # as it reads them, without a scan; but where a prefilter sets most of them aside
        # (Azure's Activity Log), the file is scanned in place
        judged = self.fast.sql_sources | self.fast.native_sources
        return recognised is None or recognised.name in judged

    def _gzip_text_log(self, found: Input) -> bool:
        """Whether a gzip input is a runtime log the automaton reads as it is unpacked (rotated
        logs are gzip'd; sigma_ext.hunt.fast.text_scan), its first line one of its events."""
        scan = self.fast.text_scan
        if found.path.stat().st_size < SMALL_TEXT or scan is None or scan.line_dfa() is None:
            return False
        with open_content(found, []) as handle:
            _, recognised = self._first(handle)
        return recognised is not None and recognised.name == TEXT_SOURCE

    def _first(self, handle: IO[bytes]) -> tuple[Any, Source | None]:
        """An input's first line as ``read_line`` reads it, and its source when it is an event
        (the forced one, else the one that recognises it)."""
        first = read_line(handle.readline(FIRST_LINE))
        if not isinstance(first, dict):
            return first, None
        return first, self.source or recognize(first)

    def _name(self, suffix: str) -> Path:
        self.made += 1
        return self.folder / f"scan-{self.made}{suffix}"

    def _scanned(self, found: Input) -> Iterator[Hit | BadLine]:
        """A plain JSON Lines file scanned in place, through a link with a plain name."""
        link = self._name(".jsonl")
        link.symlink_to(found.path.resolve())
        counted = FileSummary(found.name)
        # (the judged lines' hits named as the input already: no renaming each)
        items = self.fast.hunt_file(link, stderr_progress(found.path), counted, named=found.name)
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

    def _count(self, unit: Line | Record, summary: FileSummary) -> tuple[Any, Source | None]:
        """The unit's event (as ``unit_item`` says) and its source, counted in ``summary``."""
        item = unit_item(unit)
        if item is None:
            return None, None
        if isinstance(item, str):
            summary.malformed += 1
            return item, None
        line, record = unit_place(unit)
        recognised = self.source or recognize(item)
        summary.count(recognised, line, record)
        return item, recognised

    def _spooled(self, group: list[Input]) -> Iterator[Hit | BadLine]:
        if not group:
            return
        spool = _Spool(self._name(".jsonl"), group)
        out = spool.path.open("wb", buffering=SPOOL_BUFFER)
        try:
            for owner, (found, split, large, judged) in enumerate(self._splits(group)):
                if judged is not None:
                    yield from self._write_judged(spool, owner, found, judged, out)
                elif split is not None:
                    self._write_split(spool, owner, split, out)
                elif not large or not self._write_pieces(spool, owner, found, out):
                    yield from self._write(spool, owner, found, out)
                if spool.held > BETWEEN_MOST:
                    # the items waiting for the scan bounded: this spool is scanned now, and the
                    # group's next inputs go to another
                    out.close()
                    yield from self._scan(spool)
                    spool.path.unlink()
                    spool = _Spool(self._name(".jsonl"), group)
                    out = spool.path.open("wb", buffering=SPOOL_BUFFER)
        finally:
            out.close()
        yield from self._scan(spool)

    def _scan(self, spool: _Spool) -> Iterator[Hit | BadLine]:
        """The items of the spool's scan (none when nothing in it is to scan), with those
        waiting between its lines, in order; then the records C split are counted."""
        pending = self._between(spool)
        upcoming = next(pending, None)
        sources = frozenset(spool.sources)
        if spool.parts:
            sources |= sources_in(spool.path, self.source)
        kinds = LineKinds() if spool.parts else None
        scan = (
            self.fast.hunt_file(
                spool.path,
                grouped=True,
                sources=sources,
                recognised=not spool.parts,
                kinds=kinds,
            )
            if spool.scanned
            else iter(())
        )
        for item in scan:
            while upcoming is not None and upcoming[0] < item.line:
                yield upcoming[1]
                upcoming = next(pending, None)
            found, line, record = spool.origin(item.line)
            yield _moved(item, found, line, record)
        while upcoming is not None:
            yield upcoming[1]
            upcoming = next(pending, None)
        if kinds is not None:
            self._count_split(spool, kinds)

    def _between(self, spool: _Spool) -> Iterator[tuple[int, Hit | BadLine]]:
        """The items waiting between the spool's lines, in order, the judged records' hits
        made as they come."""
        for written, waiting in spool.between:
            if isinstance(waiting, Verdicts):
                yield from waiting.keyed(written, self.hits, self.fast.forced)
            else:
                yield written, waiting

    def _write_judged(
        self, spool: _Spool, owner: int, found: Input, judged: Judged, out: IO[bytes]
    ) -> Iterator[Hit]:
        """An input whose records were judged as they were split (``judged_splits``): the
        records set aside counted, the records passed on written to the spool, and the hits of
        the judged ones yielded at once while nothing waits in the spool before them, else
        kept, as their verdicts, to be made at their place between the scan's items."""
        summary = found.summary
        verdicts = judged.verdicts
        for name, count in zip(verdicts.prefilter.sources, judged.gone, strict=True):
            if count:
                summary.sources[name] += count
        if not spool.scanned and not verdicts.passed:
            yield from (hit for _, hit in verdicts.keyed(0, self.hits, self.fast.forced))
            return
        if verdicts:
            spool.between.append((spool.written, verdicts))
            spool.held += verdicts.size
        if verdicts.passed:
            self._write_split(spool, owner, judged.passed_split(), out, judged.records())

    def _splits(
        self, group: list[Input]
    ) -> Iterator[tuple[Input, Split | None, bool, Judged | None]]:
        """Each input of ``group``, in order, with its records split in C when they may be
        and a prefilter may count them (``_count_split``); else None, and whether the input is
        too large to be held whole (then split a piece at a time, ``_write_pieces``, or read by
        the Python reader), and its records' verdicts when they were judged as they were split
        (``judged_splits``). Small inputs are split and judged ahead, on the hunt's threads,
        while the spool is written: memory holds ``2 * threads`` of them at most, each its text,
        its records and their verdicts (``AHEAD_UNPACKED`` bytes at most; a larger one is split
        when its turn comes, and not judged apart)."""
        if not self.fast.prefilters:
            yield from ((found, None, False, None) for found in group)
            return
        ahead = 2 * self.fast.threads
        with ThreadPoolExecutor(self.fast.threads) as pool:
            pending: deque[tuple[Input, Future[tuple[Split | None, Judged | None]] | None]]
            pending = deque()
            for found in group:
                # (its size when the hunt began: a regular file's, saving a stat per input)
                size = found.signature[2] if found.signature else found.path.stat().st_size
                small = found.batch and size <= AHEAD_INPUT
                made = pool.submit(self._split_ahead, found) if small else None
                pending.append((found, made))
                while len(pending) > ahead:
                    yield self._split(*pending.popleft())
            while pending:
                yield self._split(*pending.popleft())

    def _split_ahead(self, found: Input) -> tuple[Split | None, Judged | None]:
        """(on one of the hunt's threads) ``found`` split, and its records judged."""
        split = split_input(found, LONG_LINE, AHEAD_UNPACKED)
        if split is None:
            return None, None
        return split, judged_splits.judged(
            split, found.name, self.fast.prefilters, self.fast.forced
        )

    def _split(
        self, found: Input, made: Future[tuple[Split | None, Judged | None]] | None
    ) -> tuple[Input, Split | None, bool, Judged | None]:
        """``found`` with its split (and verdicts) made ahead, else made now (with the larger
        limit, for one too large to be made ahead), and whether it is too large to be held
        whole."""
        try:
            if made is not None:
                split, judged = made.result()
                return found, split, False, judged
        except TooLarge:
            pass
        try:
            return found, split_input(found, LONG_LINE), False, None
        except TooLarge:
            return found, None, True, None

    def _write_pieces(self, spool: _Spool, owner: int, found: Input, out: IO[bytes]) -> bool:
        """Write the records of an input too large to be held whole as C splits it, a piece at
        a time; False, with nothing of it written, when the Python reader must read it."""
        mark = (spool.written, spool.scanned, spool.size, len(spool.starts))
        try:
            for piece in split_pieces(found, LONG_LINE):
                self._write_split(spool, owner, piece, out)
        except Refused:
            # undone: the Python reader reads it from its start
            spool.written, spool.scanned, spool.size, segments = mark
            out.seek(spool.size)
            out.truncate()
            for kept in (spool.starts, spool.owners, spool.lines, spool.records):
                del kept[segments:]
            for segment in [at for at in spool.parts if at >= segments]:
                del spool.parts[segment]
            return False
        return True

    def _write_split(
        self,
        spool: _Spool,
        owner: int,
        split: Split,
        out: IO[bytes],
        records: array[int] | None = None,
    ) -> None:
        count = len(split.lines)
        part = _SplitInput(
            owner, spool.written + 1, spool.size, split.lines, split.before, split.ends, records
        )
        out.write(split.records)
        spool.parts[len(spool.starts)] = part
        spool.segment(owner, 0, _SPLIT)
        spool.written += count
        spool.scanned += count
        spool.size += len(split.records)

    def _count_split(self, spool: _Spool, kinds: LineKinds) -> None:
        """Count the records of the inputs C split: as the hunt of the spool found them, and
        those it does not name a source for as the reference engine reads them."""
        with spool.path.open("rb") as text:
            for part in spool.parts.values():
                summary = spool.inputs[part.owner].summary
                found, recounted = kinds.counts(part.first, len(part.lines))
                summary.sources.update(found)
                for at in recounted:
                    start = part.ends[at - 1] if at else 0
                    text.seek(part.offset + start)
                    record = text.read(part.ends[at] - start).decode("utf-8")  # (C split UTF-8)
                    self._count(Record(record, part.lines[at], part.record(at)), summary)

    def _write(
        self,
        spool: _Spool,
        owner: int,
        found: Input,
        out: IO[bytes],
    ) -> Iterator[Hit | BadLine]:
        """Write ``found``'s lines and records to the spool; the items judged on the way are
        yielded at once while nothing precedes them in the spool for DuckDB to judge (so a spool
        of events the SQL hands back streams its hits), else kept in ``spool.between``."""
        summary = found.summary
        write = out.write
        run = False  # whether the last segment is a run of lines
        previous = 0  # the line number of the last line written (grouped lines may jump)
        for unit in read_units(found):
            line, record = unit_place(unit)
            if isinstance(unit, Trouble):
                summary.malformed += 1
                yield from _placed(spool, [BadLine(found.name, line, unit.reason, unit.record)])
                continue
            item, recognised = self._count(unit, summary)
            data = (
                unit.raw if isinstance(unit, Line) else unit.text.encode("utf-8", "replace") + b"\n"
            )
            if isinstance(item, dict) and (
                recognised is None or recognised.name not in self.fast.sql_sources
            ):
                # an event the SQL would hand back to the reference engine: judged here, on the
                # event already parsed, and not scanned (a blank line keeps the lines in step)
                if recognised is not None:
                    yield from _placed(
                        spool,
                        [
                            Hit.of(rule_file, found.name, line, record)
                            for rule_file in self.engine.match(item, recognised)
                        ],
                    )
                data = b"\n"
            elif len(data) > LONG_LINE:
                yield from _placed(spool, self._judged(unit, found))
                data = b"\n"  # keeps the lines of a run in step
            else:
                spool.scanned += 1
                if recognised is not None:
                    spool.sources.add(recognised.name)
            if isinstance(unit, Line):
                if not run or line != previous + 1:
                    spool.segment(owner, line, None)
                    run = True
                previous = line
                if not data.endswith(b"\n"):
                    data += b"\n"
            else:
                spool.segment(owner, line, record)
                run = False
            write(data)
            spool.written += 1
            spool.size += len(data)

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


def _placed(spool: _Spool, items: list[Hit | BadLine]) -> list[Hit | BadLine]:
    """``items`` (of the line being written) to yield now, when no line before them waits for
    DuckDB; else kept in ``spool.between`` to be merged with the scan's items (none to yield)."""
    if not spool.scanned:
        return items
    spool.between.extend((spool.written, item) for item in items)
    return []


def _renamed(item: Hit | BadLine, found: Input) -> Hit | BadLine:
    if isinstance(item, Hit):
        if item.file == found.name and item.record is None:
            return item  # (frozen: the same hit)
        return item.moved(found.name, item.line, None)
    return BadLine(found.name, item.line, item.reason)


def _moved(item: Hit | BadLine, found: Input, line: int, record: int | None) -> Hit | BadLine:
    if isinstance(item, Hit):
        return item.moved(found.name, line, record)
    return BadLine(found.name, line, item.reason, record)
