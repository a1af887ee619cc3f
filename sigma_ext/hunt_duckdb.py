"""The fast hunt: every rule of every source compiled into one DuckDB scan of a log file.

One ``read_json`` pass (plain or gzip JSON Lines, in parallel, streaming) computes for every line
a short code: nothing, the rules that fire, or "ask the reference engine". The codes are written
in file order to a temporary file (DuckDB's ordered ``COPY``, which keeps the scan parallel) and
read back here; a line marked for the reference engine is read from the log file and judged by
``sigma_ext.hunt.evaluate_line``, so its verdict is the reference verdict by construction.

A line goes to the reference engine when DuckDB could not read it as a JSON object (bad lines,
text-log lines, arrays), when no fast source recognises it and some source has no fast path,
or when any rule's SQL is undecidable for it (see ``sigma_ext.duckdb_backend``: NULL in
three-valued logic). The SQL is decidable for events in the shape their source documents:
``FAST_PATHS`` declares, per source, its recogniser in SQL, which of its fields are arrays, and
which top-level subtrees are large (read only for rows whose small fields already allow a hit).
A row whose JSON deviates from that shape along a path a rule reads (an array where an object
was expected or the reverse, nested arrays, keys containing dots, objects where scalars were
expected, numbers Python reads as inf/nan) is undecidable, never misjudged.

Memory: DuckDB runs with ``memory_limit`` (default 1 GB) and streams the file; the Python side
holds one chunk of codes (1 MiB) and one line at a time. The codes file on disk takes about two
bytes per input line.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionIdentifier,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule

from sigma_ext.duckdb_backend import (
    VALUE_GUARD,
    DuckDBBackend,
    FieldSql,
    every_element_sql,
    install_macros,
    sql_string,
)
from sigma_ext.engine import ReferenceEngine
from sigma_ext.hunt import BadLine, Hit, evaluate_line, is_gzip, open_binary
from sigma_ext.rules import RuleFile
from sigma_ext.sources import SOURCES, Source


@dataclass(frozen=True)
class FastPath:
    """How the fast hunt reads one source.

    ``recognizer`` is a SQL boolean with exactly the meaning of ``Source.recognize``, written over
    the raw JSON of top-level keys as ``{key}`` (normalised JSON text: a string ``"Event"`` reads
    ``'"Event"'``); ``arrays`` are the dotted paths that hold arrays in the documented format;
    ``heavy`` are top-level keys with large subtrees.
    """

    recognizer: str
    arrays: frozenset[str] = frozenset()
    heavy: frozenset[str] = frozenset()

    def recognizer_keys(self) -> list[str]:
        return re.findall(r"\{([^{}]+)\}", self.recognizer)


FAST_PATHS: dict[str, FastPath] = {
    "kubernetes_audit": FastPath(
        recognizer=(
            "({kind}::VARCHAR = '\"Event\"' "
            "AND starts_with({apiVersion}::VARCHAR, '\"audit.k8s.io/'))"
        ),
        arrays=frozenset(
            {
                "user.groups",
                "sourceIPs",
                "requestObject.metadata.ownerReferences",
                *(
                    f"requestObject.spec.{prefix}{kind}"
                    for prefix in ("", "template.spec.", "jobTemplate.spec.template.spec.")
                    for kind in ("containers", "initContainers", "ephemeralContainers")
                ),
            }
        ),
        heavy=frozenset({"requestObject", "responseObject"}),
    ),
}
# Sources whose lines the reference engine judges one by one (provider envelopes that need
# ``decode``, text formats that need ``parse_text``, or simply no SQL written yet).
REFERENCE_ONLY: frozenset[str] = frozenset({"aws_cloudtrail", "azure_activitylogs", "gcp_audit"})


def fast_sources() -> tuple[list[Source], bool]:
    """The sources the SQL judges, and whether other lines may belong to a source it cannot.

    ``recognize`` answers with the first source that claims an event, so a source is judged in SQL
    only when every source before it has a SQL recogniser too.
    """
    fast: list[Source] = []
    for source in SOURCES:
        if source.name not in FAST_PATHS or source.parse_text is not None:
            return fast, True
        fast.append(source)
    return fast, False


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_key(key: str) -> str:
    return re.escape(json.dumps(key, ensure_ascii=False)[1:-1])


@dataclass
class _Node:
    """One node of the JSON shape a source's rules read below a top-level key."""

    array: bool = False
    children: dict[str, _Node] = field(default_factory=dict)

    def structure(self) -> Any:
        inner: Any = (
            {key: child.structure() for key, child in self.children.items()}
            if self.children
            else "VARCHAR"
        )
        return [inner] if self.array else inner


def _rule_fields(rule: SigmaRule) -> set[str]:
    fields: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ConditionFieldEqualsValueExpression):
            fields.add(node.field)
        elif isinstance(node, ConditionItem):
            for arg in node.args:
                walk(arg)

    for detection in rule.detection.detections.values():
        walk(detection.postprocess(rule.detection))
    return fields


@dataclass
class _SourcePlan:
    source: Source
    path: FastPath
    prefix: str
    rules: list[tuple[int, RuleFile, SigmaRule]]
    columns: set[str] = field(default_factory=set)
    roots: dict[str, _Node] = field(default_factory=dict)
    fields: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def add_field(self, name: str) -> None:
        parts = name.split(".")
        top = parts[0]
        dotted = [".".join(parts[: end + 1]) for end in range(1, len(parts))]
        self.columns.add(top)
        self.columns.update(dotted)
        node = self.roots.setdefault(top, _Node(array=top in self.path.arrays))
        path = top
        for part in parts[1:]:
            path = f"{path}.{part}"
            node = node.children.setdefault(part, _Node(array=path in self.path.arrays))
        self.fields[name] = (top, dotted)

    def _node(self, name: str) -> _Node:
        parts = name.split(".")
        node = self.roots[parts[0]]
        for part in parts[1:]:
            node = node.children[part]
        return node

    def transformed(self, top: str) -> str:
        return _ident(f"{self.prefix}t_{top}")

    def shape_unknown(self, top: str) -> str:
        return _ident(f"{self.prefix}u_{top}")

    def shape_regex(self, top: str) -> str:
        """A regex over the normalised JSON text of ``top`` that finds every shape deviation."""
        root = self.roots[top]
        alternatives = ["\\[\\[|,\\["]
        alternatives.append("^[^\\[n]" if root.array else "^\\[")

        def walk(node: _Node, key: str | None) -> None:
            for child_key, child in node.children.items():
                quoted = '"' + _json_key(child_key) + '":'
                if child.array:
                    alternatives.append(quoted + ("[^\\[n]" if not child.children else "\\{"))
                else:
                    alternatives.append(quoted + "\\[")
                for grand_key in child.children:
                    alternatives.append('"' + _json_key(f"{child_key}.{grand_key}"))
                walk(child, child_key)

        walk(root, None)
        return "|".join(sorted(set(alternatives)))

    def field_columns(self, name: str) -> FieldSql:
        """The field as the columns a layer of the query computes once per row."""
        return FieldSql(
            _ident(f"{self.prefix}v_{name}"),
            self.value_expr(name).is_list,
            _ident(f"{self.prefix}u_{name}"),
        )

    def value_expr(self, name: str) -> FieldSql:
        if self._node(name).children:
            # another field reads below this one: the shape has no place for both
            return FieldSql("NULL::VARCHAR", False, "TRUE")
        top, dotted = self.fields[name]
        parts = name.split(".")[1:]
        expr = self.transformed(top)
        node = self.roots[top]
        is_list = node.array
        depth = 0
        for part in parts:
            node = node.children[part]
            member = f"{{x}}.{_ident(part)}"
            if is_list:
                depth += 1
                var = f"sx_x{depth}"
                inner = member.format(x=var)
                if node.array:
                    expr = f"flatten(list_transform({expr}, lambda {var}: coalesce({inner}, [])))"
                else:
                    expr = f"list_transform({expr}, lambda {var}: {inner})"
            else:
                expr = member.format(x=expr)
                is_list = node.array
        if is_list:
            expr = f"coalesce(list_filter({expr}, lambda sx_v: sx_v IS NOT NULL), []::VARCHAR[])"
        unknown = [self.shape_unknown(top)] + [f"{_ident(d)} IS NOT NULL" for d in dotted]
        return FieldSql(expr, is_list, " OR ".join(unknown))

    def value_unknown(self, name: str, column: str) -> str:
        """TRUE when a value of the field needs a guard of ``VALUE_GUARD``."""
        if self.value_expr(name).is_list:
            guard = VALUE_GUARD.format(v="sx_g")
            return f"coalesce(list_bool_or(list_transform({column}, lambda sx_g: {guard})), FALSE)"
        return f"coalesce({VALUE_GUARD.format(v=column)}, FALSE)"


class FastHunt:
    """Compiles every rule for DuckDB once; hunts files with one scan each."""

    def __init__(
        self,
        engine: ReferenceEngine,
        source: Source | None = None,
        *,
        threads: int | None = None,
        memory_limit: str = "1GB",
    ) -> None:
        self.engine = engine
        self.forced = source
        self.threads = threads or os.cpu_count() or 1
        self.memory_limit = memory_limit
        if source is not None:
            fast = [source] if source.name in FAST_PATHS else []
            self.route_unrecognized = not fast
        else:
            fast, self.route_unrecognized = fast_sources()
        self.rule_files: list[RuleFile] = []
        self.plans: list[_SourcePlan] = []
        for number, src in enumerate(fast):
            rules = []
            for loaded in engine.rules_for(src):
                rules.append((len(self.rule_files), loaded.rule_file, loaded.compiled.rule))
                self.rule_files.append(loaded.rule_file)
            plan = _SourcePlan(src, FAST_PATHS[src.name], f"s{number}_", rules)
            for _, _, rule in rules:
                for name in sorted(_rule_fields(rule)):
                    plan.add_field(name)
            if source is None:
                plan.columns.update(plan.path.recognizer_keys())
            self.plans.append(plan)
        self.columns = sorted(
            set().union(*(p.columns for p in self.plans)) if self.plans else set()
        )
        self.select = self._select()

    # -- SQL ---------------------------------------------------------------------------------

    def _rule_sql(
        self, plan: _SourcePlan, rule_file: RuleFile, rule: SigmaRule, light: bool
    ) -> str:
        heavy = plan.path.heavy

        def resolve(name: str) -> FieldSql:
            if light and name.split(".")[0] in heavy:
                return FieldSql("NULL::VARCHAR", False, "TRUE")
            return plan.field_columns(name)

        backend = DuckDBBackend(resolve)
        state = ConversionState()
        detections = rule.detection

        def detection(name: str) -> str:
            tree = detections.detections[name].postprocess(detections)
            if name not in rule_file.every_element:
                return f"({backend.convert_condition(tree, state)})"
            pool = [resolve(f) for f in sorted(_fields_of(tree))]

            def element(var: str) -> str:
                element_backend = DuckDBBackend(lambda _: FieldSql(var, False))
                return str(element_backend.convert_condition(tree, ConversionState()))

            return every_element_sql(pool, element, name)

        def walk(node: Any) -> str:
            match node:
                case ConditionIdentifier():
                    return detection(node.identifier)
                case ConditionSelector():
                    referenced = node.resolve_referenced_detections(detections)
                    return walk(node.cond_class(list(referenced)))
                case ConditionAND():
                    return "(" + " AND ".join(walk(a) for a in node.args) + ")"
                case ConditionOR():
                    return "(" + " OR ".join(walk(a) for a in node.args) + ")"
                case ConditionNOT():
                    return f"(NOT {walk(node.args[0])})"
            raise TypeError(f"condition element {type(node).__name__} is not supported")

        conditions = [walk(c.parse(postprocess=False)) for c in detections.parsed_condition]
        return "(" + " OR ".join(conditions) + ")"

    def _recognizer(self, plan: _SourcePlan) -> str:
        if self.forced is not None:
            return "TRUE"
        keys = plan.path.recognizer_keys()
        return plan.path.recognizer.format_map({k: _ident(k) for k in keys})

    def _select(self) -> str:
        """The per-row code: NULL (no hit), 'R' (reference engine) or 'i;j;…' (rules that fire)."""
        if not self.plans:
            return "SELECT 'R' AS code FROM {reader}"
        layers: list[list[str]] = [[] for _ in range(9)]
        branches = []
        for plan in self.plans:
            rec, pre = _ident(f"{plan.prefix}rec"), _ident(f"{plan.prefix}pre")
            layers[0].append(f"{self._recognizer(plan)} AS {rec}")
            for top, node in sorted(plan.roots.items()):
                heavy = top in plan.path.heavy
                guard = f"{rec} AND {pre}" if heavy else rec
                structure = sql_string(json.dumps(node.structure()))
                regex = sql_string(plan.shape_regex(top))
                layers[5 if heavy else 1] += [
                    f"CASE WHEN {guard} THEN json_transform({_ident(top)}, {structure}) END "
                    f"AS {plan.transformed(top)}",
                    f"CASE WHEN {guard} THEN coalesce(regexp_matches({_ident(top)}::VARCHAR, "
                    f"{regex}), FALSE) END AS {plan.shape_unknown(top)}",
                ]
            for name in sorted(plan.fields):
                raw = plan.value_expr(name)
                columns = plan.field_columns(name)
                where = 6 if name.split(".")[0] in plan.path.heavy else 2
                value_column = _ident(f"{plan.prefix}w_{name}")
                layers[where].append(f"{raw.expr} AS {value_column}")
                layers[where + 1].append(f"{value_column} AS {columns.expr}")
                layers[where + 1].append(
                    f"({raw.unknown}) OR {plan.value_unknown(name, value_column)} "
                    f"AS {columns.unknown}"
                )
            light = [self._rule_sql(plan, rf, rule, True) for _, rf, rule in plan.rules]
            candidates = " OR ".join(f"({sql}) IS NOT FALSE" for sql in light) or "FALSE"
            layers[4].append(f"{rec} AND ({candidates}) AS {pre}")
            names = []
            for index, rule_file, rule in plan.rules:
                name = _ident(f"r{index}")
                names.append((index, name))
                full = self._rule_sql(plan, rule_file, rule, False)
                layers[8].append(f"CASE WHEN {pre} THEN {full} END AS {name}")
            if names:
                undecided = " OR ".join(f"{name} IS NULL" for _, name in names)
                fired = ", ".join(f"CASE WHEN {name} THEN '{index}' END" for index, name in names)
                code = (
                    f"CASE WHEN NOT {pre} THEN NULL WHEN {undecided} THEN 'R' "
                    f"ELSE nullif(concat_ws(';', {fired}), '') END"
                )
            else:
                code = "NULL"
            branches.append(f"WHEN {rec} THEN {code}")
        nested = "{reader}"
        for layer in layers:
            nested = f"(SELECT {', '.join(['*', *layer])} FROM {nested})"
        all_null = " AND ".join(f"{_ident(c)} IS NULL" for c in self.columns)
        otherwise = "'R'" if self.route_unrecognized else "NULL"
        return (
            f"SELECT CASE WHEN {all_null} THEN 'R' {' '.join(branches)} ELSE {otherwise} END "
            f"AS code FROM {nested}"
        )

    def reader(self, path: Path) -> str:
        columns = "{" + ", ".join(f"{sql_string(c)}: 'JSON'" for c in self.columns) + "}"
        compression = "gzip" if is_gzip(path) else "none"
        return (
            f"read_json({sql_string(str(path))}, format='newline_delimited', records=true, "
            f"ignore_errors=true, compression='{compression}', columns={columns})"
        )

    # -- running -----------------------------------------------------------------------------

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": self.threads, "memory_limit": self.memory_limit})
        con.execute("SET preserve_insertion_order = true")
        # long IN lists would become MARK joins, which neither keep the row order nor run fast
        con.execute("SET disabled_optimizers = 'in_clause'")
        install_macros(con)
        return con

    def hunt_file(
        self, path: Path, progress: Callable[[float], None] | None = None
    ) -> Iterator[Hit | BadLine]:
        """Every hit and bad line of one file, in line order (hits of a line in rule order)."""
        source = self.forced
        with tempfile.TemporaryDirectory(prefix="sigma-ext-hunt-") as folder:
            codes = Path(folder) / "codes.csv"
            query = self.select.replace("{reader}", self.reader(path))
            con = self.connect()
            try:
                _run_with_progress(
                    con,
                    f"COPY ({query}) TO {sql_string(str(codes))} "
                    "(FORMAT csv, HEADER false, QUOTE '')",
                    progress,
                )
            finally:
                con.close()
            lines = _LineReader(path)
            try:
                skipped = _skipped_lines(path) if _count_lines(path) != _count_lines(codes) else []
                numbers = _LineNumbers(skipped)
                for ordinal, code in _codes(codes):
                    number = numbers.of(ordinal)
                    if code == "R":
                        raw = lines.get(number)
                        yield from evaluate_line(self.engine, path, number, raw, source)
                    else:
                        for index in code.split(";"):
                            yield Hit.of(self.rule_files[int(index)], path, number)
            finally:
                lines.close()


def _fields_of(node: Any) -> set[str]:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return {node.field}
    if isinstance(node, ConditionItem):
        return set().union(*(_fields_of(arg) for arg in node.args))
    return set()


def _run_with_progress(
    con: duckdb.DuckDBPyConnection, sql: str, progress: Callable[[float], None] | None
) -> None:
    if progress is None:
        con.execute(sql)
        return
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            try:
                value = con.query_progress()
            except duckdb.Error:
                continue
            if value >= 0:
                progress(float(value))

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        con.execute(sql)
    finally:
        done.set()
        watcher.join()
    progress(100.0)


_CHUNK = 1 << 20


def _count_lines(path: Path) -> int:
    """Lines as both engines count them: ``\\n``-terminated, plus a last unterminated one."""
    count, last = 0, b"\n"
    with open_binary(path) as handle:
        while chunk := handle.read(_CHUNK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


_DUCKDB_BLANK = re.compile(rb"^[ \t\r\x0b\x0c]*$")


def _skipped_lines(path: Path) -> list[int]:
    """The lines DuckDB's JSON reader skips (only whitespace it knows), in order."""
    with open_binary(path) as handle:
        return [
            number
            for number, raw in enumerate(handle, start=1)
            if _DUCKDB_BLANK.match(raw.rstrip(b"\n"))
        ]


def _codes(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based row ordinal, code) for every row with a code, in order."""
    consumed = 0
    pending = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            data = pending + chunk
            end = data.rfind(b"\n") + 1
            data, pending = data[:end], data[end:]
            position, before = 0, 0
            for match in _CODE.finditer(data):
                before += data.count(b"\n", position, match.start())
                position = match.start()
                yield consumed + before + 1, match.group(0).decode("ascii")
            consumed += data.count(b"\n")
    if pending:
        yield consumed + 1, pending.decode("ascii")


_CODE = re.compile(rb"[^\n]+")


class _LineNumbers:
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


class _LineReader:
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


def stderr_progress(path: Path) -> Callable[[float], None] | None:
    """A progress bar on stderr for a long run on a terminal, else None."""
    if not sys.stderr.isatty() or path.stat().st_size < 64 << 20:
        return None
    return lambda percent: _draw(path, percent)


def _draw(path: Path, percent: float) -> None:
    filled = int(percent / 100 * 30)
    end = "\n" if percent >= 100 else ""
    sys.stderr.write(f"\r{path.name} [{'#' * filled}{'.' * (30 - filled)}] {percent:5.1f}%{end}")
    sys.stderr.flush()
