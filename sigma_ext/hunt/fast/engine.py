"""The fast hunt: every rule of every source compiled into one DuckDB scan of a log file.

One DuckDB pass over the lines' text (plain or gzip JSON Lines, in parallel, streaming) computes
for every line a short code: nothing, the rules that fire, or "ask the reference engine". Most
lines are judged from their text alone (``sigma_ext.hunt.fast.raw_gate``); the others are parsed.
The codes
are written in file order to a temporary Parquet file (DuckDB's ordered ``COPY``, which keeps the
scan parallel) and the rows with a code read back by their row number; a line marked for the
reference engine is read from the log file and judged by
``sigma_ext.hunt.reference.evaluate_line``, so its
verdict is the reference verdict by construction.

A line goes to the reference engine when DuckDB could not read it as a JSON object (bad lines,
text-log lines, arrays), when no fast source recognises it and some source has no fast path,
or when any rule's SQL is undecidable for it (see ``sigma_ext.hunt.fast.duckdb_backend``: NULL in
three-valued logic). The SQL is decidable for events in the shape their source documents:
``FAST_PATHS`` declares, per source, its recogniser in SQL, which of its fields are arrays, and
which top-level subtrees are large (the exact scan reads them only for rows whose small fields
already allow a hit), and the first keys that recognise a line from its text.
A row whose JSON deviates from that shape along a path a rule reads (an array where an object
was expected or the reverse, nested arrays, keys containing dots, objects where scalars were
expected, numbers Python reads as inf/nan) is undecidable, never misjudged.

Memory: DuckDB runs with ``memory_limit`` (default 1 GB) and streams the file; the Python side
holds one batch of codes (10,000 rows) and one line at a time.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar

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
from sigma.types import SigmaNull, SigmaString

from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast import element_lines, raw_gate
from sigma_ext.hunt.fast.duckdb_backend import (
    VALUE_GUARD,
    DuckDBBackend,
    FieldResolver,
    FieldSql,
    every_element_sql,
    install_macros,
    re2_escape,
    sigma_string_pattern,
    sql_string,
)
from sigma_ext.hunt.fast.envelopes import ENVELOPES, Envelope, unwrap_sql
from sigma_ext.hunt.progress import Progress
from sigma_ext.hunt.reference import (
    PROGRESS_LINES,
    BadLine,
    Hit,
    evaluate_line,
    is_gzip,
    open_binary,
)
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import SOURCES, Source


@dataclass(frozen=True)
class FastPath:
    """How the fast hunt reads one source.

    ``recognizer`` is a SQL boolean with exactly the meaning of ``Source.recognize``, written over
    top-level keys as ``{key}``, each read as VARCHAR (a JSON string as its text, any other value
    as its JSON text: ``["Event"]`` reads ``'["Event"]'``); ``arrays`` are the dotted paths that
    hold arrays in the documented format; ``heavy`` are top-level keys with large subtrees (the
    exact scan reads them last); ``raw_prefix`` are the first keys of a line, with the start of
    their string values, that prove the recogniser from the text (``sigma_ext.hunt.fast.raw_gate``).
    """

    recognizer: str
    arrays: frozenset[str] = frozenset()
    heavy: frozenset[str] = frozenset()
    raw_prefix: tuple[tuple[str, str], ...] = ()

    def recognizer_keys(self) -> list[str]:
        return re.findall(r"\{([^{}]+)\}", self.recognizer)


FAST_PATHS: dict[str, FastPath] = {
    "kubernetes_audit": FastPath(
        recognizer=("({kind} = 'Event' AND starts_with({apiVersion}, 'audit.k8s.io/'))"),
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
        # how the API server's audit backend writes every event (TypeMeta first)
        raw_prefix=(("kind", "Event"), ("apiVersion", "audit.k8s.io/")),
    ),
}
# Sources whose lines the reference engine judges one by one (provider envelopes that need
# more than ``sigma_ext.hunt.fast.envelopes`` opens, text formats that need ``parse_text``, or
# simply
# no SQL written yet).
REFERENCE_ONLY: frozenset[str] = frozenset(
    {
        "kubernetes_audit_gke",
        "aws_cloudtrail",
        "azure_activitylogs",
        "gcp_audit",
        "docker_events",
        "container_runtime",
        "kubernetes_events",
        "kubernetes_events_watch",
        "sysmon_linux",
        "tetragon",
    }
)


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


# Lines of newline-joined values, one of which may be a value ``sx_unsure`` finds: an object
# or array, or text a DOUBLE cast may read as infinite or NaN.
MAYBE_UNSURE = "(?m)^(?:[{\\[]|-?(?i:inf|nan)|-?[0-9.][0-9.eE+\\-_ \\t]*$)"


# The typed scan's text guard, once per candidate row: any value with a character outside
# printable ASCII makes every field of the row undecidable (``sx_unprintable`` per value in
# the exact scan).
TYPED_TEXT_GUARD = "coalesce(regexp_matches(concat_ws(' ', {texts}), '[^ -~]'), FALSE)"


@dataclass
class _Node:
    """One node of the JSON shape a source's rules read below a top-level key."""

    array: bool = False
    children: dict[str, _Node] = field(default_factory=dict)

    def structure(self) -> Any:
        """The ``json_transform`` structure of this node."""
        inner: Any = (
            {key: child.structure() for key, child in self.children.items()}
            if self.children
            else "VARCHAR"
        )
        return [inner] if self.array else inner

    def shape_nodes(self, key: str) -> list[tuple[str, bool, bool]]:
        """(key, is array, has children) for this node under ``key`` and every node below it."""
        nodes = [(key, self.array, bool(self.children))]
        for child_key, child in self.children.items():
            nodes += child.shape_nodes(child_key)
        return nodes


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
    typed: bool = False
    # the typed scan's per-line flag: a value off the shape, or a dotted key the reference would
    # read, anywhere in the line (``raw_gate.shape_regexes``)
    shape_column: str | None = None

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

    def scalar_tops(self) -> set[str]:
        """Top-level keys the rules read as one scalar: read as VARCHAR, never transformed."""
        return {top for top, node in self.roots.items() if not node.array and not node.children}

    def transformed(self, top: str) -> str:
        """The subtree of ``top`` as a typed value: in the typed scan it arrives typed (its
        ``json_transform`` of the whole line); in the exact scan it is ``json_transform``-ed."""
        return _ident(top) if self.typed else _ident(f"{self.prefix}t_{top}")

    def shape_unknown(self, top: str) -> str:
        """TRUE when the subtree of ``top`` is off the shape the SQL reads (a column, or inline
        for the typed scan)."""
        if self.typed:
            assert self.shape_column is not None, "the typed scan flags the shape per line"
            return self.shape_column
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
        if top in self.scalar_tops():
            return FieldSql(_ident(top), False, "FALSE")
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
        unknown = [self.shape_unknown(top)]
        if self.shape_column is None:
            unknown += [f"{_ident(d)} IS NOT NULL" for d in dotted]
        return FieldSql(expr, is_list, " OR ".join(unknown))

    def single_valued(self, name: str) -> bool:
        """Whether the rules read ``name`` and it holds at most one value (no array on its path,
        no other field below it): what the gates can test."""
        if name not in self.fields:
            return False
        value = self.value_expr(name)
        return not value.is_list and not value.expr.startswith("NULL")

    def value_unknown(self, name: str, column: str) -> str:
        """TRUE when a value of the field needs a guard of ``VALUE_GUARD``.

        The typed scan checks text once per row instead (``TYPED_TEXT_GUARD``), so here only
        what ``sx_unsure`` finds is left."""
        if self.typed:
            if self.value_expr(name).is_list:
                # the lambda only where a line of the joined values may be unsure: DuckDB pays
                # for a lambda on every vector it runs on
                lines = f"array_to_string({column}, chr(10))"
                return (
                    f"CASE WHEN regexp_matches({lines}, {sql_string(MAYBE_UNSURE)}) "
                    f"THEN coalesce(list_bool_or(list_transform({column}, "
                    "lambda sx_g: sx_unsure(sx_g))), FALSE) ELSE FALSE END"
                )
            return f"coalesce(sx_unsure({column}), FALSE)"
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
        self.envelopes = [] if source is not None else self._envelopes()
        self.select = self._select()
        self.typed_select = self._select_typed()

    def _envelopes(self) -> list[Envelope]:
        """The envelopes the typed scan opens (``sigma_ext.hunt.fast.envelopes``): those of the
        sources right after the SQL's own in ``SOURCES``, whose rules compile to the very SQL of
        the rules of the source they carry."""
        by_name = {plan.source.name: plan for plan in self.plans}
        # the carried source's rules as SQL, made once however many envelopes carry it
        expected: dict[str, list[str]] = {}
        opened: list[Envelope] = []
        for source in SOURCES[len(self.plans) :]:
            envelope = ENVELOPES.get(source.name)
            carried = by_name.get(envelope.carries) if envelope else None
            if envelope is None or carried is None:
                break
            loaded = self.engine.rules_for(source)
            if [entry.rule_file for entry in loaded] != [rf for _, rf, _ in carried.rules]:
                break
            own = _SourcePlan(source, carried.path, carried.prefix, [])
            for entry in loaded:
                for name in sorted(_rule_fields(entry.compiled.rule)):
                    own.add_field(name)
            if own.fields != carried.fields:
                break
            if envelope.carries not in expected:
                expected[envelope.carries] = [
                    self._rule_sql(carried, rule_file, rule, "full")
                    for _, rule_file, rule in carried.rules
                ]
            sql = [self._rule_sql(own, e.rule_file, e.compiled.rule, "full") for e in loaded]
            if sql != expected[envelope.carries]:
                break
            opened.append(envelope)
        return opened

    # -- SQL ---------------------------------------------------------------------------------

    def _rule_sql(
        self,
        plan: _SourcePlan,
        rule_file: RuleFile,
        rule: SigmaRule,
        stage: str,
        shared: dict[str, str] | None = None,
    ) -> str:
        """The rule over the fields a stage has: ``scalar`` (top-level scalars), ``light`` (all
        but the heavy subtrees) or ``full``; the others read as unknown (NULL). With ``shared``,
        each field test (and each every-element detection) is named there by a column, the
        same column for every rule that makes the same test; the caller computes them."""
        scalars = plan.scalar_tops()

        def top_level(top: str) -> bool:
            if stage == "scalar":
                return top in scalars
            return stage == "full" or top not in plan.path.heavy

        def resolve(name: str) -> FieldSql:
            if not top_level(name.split(".")[0]):
                return FieldSql("NULL::VARCHAR", False, "TRUE")
            return plan.field_columns(name)

        backend = DuckDBBackend(resolve) if shared is None else _SharedTests(resolve, shared, plan)
        state = ConversionState()
        detections = rule.detection

        def share(sql: str) -> str:
            return sql if shared is None else _shared_column(shared, plan, sql)

        def detection(name: str) -> str:
            tree = detections.detections[name].postprocess(detections)
            if name not in rule_file.every_element:
                return f"({backend.convert_condition(tree, state)})"
            pool = [resolve(f) for f in sorted(_fields_of(tree))]
            lines = element_lines.line_regex(tree)
            if lines is not None:
                return share(element_lines.every_element_sql(pool, lines))

            def element(var: str) -> str:
                element_backend = DuckDBBackend(lambda _: FieldSql(var, False))
                return _deduplicated(tree, element_backend)

            return share(every_element_sql(pool, element, name))

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
        """The per-row code: NULL (no hit), 'R' (reference engine) or 'i;j;…' (rules that fire).

        Work grows by layer and each layer runs only where the one before leaves a rule open:
        the recogniser; the *gate*, every rule over the top-level scalars alone (no JSON is
        transformed for a row that fails it: most audit events are reads); the small subtrees
        (``light``) and the rules over those; then the heavy subtrees and the full rules.
        """
        if not self.plans:
            return "SELECT 'R' AS code FROM {reader}"
        layers: list[list[str]] = [[] for _ in range(12)]
        branches = []
        for plan in self.plans:
            rec, pre = _ident(f"{plan.prefix}rec"), _ident(f"{plan.prefix}pre")
            gate = _ident(f"{plan.prefix}gate")
            scalars = plan.scalar_tops()
            layers[0].append(f"{self._recognizer(plan)} AS {rec}")
            for top, node in sorted(plan.roots.items()):
                if top in scalars:
                    continue
                heavy = top in plan.path.heavy
                guard = f"{gate} AND {pre}" if heavy else gate
                structure = sql_string(json.dumps(node.structure()))
                regex = sql_string(plan.shape_regex(top))
                layers[7 if heavy else 4] += [
                    f"CASE WHEN {guard} THEN json_transform({_ident(top)}, {structure}) END "
                    f"AS {plan.transformed(top)}",
                    f"CASE WHEN {guard} THEN coalesce(regexp_matches({_ident(top)}::VARCHAR, "
                    f"{regex}), FALSE) END AS {plan.shape_unknown(top)}",
                ]
            for name in sorted(plan.fields):
                raw = plan.value_expr(name)
                columns = plan.field_columns(name)
                top = name.split(".")[0]
                where = 1 if top in scalars else 8 if top in plan.path.heavy else 5
                value_column = _ident(f"{plan.prefix}w_{name}")
                layers[where].append(f"{raw.expr} AS {value_column}")
                layers[where + 1].append(f"{value_column} AS {columns.expr}")
                layers[where + 1].append(
                    f"({raw.unknown}) OR {plan.value_unknown(name, value_column)} "
                    f"AS {columns.unknown}"
                )
            gated = [self._rule_sql(plan, rf, rule, "scalar") for _, rf, rule in plan.rules]
            open_rules = " OR ".join(f"({sql}) IS NOT FALSE" for sql in gated) or "FALSE"
            layers[3].append(f"coalesce({rec}, FALSE) AND ({open_rules}) AS {gate}")
            light = [self._rule_sql(plan, rf, rule, "light") for _, rf, rule in plan.rules]
            candidates = " OR ".join(f"({sql}) IS NOT FALSE" for sql in light) or "FALSE"
            layers[6].append(f"{gate} AND ({candidates}) AS {pre}")
            names = []
            for index, rule_file, rule in plan.rules:
                name = _ident(f"r{index}")
                names.append((index, name))
                full = self._rule_sql(plan, rule_file, rule, "full")
                layers[11].append(f"CASE WHEN {pre} THEN {full} END AS {name}")
            branches.append(f"WHEN {rec} THEN {_code(pre, names)}")
        nested = "{reader}"
        for layer in layers:
            if layer:
                nested = f"(SELECT {', '.join(['*', *layer])} FROM {nested})"
        all_null = " AND ".join(f"{_ident(c)} IS NULL" for c in self.columns)
        otherwise = "'R'" if self.route_unrecognized else "NULL"
        return (
            f"SELECT CASE WHEN {all_null} THEN 'R' {' '.join(branches)} ELSE {otherwise} END "
            f"AS code FROM {nested}"
        )

    def _select_typed(self) -> str:
        """The same codes, and each line's length, from a scan of the lines' text (``{reader}``:
        ``read_json_objects``, one row per non-blank line, NULL for a line that is not JSON).

        Each line is first judged from its text (``sigma_ext.hunt.fast.raw_gate``): not a JSON
        object, or
        suspicious, goes to the reference engine ('R'); recognised from its first keys with no
        rule able to fire, has no code. About 90% of audit lines end there. The others are
        parsed with ``json_transform`` into exactly the paths the rules read, typed (a value off
        that shape anywhere in the line makes the rules undecidable for it, see
        ``raw_gate.shape_regexes``), meet a cheap typed *gate* (``_necessary_sql``), and only the
        rows it passes are guarded and meet the rules.
        """
        if not self.plans:
            return "SELECT 'R' AS code, strlen(json) AS n FROM {reader}"
        layers: list[list[str]] = [[] for _ in range(8)]
        gated: dict[tuple[str, int], list[tuple[str, str]]] = {}
        branches = []
        spec: dict[str, Any] = {c: "VARCHAR" for c in sorted(self.varchar_columns())}
        shape: list[tuple[str, bool, bool]] = []
        dotted: set[str] = set()
        for plain in self.plans:
            for top, node in plain.roots.items():
                if top not in plain.scalar_tops():
                    spec[top] = node.structure()
                    shape += node.shape_nodes(top)
            for name in plain.fields:
                dotted |= _dotted_runs(name)
        gated_fields: set[str] = set()
        gates: list[str] = []
        for plain in self.plans:
            plan = replace(plain, typed=True, shape_column="sx_shape")
            rec, gate = _ident(f"{plan.prefix}rec"), _ident(f"{plan.prefix}gate")
            gates.append(gate)
            layers[0].append(f"{self._recognizer(plan)} AS {rec}")
            used: set[str] = set()

            def typed_test(
                name: str, values: list[Any], plan: _SourcePlan = plan, used: set[str] = used
            ) -> str | None:
                return _gate_test(plan, name, values, used)

            tests = {_necessary_sql(rf, rule, typed_test) for _, rf, rule in plan.rules}
            open_rules = " OR ".join(sorted(tests)) or "FALSE"
            gated_fields.update(used)
            for name in sorted(used):
                layers[0] += _gate_column_sql(replace(plan, shape_column="sx_gate_shape"), name)
            layers[1].append(f"coalesce({rec}, FALSE) AND ({open_rules}) AS {gate}")
            texts = []
            odd_text = _ident(f"{plan.prefix}odd_text")
            for name in sorted(plan.fields):
                raw = plan.value_expr(name)
                columns = plan.field_columns(name)
                value_column = _ident(f"{plan.prefix}w_{name}")
                gated.setdefault((gate, 3), []).append((raw.expr, value_column))
                texts.append(
                    f"array_to_string({value_column}, ' ')" if raw.is_list else value_column
                )
                layers[5].append(f"{value_column} AS {columns.expr}")
                gated.setdefault((gate, 5), []).append(
                    (
                        f"({raw.unknown}) OR {odd_text} OR "
                        f"{plan.value_unknown(name, value_column)}",
                        str(columns.unknown),
                    )
                )
            if texts:
                gated.setdefault((gate, 4), []).append(
                    (TYPED_TEXT_GUARD.format(texts=", ".join(texts)), odd_text)
                )
            names = []
            shared: dict[str, str] = {}
            for index, rule_file, rule in plan.rules:
                name = _ident(f"r{index}")
                names.append((index, name))
                full = self._rule_sql(plan, rule_file, rule, "full", shared)
                gated.setdefault((gate, 7), []).append((full, name))
            gated.setdefault((gate, 6), []).extend(shared.items())
            branches.append(f"WHEN {rec} THEN {_code(gate, names)}")
        text = "sx_text"
        # CASE, not AND/OR/NOT, so that each test runs only on the lines the one before left
        # (the folding test is the dearer one: it runs only on the lines the text tests leave,
        # which find a folding character in a value they test themselves)
        folding = raw_gate.folding_sql(text)
        # a carried event is parsed only when DuckDB reads it as JSON (the reference decides
        # the others); a line with no candidate code has no hit whether it is JSON or not
        candidate = (
            f"(CASE WHEN sx_wrapped AND NOT json_valid({text}) THEN 'R' ELSE 'C' END)"
            if self.envelopes
            else "'C'"
        )
        line = (
            f"CASE WHEN {text} IS NULL OR NOT starts_with({text}, '{{') THEN 'R' "
            f"WHEN {raw_gate.escape_sql(text)} THEN 'R' "
        )
        dismissal = self._raw_dismissal(text)
        if dismissal is not None:
            recognized, needed = dismissal
            line += (
                f"WHEN {recognized} THEN "
                f"(CASE WHEN {needed} THEN (CASE WHEN {folding} THEN 'R' ELSE {candidate} END) "
                "END) "
            )
        line += f"WHEN {folding} THEN 'R' ELSE {candidate} END"
        # a line's length is its own; its text, the event an envelope carries in it
        nested = unwrap_sql("(SELECT json::VARCHAR AS sx_raw FROM {reader})", self.envelopes)
        nested = f"(SELECT {text}, sx_n, {line} AS sx_line FROM {nested})"
        spec_sql = sql_string(json.dumps(spec))
        # the gate reads only its own fields, so it needs only their shape (cheap); the whole
        # shape is looked for only on the rows it lets through (a quarter of the candidates)
        gate_nodes, gate_dotted = _path_shape(gated_fields)
        gate_shape = raw_gate.shape_regexes(
            gate_nodes, gate_dotted, nested_arrays=False, by_key=True
        )
        gate_shape_sql = raw_gate.any_regex_sql(text, gate_shape) if gate_shape else "FALSE"
        shape_sql = raw_gate.any_regex_sql(text, raw_gate.shape_regexes(shape, dotted))
        nested = (
            f"(SELECT {text}, sx_n, sx_line, "
            f"CASE WHEN sx_line = 'C' THEN json_transform({text}, {spec_sql}) END AS sx_doc, "
            f"CASE WHEN sx_line = 'C' THEN coalesce(({gate_shape_sql}), FALSE) END "
            f"AS sx_gate_shape FROM {nested})"
        )
        unpacked = ", ".join(f"sx_doc.{_ident(c)} AS {_ident(c)}" for c in spec)
        nested = f"(SELECT {text}, sx_n, sx_line, sx_gate_shape, {unpacked} FROM {nested})"
        layers[2].append(
            f"CASE WHEN {' OR '.join(gates)} THEN coalesce(({shape_sql}), FALSE) END AS sx_shape"
        )
        for number, layer in enumerate(layers):
            unpacked_items: list[str] = []
            for (gate, at), items in sorted(gated.items()):
                if at == number:
                    # one CASE per layer: DuckDB pays for each CASE on every row, not per hit
                    pack = _ident(f"sx_pack_{at}_{gate.strip(chr(34))}")
                    fields = ", ".join(f"{name} := {expr}" for expr, name in items)
                    layer = [*layer, f"CASE WHEN {gate} THEN struct_pack({fields}) END AS {pack}"]
                    unpacked_items += [f"{pack}.{name} AS {name}" for _, name in items]
            for select in (layer, unpacked_items):
                if select:
                    nested = f"(SELECT {', '.join(['*', *select])} FROM {nested})"
        otherwise = "'R'" if self.route_unrecognized else "NULL"
        return (
            f"SELECT CASE WHEN sx_line IS NULL THEN NULL WHEN sx_line = 'R' THEN 'R' "
            f"{' '.join(branches)} ELSE {otherwise} END AS code, sx_n AS n FROM {nested}"
        )

    def _raw_dismissal(self, text: str) -> tuple[str, str] | None:
        """Two tests on a line's text (``sigma_ext.hunt.fast.raw_gate``): that it is an event of
        the first
        fast source, and that some rule of that source may fire on it; None when no line can be
        dismissed from its text."""
        if not self.plans:
            return None
        plan = replace(self.plans[0], typed=True, shape_column="sx_shape")
        if self.forced is not None:
            recognized = "TRUE"
        elif plan.path.raw_prefix and plan.source is SOURCES[0]:
            keys = list(plan.path.raw_prefix)
            compact = sql_string(raw_gate.prefix_text(keys))
            regex = raw_gate.regex_sql(text, raw_gate.prefix_regex(keys))
            recognized = f"(starts_with({text}, {compact}) OR {regex})"
        else:
            return None

        def raw_patterns(name: str, values: list[Any]) -> _FieldPatterns | None:
            if not plan.single_valued(name):
                return None
            patterns = set()
            for sigma_value in values:
                if not isinstance(sigma_value, SigmaString):
                    return None
                pattern = raw_gate.string_pattern(sigma_value)
                if pattern is None:
                    return None
                patterns.add(pattern)
            return {name: frozenset(patterns)}

        needed = _any_of_patterns(
            [_necessary_patterns(rf, rule, raw_patterns) for _, rf, rule in plan.rules]
        )
        if needed is None:
            return None
        tests = [
            raw_gate.regex_sql(text, raw_gate.value_test(name.split(".")[-1], patterns))
            for name, patterns in sorted(needed.items())
        ]
        return recognized, " AND ".join(tests)

    def varchar_columns(self) -> set[str]:
        """Columns read as VARCHAR: the recognisers' keys and the scalars rules read."""
        varchar: set[str] = set()
        for plan in self.plans:
            varchar.update(plan.scalar_tops(), plan.path.recognizer_keys())
        for plan in self.plans:
            clash = varchar & (set(plan.roots) - plan.scalar_tops())
            if clash:
                raise ValueError(f"read both as a scalar and as a subtree: {sorted(clash)}")
        return varchar

    def reader(self, path: Path) -> str:
        """``read_json`` of the columns the rules read, as JSON text to be checked and transformed
        per row (the exact scan); a line DuckDB cannot read gives a row of NULLs."""
        varchar = self.varchar_columns()
        types = {c: "VARCHAR" if c in varchar else "JSON" for c in self.columns}
        columns = (
            "{" + ", ".join(f"{sql_string(c)}: {sql_string(t)}" for c, t in types.items()) + "}"
        )
        return (
            f"read_json({sql_string(str(path))}, format='newline_delimited', records=true, "
            f"ignore_errors=true, compression='{_compression(path)}', columns={columns})"
        )

    # -- running -----------------------------------------------------------------------------

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": self.threads, "memory_limit": self.memory_limit})
        con.execute("SET preserve_insertion_order = true")
        # long IN lists would become MARK joins, which neither keep the row order nor run fast
        con.execute("SET disabled_optimizers = 'in_clause'")
        # DuckDB's own bar would go to stdout, which carries the hits
        con.execute("SET enable_progress_bar_print = false")
        install_macros(con)
        return con

    def hunt_file(self, path: Path, progress: Progress | None = None) -> Iterator[Hit | BadLine]:
        """Every hit and bad line of one file, in line order (hits of a line in rule order).

        The typed scan runs first; if DuckDB fails on it, the file is scanned again the exact
        way. DuckDB skips blank lines: when the rows' lengths do not add up to the file's size,
        the file is read once more to place them.
        """
        source = self.forced
        with tempfile.TemporaryDirectory(prefix="sigma-ext-hunt-") as folder:
            codes = Path(folder) / "codes.parquet"
            con = self.connect()
            lines = _LineReader(path)
            try:
                scanned = self._scan_typed(con, path, codes, progress)
                if scanned is None:
                    scanned = self._scan_exact(con, path, codes, progress)
                read = _all_lines_read(path, scanned.rows, scanned.length)
                numbers = _LineNumbers([] if read else _skipped_lines(path))
                judging = _Judging(progress, scanned.reference)
                # a code's hits, made once and moved to each line: most hit lines share a code
                made: dict[str, list[Hit]] = {}
                for ordinal, code in _codes(con, codes):
                    number = numbers.of(ordinal)
                    if code == "R":
                        raw = lines.get(number)
                        yield from evaluate_line(self.engine, path, number, raw, source)
                        judging.judged()
                        continue
                    if code not in made:
                        made[code] = [
                            Hit.of(self.rule_files[int(i)], path, 0) for i in code.split(";")
                        ]
                    for hit in made[code]:
                        yield hit.at(number)
                judging.done()
            finally:
                lines.close()
                con.close()

    def _scan_typed(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        codes: Path,
        progress: Progress | None,
    ) -> _Scanned | None:
        """Write the code and length of every row to ``codes``; None when DuckDB fails on it."""
        reader = (
            f"read_json_objects({sql_string(str(path))}, format='newline_delimited', "
            f"ignore_errors=true, compression='{_compression(path)}')"
        )
        try:
            return _copy_codes(con, self.typed_select.replace("{reader}", reader), codes, progress)
        except (duckdb.Error, UnicodeDecodeError):
            # its message may even quote bytes that are not UTF-8
            return None

    def _scan_exact(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        codes: Path,
        progress: Progress | None,
    ) -> _Scanned:
        """Write the code of every row to ``codes`` (lengths unknown)."""
        exact = self.select.replace("{reader}", self.reader(path))
        query = f"SELECT code, NULL::BIGINT AS n FROM ({exact})"
        return _copy_codes(con, query, codes, progress)


def _compression(path: Path) -> str:
    return "gzip" if is_gzip(path) else "none"


class _Scanned(NamedTuple):
    """What a scan wrote to the codes file."""

    rows: int
    length: int | None
    """The sum of the rows' lengths; None when a row has none."""
    reference: int
    """Rows left to the reference engine (code 'R')."""


def _copy_codes(
    con: duckdb.DuckDBPyConnection,
    query: str,
    codes: Path,
    progress: Progress | None,
) -> _Scanned:
    """Run ``query`` (columns ``code`` and ``n``) into the Parquet file ``codes``, in row order,
    and count what it wrote."""
    target = sql_string(str(codes))
    _run_with_progress(con, f"COPY ({query}) TO {target} (FORMAT parquet)", progress)
    found = con.execute(
        "SELECT count(*), sum(n), count(n), count(*) FILTER (WHERE code = 'R') "
        f"FROM read_parquet({target})"
    ).fetchone()
    assert found is not None
    rows, length, known, reference = found
    return _Scanned(int(rows), int(length or 0) if known == rows else None, int(reference))


def _all_lines_read(path: Path, rows: int, length: int | None) -> bool:
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
    return _count_lines(path) == rows


_FieldPatterns = dict[str, frozenset[str]]
_T = TypeVar("_T")


def _necessary(
    rule_file: RuleFile,
    rule: SigmaRule,
    test: Callable[[str, list[Any]], _T | None],
    all_of: Callable[[list[_T | None]], _T | None],
    any_of: Callable[[list[_T | None]], _T | None],
) -> _T | None:
    """A condition that holds whenever the rule may fire or be undecidable (None: none known).

    Built from the rule's positive tests, each rendered by ``test(field, values)`` (the field
    equals one of the values; None when it cannot say), combined by ``all_of`` for an AND and
    ``any_of`` for an OR; a NOT, an every-element detection or any other test says nothing.
    Far cheaper than the rule, it lets most rows skip it: as SQL over typed values
    (``_necessary_sql``) or as regular expressions per field over a line's text
    (``_necessary_patterns``).
    """
    detections = rule.detection

    def item(node: Any) -> _T | None:
        match node:
            case ConditionFieldEqualsValueExpression():
                return test(node.field, [node.value])
            case ConditionOR() if (same := _same_field(node.args)) is not None:
                return test(same[0].field, [a.value for a in same])
            case ConditionAND():
                return all_of([item(a) for a in node.args])
            case ConditionOR():
                return any_of([item(a) for a in node.args])
        return None

    def walk(node: Any) -> _T | None:
        match node:
            case ConditionIdentifier():
                if node.identifier in rule_file.every_element:
                    return None
                return item(detections.detections[node.identifier].postprocess(detections))
            case ConditionSelector():
                referenced = node.resolve_referenced_detections(detections)
                return walk(node.cond_class(list(referenced)))
            case ConditionAND():
                return all_of([walk(a) for a in node.args])
            case ConditionOR():
                return any_of([walk(a) for a in node.args])
        return None

    return any_of([walk(c.parse(postprocess=False)) for c in detections.parsed_condition])


def _necessary_sql(
    rule_file: RuleFile, rule: SigmaRule, test: Callable[[str, list[Any]], str | None]
) -> str:
    """``_necessary`` as a SQL boolean (an AND keeps its parts, an OR needs one of them)."""
    return _necessary(rule_file, rule, test, _all_of, _one_of) or "TRUE"


def _necessary_patterns(
    rule_file: RuleFile,
    rule: SigmaRule,
    test: Callable[[str, list[Any]], _FieldPatterns | None],
) -> _FieldPatterns | None:
    """``_necessary`` as values per field, one of which the field must hold. An AND keeps every
    child's fields (one test each), an OR the fields all its children test, with all their
    values: coarser than ``_necessary_sql``, so that several rules share the tests."""
    return _necessary(rule_file, rule, test, _all_of_patterns, _any_of_patterns)


def _all_of_patterns(parts: list[_FieldPatterns | None]) -> _FieldPatterns | None:
    """Every part must hold: each field's smallest set of values."""
    merged: _FieldPatterns = {}
    for part in parts:
        for name, patterns in (part or {}).items():
            if name not in merged or len(patterns) < len(merged[name]):
                merged[name] = patterns
    return merged or None


def _any_of_patterns(parts: list[_FieldPatterns | None]) -> _FieldPatterns | None:
    """One part must hold: the fields every part tests, with all their values."""
    if not parts or any(part is None for part in parts):
        return None
    known = [part for part in parts if part is not None]
    common = set.intersection(*(set(part) for part in known))
    return {name: frozenset().union(*(part[name] for part in known)) for name in common} or None


def _all_of(parts: list[str | None]) -> str | None:
    """SQL that holds when every known part holds (None: nothing known)."""
    known = sorted({part for part in parts if part is not None})
    return "(" + " AND ".join(known) + ")" if known else None


def _one_of(parts: list[str | None]) -> str | None:
    """SQL that holds when one part holds (None when a part says nothing)."""
    if not parts or any(part is None for part in parts):
        return None
    return "(" + " OR ".join(sorted({part for part in parts if part is not None})) + ")"


def _same_field(args: list[Any]) -> list[ConditionFieldEqualsValueExpression] | None:
    """The arguments, when every one tests one and the same field."""
    tests = [a for a in args if isinstance(a, ConditionFieldEqualsValueExpression)]
    if not tests or len(tests) != len(args) or len({t.field for t in tests}) != 1:
        return None
    return tests


def _folded_pattern(
    value: SigmaString, many: str, one: str, literal: Callable[[str], str]
) -> str | None:
    """A Sigma string, lower-cased, as a pattern: ``many`` and ``one`` for its wildcards and
    ``literal`` escaping its text; None when the text is not printable ASCII (Python and SQL
    fold other characters differently)."""
    return sigma_string_pattern(value, many, one, lambda text: literal(text.lower()))


def _like_pattern(value: SigmaString) -> str | None:
    """``value`` as a lower-case LIKE pattern (escape ``\\``), or None if not plain ASCII."""
    return _folded_pattern(value, "%", "_", lambda text: re.sub(r"([%_\\])", r"\\\1", text))


def _gate_columns(plan: _SourcePlan, name: str) -> tuple[str, str, str]:
    """(doubt, lower, value) column names of a field the gate tests."""
    return (
        _ident(f"{plan.prefix}gd_{name}"),
        _ident(f"{plan.prefix}gl_{name}"),
        _ident(f"{plan.prefix}gv_{name}"),
    )


def _gate_column_sql(plan: _SourcePlan, name: str) -> list[str]:
    """The columns ``_gate_test`` reads: the value, whether the row's shape or the value puts
    the test in doubt (a dotted key, an array in disguise, non-ASCII text, where Python's case
    folding differs), and the value lower-cased."""
    raw = plan.value_expr(name)
    doubt, lower, value = _gate_columns(plan, name)
    v = raw.expr
    return [
        f"{v} AS {value}",
        f"coalesce(({raw.unknown}) OR starts_with({v}, '[') OR strlen({v}) <> length({v}), "
        f"FALSE) AS {doubt}",
        f"lower({v}) AS {lower}",
    ]


def _gate_test(plan: _SourcePlan, name: str, values: list[Any], used: set[str]) -> str | None:
    """A cheap test that holds whenever the reference may find ``name`` equal to one of
    ``values`` (None: no such test). Only for a field with one value (no array on its path)
    and string or null values."""
    if not plan.single_valued(name):
        return None
    doubt, lower, value = _gate_columns(plan, name)
    plain: set[str] = set()
    patterns: set[str] = set()
    tests: list[str] = []
    for sigma_value in values:
        if isinstance(sigma_value, SigmaNull):
            tests.append(f"{value} IS NULL")
            continue
        if not isinstance(sigma_value, SigmaString):
            return None
        pattern = _like_pattern(sigma_value)
        if pattern is None:
            return None
        if sigma_value.contains_special():
            patterns.add(pattern)
        else:
            plain.add("".join(str(part) for part in sigma_value.s).lower())
    if plain:
        listed = ", ".join(sql_string(p) for p in sorted(plain))
        tests.append(f"coalesce({lower} IN ({listed}), FALSE)")
    for pattern in sorted(patterns):
        tests.append(f"coalesce({lower} LIKE {sql_string(pattern)} ESCAPE '\\', FALSE)")
    used.add(name)
    return "(" + " OR ".join([doubt, *tests]) + ")"


def _path_shape(names: Iterable[str]) -> tuple[list[tuple[str, bool, bool]], set[str]]:
    """The shape nodes (``_Node.shape_nodes``) and dotted keys along the paths of fields that
    hold one value: every key but the last holds an object."""
    nodes: set[tuple[str, bool, bool]] = set()
    dotted: set[str] = set()
    for name in names:
        nodes.update((part, False, True) for part in name.split(".")[:-1])
        dotted |= _dotted_runs(name)
    return sorted(nodes), dotted


def _dotted_runs(name: str) -> set[str]:
    """Every run of two or more of the field's keys joined with dots: keys the reference
    evaluator also reads the field through (``objectRef.resource``, ``spec.containers``)."""
    parts = name.split(".")
    return {
        ".".join(parts[start:end])
        for start in range(len(parts))
        for end in range(start + 2, len(parts) + 1)
    }


class _SharedTests(DuckDBBackend):
    """Each field test as a column of ``shared`` (test SQL to column): the rules of a source
    repeat the same tests (stage, verb, status, the dry-run filter), and DuckDB computes a
    repeated expression inside a CASE once per occurrence."""

    def __init__(self, resolve: FieldResolver, shared: dict[str, str], plan: _SourcePlan) -> None:
        super().__init__(resolve)
        self.shared = shared
        self.plan = plan

    def _guarded(self, field: FieldSql, test: str) -> str:
        return _shared_column(self.shared, self.plan, super()._guarded(field, test))


def _shared_column(shared: dict[str, str], plan: _SourcePlan, sql: str) -> str:
    if sql not in shared:
        shared[sql] = _ident(f"{plan.prefix}test{len(shared)}")
    return shared[sql]


def _code(candidate: str, names: list[tuple[int, str]]) -> str:
    """A row's code from its rule columns (NULL: undecidable) where ``candidate`` holds."""
    if not names:
        return "NULL"
    undecided = " OR ".join(f"{name} IS NULL" for _, name in names)
    fired = ", ".join(f"CASE WHEN {name} THEN '{index}' END" for index, name in names)
    return (
        f"CASE WHEN NOT {candidate} THEN NULL WHEN {undecided} THEN 'R' "
        f"ELSE nullif(concat_ws(';', {fired}), '') END"
    )


def _deduplicated(node: Any, backend: DuckDBBackend) -> str:
    """The condition with repeated alternatives and conjuncts written once.

    Every field of an every-element test reads the same element, so the test of each mapped
    field (nine image paths for Kubernetes) renders the same SQL: once is enough. SQL's AND,
    OR and NOT are three-valued, as the backend's own rendering is.
    """
    match node:
        case ConditionOR():
            patterns = {
                pattern: None
                for arg in node.args
                if isinstance(arg, ConditionFieldEqualsValueExpression)
                and (pattern := _folded_regex(arg.value)) is not None
            }
            others = [
                arg
                for arg in node.args
                if not isinstance(arg, ConditionFieldEqualsValueExpression)
                or _folded_regex(arg.value) is None
            ]
            parts = dict.fromkeys(_deduplicated(arg, backend) for arg in others)
            if patterns:
                # one regular expression instead of a LIKE per value: the element is
                # lower-cased once, and RE2 tries every alternative in one pass
                element = backend.resolve(node.args[0].field).expr  # type: ignore[union-attr]
                merged = sql_string("(?s)(?:" + "|".join(patterns) + ")")
                parts[f"coalesce(regexp_full_match(lower({element}), {merged}), FALSE)"] = None
            return "(" + " OR ".join(parts) + ")"
        case ConditionAND():
            parts = dict.fromkeys(_deduplicated(arg, backend) for arg in node.args)
            return "(" + " AND ".join(parts) + ")"
        case ConditionNOT():
            return f"(NOT {_deduplicated(node.args[0], backend)})"
    return f"({backend.convert_condition(node, ConversionState())})"


def _folded_regex(value: Any) -> str | None:
    """A case-insensitive Sigma string as an RE2 pattern over the lower-cased text (``*`` and
    ``?`` as in LIKE's ``%`` and ``_``), or None when it is not plain ASCII."""
    if not isinstance(value, SigmaString):
        return None
    return _folded_pattern(value, ".*", ".", re2_escape)


def _fields_of(node: Any) -> set[str]:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return {node.field}
    if isinstance(node, ConditionItem):
        return set().union(*(_fields_of(arg) for arg in node.args))
    return set()


def _run_with_progress(
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
class _Judging:
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


def _codes(con: duckdb.DuckDBPyConnection, codes: Path) -> Iterator[tuple[int, str]]:
    """(1-based row ordinal, code) for every row with a code, in order, a batch at a time."""
    result = con.execute(
        f"SELECT file_row_number + 1, code FROM read_parquet({sql_string(str(codes))}, "
        "file_row_number = true) WHERE code IS NOT NULL ORDER BY 1"
    )
    while batch := result.fetchmany(_BATCH):
        yield from batch


_BATCH = 10_000


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
