"""The typed scan's query: each line judged from its text first, then parsed into typed paths.

One row per non-blank line (``{reader}``: ``read_json_objects``, NULL for a line that is not
JSON) gets its code and its length. Each line is first judged from its text
(``sigma_ext.hunt.fast.raw_gate``): not a JSON object, or suspicious, goes to the reference
engine ('R'); recognised from its first keys with no rule able to fire, has no code. About 90%
of audit lines end there. The others are parsed with ``json_transform`` into exactly the paths
the rules read, typed (a value off that shape anywhere in the line makes the rules undecidable
for it, see ``raw_gate.shape_regexes``), meet a cheap typed *gate*
(``sigma_ext.hunt.fast.gates``), and only the rows it passes are guarded and meet the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sigma.types import SigmaString

from sigma_ext.hunt.fast import raw_gate, source_docs
from sigma_ext.hunt.fast.duckdb_backend import sql_string
from sigma_ext.hunt.fast.envelopes import Envelope, unwrap_sql
from sigma_ext.hunt.fast.gates import (
    FieldPatterns,
    any_of_patterns,
    gate_column_sql,
    gate_test,
    necessary_patterns,
    necessary_sql,
)
from sigma_ext.hunt.fast.plan import (
    TYPED_TEXT_GUARD,
    SourcePlan,
    dotted_runs,
    ident,
    path_shape,
    varchar_columns,
)
from sigma_ext.hunt.fast.recognizers import Claims
from sigma_ext.hunt.fast.rule_sql import row_code, rule_sql
from sigma_ext.hunt.fast.source_docs import claims_sql
from sigma_ext.sources.catalogue import SOURCES

TEXT = "sx_text"


def typed_select(
    plans: list[SourcePlan], envelopes: list[Envelope], *, forced: bool, route_unrecognized: bool
) -> str:
    """The same codes as ``exact_select``, and each line's length, from the lines' text."""
    if not plans:
        return "SELECT 'R' AS code, strlen(json) AS n, NULL::SMALLINT AS src FROM {reader}"
    spec, shape, dotted = _document(plans)
    # each candidate line's source (``sx_who``), from the recognisers' paths in one parse
    # each set of claim strings tested once per line (a column), not once per source
    claims = sorted({c for plan in plans for c in plan.path.unclaimed})
    claimed = {c: f"sx_claim{number}" for number, c in enumerate(claims)}
    guard = {}
    for number, plan in enumerate(plans):
        # an envelope's carried event is the first source's; a line a source before this one
        # that the SQL does not judge may claim is left to the reference engine
        tests = ["sx_carrier IS NULL"] if number else []
        if plan.path.unclaimed:
            tests.append(f"NOT ({' OR '.join(claimed[c] for c in plan.path.unclaimed)})")
        if tests:
            guard[number] = " AND ".join(tests)
    who = source_docs.who_sql(plans, forced, guard)
    layers = _Layers()
    for number, plan in enumerate(plans):
        typed = replace(plan, typed=True, shape_column="sx_shape")
        layers.add_source(typed, f"coalesce(sx_who = {number}, FALSE)")
    # a line's length is its own; its text, the event an envelope carries in it
    nested = unwrap_sql("(SELECT json::VARCHAR AS sx_raw FROM {reader})", envelopes)
    line = _line_class(plans, envelopes, forced=forced)
    nested = f"(SELECT {TEXT}, sx_n, sx_carrier, {line} AS sx_line FROM {nested})"
    # the gate reads only its own fields, so it needs only their shape (cheap); the whole
    # shape is looked for only on the rows it lets through (a quarter of the candidates)
    gate_nodes, gate_dotted = path_shape(layers.gated_fields)
    gate_shape = raw_gate.shape_regexes(gate_nodes, gate_dotted, nested_arrays=False, by_key=True)
    gate_shape_sql = raw_gate.any_regex_sql(TEXT, gate_shape) if gate_shape else "FALSE"
    shape_sql = raw_gate.any_regex_sql(TEXT, raw_gate.shape_regexes(shape, dotted))
    if not forced:
        tokens = source_docs.tokens_sql(plans, TEXT)
        nested = f"(SELECT {TEXT}, sx_n, sx_line, sx_carrier, {tokens} FROM {nested})"
    nested = (
        f"(SELECT {TEXT}, sx_n, sx_line, sx_carrier"
        + "".join(f", {column}" for column in source_docs.paths_sql(plans, forced, TEXT))
        + "".join(
            f", CASE WHEN sx_line = 'C' THEN {claims_sql(TEXT, c)} END AS {claimed[c]}"
            for c in claims
        )
        + f" FROM {nested})"
    )
    nested = f"(SELECT {TEXT}, sx_n, sx_line, sx_carrier, {who} AS sx_who FROM {nested})"
    documents, unpacked = source_docs.documents_sql(plans, spec, TEXT)
    nested = (
        f"(SELECT {TEXT}, sx_n, sx_line, sx_carrier, sx_who, {', '.join(documents)}, "
        f"CASE WHEN sx_who IS NOT NULL THEN coalesce(({gate_shape_sql}), FALSE) END "
        f"AS sx_gate_shape FROM {nested})"
    )
    nested = (
        f"(SELECT {TEXT}, sx_n, sx_line, sx_carrier, sx_who, sx_gate_shape, {', '.join(unpacked)} "
        f"FROM {nested})"
    )
    layers.layers[2].append(
        f"CASE WHEN {' OR '.join(layers.gates)} THEN coalesce(({shape_sql}), FALSE) END AS sx_shape"
    )
    nested = layers.nest(nested)
    otherwise = "'R'" if route_unrecognized else "NULL"
    code = (
        f"CASE WHEN sx_line IS NULL THEN NULL WHEN sx_line = 'R' THEN 'R' "
        f"{' '.join(layers.branches)} ELSE {otherwise} END"
    )
    return (
        f"SELECT code, n, CASE WHEN code IS DISTINCT FROM 'R' THEN sx_src END AS src "
        f"FROM (SELECT {code} AS code, sx_n AS n, {_source_of_row(plans, envelopes)} AS sx_src "
        f"FROM {nested})"
    )


def _source_of_row(plans: list[SourcePlan], envelopes: list[Envelope]) -> str:
    """The index in ``SOURCES`` of the source a row not left to the reference engine belongs to,
    as the reference would recognise it: the envelope that carried it (the envelopes opened
    are those of the sources right after the fast ones, in order), the first fast source when
    its text alone dismissed it, else the first fast source whose recogniser holds."""
    first = SOURCES.index(plans[0].source)
    # the envelopes opened are those of the sources right after the first fast one
    carried = " ".join(
        f"WHEN sx_carrier = {number} THEN {first + number}"
        for number in range(1, len(envelopes) + 1)
    )
    recognised = " ".join(
        f"WHEN {ident(f'{plan.prefix}rec')} THEN {SOURCES.index(plan.source)}" for plan in plans
    )
    return f"CASE {carried} WHEN sx_line IS NULL THEN {first} {recognised} END::SMALLINT"


def unclaimed_sql(text: str, claims: tuple[Claims, ...]) -> str:
    """TRUE for a line a source with one of ``claims`` (``recognizers.CLAIM_STRINGS``) may
    claim: its text holds every piece of one of its groups (text spelt with ``\\u`` escapes
    never gets here: ``raw_gate.escape_sql`` leaves such lines to the reference engine)."""
    return " OR ".join(claims_sql(text, claim) for claim in claims)


def _document(
    plans: list[SourcePlan],
) -> tuple[dict[str, Any], list[tuple[str, bool, bool]], set[str]]:
    """The ``json_transform`` structure of a line (scalars as VARCHAR, subtrees typed), the
    shape nodes of its subtrees and the dotted keys the reference would read."""
    spec: dict[str, Any] = {c: "VARCHAR" for c in sorted(varchar_columns(plans))}
    shape: list[tuple[str, bool, bool]] = []
    dotted: set[str] = set()
    for plan in plans:
        for top, node in plan.roots.items():
            if top not in plan.scalar_tops():
                spec[top] = node.structure()
                shape += node.shape_nodes(top)
        for name in plan.fields:
            dotted |= dotted_runs(name)
    return spec, shape, dotted


@dataclass
class _Layers:
    """The typed scan's columns, layer by layer; ``gated`` are those computed only where a
    source's gate holds, keyed by (gate column, layer), packed into one CASE per layer."""

    layers: list[list[str]] = field(default_factory=lambda: [[] for _ in range(8)])
    gated: dict[tuple[str, int], list[tuple[str, str]]] = field(default_factory=dict)
    branches: list[str] = field(default_factory=list)
    gates: list[str] = field(default_factory=list)
    gated_fields: set[str] = field(default_factory=set)

    def add_source(self, plan: SourcePlan, recognized: str) -> None:
        """One source's recogniser (``recognized``, over the row), gate, guarded field values
        and rules."""
        layers, gated = self.layers, self.gated
        rec, gate = ident(f"{plan.prefix}rec"), ident(f"{plan.prefix}gate")
        self.gates.append(gate)
        layers[0].append(f"{recognized} AS {rec}")
        used: set[str] = set()

        def typed_test(name: str, values: list[Any]) -> str | None:
            return gate_test(plan, name, values, used)

        tests = {necessary_sql(rf, rule, typed_test) for _, rf, rule in plan.rules}
        open_rules = " OR ".join(sorted(tests)) or "FALSE"
        self.gated_fields.update(used)
        for name in sorted(used):
            layers[0] += gate_column_sql(replace(plan, shape_column="sx_gate_shape"), name)
        layers[1].append(f"coalesce({rec}, FALSE) AND ({open_rules}) AS {gate}")
        texts = []
        odd_text = ident(f"{plan.prefix}odd_text")
        for name in sorted(plan.fields):
            raw = plan.value_expr(name)
            columns = plan.field_columns(name)
            value_column = ident(f"{plan.prefix}w_{name}")
            gated.setdefault((gate, 3), []).append((raw.expr, value_column))
            texts.append(f"array_to_string({value_column}, ' ')" if raw.is_list else value_column)
            layers[5].append(f"{value_column} AS {columns.expr}")
            gated.setdefault((gate, 5), []).append(
                (
                    f"({raw.unknown}) OR {odd_text} OR {plan.value_unknown(name, value_column)}",
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
            name = ident(f"r{index}")
            names.append((index, name))
            full = rule_sql(plan, rule_file, rule, "full", shared)
            gated.setdefault((gate, 7), []).append((full, name))
        gated.setdefault((gate, 6), []).extend(shared.items())
        self.branches.append(f"WHEN {rec} THEN {row_code(gate, names)}")

    def nest(self, nested: str) -> str:
        """``nested`` with each layer selected on top of it, then its gated columns unpacked."""
        for number, layer in enumerate(self.layers):
            unpacked_items: list[str] = []
            for (gate, at), items in sorted(self.gated.items()):
                if at == number:
                    # one CASE per layer: DuckDB pays for each CASE on every row, not per hit
                    pack = ident(f"sx_pack_{at}_{gate.strip(chr(34))}")
                    fields = ", ".join(f"{name} := {expr}" for expr, name in items)
                    layer = [*layer, f"CASE WHEN {gate} THEN struct_pack({fields}) END AS {pack}"]
                    unpacked_items += [f"{pack}.{name} AS {name}" for _, name in items]
            for select in (layer, unpacked_items):
                if select:
                    nested = f"(SELECT {', '.join(['*', *select])} FROM {nested})"
        return nested


def _line_class(plans: list[SourcePlan], envelopes: list[Envelope], *, forced: bool) -> str:
    """Each line's class from its text: NULL (no hit), 'R' (reference engine) or 'C' (a
    candidate the rules must judge)."""
    # CASE, not AND/OR/NOT, so that each test runs only on the lines the one before left
    # (the folding test is the dearer one: it runs only on the lines the text tests leave,
    # which find a folding character in a value they test themselves)
    folding = raw_gate.folding_sql(TEXT)
    # a carried event is parsed only when DuckDB reads it as JSON (the reference decides
    # the others); a line with no candidate code has no hit whether it is JSON or not
    candidate = (
        f"(CASE WHEN sx_wrapped AND NOT json_valid({TEXT}) THEN 'R' ELSE 'C' END)"
        if envelopes
        else "'C'"
    )
    line = (
        f"CASE WHEN {TEXT} IS NULL OR NOT starts_with({TEXT}, '{{') THEN 'R' "
        f"WHEN {raw_gate.escape_sql(TEXT)} THEN 'R' "
    )
    dismissal = raw_dismissal(plans, TEXT, forced=forced)
    if dismissal is not None:
        recognized, needed = dismissal
        line += (
            f"WHEN {recognized} THEN "
            f"(CASE WHEN {needed} THEN (CASE WHEN {folding} THEN 'R' ELSE {candidate} END) "
            "END) "
        )
    return line + f"WHEN {folding} THEN 'R' ELSE {candidate} END"


def raw_dismissal(plans: list[SourcePlan], text: str, *, forced: bool) -> tuple[str, str] | None:
    """Two tests on a line's text (``sigma_ext.hunt.fast.raw_gate``): that it is an event of
    the first fast source, and that some rule of that source may fire on it; None when no line
    can be dismissed from its text."""
    if not plans:
        return None
    plan = replace(plans[0], typed=True, shape_column="sx_shape")
    if forced:
        recognized = "TRUE"
    elif plan.path.raw_prefix and plan.source is SOURCES[0]:
        keys = list(plan.path.raw_prefix)
        compact = sql_string(raw_gate.prefix_text(keys))
        regex = raw_gate.regex_sql(text, raw_gate.prefix_regex(keys))
        recognized = f"(starts_with({text}, {compact}) OR {regex})"
    else:
        return None

    def raw_patterns(name: str, values: list[Any]) -> FieldPatterns | None:
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

    needed = any_of_patterns(
        [necessary_patterns(rf, rule, raw_patterns) for _, rf, rule in plan.rules]
    )
    if needed is None:
        return None
    tests = [
        raw_gate.regex_sql(text, raw_gate.value_test(name.split(".")[-1], patterns))
        for name, patterns in sorted(needed.items())
    ]
    return recognized, " AND ".join(tests)
