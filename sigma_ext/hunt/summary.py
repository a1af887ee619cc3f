"""What ``hunt`` read from each file, told on stderr at the end: nothing is dropped in silence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

FIRST_PLACES = 5
"""How many places of unrecognised records a summary names."""


class _Named(Protocol):
    @property
    def name(self) -> str: ...


@dataclass
class FileSummary:
    """Records read from one file: per source, not recognised (and where), malformed."""

    name: str
    sources: Counter[str] = field(default_factory=Counter)
    unrecognised: int = 0
    unrecognised_at: list[str] = field(default_factory=list)
    malformed: int = 0
    changed: bool = False

    def count(self, source: _Named | None, line: int, record: int | None = None) -> None:
        if source is not None:
            self.sources[source.name] += 1
            return
        self.unrecognised += 1
        if len(self.unrecognised_at) < FIRST_PLACES:
            self.unrecognised_at.append(place(line, record))

    @property
    def read(self) -> int:
        return sum(self.sources.values()) + self.unrecognised + self.malformed

    def __str__(self) -> str:
        text = f"{self.name}: {self.read} record(s) read{_per_source(self.sources)}"
        text += f"; {self.unrecognised} not recognised"
        if self.unrecognised_at:
            more = ", ..." if self.unrecognised > len(self.unrecognised_at) else ""
            text += f" (at {', '.join(self.unrecognised_at)}{more})"
        text += f"; {self.malformed} malformed"
        if self.changed:
            text += "; CHANGED while it was read: the hits may mix two versions, hunt a copy"
        return text

    @property
    def failed_strict(self) -> bool:
        return bool(self.unrecognised or self.malformed)


def _per_source(sources: Counter[str]) -> str:
    """`` (source n, ...)`` by source name, or nothing when no record was recognised."""
    listed = ", ".join(f"{name} {n}" for name, n in sorted(sources.items()))
    return f" ({listed})" if listed else ""


def place(line: int, record: int | None) -> str:
    return f"line {line}" if record is None else f"line {line} record {record}"


def total_line(summaries: Sequence[FileSummary]) -> str:
    """The line after the files' own when there are several: what all of them held, and how
    many files hold a record not recognised or malformed (their own lines say where)."""
    sources: Counter[str] = Counter()
    for summary in summaries:
        sources.update(summary.sources)
    read = sum(summary.read for summary in summaries)
    text = f"all {len(summaries)} files: {read} record(s) read{_per_source(sources)}"
    for what, count in (
        ("not recognised", [s.unrecognised for s in summaries]),
        ("malformed", [s.malformed for s in summaries]),
    ):
        files = sum(1 for n in count if n)
        text += f"; {sum(count)} {what}" + (f" (in {files} of them)" if files else "")
    changed = sum(1 for summary in summaries if summary.changed)
    if changed:
        text += f"; {changed} CHANGED while read"
    return text
