"""The prefilter (``sigma_ext.hunt.fast.prefilter``) run over a file: read a chunk of whole lines
at a time, each chunk scanned by the extension on one of the hunt's threads, what it passes on
and the judge's verdicts written to files (``Passed``), in line order.

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
import struct
from array import array
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import cast

from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast.judge import CarriedValues, chunk_hits, judged_hits
from sigma_ext.hunt.fast.line_kinds import LineKinds
from sigma_ext.hunt.fast.prefilter import Prefilter, Scan
from sigma_ext.hunt.progress import Progress
from sigma_ext.hunt.reference import BadLine, Hit, is_gzip
from sigma_ext.sources.catalogue import Source, source_named

CHUNK = 8 << 20
"""Bytes read at a time (whole lines: a chunk ends at its last line end)."""
GIVE_UP = 0.5
"""The share of the first chunk's bytes passed on from which the prefilter stops."""
SHARE = 90.0
"""The part of the ``scan`` phase of the progress the prefilter reports."""


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
            fill()
            while pending:
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
