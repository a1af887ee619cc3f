"""ES|QL over many documents: ``FROM`` and the processing commands per document, then
``STATS ... BY`` and the commands after it on the aggregated rows, as the ES|QL correlation
queries pySigma's ES|QL backend emits run them.

Implemented, following the ES|QL reference ("STATS", "COUNT", "COUNT_DISTINCT", "ES|QL
multivalued fields"); everything before ``STATS`` is ``sigma_ext.emulate.esql``:

* ``STATS name = agg(...)[, ...] [BY column[, ...]]`` with the aggregates ``COUNT()`` (the rows),
  ``COUNT(expr)`` (the values of ``expr``: nulls are not counted, each value of a multi-valued
  one is) and ``COUNT_DISTINCT(expr)`` (the distinct values; Elastic's count is exact below its
  precision threshold, 3000 by default, far above what a correlation group holds). An
  aggregate without a name, or any other aggregate function, raises ``Unsupported``.
* Groups: one row per distinct combination of the ``BY`` values. A null key is a group of its
  own: ES|QL keeps rows whose key is missing, in a ``null`` group (Splunk's ``stats ... by``
  drops them). A multi-valued key puts the row in the group of each of its values.
* The output columns are the aggregates, then the ``BY`` columns; every other column is gone, so
  a later command naming one fails with "Unknown column". ``STATS`` without ``BY`` gives one row,
  also over no rows (``COUNT()`` 0).
* ES|QL returns groups in no set order; the rows here are in ``BY``-value order, so a run is
  deterministic. One ``STATS`` per query (a second raises ``Unsupported``).

Columns are checked against the mapping of the documents the ``FROM`` patterns select, as the
real engine checks them against the indices' mappings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import product
from typing import Any

from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.documents import Document
from sigma_ext.emulate.esql import (
    Expr,
    Row,
    Tok,
    _mv,
    _Parser,
    _split,
    run_commands,
    source_rows,
)
from sigma_ext.emulate.esql_parts import Columns, document_columns

Aggregate = Callable[[list[Row]], Any]


def _count(arg: Expr | None) -> Aggregate:
    if arg is None:
        return len
    return lambda rows: sum(len(_mv(arg(row))) for row in rows)


def _count_distinct(arg: Expr | None) -> Aggregate:
    if arg is None:
        raise QueryError("COUNT_DISTINCT needs a field")
    return lambda rows: len({value for row in rows for value in _mv(arg(row))})


AGGREGATES: dict[str, Callable[[Expr | None], Aggregate]] = {
    "COUNT": _count,
    "COUNT_DISTINCT": _count_distinct,
}


def _split_top(tokens: Sequence[Tok], *, by: bool) -> list[list[Tok]]:
    """The tokens split at top-level commas, or (``by``) at the one top-level ``BY``."""
    parts: list[list[Tok]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == "op" and token.text in "()":
            depth += 1 if token.text == "(" else -1
        comma = token.kind == "op" and token.text == ","
        if depth == 0 and (token.word("BY") if by else comma):
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _aggregate(tokens: list[Tok], columns: Columns) -> tuple[str, Aggregate]:
    if len(tokens) < 2 or tokens[0].kind not in ("name", "quoted") or tokens[1].text != "=":
        raise Unsupported("STATS aggregates without a name (name = agg(...))")
    name = tokens[0].text.strip("`")
    call = tokens[2:]
    if len(call) < 3 or call[0].kind != "name" or call[1].text != "(" or call[-1].text != ")":
        raise Unsupported(f"STATS {name} = {' '.join(t.text for t in call)}")
    function = AGGREGATES.get(call[0].text.upper())
    if function is None:
        raise Unsupported(f"ES|QL aggregate {call[0].text}")
    inside = call[2:-1]
    if not inside:
        return name, function(None)
    parser = _Parser(inside, columns.check)
    arg = parser.expression()
    if parser.peek() is not None:
        raise QueryError(f"unexpected {parser.peek()} in {call[0].text}(...)")
    return name, function(arg)


def _order(key: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((value is None, str(value)) for value in key)


def stats(tokens: Sequence[Tok], rows: list[Row], columns: Columns) -> tuple[list[Row], list[str]]:
    """The rows ``STATS <tokens>`` makes of ``rows``, and its output columns."""
    head, *tail = _split_top(tokens, by=True)
    if len(tail) > 1:
        raise QueryError("STATS has one BY")
    aggregates = [_aggregate(part, columns) for part in _split_top(head, by=False)]
    by: list[str] = []
    for part in _split_top(tail[0], by=False) if tail else []:
        if len(part) != 1 or part[0].kind not in ("name", "quoted"):
            raise Unsupported(f"STATS BY {' '.join(t.text for t in part)} (columns only)")
        by.append(part[0].text.strip("`"))
        columns.check(by[-1])
    groups: dict[tuple[Any, ...], list[Row]] = {} if by else {(): []}
    for row in rows:
        for key in product(*((_mv(row.get(name)) or (None,)) for name in by)):
            groups.setdefault(key, []).append(row)
    out = []
    for key in sorted(groups, key=_order):
        made: Row = {name: aggregate(groups[key]) for name, aggregate in aggregates}
        made.update(zip(by, key, strict=True))
        out.append(made)
    return out, [name for name, _ in aggregates] + by


def run_rows(query: str, documents: Iterable[Document]) -> list[Row]:
    """The rows an ES|QL query returns over the documents (its ``STATS`` over all of them)."""
    _, stages = _split(query)
    cut = next((i for i, stage in enumerate(stages) if stage and stage[0].word("STATS")), None)
    before = stages if cut is None else stages[:cut]
    rows: list[Row] = []
    mappings: list[Columns] = []
    for document in documents:
        selected = source_rows(query, document)
        if not selected:
            continue  # FROM does not read this index: its mapping does not count
        columns = document_columns(document)
        rows += run_commands(before, selected, columns, query)
        mappings.append(columns)
    if cut is None:
        return rows
    if any(stage and stage[0].word("STATS") for stage in stages[cut + 1 :]):
        raise Unsupported("a second STATS")

    def known(name: str) -> str | None:
        if not mappings:  # no document of the index: its mapping is not known here
            return "unknown"
        kinds = (m.seen.get(name) or m.known(name) for m in mappings)
        return next((kind for kind in kinds if kind is not None), None)

    aggregated, names = stats(stages[cut][1:], rows, Columns(known))
    after = Columns(lambda name: None)
    after.add(*names)
    return run_commands(stages[cut + 1 :], aggregated, after, query)
