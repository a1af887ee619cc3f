"""Batch documents read as a stream of records, in memory bounded by the largest record.

A log file exported the usual ways is often not JSON Lines but one JSON document (or several,
one after another) holding a batch of records:

==========================================  ============  ==========================================
shape                                       batch key     one record
==========================================  ============  ==========================================
CloudTrail log file (S3)                    ``Records``   each element
Azure resource / Activity Log (Event Hubs)  ``records``   each element
Kubernetes audit webhook ``EventList``      ``items``     each element
CloudWatch Logs subscription payload        ``logEvents`` each element (``id``, ``timestamp``,
                                                          ``message``)
``aws cloudtrail lookup-events`` output     ``Events``    the JSON text of each element's
                                                          ``CloudTrailEvent`` string
a plain JSON array                          (the array)   each element
==========================================  ============  ==========================================

A top-level object with none of those keys holding an array is one record. The documents may
follow one another with or without whitespace between them (Firehose concatenates them).

Each record is handed on as its JSON text, with its line (where it starts) and its position in
its batch (1-based), so that both hunt engines judge exactly the same text: the reference reads it
as a log line, the fast engine scans it as one line of a temporary JSON Lines file. Line breaks
outside strings are JSON whitespace and become spaces (a line break inside a string is invalid
JSON either way).

Memory: the text being read is held from the start of the current record (or up to one chunk
before it: what was read is dropped a chunk at a time), plus one chunk read ahead; a record that
needs more is read in chunks that double. The bound is about three times the largest record (its
text, and its parsed form while it is judged) plus twice the chunk size, whatever the size of the
file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sigma_ext.sources.json_text import FIRST_KEY_WINS, JSON_STRING, parse_json_line

BATCH_KEYS: tuple[str, ...] = ("Records", "records", "items", "logEvents", "Events")
"""Keys whose array, at the top level of a document, is a batch of records."""

EMBEDDED_RECORD_KEY = {"Events": "CloudTrailEvent"}
"""Batches whose elements carry the record as a JSON string under this key."""

CHUNK = 1 << 20
"""Characters read at a time."""

PROBE = 1 << 14
"""Characters read at a time to find a text's first record (``probe``)."""


NOT_PARSED: Any = object()


@dataclass(frozen=True)
class Record:
    """One record of a batch document: its text, the line it starts on, its place."""

    text: str
    line: int
    record: int | None
    """1-based position among the file's batch records (in its batch, for a file with one batch
    document); None for a document that is itself one record."""
    value: Any = NOT_PARSED
    """The text parsed as ``parse_json_line`` would, when it was parsed on the way."""


@dataclass(frozen=True)
class Broken:
    """Text that is no record: where, and why."""

    line: int
    reason: str


_WHITESPACE = re.compile(r"[ \t\r\n\v\f]*")
_STRING = re.compile(JSON_STRING, re.DOTALL)
_SCALAR = re.compile(r"[^,\]}\s]*")
_BRACKETS = re.compile(r'["\[\]{}]')


class _Text:
    """A text read in chunks: ``buf`` holds what is kept, from ``pos`` on what is unread."""

    def __init__(self, chunks: Iterator[str], want: int = CHUNK) -> None:
        self.chunks = chunks
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.base_line = 1  # the line buf[0] is on
        self.size = want
        self.mark = 0  # a position whose line is known: mark_line
        self.mark_line = 1
        self.want = self.size

    def more(self) -> bool:
        """Read at least ``want`` more characters; False at the end of the text."""
        if self.eof:
            return False
        got: list[str] = []
        size = 0
        for chunk in self.chunks:
            got.append(chunk)
            size += len(chunk)
            if size >= self.want:
                break
        else:
            self.eof = True
        if got:
            self.buf += "".join(got)
        return bool(got) or not self.eof

    def grow(self) -> bool:
        """Read more, twice as much as last time (a record longer than a chunk)."""
        self.want = max(self.want, len(self.buf) - self.pos)
        grown = self.more()
        self.want = self.size
        return grown

    def drop(self) -> None:
        """Forget what has been read, once it is a chunk or more (not at every record: each
        drop copies what is kept)."""
        if self.pos < CHUNK:
            return
        self.base_line = self.line(self.pos)
        self.buf = self.buf[self.pos :]
        self.pos = 0
        self.mark = 0

    def line(self, pos: int) -> int:
        """The line ``buf[pos]`` is on, counted on from the last position asked for."""
        if pos < self.mark:
            return self.base_line + self.buf.count("\n", 0, pos)
        self.mark_line += self.buf.count("\n", self.mark, pos)
        self.mark = pos
        return self.mark_line

    def peek(self) -> str | None:
        """The next character that is not whitespace (``pos`` moves to it), None at the end."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return None

    def expect(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def value_end(self) -> int | None:
        """Where the JSON value at ``pos`` ends, reading more as needed; None when the text ends
        first. Values are delimited by brackets and strings, not parsed."""
        while True:
            end = _value_end(self.buf, self.pos)
            if end is not None and (end < len(self.buf) or self.eof):
                return end
            if not self.grow():
                return end

    def value(self) -> tuple[Any, int] | None:
        """The JSON value at ``pos`` parsed (strict JSON) and where it ends; None when it is not
        strict JSON (``value_end`` then tells where it ends)."""
        while True:
            try:
                value, end = FIRST_KEY_WINS.raw_decode(self.buf, self.pos)
            except (json.JSONDecodeError, RecursionError, ValueError):
                if _value_end(self.buf, self.pos) is None and self.grow():
                    continue
                return None
            if end < len(self.buf) or self.eof:
                return value, end
            if not self.grow():  # a number may go on in the next chunk
                return value, end


def _value_end(text: str, pos: int) -> int | None:
    """The end of the JSON value starting at ``pos`` found from its brackets and strings, or
    None when ``text`` ends before it does."""
    first = text[pos] if pos < len(text) else ""
    if first == '"':
        found = _STRING.match(text, pos)
        return found.end() if found else None
    if first not in "[{":
        end = _SCALAR.match(text, pos).end()  # type: ignore[union-attr]
        return end if end < len(text) else None
    depth = 0
    at = pos
    while True:
        found = _BRACKETS.search(text, at)
        if found is None:
            return None
        char = found.group(0)
        if char == '"':
            string = _STRING.match(text, found.start())
            if string is None:
                return None
            at = string.end()
            continue
        depth += 1 if char in "[{" else -1
        at = found.end()
        if depth == 0:
            return at


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def starts_batch(head: str) -> bool:
    """Whether a text starting with ``head`` (its first value, or at least its start) is a
    batch document; ``head`` starts at the first character that is not whitespace."""
    items = read_documents(iter([head]), probe=True)
    return any(isinstance(item, Record) and item.record is not None for item in items)


def read_documents(chunks: Iterator[str], probe: bool = False) -> Iterator[Record | Broken]:
    """Every record of a text made of JSON documents. With ``probe``, only the first document's
    first batch record (if any) is looked for."""
    text = _Text(chunks, PROBE if probe else CHUNK)
    text.more()
    counter = [0]
    while (char := text.peek()) is not None:
        start = text.pos
        line = text.line(start)
        if char == "[":
            text.pos += 1
            yield from _elements(text, None, counter)
        elif char == "{":
            yield from _object(text, probe, counter)
        else:
            end = text.value_end()
            # a stray ',' ']' or '}' is no value (its end is where it starts): skipped
            text.pos = len(text.buf) if end is None else max(end, start + 1)
            yield Broken(line, "not a JSON object or array")
        if probe:
            return
        text.drop()


def _object(text: _Text, probe: bool, counter: list[int]) -> Iterator[Record | Broken]:
    """A top-level object: a batch when one of its keys holds a batch's array, else a record."""
    start = text.pos
    line = text.line(start)
    text.pos += 1
    batch = False
    first = True
    while True:
        char = text.peek()
        if char == "}" or char is None:
            break
        if not first and not text.expect(","):
            break
        if text.peek() == "}":  # a trailing comma
            break
        first = False
        parsed = text.value() if text.peek() == '"' else None
        if parsed is None or not isinstance(parsed[0], str):
            break
        key, text.pos = parsed
        if not text.expect(":") or text.peek() is None:  # peek: the value, past whitespace
            break
        if key in BATCH_KEYS and text.peek() == "[":
            batch = True
            text.pos += 1
            yield from _elements(text, key, counter)
            if probe:
                return
            continue
        end = text.value_end()
        if end is None:
            break
        text.pos = end
    if text.expect("}"):
        if not batch:
            yield Record(_one_line(text.buf[start : text.pos]), line, None)
        return
    # not an object to the end: the rest of its line is skipped
    end = text.value_end() if not batch else None
    if end is not None and not batch:
        text.pos = end
        yield Record(_one_line(text.buf[start:end]), line, None)
        return
    yield Broken(text.line(text.pos), "malformed JSON document")
    newline = text.buf.find("\n", text.pos)
    text.pos = len(text.buf) if newline < 0 else newline + 1


def _elements(text: _Text, key: str | None, counter: list[int]) -> Iterator[Record | Broken]:
    """The elements of the array whose ``[`` has just been read, one record each; ``counter``
    holds the number of records before them in the file."""
    embedded = EMBEDDED_RECORD_KEY.get(key or "")
    first = True
    while True:
        char = text.peek()
        if char is None:
            yield Broken(text.line(text.pos), "the document ends inside a batch")
            return
        if char == "]":
            text.pos += 1
            return
        if not first and not text.expect(","):
            yield Broken(text.line(text.pos), "malformed batch: a ',' or ']' expected")
            newline = text.buf.find("\n", text.pos)
            text.pos = len(text.buf) if newline < 0 else newline + 1
            return
        if text.peek() == "]":  # a trailing comma
            continue
        text.drop()
        start = text.pos
        line = text.line(start)
        first = False
        counter[0] += 1
        number = counter[0]
        parsed = text.value()
        if parsed is not None:
            value, end = parsed
        else:
            found = text.value_end()
            if found is None:
                yield Broken(line, f"record {number}: the document ends inside it")
                text.pos = len(text.buf)
                return
            value, end = NOT_PARSED, found
        text.pos = end
        if embedded is not None and isinstance(value, dict):
            inner = value.get(embedded)
            if isinstance(inner, str):
                yield Record(_one_line(inner), line, number)
                continue
        yield Record(_one_line(text.buf[start:end]), line, number, value)


def record_value(record: Record) -> tuple[Any, str | None]:
    """A record's text read as a log line is (DuckDB's JSON dialect, the first key counts)."""
    if record.value is not NOT_PARSED:
        return record.value, None
    return parse_json_line(record.text)
