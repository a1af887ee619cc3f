"""Batch documents' records judged in memory, on the hunt's threads, as C splits them.

The spool (``sigma_ext.hunt.spool``) used to write every record C split to its file, then
scan the file: the prefilter read back each record to judge it (``prefilter_run``). For an S3
export of many small gzip files of CloudTrail documents, writing and reading back every record
took a third of the hunt, and the scan could begin only once the last file was unpacked.

Here the thread that splits an input (``batch_split.split_input``) also judges its records, in
memory, with the prefilter of the source of its first record (``_prefilter.c``'s ``scan``: the
same call ``prefilter_run`` makes on a chunk of a file, here the records of one input). The
spool then gets only the records the prefilter passes on, to be scanned as before. The hits of
the judged records are made from their verdicts (``Verdicts.keyed``: each set of rules' hits
made once per hunt and copied to each record, ``HitMaker``; a correlation base rule's with the
values the extension handed back, ``judge.chunk_hits``): at once while no record waits in the
spool before them, else at their record's place between the scan's items.

An input is left to the spool whole, as before, when its first record is no source's a
prefilter knows, or when the prefilter passes on more than half its records (it is then of
another source than the first record's, mostly).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.batch_split import Split
from sigma_ext.hunt.fast.judge import CarriedValues, base_bits, chunk_hits, fired_rules
from sigma_ext.hunt.fast.prefilter import Prefilter
from sigma_ext.hunt.reference import Hit, read_line
from sigma_ext.sources.catalogue import Source, recognize, source_named


@dataclass(frozen=True)
class Judged:
    """One input's records as the prefilter found them: the ``verdicts`` of those the judge
    decided (and the indices of those passed on, ``verdicts.passed``), the text of those passed
    on (``passed_text``, one line each), and the count it set aside per source of the
    prefilter's sources (``gone``)."""

    split: Split
    verdicts: Verdicts
    passed_text: bytes
    gone: tuple[int, ...]

    def passed_split(self) -> Split:
        """The records passed on, as a split of their own (``Split.ends`` of their text)."""
        lines, ends = array("I"), array("I")
        end = 0
        for index in self.verdicts.passed:
            lines.append(self.split.lines[index])
            start = self.split.ends[index - 1] if index else 0
            end += self.split.ends[index] - start
            ends.append(end)
        if end != len(self.passed_text):
            raise AssertionError("the records passed on are not the split's records")
        return Split(self.passed_text, lines, ends, self.split.before)

    def records(self) -> array[int]:
        """The 1-based record number, in the input, of each record passed on."""
        before = self.split.before
        return array("q", [before + index + 1 for index in self.verdicts.passed])


@dataclass(frozen=True)
class Verdicts:
    """The judged records of one input (``name``), whose hits are made when they are placed
    (``keyed``), without the text of the input's records: the line of each record, the
    records before them (``before``, a piece of a larger input), the indices of those passed
    on, and of those judged (``indices``, 0-based) the rules' bits (``fired``), and ``texts``
    and ``held`` as ``Judged`` of ``prefilter_run``."""

    name: str
    lines: array[int]
    before: int
    passed: array[int]
    indices: array[int]
    fired: array[int]
    texts: bytes
    held: bytes
    prefilter: Prefilter

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def size(self) -> int:
        """The bytes it holds (arrays and texts)."""
        arrays = (self.lines, self.passed, self.indices, self.fired)
        return sum(len(a) * a.itemsize for a in arrays) + len(self.texts) + len(self.held)

    def keyed(
        self, written: int, hits: HitMaker, source: Source | None
    ) -> Iterator[tuple[int, Hit]]:
        """Each hit, in order, with the spool line it comes after: ``written`` (the spool's
        lines before the input's first record passed on) plus the records passed on before
        its record."""
        name, lines, before, passed = self.name, self.lines, self.before, self.passed
        base = hits.base_bits(self.prefilter.first_rule)
        carried = self._carried(hits, base, source)
        for index, fired in zip(self.indices, self.fired, strict=True):
            key = written + bisect.bisect_left(passed, index)
            line, record = lines[index], before + index + 1
            if fired & base:
                assert carried is not None
                for hit in carried:  # (the next carried line's hits: this line's)
                    if hit.line != index + 1:
                        raise AssertionError("a carried line's verdict out of step")
                    yield key, hit.moved(name, line, record)
                    if carried.last:
                        break
                continue
            for template in hits.templates(self.prefilter.first_rule, fired):
                yield key, template.moved(name, line, record)

    def _carried(self, hits: HitMaker, base: int, source: Source | None) -> _Lines | None:
        """The hits of the lines a correlation base rule fires on, a line at a time."""
        if not base:
            return None
        only = array(
            "Q",
            [
                n
                for index, fired in zip(self.indices, self.fired, strict=True)
                if fired & base
                for n in (index + 1, fired)
            ],
        )
        values = CarriedValues(
            Path(),
            [source_named(one) for one in self.prefilter.sources],
            self.prefilter.value_fields,
        )
        rule_files = hits.rule_files[self.prefilter.first_rule :]
        return _Lines(chunk_hits(only, self.texts, values, self.held, rule_files, "", source))


class _Lines:
    """Hits, read a line at a time: ``last`` tells the hit just read is its line's last."""

    def __init__(self, hits: Iterator[Hit]) -> None:
        self.hits = hits
        self.ahead = next(hits, None)
        self.last = True

    def __iter__(self) -> Iterator[Hit]:
        return self

    def __next__(self) -> Hit:
        hit = self.ahead
        if hit is None:
            raise StopIteration
        self.ahead = next(self.hits, None)
        self.last = self.ahead is None or self.ahead.line != hit.line
        return hit


class HitMaker:
    """The hits of each set of rules, made once per hunt and placed on each record they fire
    on (``Hit.moved``)."""

    def __init__(self, rule_files: list[RuleFile]) -> None:
        self.rule_files = rule_files
        self._made: dict[tuple[int, int], list[Hit]] = {}
        self._base: dict[int, int] = {}

    def base_bits(self, first: int) -> int:
        """The bits of the correlation base rules, from rule ``first`` on (bit 0)."""
        bits = self._base.get(first)
        if bits is None:
            bits = self._base[first] = base_bits(self.rule_files[first:])
        return bits

    def templates(self, first: int, fired: int) -> list[Hit]:
        """The hits of the rules of the bits set in ``fired`` (bit 0: rule ``first``)."""
        made = self._made.get((first, fired))
        if made is None:
            rules = fired_rules(fired, self.rule_files[first:])
            made = self._made[(first, fired)] = [Hit.of(rule, "", 0) for rule in rules]
        return made


MOST_PASSED = 0.5
"""The share of an input's records passed on past which the spool takes it whole."""


def judged(
    split: Split, name: str, prefilters: list[Prefilter], forced: Source | None
) -> Judged | None:
    """``split``'s records (of the input ``name``) judged by the prefilter of the source of its
    first record (the forced source's, when one is); None when the spool is to take them
    all."""
    if not split.lines:
        return None
    chosen = _chosen(split, prefilters, forced)
    if chosen is None:
        return None
    out, indices, lines, gone, at, bits, texts, held, _ = chosen.native.scan(split.records)
    passed = array("I")
    passed.frombytes(indices)
    if len(passed) > MOST_PASSED * lines:
        return None
    numbers, fired = array("I"), array("Q")
    numbers.frombytes(at)
    fired.frombytes(bits)
    verdicts = Verdicts(
        name, split.lines, split.before, passed, numbers, fired, texts, held, chosen
    )
    return Judged(split, verdicts, out, gone)


def _chosen(split: Split, prefilters: list[Prefilter], forced: Source | None) -> Prefilter | None:
    if forced is not None:
        return prefilters[0] if prefilters else None
    first = read_line(split.records[: split.ends[0]].rstrip(b"\n"))
    source = recognize(first) if isinstance(first, dict) else None
    if source is None:
        return None
    return next((one for one in prefilters if source.name in one.sources), None)
