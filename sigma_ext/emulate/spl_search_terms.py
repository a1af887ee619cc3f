"""The SPL search command's expressions: ``field=value``, ``IN``, ``NOT``, ``OR``, ``AND``.

What each means is described in ``sigma_ext.emulate.splunk_search``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.spl_values import Row, RowTest, as_number, unescape


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "(", ")", ","
    text: str


def search_tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char in "(),":
            tokens.append(Token(char, char))
            index += 1
            continue
        if char in "[`":
            raise Unsupported(f"{char!r} (subsearches and macros)")
        start, quoted = index, False
        while index < length:
            char = text[index]
            if char == "\\" and index + 1 < length:
                index += 2
                continue
            if char == '"':
                quoted = not quoted
            elif not quoted and (char.isspace() or char in "(),"):
                break
            index += 1
        tokens.append(Token("word", text[start:index]))
    return tokens


def _part(text: str) -> tuple[str, bool]:
    """A field name or value as written: unquoted text, and whether it was quoted."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return unescape(text[1:-1], search=True), True
    if '"' in text:
        raise Unsupported(f"partly quoted term {text!r}")
    return unescape(text, search=True), False


def _split_comparison(word: str) -> tuple[str, str, str] | None:
    quoted = False
    index = 0
    while index < len(word):
        char = word[index]
        if char == "\\":
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "=!<>":
            op = word[index : index + 2] if word[index : index + 2] in ("!=", "<=", ">=") else char
            return word[:index], op, word[index + len(op) :]
        index += 1
    return None


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """The whole value, every character of it: ``\\Z`` where ``$`` would also match before a
    final line feed (``user.username="alice"`` is not true of ``alice<LF>``)."""
    body = ".*".join(re.escape(part) for part in pattern.lower().split("*"))
    return re.compile(f"{body}\\Z", re.DOTALL)


def _field_test(name: str, pattern: str) -> RowTest:
    if "*" in name:
        raise Unsupported(f"wildcard in field name {name!r}")
    regex = _glob(pattern)
    return lambda row: any(regex.match(value.lower()) for value in row.get(name, ()))


_ORDER: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _order_test(name: str, op: str, text: str) -> RowTest:
    """``field>N`` with a numeric N: true when some value of the field is a number that compares
    so (the Search Manual's numeric comparison; string ordering is not implemented)."""
    bound = as_number(text)
    if bound is None:
        raise Unsupported(f"comparison {op!r} with a non-numeric value {text!r}")
    compare = _ORDER[op]

    def test(row: Row) -> bool:
        numbers = [as_number(value) for value in row.get(name, ())]
        return any(n is not None and compare(n, bound) for n in numbers)

    return test


_SPACED = frozenset({"=", "!=", "<", "<=", ">", ">="})


class SearchParser:
    """search expression := and; and := or+ (implicit or explicit AND); or := not (OR not)*."""

    def __init__(self, text: str) -> None:
        self.tokens = search_tokens(text)
        self.pos = 0

    def parse(self) -> RowTest:
        if not self.tokens:
            return lambda row: True
        test = self.and_expr()
        if self.pos != len(self.tokens):
            raise QueryError(f"unexpected {self.tokens[self.pos].text!r} in search")
        return test

    def peek(self, text: str | None = None) -> Token | None:
        if self.pos >= len(self.tokens):
            return None
        token = self.tokens[self.pos]
        if text is not None and not (token.kind == "word" and token.text == text):
            return token if token.kind == text else None
        return token

    def take(self) -> Token:
        if self.pos >= len(self.tokens):
            raise QueryError("unexpected end of search")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def and_expr(self) -> RowTest:
        parts = [self.or_expr()]
        while (token := self.peek()) is not None and token.kind != ")":
            if token.kind == "word" and token.text == "AND":
                self.take()
            parts.append(self.or_expr())
        return parts[0] if len(parts) == 1 else lambda row: all(p(row) for p in parts)

    def or_expr(self) -> RowTest:
        parts = [self.not_expr()]
        while self.peek("OR") is not None:
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else lambda row: any(p(row) for p in parts)

    def not_expr(self) -> RowTest:
        if self.peek("NOT") is not None:
            self.take()
            inner = self.not_expr()
            return lambda row: not inner(row)
        return self.primary()

    def primary(self) -> RowTest:
        token = self.take()
        if token.kind == "(":
            inner = self.and_expr()
            if self.take().kind != ")":
                raise QueryError("missing ')'")
            return inner
        if token.kind != "word" or token.text in ("AND", "OR", "NOT", "IN"):
            raise QueryError(f"unexpected {token.text!r} in search")
        if self.peek("IN") is not None:
            self.take()
            return self.in_list(token.text)
        following = self.peek()
        if following is not None and following.kind == "word" and following.text in _SPACED:
            # ``field > 10``: the comparison written with spaces around the operator
            self.take()
            bound = self.take()
            if bound.kind != "word":
                raise QueryError(f"{token.text} {following.text} needs a value")
            token = Token("word", f"{token.text}{following.text}{bound.text}")
        split = _split_comparison(token.text)
        if split is None:
            raise Unsupported(f"keyword term {token.text!r} (search in _raw)")
        left, op, right = split
        name, _ = _part(left)
        value, _ = _part(right)
        if op in _ORDER:
            return _order_test(name, op, value)
        if op != "=":
            raise Unsupported(f"comparison {op!r} in search")
        return _field_test(name, value)

    def in_list(self, field_text: str) -> RowTest:
        name, _ = _part(field_text)
        if self.take().kind != "(":
            raise QueryError("IN needs '('")
        tests = []
        while True:
            token = self.take()
            if token.kind != "word":
                raise QueryError(f"unexpected {token.text!r} in IN list")
            tests.append(_field_test(name, _part(token.text)[0]))
            separator = self.take()
            if separator.kind == ")":
                break
            if separator.kind != ",":
                raise QueryError("IN values are separated by ','")
        return lambda row: any(t(row) for t in tests)
