"""What a fast hunt found each line of a file to be, for a caller that counts lines itself.

The spool (``sigma_ext.hunt.spool``) writes the records of batch documents split in C without
recognising them; to count each input's records per source it asks the hunt of the spool what
each line was. Every line gets one byte, ``told[line - 1]``:

======================  ==========================================================================
byte                    the line
======================  ==========================================================================
``UNTOLD`` (0)          nothing was said of it (a blank line DuckDB skipped)
1 to 127                set aside by the prefilter as an event of ``sources[byte - 1]``
``SCANNED`` + i         judged by the typed scan as an event of ``SOURCES[i]``
``NO_SOURCE``           judged by the typed scan as no source's event
``REFERENCE``           left to the reference engine by the scan
``PASSED``              passed on by the prefilter, and not told by the scan since
======================  ==========================================================================

The counter reads the last four itself (``recounted``), as the reference engine reads them.
Memory: one byte per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sigma_ext.sources.catalogue import SOURCES

UNTOLD = 0
SCANNED = 128
NO_SOURCE = 253
REFERENCE = 254
PASSED = 255

_FROM_NATIVE = bytes(
    index + 1 if index < SCANNED - 1 else PASSED if index == PASSED else UNTOLD
    for index in range(256)
)
"""The prefilter's kinds (the index of a count, or 255 for a line passed on) as told here."""


@dataclass
class LineKinds:
    """Each line's kind, and the sources the prefilter's kinds name (when it ran)."""

    told: bytearray = field(default_factory=bytearray)
    sources: tuple[str, ...] = ()

    def set_aside(self, kinds: bytes, sources: tuple[str, ...]) -> None:
        """The prefilter's kinds of the next lines (``_prefilter.c``: ``scan``), in order."""
        self.sources = sources
        self.told += kinds.translate(_FROM_NATIVE)

    def scanned(self, line: int, told: int) -> None:
        """What the typed scan found line ``line`` (1-based) to be."""
        if len(self.told) < line:
            self.told += bytes(line - len(self.told))
        self.told[line - 1] = told

    def counts(self, first: int, count: int) -> tuple[dict[str, int], list[int]]:
        """Of lines ``first`` to ``first + count - 1``: how many are each source's, by name,
        and, in order, the positions (0-based, from ``first``) of those to count by reading
        them (``UNTOLD``, ``NO_SOURCE``, ``REFERENCE``, ``PASSED``)."""
        told = bytes(self.told[first - 1 : first - 1 + count])
        told += bytes(count - len(told))  # (lines never told)
        found: dict[str, int] = {}
        recounted: list[int] = []
        for byte in set(told):
            if 0 < byte <= len(self.sources):
                name = self.sources[byte - 1]
            elif SCANNED <= byte < NO_SOURCE:
                name = SOURCES[byte - SCANNED].name
            else:
                recounted.extend(at for at, seen in enumerate(told) if seen == byte)
                continue
            found[name] = found.get(name, 0) + told.count(byte)
        return found, sorted(recounted)
