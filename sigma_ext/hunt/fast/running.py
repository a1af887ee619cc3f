"""Running a scan: the DuckDB connection, the codes file, line numbers and progress.

A scan writes every row's code, in file order, to a temporary Parquet file (DuckDB's ordered
``COPY``, which keeps the scan parallel); the rows with a code are read back by their row
number, a batch at a time (``coded_rows``), and placed on the file's lines past the blank lines
DuckDB skips (``LineNumbers``). A line marked for the reference engine is read from the file
(``LineReader``).

A small file (``SMALL_SCAN``) is scanned another way, for DuckDB spends far longer planning the
typed scan's query (its binder and optimizer, over some 200 kB of SQL) than running it on a few
thousand rows: the query is prepared once per connection (``Prepared``), the file's rows read
by the same ``read_json_objects`` and handed to it as a list literal, and its codes held in
memory (``HeldCodes``) instead of a Parquet file. A query reading a table or a table function
is planned again at every ``EXECUTE`` (its catalog may have changed), one over a parameter is
not.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple, Protocol

import duckdb

from sigma_ext.hunt.fast.duckdb_backend import install_macros, sql_string
from sigma_ext.hunt.fast.line_kinds import NO_SOURCE, REFERENCE, SCANNED
from sigma_ext.hunt.progress import Progress
from sigma_ext.hunt.reference import PROGRESS_LINES, is_gzip, open_binary


def connect(threads: int, memory_limit: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    con.execute("SET preserve_insertion_order = true")
    # long IN lists would become MARK joins, which neither keep the row order nor run fast
    con.execute("SET disabled_optimizers = 'in_clause'")
    # DuckDB's own bar would go to stdout, which carries the hits
    con.execute("SET enable_progress_bar_print = false")
    install_macros(con)
    return con


def compression(path: Path) -> str:
    return "gzip" if is_gzip(path) else "none"


def typed_reader(path: Path) -> str:
    """``read_json_objects`` of the file: one row per non-blank line, its text as JSON (NULL
    for a line that is not JSON)."""
    return (
        f"read_json_objects({sql_string(str(path))}, format='newline_delimited', "
        f"ignore_errors=true, compression='{compression(path)}')"
    )


def exact_reader(path: Path, types: dict[str, str]) -> str:
    """``read_json`` of the columns the rules read, typed as ``types`` says; a line DuckDB
    cannot read gives a row of NULLs."""
    columns = "{" + ", ".join(f"{sql_string(c)}: {sql_string(t)}" for c, t in types.items()) + "}"
    return (
        f"read_json({sql_string(str(path))}, format='newline_delimited', records=true, "
        f"ignore_errors=true, compression='{compression(path)}', columns={columns})"
    )


def scan_typed(
    con: duckdb.DuckDBPyConnection,
    select: str,
    path: Path,
    codes: Path,
    progress: Progress | None,
) -> Scanned | None:
    """Write the code and length of every row to ``codes`` (``select``: the typed scan's query);
    None when DuckDB fails on it."""
    try:
        return copy_codes(con, select.replace("{reader}", typed_reader(path)), codes, progress)
    except (duckdb.Error, UnicodeDecodeError):
        # its message may even quote bytes that are not UTF-8
        return None


def scan_exact(
    con: duckdb.DuckDBPyConnection,
    select: str,
    reader: str,
    codes: Path,
    progress: Progress | None,
) -> Scanned:
    """Write the code of every row to ``codes`` (``select``: the exact scan's query over
    ``reader``; lengths unknown)."""
    exact = select.replace("{reader}", reader)
    query = f"SELECT code, NULL::BIGINT AS n, src FROM ({exact})"
    return copy_codes(con, query, codes, progress)


class Scanned(NamedTuple):
    """What a scan wrote to the codes file."""

    rows: int
    length: int | None
    """The sum of the rows' lengths; None when a row has none."""
    reference: int
    """Rows left to the reference engine (code 'R')."""
    sources: dict[int | None, int]
    """Rows the SQL judged, per index in ``SOURCES`` of their source (None: recognised by no
    source, when unrecognised rows are not left to the reference engine)."""


def copy_codes(
    con: duckdb.DuckDBPyConnection,
    query: str,
    codes: Path,
    progress: Progress | None,
) -> Scanned:
    """Run ``query`` (columns ``code``, ``n`` and ``src``) into the Parquet file ``codes``, in
    row order, and count what it wrote."""
    target = sql_string(str(codes))
    run_with_progress(con, f"COPY ({query}) TO {target} (FORMAT parquet)", progress)
    found = con.execute(
        "SELECT count(*), sum(n), count(n), count(*) FILTER (WHERE code = 'R') "
        f"FROM read_parquet({target})"
    ).fetchone()
    assert found is not None
    rows, length, known, reference = found
    sources = con.execute(
        f"SELECT src, count(*) FROM read_parquet({target}) WHERE code IS DISTINCT FROM 'R' "
        "GROUP BY src"
    ).fetchall()
    return Scanned(
        int(rows),
        int(length or 0) if known == rows else None,
        int(reference),
        {None if src is None else int(src): int(n) for src, n in sources},
    )


def all_lines_read(path: Path, rows: int, length: int | None) -> bool:
    """Whether DuckDB gave a row for every line of the file, as it is.

    Rows are lines in order, their text as in the file, less any line DuckDB skips (blank) and
    any whitespace it trims: when the rows' lengths and line ends make up the file's size,
    there was none. Otherwise (or for gzip), the file's lines are counted.
    """
    if length is not None and not is_gzip(path):
        size = path.stat().st_size
        if size == 0:
            return rows == 0
        with path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            ends = handle.read(1) == b"\n"
        return length + rows - (0 if ends else 1) == size
    return count_lines(path) == rows


def run_with_progress(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    progress: Progress | None,
    every: float = 0.2,
) -> None:
    """Run ``sql``; while it runs, pass DuckDB's query progress (0 to 100) to ``progress`` as
    the ``scan`` phase every ``every`` seconds, then 100 once it is done."""
    if progress is None:
        con.execute(sql)
        return
    # without it, query_progress() gives -1 throughout
    con.execute("SET enable_progress_bar = true")
    done = threading.Event()

    def poll() -> None:
        while not done.wait(every):
            try:
                value = con.query_progress()
            except duckdb.Error:
                continue
            if value >= 0:
                progress("scan", float(value))

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        con.execute(sql)
    finally:
        done.set()
        watcher.join()
        con.execute("SET enable_progress_bar = false")
    progress("scan", 100.0)


@dataclass
class Judging:
    """The ``judge`` phase of the progress: the lines the scan left to the reference engine,
    which may be most of a file (a source with no SQL) and take far longer than the scan."""

    progress: Progress | None
    total: int
    count: int = 0

    def judged(self) -> None:
        self.count += 1
        if self.progress is not None and self.count % PROGRESS_LINES == 0:
            self.progress("judge", min(100 * self.count / self.total, 99.9))

    def done(self) -> None:
        if self.progress is not None and self.total:
            self.progress("judge", 100.0)


_CHUNK = 1 << 20


def count_lines(path: Path) -> int:
    """Lines as both engines count them: ``\\n``-terminated, plus a last unterminated one."""
    count, last = 0, b"\n"
    with open_binary(path) as handle:
        while chunk := handle.read(_CHUNK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


_DUCKDB_BLANK = re.compile(rb"^[ \t\r\x0b\x0c]*$")


def skipped_lines(path: Path) -> list[int]:
    """The lines DuckDB's JSON reader skips (only whitespace it knows), in order."""
    with open_binary(path) as handle:
        return [
            number
            for number, raw in enumerate(handle, start=1)
            if _DUCKDB_BLANK.match(raw.rstrip(b"\n"))
        ]


SMALL_SCAN = 4 << 20
"""A file of at most this many bytes to scan (a gzip file's counted ``GZIP_WEIGHT`` times) is
scanned by the prepared query (``Prepared``): its rows and codes are held in memory."""
GZIP_WEIGHT = 16


def small_scan(path: Path) -> bool:
    """Whether ``path`` is small enough for the prepared query (``SMALL_SCAN``)."""
    size = path.stat().st_size
    return size * (GZIP_WEIGHT if is_gzip(path) else 1) <= SMALL_SCAN


class Codes(Protocol):
    """What a scan found: its counts, the rows with a code and where rows start."""

    scanned: Scanned

    def coded(self) -> Iterator[tuple[int, str]]:
        """(1-based row ordinal, code) for every row with a code, in order."""
        ...

    def told(self) -> Iterator[tuple[int, str | None, int]]:
        """(1-based row ordinal, code, what the row was as ``line_kinds`` tells it) for every
        row, in order."""
        ...

    def offsets(self, wanted: list[str]) -> dict[int, tuple[int, int]]:
        """(byte offset, length) of each row whose code names a rule of ``wanted`` (indexes as
        text), by its ordinal; offsets count a line end after each row."""
        ...


@dataclass
class ParquetCodes:
    """The codes a scan wrote to a Parquet file (``copy_codes``), read back by DuckDB."""

    con: duckdb.DuckDBPyConnection
    path: Path
    scanned: Scanned

    def coded(self) -> Iterator[tuple[int, str]]:
        return coded_rows(self.con, self.path)

    def told(self) -> Iterator[tuple[int, str | None, int]]:
        result = self.con.execute(
            f"SELECT file_row_number + 1, code, {_TOLD} FROM read_parquet("
            f"{sql_string(str(self.path))}, file_row_number = true) ORDER BY 1"
        )
        while batch := result.fetchmany(_BATCH):
            yield from batch

    def offsets(self, wanted: list[str]) -> dict[int, tuple[int, int]]:
        listed = "[" + ", ".join(sql_string(i) for i in wanted) + "]"
        # a cursor of its own: a query on the scan's connection would end the result the codes
        # are still being fetched from (``coded_rows``), and every later hit with it
        cursor = self.con.cursor()
        rows = cursor.execute(
            "SELECT row, coalesce(off, 0), n FROM (SELECT file_row_number + 1 AS row, code, n, "
            "sum(n + 1) OVER (ORDER BY file_row_number ROWS BETWEEN UNBOUNDED PRECEDING AND "
            f"1 PRECEDING) AS off FROM read_parquet({sql_string(str(self.path))}, "
            "file_row_number = true)) WHERE code IS NOT NULL AND code <> 'R' AND "
            f"list_has_any(string_split(code, ';'), {listed})"
        ).fetchall()
        cursor.close()
        return {int(row): (int(off), int(n)) for row, off, n in rows}


@dataclass
class HeldCodes:
    """The codes of a small scan, held: (code, length, source) of each row, in order."""

    rows: list[tuple[str | None, int | None, int | None]]
    scanned: Scanned = field(init=False)

    def __post_init__(self) -> None:
        lengths = [n for _, n, _ in self.rows]
        sources: dict[int | None, int] = {}
        for code, _, src in self.rows:
            if code != "R":
                sources[src] = sources.get(src, 0) + 1
        self.scanned = Scanned(
            len(self.rows),
            sum(n for n in lengths if n is not None) if None not in lengths else None,
            sum(code == "R" for code, _, _ in self.rows),
            sources,
        )

    def coded(self) -> Iterator[tuple[int, str]]:
        for ordinal, (code, _, _) in enumerate(self.rows, start=1):
            if code is not None:
                yield ordinal, code

    def told(self) -> Iterator[tuple[int, str | None, int]]:
        for ordinal, (code, _, src) in enumerate(self.rows, start=1):
            told = REFERENCE if code == "R" else NO_SOURCE if src is None else SCANNED + src
            yield ordinal, code, told

    def offsets(self, wanted: list[str]) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        offset = 0
        for ordinal, (code, n, _) in enumerate(self.rows, start=1):
            if (
                code is not None
                and code != "R"
                and n is not None
                and any(i in wanted for i in code.split(";"))
            ):
                found[ordinal] = (offset, n)
            offset += 0 if n is None else n + 1
        return found


@dataclass
class Prepared:
    """A connection on which each typed scan's query is prepared once, for small files."""

    connect: Callable[[], duckdb.DuckDBPyConnection]
    con: duckdb.DuckDBPyConnection | None = None
    names: dict[str, str | None] = field(default_factory=dict)
    """The prepared statement of each query (None: DuckDB could not prepare it)."""

    def scan(self, select: str, path: Path) -> HeldCodes | None:
        """The codes of every row of ``path`` by the typed scan's query ``select``; None when
        DuckDB fails on it (or a row holds a character a SQL literal cannot)."""
        if self.con is None:
            self.con = self.connect()
        con = self.con
        if select not in self.names:
            made: str | None = f"sx_typed_{len(self.names)}"
            try:
                con.execute(f"PREPARE {made} AS {select.replace('{reader}', _HELD_READER)}")
            except duckdb.Error:
                made = None
            self.names[select] = made
        name = self.names[select]
        if name is None:
            return None
        try:
            texts = con.execute(f"SELECT json::VARCHAR FROM {typed_reader(path)}").fetchall()
            if any(text is not None and "\x00" in text for (text,) in texts):
                return None  # a SQL literal ends at NUL
            listed = ", ".join("NULL" if text is None else sql_string(text) for (text,) in texts)
            rows = con.execute(f"EXECUTE {name}([{listed}]::VARCHAR[])").fetchall()
        except (duckdb.Error, UnicodeDecodeError):
            return None
        return HeldCodes(rows)

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


# the rows of a small scan, in order: the list given to the prepared query
_HELD_READER = "(SELECT unnest($1::VARCHAR[]) AS json)"


def coded_rows(con: duckdb.DuckDBPyConnection, codes: Path) -> Iterator[tuple[int, str]]:
    """(1-based row ordinal, code) for every row with a code, in order, a batch at a time."""
    result = con.execute(
        f"SELECT file_row_number + 1, code FROM read_parquet({sql_string(str(codes))}, "
        "file_row_number = true) WHERE code IS NOT NULL ORDER BY 1"
    )
    while batch := result.fetchmany(_BATCH):
        yield from batch


_BATCH = 10_000

_TOLD = (
    f"CASE WHEN code = 'R' THEN {REFERENCE} WHEN src IS NULL THEN {NO_SOURCE} "
    f"ELSE {SCANNED} + src END"
)
"""What a row of a codes file was, as ``line_kinds`` tells it."""


class LineNumbers:
    """Row ordinals (lines DuckDB reads) to line numbers, past the lines DuckDB skips."""

    def __init__(self, skipped: list[int]) -> None:
        self.skipped = skipped
        self.passed = 0

    def of(self, ordinal: int) -> int:
        while (
            self.passed < len(self.skipped) and self.skipped[self.passed] <= ordinal + self.passed
        ):
            self.passed += 1
        return ordinal + self.passed


class LineReader:
    """Reads lines forward by number (the numbers asked for only increase)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[bytes] | None = None
        self.number = 0

    def get(self, number: int) -> bytes:
        if self.handle is None:
            self.handle = open_binary(self.path)
        while self.number < number - 1:
            self.handle.readline()
            self.number += 1
        self.number += 1
        return self.handle.readline()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
