"""Hunting: every rule over JSON Lines log files (plain or gzip), one JSON hit per line out.

A malformed line is reported with ``file:line`` and skipped; every other line is still
evaluated. Each event's source is recognised unless one is forced.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sigma_ext.engine import ReferenceEngine
from sigma_ext.sources import Source, parse_text_line


@dataclass(frozen=True)
class Hit:
    rule_id: str
    title: str
    level: str
    theme: str
    rule: str
    file: str
    line: int

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


@dataclass(frozen=True)
class BadLine:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: skipped: {self.reason}"


def open_log(path: Path) -> IO[str]:
    """Open a plain or gzip-compressed text file (by its magic bytes, not its name)."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def read_events(path: Path) -> Iterator[tuple[int, Any | BadLine]]:
    """(line number, event or BadLine) for every non-blank line."""
    with open_log(path) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                event = json.loads(text)
            except json.JSONDecodeError as error:
                parsed = parse_text_line(text.rstrip("\r\n"))
                if parsed is None:
                    yield (
                        number,
                        BadLine(
                            str(path), number, f"not JSON ({error.msg}) nor a known text log line"
                        ),
                    )
                else:
                    yield number, parsed
                continue
            if not isinstance(event, dict):
                yield number, BadLine(str(path), number, "not a JSON object")
                continue
            yield number, event


def hunt_file(
    engine: ReferenceEngine, path: Path, source: Source | None = None
) -> Iterator[Hit | BadLine]:
    for number, item in read_events(path):
        if isinstance(item, BadLine):
            yield item
            continue
        for rule_file in engine.match(item, source):
            yield Hit(
                rule_id=rule_file.id,
                title=rule_file.title,
                level=rule_file.level,
                theme=rule_file.theme,
                rule=rule_file.stem,
                file=str(path),
                line=number,
            )
