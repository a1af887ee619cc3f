"""The log files ``hunt`` is given, checked and read the same way for both engines.

* Every input is checked before the first one is read: a missing, unreadable or directory input
  is an error naming it, and nothing is hunted. ``-`` is standard input; it and a FIFO are copied
  to a temporary file first (so both engines read the same bytes, once).
* Content: gzip by its magic bytes, with every member read; data after the last member that is
  not zero padding is reported (and ignored), and a stream that ends early is reported after
  everything before the break was read. A UTF-8 byte order mark at the start is dropped.
* Shape: a file whose first JSON value is a batch document (``sigma_ext.hunt.batches``) is read
  as documents, record by record; anything else as lines (JSON Lines, text logs).
* Lines of a text source whose events span several lines (auditd: records joined by serial) are
  grouped when the file's first non-blank line is one of that source's
  (``sigma_ext.sources.catalogue.grouper_for``): each event is one ``Line`` at its first line's
  number, its records joined (``sigma_ext.sources.auditd`` states the memory bound).
* A regular file that changes while it is read (size, modification time, inode) is reported.
"""

from __future__ import annotations

import codecs
import io
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from isal import isal_zlib

from sigma_ext.hunt.batches import CHUNK, Broken, Record, read_documents
from sigma_ext.hunt.progress import Progress
from sigma_ext.hunt.summary import FileSummary
from sigma_ext.sources.catalogue import Grouper, grouper_for

GZIP_MAGIC = b"\x1f\x8b"
GZIP_ERROR = cast("type[Exception]", isal_zlib.error)
"""What ISA-L raises on gzip data it cannot unpack (its stub types it as an instance)."""


def gzip_member() -> isal_zlib.Decompress:
    """A reader of one gzip member (ISA-L's, shaped as ``zlib.decompressobj``'s)."""
    return isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)


BOM = b"\xef\xbb\xbf"
STDIN = "-"


@dataclass
class Input:
    """One log file as given on the command line."""

    name: str
    """As given (what hits and messages name)."""
    path: Path
    """The file read: the file itself, or a temporary copy of standard input or a FIFO."""
    signature: tuple[int, ...] | None = None
    """The file's identity, size and modification time when the hunt began (regular files)."""
    gzip: bool = False
    batch: bool = False
    grouper: Grouper | None = None
    """How its lines are grouped into events, for a text source whose events span lines."""
    problems: list[str] = field(default_factory=list)
    """What went wrong while reading the content (truncated gzip, junk after it)."""
    summary: FileSummary = field(init=False)

    def __post_init__(self) -> None:
        self.summary = FileSummary(self.name)

    def changed(self) -> bool:
        return self.signature is not None and _signature(self.path) != self.signature


def _signature(path: Path) -> tuple[int, ...] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def open_inputs(names: list[str], folder: Path) -> tuple[list[Input], list[str]]:
    """Every input checked (and standard input or FIFOs copied into ``folder``) before any is
    read: the inputs, and one error message per input that cannot be read."""
    inputs: list[Input] = []
    errors: list[str] = []
    for index, name in enumerate(names):
        try:
            found = _open_one(name, folder / f"input-{index}")
        except OSError as error:
            reason = error.strerror or str(error)
            errors.append(f"cannot read {name}: {reason.lower()}")
            continue
        if isinstance(found, str):
            errors.append(f"cannot read {name}: {found}")
        else:
            inputs.append(found)
    return inputs, errors


def _open_one(name: str, copy: Path) -> Input | str:
    if name == STDIN:
        with copy.open("wb") as target:
            shutil.copyfileobj(sys.stdin.buffer, target, CHUNK)
        return _described(Input(name, copy))
    path = Path(name)
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        return "is a directory (name the log files in it)"
    if stat.S_ISFIFO(mode):
        with path.open("rb") as fifo, copy.open("wb") as target:
            shutil.copyfileobj(fifo, target, CHUNK)
        return _described(Input(name, copy))
    if not stat.S_ISREG(mode):
        return "not a regular file"
    with path.open("rb"):  # readable
        pass
    return _described(Input(str(path), path, _signature(path)))


def _described(found: Input) -> Input:
    with found.path.open("rb") as raw:  # (opened once for both: 10,000 small files' opens)
        found.gzip = raw.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)] == GZIP_MAGIC
        with open_content(found, [], raw) as handle:
            found.batch = _first_value_is_batch(handle)
    if not found.batch:
        with open_content(found, []) as handle:
            found.grouper = grouper_for(_first_line(handle))
    return found


FIRST_LINE = 1 << 16
"""Bytes of the first non-blank line read to choose how a text file is grouped."""


def _first_line(handle: IO[bytes]) -> str:
    for raw in iter(lambda: handle.readline(FIRST_LINE), b""):
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if text.strip():
            return text
    return ""


def _first_value_is_batch(handle: IO[bytes]) -> bool:
    head = handle.read(1)
    while head in (b" ", b"\t", b"\r", b"\n"):
        head = handle.read(1)
    if head not in (b"{", b"["):
        return False
    return starts_batch_stream(head, handle)


def starts_batch_stream(head: bytes, handle: IO[bytes]) -> bool:
    if head == b"[":
        # a JSON array of records; a JSON Lines file never starts with one
        return True
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    first = decoder.decode(head)

    def chunks() -> Iterator[str]:
        yield first
        while block := handle.read(PROBE):
            yield decoder.decode(block)

    return any(
        isinstance(item, Record) and item.record is not None
        for item in read_documents(chunks(), probe=True)
    )


PROBE = 1 << 14
"""Bytes read at a time to tell whether a file is a batch document: its first record is usually
far shorter than a chunk (and a small gzip file is then not unpacked whole twice)."""


def open_content(
    found: Input, problems: list[str], raw: io.BufferedReader | None = None
) -> io.BufferedReader[Any]:
    """The input's bytes, gunzipped when gzip, without a leading byte order mark; problems met
    while reading (truncation, junk after the gzip data) are appended to ``problems``. ``raw``
    is the file opened for reading bytes, when the caller wants to see how far it is read."""
    raw = raw or found.path.open("rb")
    handle = io.BufferedReader(_Chunks(_gunzip(raw, problems), raw), CHUNK) if found.gzip else raw
    if handle.peek(len(BOM))[: len(BOM)] == BOM:
        handle.read(len(BOM))
    return handle


class _Chunks(io.RawIOBase):
    """A readable stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes], underlying: IO[bytes]) -> None:
        self.chunks = chunks
        self.pending = b""
        self.underlying = underlying

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                return 0
            self.pending = chunk
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size

    def close(self) -> None:
        self.underlying.close()
        super().close()


def _read(raw: IO[bytes]) -> bytes:
    """The next ``CHUNK`` bytes of ``raw``; what is left of a smaller file is asked for as it
    is (a read of ``CHUNK`` allocates it whole: 25 µs a time, for each of 10,000 small files)."""
    try:
        left = os.fstat(raw.fileno()).st_size - raw.tell()
    except (OSError, ValueError, io.UnsupportedOperation):
        return raw.read(CHUNK)
    # (at the end, a byte: a file that grew since is read on)
    return raw.read(min(max(left, 1), CHUNK))


def _gunzip(raw: IO[bytes], problems: list[str]) -> Iterator[bytes]:
    """The data of every gzip member, one after another."""
    data = _read(raw)
    while True:
        member = gzip_member()
        ended = False  # the file's bytes all given, and ISA-L asked for what it still holds
        while not member.eof:
            try:
                out = member.decompress(data, PROBE)
            except GZIP_ERROR as error:
                problems.append(f"corrupt gzip data ({error}); the rest of the file is not read")
                return
            if out:
                yield out
            data = member.unconsumed_tail
            if not data and not member.eof:
                if ended and not out:
                    problems.append(
                        "truncated gzip: the file ends inside the compressed data; "
                        "what came before was read"
                    )
                    return
                data = _read(raw)
                # at the file's end, ISA-L still holds data it unpacked, waiting for more input
                # (zlib hands it all on): asked with no input, it gives it a piece at a time
                ended = not data
        rest = member.unused_data
        while len(rest) < len(GZIP_MAGIC):
            more = _read(raw)
            if not more:
                break
            rest += more
        if not rest:
            return
        if rest.startswith(GZIP_MAGIC):
            data = rest
            continue
        junk = len(rest) + sum(len(block) for block in iter(lambda: raw.read(CHUNK), b""))
        if rest.strip(b"\0"):
            problems.append(f"{junk} byte(s) after the end of the gzip data ignored")
        return


@dataclass(frozen=True)
class Line:
    """One line of a file read as lines (its bytes, with the line end)."""

    number: int
    raw: bytes


@dataclass(frozen=True)
class Trouble:
    """Something wrong with the input at a line (malformed document, truncated gzip)."""

    line: int
    reason: str
    record: int | None = None


def read_units(found: Input, progress: Progress | None = None) -> Iterator[Line | Record | Trouble]:
    """Every line (line-shaped input) or record (batch document) of an input, in order, then
    what went wrong reading it; ``progress`` is told how far through the file's bytes (the
    compressed ones, for gzip) reading is, every few thousand units."""
    problems = found.problems
    problems.clear()
    last = 0
    raw = found.path.open("rb")
    size = max(found.path.stat().st_size, 1)
    counted = 0

    def advanced() -> None:
        nonlocal counted
        counted += 1
        if progress is not None and counted % PROGRESS_UNITS == 0:
            progress("judge", min(100 * raw.tell() / size, 99.9))

    with open_content(found, problems, raw) as handle:
        if found.batch:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

            def chunks() -> Iterator[str]:
                while block := handle.read(CHUNK):
                    yield decoder.decode(block)
                yield decoder.decode(b"", final=True)

            for item in read_documents(chunks()):
                if isinstance(item, Broken):
                    last = item.line
                    yield Trouble(item.line, item.reason)
                else:
                    last = item.line
                    advanced()
                    yield item
        elif found.grouper is not None:
            lines = (
                (n, raw.decode("utf-8", "replace").rstrip("\r\n"))
                for n, raw in enumerate(handle, 1)
            )
            for number, event in found.grouper(lines):
                last = max(last, number)
                advanced()
                yield Line(number, event.encode("utf-8") + b"\n")
        else:
            for number, text in enumerate(handle, start=1):
                last = number
                advanced()
                yield Line(number, text)
    for problem in problems:
        yield Trouble(max(last, 1), problem)
    if progress is not None:
        progress("judge", 100.0)


PROGRESS_UNITS = 4096
"""Lines or records read between two reports of progress."""
