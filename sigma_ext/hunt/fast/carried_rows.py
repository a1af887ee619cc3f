"""The rows a correlation base rule hit in a scan, read again for what the correlation keeps.

The SQL names the rules that fire on a row; a correlation base rule's match also carries the
event's time and group-by values (``sigma_ext.reference.correlation_engine.BaseMatch``), which
the SQL does not compute. Only the rows whose code names a base rule (a few in a thousand audit
events) are read again and parsed: by their byte offset when the scan's row lengths make up the
file (a plain file with no line DuckDB skips: ``running.all_lines_read``), the offsets summed
over the codes once, on the first such row (``running.Codes.offsets``); otherwise forward,
with the reader of the lines left to the reference engine (``running.LineReader``). The hits
are the code's, in its order: a base rule's with the values, the others as the SQL found them.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast.running import Codes, LineReader
from sigma_ext.hunt.reference import Hit, is_gzip, read_line
from sigma_ext.reference.correlation_engine import BaseRuleFile, carried
from sigma_ext.sources.catalogue import Source, recognize


class CarriedRows:
    """The hits of the rows of one scanned file (``path``) whose code names a correlation base
    rule, named at their place in ``named`` (the same file, or the file whose lines it holds)."""

    def __init__(
        self,
        codes: Codes,
        path: Path,
        named: Path,
        rule_files: list[RuleFile],
        source: Source | None,
        lines: LineReader,
    ) -> None:
        self.codes, self.path, self.named = codes, path, named
        self.rule_files, self.source, self.lines = rule_files, source, lines
        self.by_offset = False
        """Whether the scan's row lengths make up ``path`` (``running.all_lines_read``, with
        every row's length known): then a row is read at its byte offset, unless gzip."""
        self.base = sorted(
            str(i) for i, rule_file in enumerate(rule_files) if isinstance(rule_file, BaseRuleFile)
        )
        self.names: dict[str, bool] = {}
        self.offsets: dict[int, tuple[int, int]] | None = None
        self.handle: IO[bytes] | None = None

    def hits(self, code: str, ordinal: int, number: int, at: int | None = None) -> list[Hit] | None:
        """The hits of the row (``ordinal``: among the scan's rows; ``number``: its line in the
        file scanned, ``path``; ``at``: the line they name in ``named``, by default ``number``)
        when its code names a base rule; None when it names none (its hits are the code's
        alone)."""
        if not self.base:
            return None
        names = self.names.get(code)
        if names is None:
            names = self.names[code] = any(i in self.base for i in code.split(";"))
        if not names:
            return None
        rule_files = [self.rule_files[int(i)] for i in code.split(";")]
        item = read_line(self._text(ordinal, number))
        if isinstance(item, dict):
            recognised = self.source or recognize(item)
            if recognised is not None:
                rule_files = carried(rule_files, recognised.decode(item), recognised)
        # (a row the SQL judged is an event; a base rule's hit without its event would carry
        # no time, and the correlation would leave it out)
        line = number if at is None else at
        return [Hit.of(rule_file, self.named, line) for rule_file in rule_files]

    def _text(self, ordinal: int, number: int) -> bytes:
        if self.offsets is None:
            if self.by_offset and is_gzip(self.path):
                self.by_offset = False  # offsets in the unpacked text: read forward
            if not self.by_offset:
                return self.lines.get(number)
            self.offsets = self.codes.offsets(self.base)
            self.handle = self.path.open("rb")
        assert self.handle is not None
        offset, length = self.offsets[ordinal]
        self.handle.seek(offset)
        return self.handle.read(length)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
