"""An ES|QL subset, run on one document, with ES|QL's null and multi-value semantics.

Implemented, following the ES|QL reference (commands, operators, functions, "Working with
NULL values", "ES|QL multivalued fields"):

* Commands: ``FROM pattern[, ...] [METADATA ...]`` (the document's data stream must match a
  pattern), ``WHERE``, ``EVAL name = expr[, ...]``, ``MV_EXPAND column``,
  ``DISSECT column "pattern"``, ``GROK column "pattern"`` (``esql_parts``; GROK: inline
  named captures only), ``KEEP`` (plain names; each must be a mapped field, a computed column,
  ``@timestamp`` or a metadata column of FROM, else "Unknown column"; the rows keep those
  columns only), ``LIMIT n``. Keywords are case-insensitive.
* Expressions: ``OR`` < ``AND`` < ``NOT`` < predicates (``== != < <= > >=``, ``[NOT] LIKE``,
  ``[NOT] RLIKE``, ``[NOT] IN (...)``, ``IS [NOT] NULL``); string literals ``"..."`` with the
  escapes ``\\\\ \\" \\n \\r \\t`` (any other is a syntax error) and ``\"\"\"...\"\"\"`` raw
  strings; integers; ``true``/``false``/``null``; field names, dotted or in backquotes.
* Three-valued logic: a comparison, ``LIKE``, ``RLIKE``, ``IN`` or function on a null is null,
  ``NOT null`` is null, ``WHERE`` keeps true rows only. Multi-valued input to a comparison,
  ``LIKE``, ``RLIKE``, ``IN`` or a single-value function gives null ("Unless otherwise documented
  functions will return null when applied to a multivalued field").
* ``==`` and ``LIKE``/``RLIKE`` are case-sensitive on ``keyword`` and on ``text`` (ES|QL reads a
  text field's whole value, not its tokens). ``LIKE``: ``*``, ``?``, ``\\`` escapes, whole value.
  ``RLIKE``: Lucene regular expression (``lucene_regexp``), whole value.
* Functions: ``CASE``, ``COALESCE``, ``TO_LOWER``, ``TO_UPPER``, ``STARTS_WITH``, ``ENDS_WITH``,
  ``LENGTH``, ``CIDR_MATCH``, ``MV_APPEND`` (a null argument contributes nothing),
  ``MV_DEDUPE``, ``MV_COUNT``, ``MV_CONCAT``, ``TO_STRING``, ``DATE_TRUNC(span, date)``
  (rounded down to a multiple of the span since the epoch, UTC); time spans ``5 minutes`` or
  ``5minutes`` in seconds, minutes, hours or days (``esql_parts``).
* ``STATS ... BY`` and the commands after it run over many documents: ``esql_stats``.
* Verification errors raise ``QueryError``: a field the index does not map ("Unknown column"),
  comparing a string with a number, an unknown command.
* ``flattened`` fields are not supported by ES|QL: using one raises ``QueryError``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache, lru_cache
from typing import Any

from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.documents import Document
from sigma_ext.emulate.esql_parts import (
    SPAN_UNITS,
    Columns,
    date_trunc,
    dissect,
    document_columns,
    grok,
    grok_row,
    time_span,
)
from sigma_ext.emulate.lucene_regexp import full_match

Row = dict[str, Any]  # None, a scalar, or a tuple of two or more values
Expr = Callable[[Row], Any]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<raw>\"\"\"(?:.|\n)*?\"\"\")
    | (?P<string>"(?:\\.|[^"\\])*")
    | (?P<quoted>`(?:``|[^`])*`)
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<op>==|!=|<=|>=|[<>(),=|])
    | (?P<name>[A-Za-z_@][\w@]*(?:\.[A-Za-z_@\d][\w@-]*)*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str

    def word(self, *words: str) -> bool:
        return self.kind == "name" and self.text.upper() in words


def lex(query: str) -> list[Tok]:
    tokens: list[Tok] = []
    pos, text = 0, query.rstrip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None or found.end() == pos:
            raise QueryError(f"ES|QL syntax error at {text[pos : pos + 30]!r}")
        kind = found.lastgroup
        assert kind is not None
        tokens.append(Tok(kind, found.group(kind)))
        pos = found.end()
    return tokens


def _string(token: Tok) -> str:
    if token.kind == "raw":
        return token.text[3:-3]
    body, out, index = token.text[1:-1], [], 0
    while index < len(body):
        if body[index] == "\\":
            following = body[index + 1]
            if following not in _ESCAPES:
                raise QueryError(f"invalid escape sequence \\{following} in {token.text}")
            out.append(_ESCAPES[following])
            index += 2
        else:
            out.append(body[index])
            index += 1
    return "".join(out)


def _is_multi(value: Any) -> bool:
    return isinstance(value, tuple)


@lru_cache(maxsize=4096)  # a query's patterns are matched against every document
def _like(pattern: str) -> re.Pattern[str]:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def _compare(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None or _is_multi(left) or _is_multi(right):
        return None
    if _kind_of(left) != _kind_of(right):
        raise QueryError(f"cannot compare {left!r} with {right!r} (different types)")
    return {
        "==": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def _not(value: Any) -> Any:
    return None if value is None else not value


def _and(values: list[Any]) -> Any:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[Any]) -> Any:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _single_valued(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        if any(a is None or _is_multi(a) for a in args):
            return None
        return fn(*args)

    return run


def _mv(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return value if _is_multi(value) else (value,)


def _pack(values: tuple[Any, ...]) -> Any:
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _cidr_match(ip: Any, *blocks: Any) -> Any:
    if ip is None or _is_multi(ip):
        return None
    try:
        address = ipaddress.ip_address(str(ip))
    except ValueError:
        return None
    return any(address in ipaddress.ip_network(str(b), strict=False) for b in blocks)


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _case(*args: Any) -> Any:
    """``CASE(condition, value, ..., [else])``: the value of the first true condition (a null
    condition is not true), else the last odd argument, else null."""
    for index in range(0, len(args) - 1, 2):
        if args[index] is True:
            return args[index + 1]
    return args[-1] if len(args) % 2 else None


def _mv_concat(value: Any, delimiter: Any) -> Any:
    """``MV_CONCAT(field, delim)``: the values joined with the delimiter; null on a null."""
    if value is None or delimiter is None:
        return None
    return str(delimiter).join(str(v) for v in _mv(value))


def _dedupe(value: Any) -> Any:
    return _pack(tuple(dict.fromkeys(_mv(value))))


def _to_string(value: Any) -> Any:
    """``TO_STRING``: each value as a string (booleans ``true``/``false``); null stays null."""

    def text(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    return None if value is None else _pack(tuple(text(v) for v in _mv(value)))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "CASE": _case,
    "TO_STRING": _to_string,
    "DATE_TRUNC": date_trunc,
    "COALESCE": _coalesce,
    "TO_LOWER": _single_valued(lambda s: str(s).lower()),
    "TO_UPPER": _single_valued(lambda s: str(s).upper()),
    "STARTS_WITH": _single_valued(lambda s, p: str(s).startswith(str(p))),
    "ENDS_WITH": _single_valued(lambda s, p: str(s).endswith(str(p))),
    "LENGTH": _single_valued(lambda s: len(str(s))),
    "CIDR_MATCH": _cidr_match,
    "MV_APPEND": lambda a, b: _pack(_mv(a) + _mv(b)),
    "MV_DEDUPE": _dedupe,
    "MV_COUNT": lambda a: None if a is None else len(_mv(a)),
    "MV_CONCAT": _mv_concat,
}


class _Parser:
    def __init__(self, tokens: list[Tok], columns: Callable[[str], None]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.check_column = columns

    def peek(self) -> Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Tok:
        token = self.peek()
        if token is None:
            raise QueryError("unexpected end of ES|QL expression")
        self.pos += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.word(*words)

    def at_op(self, op: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text == op

    def expect_op(self, op: str) -> None:
        if not self.at_op(op):
            raise QueryError(f"expected {op!r} in ES|QL expression")
        self.take()

    def expression(self) -> Expr:
        parts = [self.conjunction()]
        while self.at_word("OR"):
            self.take()
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda row: _or([p(row) for p in parts])

    def conjunction(self) -> Expr:
        parts = [self.negation()]
        while self.at_word("AND"):
            self.take()
            parts.append(self.negation())
        if len(parts) == 1:
            return parts[0]
        return lambda row: _and([p(row) for p in parts])

    def negation(self) -> Expr:
        if self.at_word("NOT"):
            self.take()
            inner = self.negation()
            return lambda row: _not(inner(row))
        return self.predicate()

    def predicate(self) -> Expr:
        left = self.value()
        negate = False
        if self.at_word("NOT"):
            self.take()
            negate = True
            if not self.at_word("LIKE", "RLIKE", "IN"):
                raise QueryError("NOT must be followed by LIKE, RLIKE or IN here")
        token = self.peek()
        result: Expr
        if token is not None and token.word("LIKE", "RLIKE"):
            self.take()
            pattern_token = self.take()
            if pattern_token.kind not in ("string", "raw"):
                raise Unsupported("LIKE/RLIKE with a non-literal pattern or a list of patterns")
            pattern = _string(pattern_token)
            if token.word("LIKE"):
                regex = _like(pattern)

                def test(s: str) -> bool:
                    return regex.match(s) is not None
            else:
                test = lambda s: full_match(pattern, s)  # noqa: E731
            result = lambda row: _single_valued(lambda v: test(str(v)))(left(row))  # noqa: E731
        elif token is not None and token.word("IN"):
            self.take()
            self.expect_op("(")
            items = [self.value()]
            while self.at_op(","):
                self.take()
                items.append(self.value())
            self.expect_op(")")
            result = lambda row: _in(left(row), [i(row) for i in items])  # noqa: E731
        elif token is not None and token.word("IS"):
            self.take()
            is_not = self.at_word("NOT")
            if is_not:
                self.take()
            if not self.at_word("NULL"):
                raise QueryError("IS must be followed by [NOT] NULL")
            self.take()
            return lambda row: (left(row) is not None) == is_not
        elif (
            token is not None
            and token.kind == "op"
            and token.text in ("==", "!=", "<", "<=", ">", ">=")
        ):
            self.take()
            right = self.value()
            op = token.text
            return lambda row: _compare(op, left(row), right(row))
        elif token is not None and token.kind == "op" and token.text == "=":
            raise QueryError("'=' is assignment; ES|QL compares with '=='")
        else:
            return left
        if negate:
            inner = result
            return lambda row: _not(inner(row))
        return result

    def value(self) -> Expr:
        token = self.take()
        if token.kind in ("string", "raw"):
            literal = _string(token)
            return lambda row: literal
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            unit = self.peek()
            if unit is not None and unit.kind == "name" and unit.text.lower() in SPAN_UNITS:
                self.take()
                span = time_span(number, unit.text.lower())
                return lambda row: span
            return lambda row: number
        if token.kind == "op" and token.text == "(":
            inner = self.expression()
            self.expect_op(")")
            return inner
        if token.kind == "quoted":
            return self.column(token.text[1:-1].replace("``", "`"))
        if token.kind == "name":
            upper = token.text.upper()
            if upper in ("TRUE", "FALSE"):
                constant = upper == "TRUE"
                return lambda row: constant
            if upper == "NULL":
                return lambda row: None
            if self.at_op("("):
                return self.call(upper)
            return self.column(token.text)
        raise QueryError(f"unexpected {token.text!r} in ES|QL expression")

    def column(self, name: str) -> Expr:
        self.check_column(name)
        return lambda row: row.get(name)

    def call(self, name: str) -> Expr:
        function = FUNCTIONS.get(name)
        if function is None:
            raise Unsupported(f"ES|QL function {name}")
        self.expect_op("(")
        args: list[Expr] = []
        if not self.at_op(")"):
            args.append(self.expression())
            while self.at_op(","):
                self.take()
                args.append(self.expression())
        self.expect_op(")")
        return lambda row: function(*(a(row) for a in args))


def _in(value: Any, items: list[Any]) -> Any:
    if value is None or _is_multi(value):
        return None
    for item in items:
        if item is not None and not _is_multi(item):
            if _kind_of(item) != _kind_of(value):
                raise QueryError(f"IN compares {value!r} with {item!r} (different types)")
            if item == value:
                return True
    return None if any(item is None for item in items) else False


Stage = Callable[[list[Row]], list[Row]]


_FROM = re.compile(
    r"\s*FROM\s+(?P<patterns>[^\s,]+(?:\s*,\s*[^\s,]+)*?)"
    r"(?:\s+METADATA\s+(?P<metadata>[\w\s,]+))?\s*\Z",
    re.IGNORECASE,
)


def _split_commands(query: str) -> list[str]:
    """The commands of a query, split at ``|`` outside strings and backquotes."""
    parts, start, index = [], 0, 0
    while index < len(query):
        if query.startswith('"""', index):
            end = query.find('"""', index + 3)
            index = len(query) if end < 0 else end + 3
            continue
        char = query[index]
        if char in '"`':
            index += 1
            while index < len(query) and query[index] != char:
                index += 2 if char == '"' and query[index] == "\\" else 1
        elif char == "|":
            parts.append(query[start:index])
            start = index + 1
        index += 1
    parts.append(query[start:])
    return parts


@cache
def _split(query: str) -> tuple[tuple[str, ...], tuple[tuple[Tok, ...], ...]]:
    source, *rest = _split_commands(query)
    found = _FROM.match(source)
    if found is None:
        raise QueryError(f"an ES|QL query starts with FROM <index pattern>: {source!r}")
    patterns = tuple(p.strip() for p in found.group("patterns").split(","))
    return patterns, tuple(tuple(lex(stage)) for stage in rest)


@cache
def _metadata(query: str) -> frozenset[str]:
    """The metadata columns the FROM command asks for (``METADATA _id, _index``)."""
    found = _FROM.match(_split_commands(query)[0])
    if found is None or not found.group("metadata"):
        return frozenset()
    return frozenset(m.strip() for m in found.group("metadata").split(",") if m.strip())


def source_rows(query: str, document: Document) -> list[Row]:
    """The document as FROM reads it: one row when its index matches a pattern, else none."""
    patterns, _ = _split(query)
    if any(fnmatchcase(document.index, pattern) for pattern in patterns):
        return [{name: _pack(tuple(values)) for name, values in document.values.items()}]
    return []


def _run_stages(query: str, document: Document) -> list[Row]:
    _, rest = _split(query)
    return run_commands(rest, source_rows(query, document), document_columns(document), query)


def _where(stage: tuple[Tok, ...], check: Callable[[str], None]) -> Expr:
    """The condition of a WHERE command, its columns checked as the parse meets them.

    A query's conditions are run against every document: each stage is parsed once
    (``_parsed_where``) and its columns checked again in the parse's order for each document,
    so the first unknown column raises as a fresh parse would. A stage that does not parse
    whole is parsed afresh, so that its error is the one the fresh parse meets first."""
    try:
        condition, names = _parsed_where(stage)
    except (QueryError, Unsupported):
        parser = _Parser(list(stage[1:]), check)
        parser.expression()
        raise QueryError(f"unexpected {parser.peek()} after WHERE condition") from None
    for name in names:
        check(name)
    return condition


@lru_cache(maxsize=1024)
def _parsed_where(stage: tuple[Tok, ...]) -> tuple[Expr, tuple[str, ...]]:
    names: list[str] = []
    parser = _Parser(list(stage[1:]), names.append)
    condition = parser.expression()
    if parser.peek() is not None:
        raise QueryError(f"unexpected {parser.peek()} after WHERE condition")
    return condition, tuple(names)


def run_commands(
    stages: tuple[tuple[Tok, ...], ...], rows: list[Row], columns: Columns, query: str
) -> list[Row]:
    """The rows after the processing commands (every command after FROM but STATS)."""
    check = columns.check
    metadata = _metadata(query)
    for stage in stages:
        if not stage:
            raise QueryError("empty ES|QL command")
        command, args = stage[0].text.upper(), list(stage[1:])
        if command == "WHERE":
            condition = _where(stage, check)
            rows = [row for row in rows if condition(row) is True]
        elif command == "EVAL":
            parser = _Parser(args, check)
            while True:
                target = parser.take()
                if target.kind not in ("name", "quoted"):
                    raise QueryError("EVAL needs name = expression")
                name = target.text.strip("`")
                parser.expect_op("=")
                expression = parser.expression()
                rows = [{**row, name: expression(row)} for row in rows]
                columns.add(name)
                if parser.at_op(","):
                    parser.take()
                    continue
                if parser.peek() is not None:
                    raise QueryError(f"unexpected {parser.peek()} in EVAL")
                break
        elif command == "MV_EXPAND":
            if len(args) != 1:
                raise QueryError("MV_EXPAND takes one column")
            name = args[0].text.strip("`")
            check(name)
            rows = [
                {**row, name: value} for row in rows for value in (_mv(row.get(name)) or (None,))
            ]
        elif command == "DISSECT":
            if len(args) != 2 or args[1].kind not in ("raw", "string"):
                raise QueryError("DISSECT takes a column and a pattern string")
            name = args[0].text.strip("`")
            check(name)
            keys, run = dissect(_string(args[1]))
            rows = [{**row, **run(row.get(name))} for row in rows]
            columns.add(*keys)
        elif command == "GROK":
            if len(args) != 2 or args[1].kind not in ("raw", "string"):
                raise QueryError("GROK takes a column and a pattern string")
            name = args[0].text.strip("`")
            check(name)
            pattern = grok(_string(args[1]))
            keys = list(pattern.groupindex)
            rows = [{**row, **grok_row(pattern, keys, row.get(name))} for row in rows]
            columns.add(*keys)
        elif command == "KEEP":
            names = [t.text.strip("`") for t in args if not (t.kind == "op" and t.text == ",")]
            if not names or any("*" in n for n in names):
                raise Unsupported("KEEP needs plain column names (no wildcards)")
            for name in names:
                if name not in metadata and name != "@timestamp":
                    check(name)
            rows = [{n: row.get(n) for n in names} for row in rows]
        elif command == "LIMIT":
            if len(args) != 1 or args[0].kind != "number":
                raise QueryError("LIMIT takes a number")
            rows = rows[: int(args[0].text)]
        else:
            raise Unsupported(f"ES|QL command {command}")
    return rows


def matches(query: str, document: Document) -> bool:
    """Whether the ES|QL query returns at least one row for the document."""
    return bool(_run_stages(query, document))
