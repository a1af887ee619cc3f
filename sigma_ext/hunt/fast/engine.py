"""The fast hunt: every rule of every source compiled into one DuckDB scan of a log file.

One DuckDB pass over the lines' text (plain or gzip JSON Lines, in parallel, streaming) computes
for every line a short code: nothing, the rules that fire, or "ask the reference engine". Most
lines are judged from their text alone (``sigma_ext.hunt.fast.raw_gate``); the others are parsed.
The codes are written in file order to a temporary Parquet file and the rows with a code read
back by their row number (``sigma_ext.hunt.fast.running``); a line marked for the reference
engine is read from the log file and judged by ``sigma_ext.hunt.reference.evaluate_line``, so
its verdict is the reference verdict by construction.

A line goes to the reference engine when DuckDB could not read it as a JSON object (bad lines,
text-log lines, arrays), when no fast source recognises it and some source has no fast path,
or when any rule's SQL is undecidable for it (see ``sigma_ext.hunt.fast.duckdb_backend``: NULL in
three-valued logic). The SQL is decidable for events in the shape their source documents:
a source's row in ``sigma_ext.sources.catalogue.SOURCES`` says whether it has a fast path, which
of its fields are arrays and which top-level subtrees are large (the exact scan reads them only
for rows whose small fields already allow a hit); ``sigma_ext.hunt.fast.recognizers`` adds its
recogniser in SQL and the first keys that recognise a line from its text (``FAST_PATHS``).
A row whose JSON deviates from that shape along a path a rule reads (an array where an object
was expected or the reverse, nested arrays, keys containing dots, objects where scalars were
expected, numbers Python reads as inf/nan) is undecidable, never misjudged.

The rooms: ``plan`` (the shape a source's rules read, its fields as SQL), ``rule_sql`` (one rule
as SQL), ``gates`` (the necessary conditions that let most rows skip the rules), ``typed_scan``
and ``exact_scan`` (the two scans' queries), ``running`` (DuckDB, the codes file, line numbers,
progress); this module puts them together.

Memory: DuckDB runs with ``memory_limit`` (default 1 GB) and streams the file; the Python side
holds one batch of codes (10,000 rows) and one line at a time.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from functools import cached_property
from itertools import takewhile
from pathlib import Path
from typing import cast

import duckdb

from sigma_ext.condition_tree import rule_fields
from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast import prefilter, prefilter_run, running
from sigma_ext.hunt.fast.carried_rows import CarriedRows
from sigma_ext.hunt.fast.envelopes import ENVELOPES, Envelope
from sigma_ext.hunt.fast.exact_scan import column_types, exact_select
from sigma_ext.hunt.fast.line_kinds import UNTOLD, LineKinds
from sigma_ext.hunt.fast.native_recognizers import RECOGNIZERS
from sigma_ext.hunt.fast.plan import SourcePlan
from sigma_ext.hunt.fast.present import present_plans, sources_in
from sigma_ext.hunt.fast.recognizers import FAST_PATHS, FastPath, fast_sources
from sigma_ext.hunt.fast.rule_sql import rule_sql
from sigma_ext.hunt.fast.text_scan import TextScan, starts_as_text_log
from sigma_ext.hunt.fast.typed_scan import raw_dismissal, typed_select
from sigma_ext.hunt.progress import Progress
from sigma_ext.hunt.reference import BadLine, Hit, evaluate_line, grouper_of_file, hunt_file
from sigma_ext.hunt.summary import FileSummary
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import SOURCES, Source


class FastHunt:
    """Compiles every rule for DuckDB once; hunts files with one scan each."""

    def __init__(
        self,
        engine: ReferenceEngine,
        source: Source | None = None,
        *,
        threads: int | None = None,
        memory_limit: str = "1GB",
        native: bool = True,
    ) -> None:
        self.engine = engine
        self.forced = source
        self.threads = threads or os.cpu_count() or 1
        self.memory_limit = memory_limit
        if source is not None:
            fast = [source] if source.fast_path else []
            self.route_unrecognized = not fast
        else:
            fast, self.route_unrecognized = fast_sources()
        self.rule_files: list[RuleFile] = []
        self.plans: list[SourcePlan] = []
        for number, src in enumerate(fast):
            plan = self._plan(src, FAST_PATHS[src.name], f"s{number}_")
            if source is None:
                plan.columns.update(plan.path.recognizer_keys())
            self.plans.append(plan)
        self.columns = sorted(
            set().union(*(p.columns for p in self.plans)) if self.plans else set()
        )
        self.envelopes = [] if source is not None else self._envelopes()
        # the sources whose events the SQL judges: its own, then the envelopes it opens (those
        # of the sources right after the first of them in SOURCES); every other event goes to
        # the reference engine, and so may be judged there without being scanned
        # (sigma_ext.hunt.spool)
        judged = [plan.source for plan in self.plans]
        # a runtime text log scanned in place is parsed and judged in DuckDB too
        # (sigma_ext.hunt.fast.text_scan); the spool judges its lines as it reads them
        self.text_scan = TextScan.build(engine, source)
        if source is None and self.plans:
            start = SOURCES.index(self.plans[0].source) + 1
            judged += SOURCES[start : start + len(self.envelopes)]
        self.sql_sources = frozenset(s.name for s in judged)
        forced = source is not None
        # the exact scan reads columns, not the line's text: the sources whose recognisers need
        # the text (and those after them) are left to the reference engine there
        exact_plans = list(takewhile(lambda p: forced or not p.path.needs_text(), self.plans))
        self.exact_columns = sorted(set().union(set(), *(p.columns for p in exact_plans)))
        self.exact_plans = exact_plans
        # the typed scan of the sources present in a file (sigma_ext.hunt.fast.present)
        self._typed_for: dict[frozenset[str], str] = {}
        self._recognised_for: dict[str, str] = {}
        # the native prefilter (sigma_ext.hunt.fast.prefilter): None without the extension; the
        # envelopes it opens are those of the sources right after the first fast source's
        first = SOURCES.index(self.plans[0].source) + 1 if self.plans else len(SOURCES)
        opened = tuple(SOURCES[first + k].name for k in range(len(self.envelopes)))
        spec = (
            prefilter.prefilter_spec(self.plans, forced=forced, envelopes=opened)
            if native
            else None
        )
        if native and forced and not self.plans:
            # a source with no SQL forced (``--source azure_activitylogs``): its prefilter
            spec = prefilter.prefilter_spec(self._native_plans(source), forced=True)
        self.prefilter = prefilter.build(spec) if spec is not None else None
        # the sources after the first, each known by its recogniser (and those before it)
        later = [] if forced or not native else [*self.plans[1:], *self._native_plans()]
        self.prefilters = [] if self.prefilter is None else [self.prefilter]
        """Every prefilter: the first fast source's (or the forced one's, with the envelopes
        it opens), then that of each other source the extension knows by its recogniser."""
        for plan in later:
            spec = prefilter.recognised_spec(plan)
            built = prefilter.build(spec) if spec is not None else None
            if built is not None:
                self.prefilters.append(built)
        self.native_sources = frozenset(name for p in self.prefilters for name in p.sources)
        """The sources whose events a prefilter sets aside (the others go to the scan)."""
        # small files' scans: the typed queries prepared once (sigma_ext.hunt.fast.running)
        self.prepared = running.Prepared(self.connect)

    def _plan(self, source: Source, path: FastPath, prefix: str) -> SourcePlan:
        """The plan of a source's rules, numbered after those in ``rule_files`` (and added)."""
        rules = []
        for loaded in self.engine.rules_for(source):
            rules.append((len(self.rule_files), loaded.rule_file, loaded.compiled.rule))
            self.rule_files.append(loaded.rule_file)
        plan = SourcePlan(source, path, prefix, rules)
        for _, _, rule in rules:
            for name in sorted(rule_fields(rule)):
                plan.add_field(name)
        return plan

    def _native_plans(self, only: Source | None = None) -> list[SourcePlan]:
        """A plan of each source the SQL does not judge whose events are their own document and
        whose recogniser the extension reads (``native_recognizers.RECOGNIZERS``), JSON ones:
        Azure's Activity Log, Falco's alerts (``only``: that source's alone). Their rules are
        added to ``rule_files``, after the SQL's."""
        plans: list[SourcePlan] = []
        for source in SOURCES:
            if (
                source.fast_path
                or source.name not in RECOGNIZERS
                or not source.decodes_as_is
                or source.parse_text is not None
                or (only is not None and source is not only)
            ):
                continue
            path = FastPath("FALSE", source.arrays, source.large_subtrees)
            plans.append(self._plan(source, path, f"n{len(plans)}_"))
        return plans

    def _envelopes(self) -> list[Envelope]:
        """The envelopes the typed scan opens (``sigma_ext.hunt.fast.envelopes``): those of the
        sources right after the SQL's own in ``SOURCES``, whose rules compile to the very SQL of
        the rules of the source they carry."""
        by_name = {plan.source.name: plan for plan in self.plans}
        # the carried source's rules as SQL, made once however many envelopes carry it
        expected: dict[str, list[str]] = {}
        opened: list[Envelope] = []
        start = SOURCES.index(self.plans[0].source) + 1 if self.plans else len(SOURCES)
        for source in SOURCES[start:]:
            envelope = ENVELOPES.get(source.name)
            carried = by_name.get(envelope.carries) if envelope else None
            if envelope is None or carried is None:
                break
            loaded = self.engine.rules_for(source)
            if [entry.rule_file for entry in loaded] != [rf for _, rf, _ in carried.rules]:
                break
            own = SourcePlan(source, carried.path, carried.prefix, [])
            for entry in loaded:
                for name in sorted(rule_fields(entry.compiled.rule)):
                    own.add_field(name)
            if own.fields != carried.fields:
                break
            if envelope.carries not in expected:
                expected[envelope.carries] = [
                    rule_sql(carried, rule_file, rule, "full")
                    for _, rule_file, rule in carried.rules
                ]
            sql = [rule_sql(own, e.rule_file, e.compiled.rule, "full") for e in loaded]
            if sql != expected[envelope.carries]:
                break
            opened.append(envelope)
        return opened

    def _select(self, sources: frozenset[str], recognised: bool) -> str:
        """The typed scan's query for a file of ``sources`` (``hunt_file``'s ``recognised``)."""
        return (self.recognised_select(sources) if recognised else None) or (
            self.typed_select_for(sources)
        )

    @cached_property
    def select(self) -> str:
        """The exact scan's query, made when a scan first needs it (a file whose every line the
        native judge decides needs none: 0.1 s to make)."""
        return exact_select(
            self.exact_plans,
            self.exact_columns,
            forced=self.forced is not None,
            route_unrecognized=self.route_unrecognized or len(self.exact_plans) < len(self.plans),
        )

    @cached_property
    def typed_select(self) -> str:
        """The typed scan's query for a file of any source, made when first needed (0.13 s)."""
        return self.typed_select_for(None)

    def typed_select_for(self, present: frozenset[str] | None) -> str:
        """The typed scan's query for a file holding events of the ``present`` sources (None:
        any source): see ``sigma_ext.hunt.fast.present``."""
        plans = present_plans(self.plans, present, forced=self.forced is not None)
        key = frozenset(plan.source.name for plan in plans)
        # the envelopes carry the first fast source's events: opened only when it is judged
        first = bool(plans) and plans[0].source is self.plans[0].source
        if key not in self._typed_for:
            self._typed_for[key] = typed_select(
                plans,
                self.envelopes if first else [],
                forced=self.forced is not None,
                route_unrecognized=self.route_unrecognized,
            )
        return self._typed_for[key]

    def recognised_select(self, sources: frozenset[str]) -> str | None:
        """The typed scan's query for a file whose every JSON object is an event of the one
        source in ``sources`` (recognised already): that source's, forced, as ``--source``
        scans it (no recogniser, no claim strings, its text tests on every line); None unless
        the source is judged in SQL by a recogniser with ``recognize``'s meaning (so that the
        usual scan would claim each of those events too) and the hunt is not forced."""
        if self.forced is not None or len(sources) != 1:
            return None
        (name,) = sources
        plan = next((p for p in self.plans if p.source.name == name), None)
        if plan is None or not plan.path.exact:
            return None
        if name not in self._recognised_for:
            # the claim strings of the sources before it only guard the recogniser: none here
            alone = replace(plan, path=replace(plan.path, unclaimed=()))
            self._recognised_for[name] = typed_select(
                [alone], [], forced=True, route_unrecognized=self.route_unrecognized
            )
        return self._recognised_for[name]

    def _raw_dismissal(self, text: str) -> tuple[str, str] | None:
        return raw_dismissal(self.plans, text, forced=self.forced is not None)

    def reader(self, path: Path) -> str:
        """``read_json`` of the columns the rules read, as JSON text to be checked and transformed
        per row (the exact scan); a line DuckDB cannot read gives a row of NULLs."""
        return running.exact_reader(path, column_types(self.exact_plans, self.exact_columns))

    def connect(self) -> duckdb.DuckDBPyConnection:
        return running.connect(self.threads, self.memory_limit)

    def hunt_file(
        self,
        path: Path,
        progress: Progress | None = None,
        summary: FileSummary | None = None,
        *,
        grouped: bool = False,
        sources: frozenset[str] | None = None,
        recognised: bool = False,
        named: str | None = None,
        kinds: LineKinds | None = None,
    ) -> Iterator[Hit | BadLine]:
        """Every hit and bad line of one file, in line order (hits of a line in rule order);
        ``summary`` counts its lines per source (the SQL's for the rows it judges, the reference
        engine's for the others), once they are all read. ``grouped``: the file's lines are
        events already (the spool, ``sigma_ext.hunt.spool``); otherwise a log whose events span
        lines (auditd) is judged by the reference engine, which groups them.

        ``sources`` are the sources whose events the file holds (the spool knows them), else
        they are read from the file's first lines (``sigma_ext.hunt.fast.present``).
        ``recognised``: every line DuckDB reads as a JSON object is an event of a source in
        ``sources``, as ``recognize`` tells (the spool's, which blanks every other event); a
        file of one source whose SQL recogniser has ``recognize``'s meaning is then scanned
        as that source's (``recognised_select``), without recognising each line again. ``named``:
        the file the hits of the lines the native judge decides name (else ``path``). ``kinds``
        is told what each line was (``sigma_ext.hunt.fast.line_kinds``). The typed
        scan runs first; if DuckDB fails on it, the file is scanned again the exact way. DuckDB
        skips blank lines: when the rows' lengths do not add up to the file's size, the file is
        read once more to place them.
        """
        source = self.forced
        if not grouped and grouper_of_file(path) is not None:
            # events spanning lines (auditd): no source of them has a fast path, and DuckDB reads
            # lines; the reference engine reads them grouped (``sigma_ext.hunt.inputs``)
            yield from hunt_file(self.engine, path, source, progress, summary)
            return
        with tempfile.TemporaryDirectory(prefix="sigma-ext-hunt-") as folder:
            if self.text_scan is not None and starts_as_text_log(path, sources):
                config: dict[str, str | int] = {
                    "threads": self.threads,
                    "memory_limit": self.memory_limit,
                }
                text = self.text_scan.hunt(path, Path(folder), summary, source, config)
                if text is not None:
                    yield from text
                    if progress is not None:
                        progress("scan", 100.0)
                    return
            passed = None
            if sources is None:
                sources = sources_in(path, self.forced)
            # a prefilter sets aside only its own sources' events: on a file of others it
            # would pass its first chunk on and give up
            chosen = next(
                (
                    one
                    for one in self.prefilters
                    if source is not None or not sources.isdisjoint(one.sources)
                ),
                None,
            )
            judged_file = path if named is None else named  # what the judged lines' hits name
            if chosen is not None:
                judged_rules = self.rule_files[chosen.first_rule :]  # (bit 0 its first rule's)
                chunks = prefilter_run.scanning(
                    chosen, path, Path(folder), self.threads, progress, kinds
                )
                try:
                    # the hits of the chunks judged before any line is passed on, made while
                    # the next chunks are scanned (none when the prefilter stops)
                    passed = yield from _handed(chunks, judged_rules, judged_file, self.forced)
                finally:
                    chunks.close()
            if passed is None:
                select = self._select(sources, recognised)
                yield from self._hunt_scanned(
                    path, path, Path(folder), progress, summary, select, kinds=kinds
                )
                return
            if summary is not None:
                for name, count in passed.dismissed.items():
                    if count:
                        summary.sources[name] += count
            if not passed.lines:
                if progress is not None:
                    progress("scan", 100.0)
                yield from passed.merged(None, judged_rules, judged_file, self.forced)
                return
            # (the typed scan's query made only for a file with lines to scan: 80 ms the first
            # time, in a hunt whose every line the native judge decides)
            select = self._select(sources, recognised)
            numbers = prefilter_run.LineNumbers(passed.numbers)
            try:
                scanned = self._hunt_scanned(
                    path, passed.kept, Path(folder), progress, summary, select, numbers.of, kinds
                )
                # the lines the native judge decided come in between, at their place
                yield from passed.merged(scanned, judged_rules, judged_file, self.forced)
            finally:
                numbers.close()

    def _hunt_scanned(
        self,
        path: Path,
        scanned_path: Path,
        folder: Path,
        progress: Progress | None,
        summary: FileSummary | None,
        select: str,
        number_of: Callable[[int], int] | None = None,
        kinds: LineKinds | None = None,
    ) -> Iterator[Hit | BadLine]:
        """Every hit and bad line of ``path``, scanning ``scanned_path``: the file itself, or the
        lines the prefilter passed on (``number_of``: the line number in ``path`` of each of
        its lines). ``kinds`` is told what the scan found each line to be."""
        source = self.forced
        con: duckdb.DuckDBPyConnection | None = None
        lines = running.LineReader(scanned_path)
        rows: CarriedRows | None = None
        # after the prefilter, the scan of what it passed on is the end of the scan phase
        scanning = progress if number_of is None else None
        try:
            codes: running.Codes | None = None
            if running.small_scan(scanned_path):
                codes = self._scan_held(scanned_path, select)
            if codes is None:
                con = self.connect()
                codes = self._scan_parquet(con, scanned_path, folder, scanning, select)
            scanned = codes.scanned
            if progress is not None and (scanning is None or con is None):
                progress("scan", 100.0)  # (a scan into a codes file reports its own end)
            read = running.all_lines_read(scanned_path, scanned.rows, scanned.length)
            numbers = running.LineNumbers([] if read else running.skipped_lines(scanned_path))
            rows = CarriedRows(codes, scanned_path, path, self.rule_files, source, lines)
            rows.by_offset = read and scanned.length is not None  # the rows' lengths
            judging = running.Judging(progress, scanned.reference)
            if summary is not None:
                for index, count in scanned.sources.items():
                    if index is None:
                        summary.unrecognised += count
                    else:
                        summary.sources[SOURCES[index].name] += count
            # a code's hits, made once and moved to each line: most hit lines share a code
            made: dict[str, list[Hit]] = {}
            listed: Iterator[tuple[int, str | None, int]] = (
                codes.told()
                if kinds is not None
                else ((ordinal, code, UNTOLD) for ordinal, code in codes.coded())
            )
            for ordinal, code, told in listed:
                number = numbers.of(ordinal)
                at = number if number_of is None else number_of(number)
                if kinds is not None:
                    kinds.scanned(at, told)
                if code is None:
                    continue
                if code == "R":
                    raw = lines.get(number)
                    yield from evaluate_line(self.engine, path, at, raw, source, summary)
                    judging.judged()
                    continue
                carried = rows.hits(code, ordinal, number, at)
                if carried is not None:  # a correlation base rule: the values of its event
                    yield from carried
                    continue
                if code not in made:
                    made[code] = [Hit.of(self.rule_files[int(i)], path, 0) for i in code.split(";")]
                for hit in made[code]:
                    yield hit.at(at)
            judging.done()
        finally:
            lines.close()
            if rows is not None:
                rows.close()
            if con is not None:
                con.close()

    def _scan_parquet(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        folder: Path,
        progress: Progress | None,
        select: str,
    ) -> running.Codes:
        """The typed scan, else the exact one, into a codes file in ``folder``."""
        codes = folder / "codes.parquet"
        scanned = self._scan_typed(con, path, codes, progress, select)
        if scanned is None:
            scanned = running.scan_exact(con, self.select, self.reader(path), codes, progress)
        return running.ParquetCodes(con, codes, scanned)

    def _scan_held(self, path: Path, select: str) -> running.HeldCodes | None:
        """The typed scan of a small file by its prepared query (``running.Prepared``); None
        when DuckDB fails on it."""
        return self.prepared.scan(select, path)

    def close(self) -> None:
        """Close the connection of the prepared queries (a later hunt opens it again)."""
        self.prepared.close()

    def _scan_typed(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        codes: Path,
        progress: Progress | None,
        select: str | None = None,
    ) -> running.Scanned | None:
        """Write the code and length of every row to ``codes`` (``select``: the typed scan's
        query, by default of every source); None when DuckDB fails on it."""
        return running.scan_typed(con, select or self.typed_select, path, codes, progress)


def _handed(
    chunks: Generator[prefilter_run.Judged, None, prefilter_run.Passed | None],
    rule_files: list[RuleFile],
    path: Path | str,
    source: Source | None,
) -> Generator[Hit, None, prefilter_run.Passed | None]:
    """The hits of each chunk ``chunks`` hands on, in order; then what it wrote."""
    while True:
        try:
            judged = next(chunks)
        except StopIteration as stop:
            return cast(prefilter_run.Passed | None, stop.value)
        yield from judged.hits(rule_files, path, source)
