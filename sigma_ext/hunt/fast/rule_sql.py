"""One rule as a SQL boolean over a source plan's field columns.

``rule_sql`` walks the rule's condition with ``DuckDBBackend`` for each detection, over the
fields a stage of the scan has read; every-element detections become one test over the pooled
values (``element_lines`` when a regular expression over newline-joined values decides it).
``row_code`` turns a row's rule columns into its code.
"""

from __future__ import annotations

from typing import Any

from sigma.conditions import (
    ConditionFieldEqualsValueExpression,
    ConditionOR,
)
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import SigmaString

from sigma_ext.condition_tree import Fold, fields_of, fold, fold_condition
from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast import element_lines
from sigma_ext.hunt.fast.duckdb_backend import (
    DuckDBBackend,
    FieldResolver,
    FieldSql,
    every_element_lambda_sql,
    folded_pattern,
    re2_escape,
    sql_string,
)
from sigma_ext.hunt.fast.plan import SourcePlan, ident


def rule_sql(
    plan: SourcePlan,
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
        pool = [resolve(f) for f in sorted(fields_of(tree))]
        lines = element_lines.line_regex(tree)
        if lines is not None:
            return share(element_lines.every_element_line_regex_sql(pool, lines))

        def element(var: str) -> str:
            element_backend = DuckDBBackend(lambda _: FieldSql(var, False))
            return _deduplicated(tree, element_backend)

        return share(every_element_lambda_sql(pool, element, name))

    return fold_condition(
        rule,
        detection,
        all_of=lambda parts: "(" + " AND ".join(parts) + ")",
        any_of=lambda parts: "(" + " OR ".join(parts) + ")",
        negate=lambda part: f"(NOT {part})",
    )


class _SharedTests(DuckDBBackend):
    """Each field test as a column of ``shared`` (test SQL to column): the rules of a source
    repeat the same tests (stage, verb, status, the dry-run filter), and DuckDB computes a
    repeated expression inside a CASE once per occurrence."""

    def __init__(self, resolve: FieldResolver, shared: dict[str, str], plan: SourcePlan) -> None:
        super().__init__(resolve)
        self.shared = shared
        self.plan = plan

    def _guarded(self, field: FieldSql, test: str) -> str:
        return _shared_column(self.shared, self.plan, super()._guarded(field, test))


def _shared_column(shared: dict[str, str], plan: SourcePlan, sql: str) -> str:
    if sql not in shared:
        shared[sql] = ident(f"{plan.prefix}test{len(shared)}")
    return shared[sql]


def row_code(candidate: str, names: list[tuple[int, str]]) -> str:
    """A row's code from its rule columns (NULL: undecidable) where ``candidate`` holds."""
    if not names:
        return "NULL"
    undecided = " OR ".join(f"{name} IS NULL" for _, name in names)
    fired = ", ".join(f"CASE WHEN {name} THEN '{index}' END" for index, name in names)
    return (
        f"CASE WHEN NOT {candidate} THEN NULL WHEN {undecided} THEN 'R' "
        f"ELSE nullif(concat_ws(';', {fired}), '') END"
    )


def _deduplicating(backend: DuckDBBackend) -> Fold[str]:
    """AND and NOT of deduplicated parts; any other test as the backend renders it."""
    return Fold[str](
        all_of=lambda parts: "(" + " AND ".join(dict.fromkeys(parts)) + ")",
        any_of=lambda parts: "(" + " OR ".join(dict.fromkeys(parts)) + ")",
        negate=lambda part: f"(NOT {part})",
        other=lambda node: f"({backend.convert_condition(node, ConversionState())})",
    )


def _deduplicated(node: Any, backend: DuckDBBackend) -> str:
    """The condition with repeated alternatives and conjuncts written once.

    Every field of an every-element test reads the same element, so the test of each mapped
    field (nine image paths for Kubernetes) renders the same SQL: once is enough. SQL's AND,
    OR and NOT are three-valued, as the backend's own rendering is.
    """
    if not isinstance(node, ConditionOR):
        return fold(node, _deduplicating(backend), lambda arg: _deduplicated(arg, backend))
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


def _folded_regex(value: Any) -> str | None:
    """A case-insensitive Sigma string as an RE2 pattern over the lower-cased text (``*`` and
    ``?`` as in LIKE's ``%`` and ``_``), or None when it is not plain ASCII."""
    if not isinstance(value, SigmaString):
        return None
    return folded_pattern(value, ".*", ".", re2_escape)
