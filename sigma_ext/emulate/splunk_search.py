"""Splunk SPL, the subset the build emits, run on one event's extracted fields.

Implemented, following the Splunk Search Reference and Search Manual:

* Pipeline: commands separated by ``|`` outside quotes; the first is the implied ``search``.
* Quoting: inside ``"..."`` the sequences ``\\\\`` and ``\\"`` stand for a backslash and a quote,
  ``\\|`` for a pipe; other backslash sequences are passed on unchanged ("Quotes and escaping
  characters", search command). A backslash cannot escape ``*`` in a search ("Backslashes",
  Search Manual): ``\\*`` in a search term raises ``Unsupported``.
* ``search`` expressions: ``field=value`` (value quoted or bare), ``field IN (v, ...)``,
  ``NOT``, ``OR``, ``AND`` and the implied AND between terms, parentheses. Precedence is the
  search command's: parentheses, NOT, then OR, then AND ("Boolean expressions", Search Manual:
  "The search command evaluates OR before AND"). Field names are case-sensitive; values
  compare case-insensitively (lower-cased), ``*`` matches any run of characters (there is no
  single-character wildcard), ``field=*`` means the field has a value. A multi-valued field
  matches when any value matches; ``NOT field=x`` is true when no value matches, including when
  the field is missing. Keyword (``_raw``) terms, ``!=``, ``<``/``>`` and field-name wildcards
  raise ``Unsupported``.
* ``eval name=expr[, ...]`` and ``where expr``: string literals ``"..."``, field names bare or in
  single quotes, numbers, ``NOT``/``AND``/``OR`` (eval and where evaluate AND before OR),
  comparisons ``= == != < > <= >=``, and the functions ``if`` (a null condition takes the else
  branch), ``mvappend``, ``mvfilter``, ``mvcount``, ``match``, ``isnull``, ``isnotnull``,
  ``lower``, ``upper``, ``len``, ``coalesce``. ``mvfilter`` evaluates its
  expression once per value of the one field it names. ``match`` is a PCRE search run with
  Python's ``re`` (the syntax the build emits means the same in both; Python's ``\\w``/``\\d``
  are Unicode where PCRE without UCP is ASCII: only ASCII image references reach them).
  Null propagates: a comparison or ``match`` on a null is null, ``where`` keeps true only.
* ``regex field="re"`` / ``regex field!="re"``: keeps the event when some value matches
  (resp. none does).
* ``spath input=field``: extracts the JSON held in a field the way automatic JSON extraction
  does (``sigma_ext.emulate.documents.splunk_fields``), as the AKS searches need for
  ``properties.log``.
* ``rex field=field "re"``: the named groups ``(?<name>...)`` of the first match in the field's
  first value become single-valued fields (``max_match=1``, the default); no match changes
  nothing.

* ``table f1, f2, ...``: the row keeps the named fields only (plain names, no wildcards); the
  event is kept, so a search ending in a table matches exactly the events it matched before.

Anything else raises ``Unsupported``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.documents import Document, splunk_fields

Row = dict[str, tuple[str, ...]]
Value = Any  # None (null), str, int, float, bool, or a tuple of str for a multi-valued result
RowTest = Callable[[Row], bool]


# ---------------------------------------------------------------------------------------------
# Lexing: quote-aware splitting shared by every command


def split_pipeline(query: str) -> list[str]:
    """The commands of a search, split at ``|`` outside quotes."""
    parts, current, quoted, index = [], [], False, 0
    while index < len(query):
        char = query[index]
        if char == "\\" and index + 1 < len(query):
            current.append(query[index : index + 2])
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == "|" and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    if quoted:
        raise QueryError("unbalanced quotes")
    parts.append("".join(current).strip())
    if "```" in query:
        raise Unsupported("SPL comments")
    return parts


def unescape(text: str, *, search: bool) -> str:
    r"""A quoted string's content: ``\\`` -> ``\``, ``\"`` -> ``"``, ``\|`` -> ``|``."""
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if following in '\\"|':
                out.append(following)
            elif following == "*" and search:
                raise Unsupported(r"'\*' in a search term: Splunk cannot escape the wildcard")
            else:
                out.append(char + following)
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


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


# ---------------------------------------------------------------------------------------------
# The search command


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    body = ".*".join(re.escape(part) for part in pattern.lower().split("*"))
    return re.compile(f"^{body}$", re.DOTALL)


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
    bound = _number(text)
    if bound is None:
        raise Unsupported(f"comparison {op!r} with a non-numeric value {text!r}")
    compare = _ORDER[op]

    def test(row: Row) -> bool:
        numbers = [_number(value) for value in row.get(name, ())]
        return any(n is not None and compare(n, bound) for n in numbers)

    return test


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


# ---------------------------------------------------------------------------------------------
# eval and where expressions

EvalFn = Callable[[Row], Value]


def _values(value: Value) -> tuple[Any, ...]:
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


def _single(value: Value, what: str) -> Value:
    if isinstance(value, tuple):
        if len(value) == 1:
            return value[0]
        raise Unsupported(f"{what} on a multi-valued field")
    return value


def _text(value: Value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _number(value: Value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


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
    left, right = _single(left, op), _single(right, op)
    if left is None or right is None:
        return None
    a: Any = _number(left)
    b: Any = _number(right)
    if a is None or b is None:
        a, b = _text(left), _text(right)
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
        values = tuple(_text(v) for a in args for v in _values(a(row)))
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
        values = _values(arg(row))
        return len(values) if values else None

    return run


def _match(args: list[EvalFn]) -> EvalFn:
    subject, regex = args

    def run(row: Row) -> Value:
        text = _single(subject(row), "match()")
        pattern = _single(regex(row), "match()")
        if text is None or pattern is None:
            return None
        return pcre(str(pattern)).search(_text(text) or "") is not None

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
        return fn(_text(value) or "")

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
    "len": _unary(lambda v: None if v is None else len(_text(_single(v, "len()")) or "")),
}


def _store(row: Row, name: str, value: Value) -> None:
    if value is None:
        row.pop(name, None)
    elif isinstance(value, tuple):
        row[name] = tuple(str(v) for v in value)
    elif isinstance(value, bool):
        raise Unsupported("storing a boolean with eval")
    else:
        row[name] = (_text(value) or "",)


# ---------------------------------------------------------------------------------------------
# Commands

Command = Callable[[Row], Row | None]

_ASSIGNMENT = re.compile(r"\s*(?:'((?:\\.|[^'\\])*)'|([A-Za-z_][\w.{}]*))\s*=(?!=)")


def _eval_command(text: str) -> Command:
    assignments: list[tuple[str, EvalFn]] = []
    rest = text
    while rest.strip():
        head = _ASSIGNMENT.match(rest)
        if head is None:
            raise QueryError(f"eval needs name=expression, found {rest[:30]!r}")
        name = head.group(1) if head.group(1) is not None else head.group(2)
        parser = EvalParser(eval_tokens(rest[head.end() :]))
        expression = parser.expression()
        assignments.append((name, expression))
        if parser.done():
            break
        if parser.take() != ("op", ","):
            raise QueryError("eval assignments are separated by ','")
        rest = _remaining(rest[head.end() :], parser.pos)

    def run(row: Row) -> Row:
        out = dict(row)
        for name, expression in assignments:
            _store(out, name, expression(out))
        return out

    return run


def _remaining(text: str, consumed: int) -> str:
    pos = 0
    for _ in range(consumed):
        found = _EVAL_TOKEN.match(text, pos)
        assert found is not None
        pos = found.end()
    return text[pos:]


def _where_command(text: str) -> Command:
    parser = EvalParser(eval_tokens(text))
    expression = parser.expression()
    if not parser.done():
        raise QueryError(f"unexpected {parser.peek()} in where")
    return lambda row: row if expression(row) is True else None


def _search_command(text: str) -> Command:
    test = SearchParser(text).parse()
    return lambda row: row if test(row) else None


_REGEX = re.compile(r'^(?P<field>[\w.{}]+)\s*(?P<op>!?=)\s*"(?P<re>(?:\\.|[^"\\])*)"\s*$')


def _regex_command(text: str) -> Command:
    found = _REGEX.match(text)
    if found is None:
        raise Unsupported(f"regex form {text!r}")
    name, negate = found.group("field"), found.group("op") == "!="
    pattern = pcre(unescape(found.group("re"), search=False))

    def run(row: Row) -> Row | None:
        hit = any(pattern.search(value) for value in row.get(name, ()))
        return row if hit != negate else None

    return run


def _spath_command(text: str) -> Command:
    found = re.fullmatch(r"input=([\w.{}]+)", text.strip())
    if found is None:
        raise Unsupported(f"spath form {text!r} (only 'spath input=<field>')")
    name = found.group(1)

    def run(row: Row) -> Row:
        values = row.get(name, ())
        if len(values) != 1:
            return row
        try:
            parsed = json.loads(values[0])
        except json.JSONDecodeError:
            return row
        out = dict(row)
        for key, extracted in splunk_fields(parsed).items():
            out[key] = tuple(extracted)
        return out

    return run


_REX = re.compile(r'^field=(?P<field>[\w.{}]+)\s+"(?P<re>(?:\\.|[^"\\])*)"\s*$')


def _rex_command(text: str) -> Command:
    found = _REX.match(text.strip())
    if found is None:
        raise Unsupported(f"rex form {text!r} (only 'rex field=<field> \"<regex>\"')")
    name = found.group("field")
    pattern = pcre(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", unescape(found.group("re"), search=False)))

    def run(row: Row) -> Row:
        values = row.get(name, ())
        hit = pattern.search(values[0]) if values else None
        if hit is None:
            return row
        out = dict(row)
        for key, extracted in hit.groupdict().items():
            if extracted is not None:
                out[key] = (extracted,)
        return out

    return run


_TABLE_FIELD = re.compile(r"[A-Za-z_][\w.{}]*")


def _table_command(text: str) -> Command:
    """``table f1, f2 ...``: the row keeps only the fields named (no wildcards)."""
    names = [name for name in re.split(r"[\s,]+", text.strip()) if name]
    if not names:
        raise QueryError("table needs at least one field")
    for name in names:
        if not _TABLE_FIELD.fullmatch(name):
            raise Unsupported(f"table field {name!r} (only plain field names)")
    kept = tuple(names)

    def run(row: Row) -> Row:
        return {name: row[name] for name in kept if name in row}

    return run


COMMANDS: dict[str, Callable[[str], Command]] = {
    "table": _table_command,
    "search": _search_command,
    "where": _where_command,
    "eval": _eval_command,
    "regex": _regex_command,
    "spath": _spath_command,
    "rex": _rex_command,
}


@cache
def compile_search(query: str) -> tuple[Command, ...]:
    """The commands of an SPL search, ready to run; Unsupported/QueryError when they can't be."""
    stages = split_pipeline(query)
    commands = [_search_command(stages[0])]
    for stage in stages[1:]:
        name, _, rest = stage.partition(" ")
        builder = COMMANDS.get(name)
        if builder is None:
            raise Unsupported(f"SPL command {name!r}")
        commands.append(builder(rest))
    return tuple(commands)


def run(query: str, document: Document) -> Row | None:
    """The event's fields at the end of the search, or None when the search drops it."""
    row: Row | None = {
        name: tuple(str(v) for v in values) for name, values in document.values.items()
    }
    for command in compile_search(query):
        assert row is not None
        row = command(row)
        if row is None:
            return None
    return row


def matches(query: str, document: Document) -> bool:
    return run(query, document) is not None
