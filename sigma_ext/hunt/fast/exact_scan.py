"""The exact scan's query: every rule over the columns ``read_json`` gives, layer by layer.

It is the fallback when DuckDB fails on the typed scan (``sigma_ext.hunt.fast.typed_scan``):
slower, but it reads each top-level key as its own column, so a line the typed scan's
``json_transform`` cannot take still gets a code.
"""

from __future__ import annotations

import json

from sigma_ext.hunt.fast.duckdb_backend import sql_string
from sigma_ext.hunt.fast.plan import SourcePlan, ident, recognizer_sql, varchar_columns
from sigma_ext.hunt.fast.rule_sql import row_code, rule_sql
from sigma_ext.sources.catalogue import SOURCES


def exact_select(
    plans: list[SourcePlan], columns: list[str], *, forced: bool, route_unrecognized: bool
) -> str:
    """The per-row code: NULL (no hit), 'R' (reference engine) or 'i;j;…' (rules that fire).

    Work grows by layer and each layer runs only where the one before leaves a rule open:
    the recogniser; the *gate*, every rule over the top-level scalars alone (no JSON is
    transformed for a row that fails it: most audit events are reads); the small subtrees
    (``light``) and the rules over those; then the heavy subtrees and the full rules.
    """
    if not plans:
        return "SELECT 'R' AS code, NULL::SMALLINT AS src FROM {reader}"
    layers: list[list[str]] = [[] for _ in range(12)]
    branches = []
    for plan in plans:
        rec, pre = ident(f"{plan.prefix}rec"), ident(f"{plan.prefix}pre")
        gate = ident(f"{plan.prefix}gate")
        scalars = plan.scalar_tops()
        layers[0].append(f"{recognizer_sql(plan, forced)} AS {rec}")
        for top, node in sorted(plan.roots.items()):
            if top in scalars:
                continue
            heavy = top in plan.path.heavy
            guard = f"{gate} AND {pre}" if heavy else gate
            structure = sql_string(json.dumps(node.structure()))
            regex = sql_string(plan.shape_regex(top))
            layers[7 if heavy else 4] += [
                f"CASE WHEN {guard} THEN json_transform({ident(top)}, {structure}) END "
                f"AS {plan.transformed(top)}",
                f"CASE WHEN {guard} THEN coalesce(regexp_matches({ident(top)}::VARCHAR, "
                f"{regex}), FALSE) END AS {plan.shape_unknown(top)}",
            ]
        for name in sorted(plan.fields):
            raw = plan.value_expr(name)
            field_columns = plan.field_columns(name)
            top = name.split(".")[0]
            where = 1 if top in scalars else 8 if top in plan.path.heavy else 5
            value_column = ident(f"{plan.prefix}w_{name}")
            layers[where].append(f"{raw.expr} AS {value_column}")
            layers[where + 1].append(f"{value_column} AS {field_columns.expr}")
            layers[where + 1].append(
                f"({raw.unknown}) OR {plan.value_unknown(name, value_column)} "
                f"AS {field_columns.unknown}"
            )
        gated = [rule_sql(plan, rf, rule, "scalar") for _, rf, rule in plan.rules]
        open_rules = " OR ".join(f"({sql}) IS NOT FALSE" for sql in gated) or "FALSE"
        layers[3].append(f"coalesce({rec}, FALSE) AND ({open_rules}) AS {gate}")
        light = [rule_sql(plan, rf, rule, "light") for _, rf, rule in plan.rules]
        candidates = " OR ".join(f"({sql}) IS NOT FALSE" for sql in light) or "FALSE"
        layers[6].append(f"{gate} AND ({candidates}) AS {pre}")
        names = []
        for index, rule_file, rule in plan.rules:
            name = ident(f"r{index}")
            names.append((index, name))
            full = rule_sql(plan, rule_file, rule, "full")
            layers[11].append(f"CASE WHEN {pre} THEN {full} END AS {name}")
        branches.append(f"WHEN {rec} THEN {row_code(pre, names)}")
    nested = "{reader}"
    for layer in layers:
        if layer:
            nested = f"(SELECT {', '.join(['*', *layer])} FROM {nested})"
    all_null = " AND ".join(f"{ident(c)} IS NULL" for c in columns)
    otherwise = "'R'" if route_unrecognized else "NULL"
    sources = " ".join(
        f"WHEN {ident(f'{plan.prefix}rec')} THEN {SOURCES.index(plan.source)}" for plan in plans
    )
    code = f"CASE WHEN {all_null} THEN 'R' {' '.join(branches)} ELSE {otherwise} END"
    return (
        f"SELECT code, CASE WHEN code IS DISTINCT FROM 'R' THEN sx_src END AS src FROM "
        f"(SELECT {code} AS code, CASE {sources} END::SMALLINT AS sx_src FROM {nested})"
    )


def column_types(plans: list[SourcePlan], columns: list[str]) -> dict[str, str]:
    """How ``read_json`` reads each column: VARCHAR for the recognisers' keys and the scalars
    rules read, JSON text (checked and transformed per row) for the subtrees."""
    varchar = varchar_columns(plans)
    return {c: "VARCHAR" if c in varchar else "JSON" for c in columns}
