"""Container log files: the lines a container wrote, wrapped as the runtime stores them.

A source's events often reach an incident responder as the log file of the container that wrote
them: a kube-apiserver run as a static pod with ``--audit-log-path=-``, Falco or Tetragon's
exporter writing JSON to standard output, collected from ``/var/log/pods/`` or
``/var/log/containers/`` on the node. Two wrappings, the two kubelet itself reads
(``pkg/kubelet/kuberuntime/logs``):

* **CRI** (containerd, CRI-O): ``<RFC 3339 time> <stdout|stderr> <tags> <content>``; the first
  tag (tags are separated by ``:``) is ``P`` for a partial line, whose content goes on in the
  stream's next line, or ``F`` for the last part. The runtime splits a line longer than its
  buffer (16 KiB by default) into partial lines;
* **Docker's json-file driver**: ``{"log": "<content>\\n", "stream": "stdout", "time": "..."}``
  (and ``attrs`` when labels are logged); a line over 16 KiB is split into entries whose
  ``log`` does not end in a line feed.

``unwrap_container_lines`` joins each stream's parts into the line the container wrote, and
hands it on at its first part's line number, to be read as any line is (JSON, or a text log).
A file is read this way when its first non-blank line has one of these shapes
(``sigma_ext.sources.catalogue.grouper_for``), by both hunt engines and ``coverage``. A line of
the file that has neither shape is handed on as it is (reported as malformed or not
recognised, as in any file); so is a content that would span lines (a line feed inside a
json-file entry, which Docker never writes), since one event must stay one line.

Memory: the parts held are at most ``MAX_HELD`` bytes per stream; past that, the parts held
are handed on as one line (a truncated event, reported as malformed) and the rest as another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

CRI_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) "
    r"(?P<stream>stdout|stderr) (?P<tags>[^ ]*) (?P<content>.*)",
    re.DOTALL,
)
"""A CRI log line; kubelet's ``parseCRILog`` reads the same fields."""
PARTIAL = "P"
STREAMS = ("stdout", "stderr")
JSON_FILE_KEYS = frozenset({"log", "stream", "time", "attrs"})
"""The keys of a json-file entry (Docker's ``jsonlog.JSONLog``)."""
MAX_HELD = 64 << 20
"""Bytes of partial lines held per stream (an audit event of a large object runs to a few MB)."""


def cri_parts(text: str) -> tuple[str, bool, str] | None:
    """(stream, whether partial, content) of a CRI log line, or None."""
    found = CRI_LINE.fullmatch(text)
    if found is None:
        return None
    partial = found.group("tags").split(":", 1)[0] == PARTIAL
    return found.group("stream"), partial, found.group("content")


def json_file_parts(text: str) -> tuple[str, bool, str] | None:
    """(stream, whether partial, content) of a Docker json-file entry, or None."""
    if not text.startswith('{"log":'):
        return None
    try:
        entry = json.loads(text)
    except (ValueError, RecursionError):  # a value nested past Python's limit is no entry
        return None
    if not isinstance(entry, dict) or not set(entry) <= JSON_FILE_KEYS:
        return None
    log, stream = entry.get("log"), entry.get("stream")
    if not isinstance(log, str) or stream not in STREAMS:
        return None
    partial = not log.endswith("\n")
    content = log if partial else log[:-1]
    if "\n" in content:
        return None
    return str(stream), partial, content


def wrapping_of(first_line: str) -> str | None:
    """``"cri"`` or ``"json-file"`` when a file's first non-blank line is so wrapped, else None."""
    if cri_parts(first_line) is not None:
        return "cri"
    if json_file_parts(first_line) is not None:
        return "json-file"
    return None


@dataclass
class _Held:
    first: int
    parts: list[str] = field(default_factory=list)
    size: int = 0


def unwrap_container_lines(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """(first line number, line the container wrote) for each line of a container log file;
    ``lines`` are (number, text without its line end). A line of neither shape comes as it
    is."""
    held: dict[str, _Held] = {}
    for number, text in lines:
        parts = cri_parts(text) if text[:1].isdigit() else json_file_parts(text)
        if parts is None:
            yield number, text
            continue
        stream, partial, content = parts
        waiting = held.get(stream)
        if waiting is None:
            if not partial:
                yield number, content
                continue
            waiting = held[stream] = _Held(number)
        waiting.parts.append(content)
        waiting.size += len(content)
        if not partial or waiting.size > MAX_HELD:
            del held[stream]
            yield waiting.first, "".join(waiting.parts)
    for waiting in sorted(held.values(), key=lambda w: w.first):
        yield waiting.first, "".join(waiting.parts)
