"""SPL ``eval`` and ``where`` expressions: literals, fields, operators and functions.

What each means is described in ``sigma_ext.emulate.splunk_search``; ``store`` writes an eval
result into the row as ``eval name=...`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.spl_values import (
    Row,
    Value,
    as_number,
    as_text,
    as_values,
    single,
    unescape,
)

EvalFn = Callable[[Row], Value]


_EVAL_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:\\.|[^"\\])*")
    | (?P<field>'(?:\\.|[^'\\])*')
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<op>==|!=|<=|>=|[=<>(),+\-*/.])
    | (?P<name>[A-Za-z_][\w.{}@:/-]*)
    )""",
    re.VERBOSE,
)


def eval_tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        found = _EVAL_TOKEN.match(text, pos)
        if found is None or found.end() == pos:
            raise QueryError(f"cannot read eval expression at {text[pos : pos + 20]!r}")
        kind = found.lastgroup
        assert kind is not None
        tokens.append((kind, found.group(kind)))
        pos = found.end()
    return tokens


class EvalParser:
    """or := and (OR and)*; and := not (AND not)*; not := NOT not | cmp;
    cmp := primary [op primary]."""

    COMPARISONS = ("=", "==", "!=", "<", ">", "<=", ">=")

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def rest(self, text: str) -> str:
        """What follows the tokens read so far in ``text``, the text they were read from."""
        pos = 0
        for _ in range(self.pos):
            found = _EVAL_TOKEN.match(text, pos)
            assert found is not None
            pos = found.end()
        return text[pos:]

    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def peek(self) -> tuple[str, str] | None:
        return None if self.done() else self.tokens[self.pos]

    def take(self, text: str | None = None) -> tuple[str, str]:
        if self.done():
            raise QueryError("unexpected end of eval expression")
        token = self.tokens[self.pos]
        if text is not None and token[1] != text:
            raise QueryError(f"expected {text!r}, found {token[1]!r}")
        self.pos += 1
        return token

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "name" and token[1] == word

    def expression(self) -> EvalFn:
        return self.or_expr()

    def or_expr(self) -> EvalFn:
        parts = [self.and_expr()]
        while self.is_word("OR"):
            self.take()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda row: _three_valued_or([p(row) for p in parts])

    def and_expr(self) -> EvalFn:
        parts = [self.not_expr()]
        while self.is_word("AND"):
            self.take()
            parts.append(self.not_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda row: _three_valued_and([p(row) for p in parts])

    def not_expr(self) -> EvalFn:
        if self.is_word("NOT"):
            self.take()
            inner = self.not_expr()

            def negate(row: Row) -> Value:
                value = inner(row)
                return None if value is None else not _truth(value)

            return negate
        return self.comparison()

    def comparison(self) -> EvalFn:
        left = self.primary()
        token = self.peek()
        if token is None or token[0] != "op" or token[1] not in self.COMPARISONS:
            if token is not None and token[0] == "op" and token[1] not in "(),":
                raise Unsupported(f"eval operator {token[1]!r}")
            if self.is_word("LIKE"):
                raise Unsupported("eval operator LIKE")
            return left
        op = self.take()[1]
        right = self.primary()
        return lambda row: _compare(op, left(row), right(row))

    def primary(self) -> EvalFn:
        kind, text = self.take()
        if kind == "string":
            literal = unescape(text[1:-1], search=False)
            return lambda row: literal
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda row: number
        if kind == "field":
            return self.field(unescape(text[1:-1], search=False).replace("\\'", "'"))
        if kind == "op" and text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "name":
            token = self.peek()
            if token is not None and token == ("op", "("):
                return self.call(text)
            if text in ("AND", "OR", "NOT"):
                raise QueryError(f"unexpected {text}")
            return self.field(text)
        raise QueryError(f"unexpected {text!r} in eval expression")

    def field(self, name: str) -> EvalFn:
        def get(row: Row) -> Value:
            values = row.get(name, ())
            if not values:
                return None
            return values[0] if len(values) == 1 else tuple(values)

        get.field_name = name  # type: ignore[attr-defined]
        return get

    def call(self, name: str) -> EvalFn:
        self.take("(")
        args: list[EvalFn] = []
        if self.peek() != ("op", ")"):
            while True:
                args.append(self.expression())
                if self.peek() == ("op", ","):
                    self.take()
                    continue
                break
        self.take(")")
        builder = FUNCTIONS.get(name.lower())
        if builder is None:
            raise Unsupported(f"eval function {name}()")
        return builder(args)


def _truth(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    raise QueryError(f"a boolean was expected, found {value!r}")


def _three_valued_and(values: list[Value]) -> Value:
    if any(v is not None and not _truth(v) for v in values):
        return False
    return None if any(v is None for v in values) else True


def _three_valued_or(values: list[Value]) -> Value:
    if any(v is not None and _truth(v) for v in values):
        return True
    return None if any(v is None for v in values) else False


def _compare(op: str, left: Value, right: Value) -> Value:
    left, right = single(left, op), single(right, op)
    if left is None or right is None:
        return None
    a: Any = as_number(left)
    b: Any = as_number(right)
    if a is None or b is None:
        a, b = as_text(left), as_text(right)
    if op in ("=", "=="):
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


@cache
def pcre(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise QueryError(f"bad regular expression {pattern!r}: {error}") from error


def _mvappend(args: list[EvalFn]) -> EvalFn:
    def run(row: Row) -> Value:
        values = tuple(as_text(v) for a in args for v in as_values(a(row)))
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    return run


def _mvfilter(args: list[EvalFn]) -> EvalFn:
    if len(args) != 1:
        raise QueryError("mvfilter takes one expression")
    expression = args[0]
    names = _fields_named(expression)
    if len(names) != 1:
        raise QueryError("mvfilter's expression must name exactly one field")
    (name,) = names

    def run(row: Row) -> Value:
        kept = tuple(
            value for value in row.get(name, ()) if expression({**row, name: (value,)}) is True
        )
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else kept

    return run


def _fields_named(fn: Any) -> set[str]:
    """The fields an eval closure reads (recorded on field getters, gathered from closures)."""
    found: set[str] = set()
    name = getattr(fn, "field_name", None)
    if name is not None:
        found.add(name)
    for cell in getattr(fn, "__closure__", None) or ():
        content = cell.cell_contents
        if callable(content):
            found |= _fields_named(content)
        elif isinstance(content, list):
            for item in content:
                if callable(item):
                    found |= _fields_named(item)
    return found


def _mvcount(args: list[EvalFn]) -> EvalFn:
    (arg,) = args

    def run(row: Row) -> Value:
        values = as_values(arg(row))
        return len(values) if values else None

    return run


def _match(args: list[EvalFn]) -> EvalFn:
    subject, regex = args

    def run(row: Row) -> Value:
        text = single(subject(row), "match()")
        pattern = single(regex(row), "match()")
        if text is None or pattern is None:
            return None
        return pcre(str(pattern)).search(as_text(text) or "") is not None

    return run


def _unary(fn: Callable[[Value], Value]) -> Callable[[list[EvalFn]], EvalFn]:
    def build(args: list[EvalFn]) -> EvalFn:
        if len(args) != 1:
            raise QueryError("the function takes one argument")
        (arg,) = args
        return lambda row: fn(arg(row))

    return build


def _per_value(fn: Callable[[str], Value]) -> Callable[[Value], Value]:
    def apply(value: Value) -> Value:
        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(fn(str(v)) for v in value)
        return fn(as_text(value) or "")

    return apply


def _if(args: list[EvalFn]) -> EvalFn:
    """``if(condition, then, else)``: a null condition takes the else branch."""
    if len(args) != 3:
        raise Unsupported("if() takes three arguments")
    condition, then, otherwise = args

    def run(row: Row) -> Value:
        chosen = condition(row)
        return then(row) if chosen is not None and _truth(chosen) else otherwise(row)

    return run


def _coalesce(args: list[EvalFn]) -> EvalFn:
    """``coalesce(x, y, ...)``: the first argument that is not null."""
    if not args:
        raise QueryError("coalesce() takes at least one argument")

    def run(row: Row) -> Value:
        for arg in args:
            value = arg(row)
            if value is not None:
                return value
        return None

    return run


FUNCTIONS: dict[str, Callable[[list[EvalFn]], EvalFn]] = {
    "if": _if,
    "coalesce": _coalesce,
    "mvappend": _mvappend,
    "mvfilter": _mvfilter,
    "mvcount": _mvcount,
    "match": _match,
    "isnull": _unary(lambda v: v is None),
    "isnotnull": _unary(lambda v: v is not None),
    "lower": _unary(_per_value(str.lower)),
    "upper": _unary(_per_value(str.upper)),
    "len": _unary(lambda v: None if v is None else len(as_text(single(v, "len()")) or "")),
}


def store(row: Row, name: str, value: Value) -> None:
    if value is None:
        row.pop(name, None)
    elif isinstance(value, tuple):
        row[name] = tuple(str(v) for v in value)
    elif isinstance(value, bool):
        raise Unsupported("storing a boolean with eval")
    else:
        row[name] = (as_text(value) or "",)
