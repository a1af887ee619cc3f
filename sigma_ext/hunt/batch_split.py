"""Batch documents split into their records in C, where their shape is the plain one.

The Python reader (``sigma_ext.hunt.batches``) parses every record of a batch document as it
goes (about 15 µs for a CloudTrail record), and the spool (``sigma_ext.hunt.spool``) recognises
each to count it (about 11 µs): for an S3 export of 10,000 gzip files of CloudTrail documents,
most of a hunt's time. Here an input is read whole, unpacked when gzip (at most ``UNPACKED``
bytes, every gzip member intact and nothing after them), and when its text is UTF-8 and of the
plain shape (``_batch_split.c``: JSON objects, each holding batches of objects under the keys of
``BATCH_KEYS``), C splits it into the very record texts the Python reader would hand on, and the
line each starts on; the hunt's scan then counts them. Anything else (a truncated gzip, a
``CloudTrailEvent`` string, a record that is not an object, a trailing comma, a top-level
array) is left to the Python reader, which reports what it finds wrong.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sigma_ext.hunt.batches import BATCH_KEYS, EMBEDDED_RECORD_KEY
from sigma_ext.hunt.inputs import BOM, GZIP_ERROR, GZIP_MAGIC, Input, gzip_member, open_content

PIECE = 8 << 20
"""Bytes read at a time, unpacked, from an input too large to be held whole (``split_pieces``)."""

UNPACKED = 64 << 20
"""The largest input (unpacked) split in C: it is held whole, with its records' text."""

_KEYS = tuple(key.encode() for key in BATCH_KEYS if key not in EMBEDDED_RECORD_KEY)
_REFUSED = tuple(key.encode() for key in EMBEDDED_RECORD_KEY)


@dataclass(frozen=True)
class Split:
    """An input's records: their text, each ended by ``\\n``, the line each starts on, and
    where each ends in ``records`` (past its ``\\n``)."""

    records: bytes
    lines: array[int]
    ends: array[int]
    before: int = 0
    """The input's records before these (``split_pieces``)."""


def _load() -> Callable[..., Any] | None:
    try:
        from sigma_ext.hunt import _batch_split  # type: ignore[attr-defined]
    except ImportError:  # built without a C compiler: the Python reader reads everything
        return None
    split: Callable[..., Any] = _batch_split.split
    return split


def native_available() -> bool:
    return _load() is not None


class TooLarge(Exception):
    """The input is larger than it may be, unpacked."""


def _splitter(found: Input) -> Callable[..., Any] | None:
    """The extension's ``split``, for a batch document input (none for others)."""
    split = _load()
    return split if found.batch and found.grouper is None else None


def _utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 (the Python reader replaces what is not: C copies bytes)."""
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def split_input(found: Input, longest: int, unpacked: int | None = None) -> Split | None:
    """The records of a batch document input, split in C; None when the Python reader must
    read it (not a plain batch document, not UTF-8, a record longer than ``longest`` bytes, a
    gzip problem to report, or no extension). Raises ``TooLarge`` past ``unpacked`` bytes
    (``UNPACKED`` by default)."""
    split = _splitter(found)
    if split is None:
        return None
    data = _content(found, UNPACKED if unpacked is None else unpacked)
    if data is None or not _utf8(data):
        return None
    made = split(data, _KEYS, _REFUSED, longest)
    if made is None:
        return None
    return _made(made, 0)


def _made(made: tuple[bytes, bytes, bytes, int, int], before: int) -> Split:
    records, starts, stops, _, _ = made
    lines, ends = array("I"), array("I")
    lines.frombytes(starts)
    ends.frombytes(stops)
    return Split(records, lines, ends, before)


_LAST_LINE = 1 << 31
"""Past this line C's line count (32 bits) could wrap within a piece: the Python reader counts."""


class Refused(Exception):
    """The input is to be read by the Python reader, from its start."""


def split_pieces(found: Input, longest: int) -> Iterator[Split]:
    """The records of a batch document input too large to be held whole, split in C a piece at a
    time (``PIECE`` bytes read, unpacked, after what the last piece left: the document it cut).
    Raises ``Refused`` (after some pieces, perhaps: the caller undoes what it made of them) when
    the Python reader must read it: as ``split_input``, or a document longer than
    ``UNPACKED``."""
    split = _splitter(found)
    if split is None:
        raise Refused
    problems: list[str] = []
    left, line, before = b"", 1, 0
    with open_content(found, problems) as handle:
        while True:
            read = handle.read(PIECE)
            data = left + read
            made = split(data, _KEYS, _REFUSED, longest, True, line)
            if made is None:
                raise Refused
            consumed = made[3]
            if not _utf8(data[:consumed]):  # (what was split ends at a document, no character cut)
                raise Refused
            yielded = _made(made, before)
            if yielded.lines:
                yield yielded
            before += len(yielded.lines)
            line = made[4]
            left = data[consumed:]
            if not read:
                break
            if len(left) > UNPACKED or line > _LAST_LINE:
                raise Refused
    if left or problems:
        raise Refused  # a document cut by the end, refused, or gzip data not whole


def _content(found: Input, unpacked: int) -> bytes | None:
    """The input's text, unpacked, without a byte order mark; None when its gzip data is not
    whole (corrupt, truncated, or followed by anything)."""
    if found.path.stat().st_size > unpacked:
        raise TooLarge
    raw = found.path.read_bytes()
    if found.gzip:
        whole = _gunzipped(raw, unpacked)
        if whole is None:
            return None
        raw = whole
    return raw[len(BOM) :] if raw.startswith(BOM) else raw


def _gunzipped(raw: bytes, unpacked: int) -> bytes | None:
    """Every gzip member of ``raw`` unpacked whole, one call each; None for anything
    ``inputs._gunzip`` would report (or pass over, as zero padding after the last member): the
    Python reader then reads the input, with that streaming reader, and says what it found."""
    pieces: list[bytes] = []
    total = 0
    while raw:
        member = gzip_member()
        try:
            piece = member.decompress(raw, unpacked + 1 - total)
        except GZIP_ERROR:
            return None
        total += len(piece)
        if total > unpacked:
            raise TooLarge
        if not member.eof:
            return None
        pieces.append(piece)
        raw = member.unused_data
        if raw and not raw.startswith(GZIP_MAGIC):
            return None
    return b"".join(pieces)
