"""Lucene ``query_string`` queries, as Kibana runs Elastic Security rules of language ``lucene``.

The query is parsed with luqum; this module only evaluates the tree on one document. Kibana's
detection engine sends the rule's query as a ``query_string`` with ``analyze_wildcard: true``
and Elasticsearch's default ``default_operator: OR`` (security_solution ``get_query_filter``;
"Query string query", Elasticsearch reference). What each node does:

* ``AND`` / ``OR`` / ``NOT`` / parentheses as boolean logic; an implicit operator (``a b``) is the
  default operator, OR. ``AND`` and ``OR`` mixed without parentheses, ``+``/``-`` prefixes,
  ranges, fuzzy, proximity and boosts, and terms without a field raise ``Unsupported``.
* ``field:(...)`` applies the field to every term inside.
* ``_exists_:field``: the field has a value.
* On a ``keyword`` field (and the keyed sub-fields of a ``flattened`` field): a term or phrase
  is equal to some value, exactly and case-sensitively; ``*`` and ``?`` wildcards (unless
  escaped) match against whole values, case-sensitively; ``/re/`` is a Lucene regular
  expression (``lucene_regexp``) that must match a whole value; ``field:*`` means exists.
  Values longer than ``ignore_above`` are not indexed (``sigma_ext.emulate.documents``).
* On a ``text`` field the value is analysed (``analysis.tokens``, the standard analyzer). A term
  is analysed the same way: one token must be present; several tokens are OR-ed (the default
  operator). A phrase needs its tokens consecutively in one value. A term ending in one ``*``
  and no other wildcard is a prefix query, which ``analyze_wildcard`` analyses: the tokens of
  the text before the ``*`` are OR-ed, the last as a prefix. Any other wildcard pattern is
  lower-cased (the analyzer's normalizer) and matched against single tokens. ``/re/`` must match
  a single token.
* ``integer``/``long``: the term must be an integer (otherwise the query fails: ``QueryError``)
  and equal a value; ``boolean``: ``true``/``false``; ``ip``: an address or a CIDR block.
* A field the document's mapping does not know matches nothing (query_string does not fail).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sigma_ext.emulate import MissingExtra, QueryError, Unsupported
from sigma_ext.emulate.analysis import tokens
from sigma_ext.emulate.documents import Document
from sigma_ext.emulate.lucene_regexp import full_match

if TYPE_CHECKING:
    from luqum.tree import Item  # type: ignore[import-untyped]

Test = Callable[[Document], bool]


@cache
def luqum_tree() -> ModuleType:
    """luqum's syntax tree module, imported on first use: luqum, the Lucene parser, comes with
    the optional extra ``emulate``, so that a plain install imports without it."""
    try:
        import luqum.tree  # type: ignore[import-untyped]
    except ImportError as error:
        raise MissingExtra("the Lucene emulator needs luqum: install sigma-ext[emulate]") from error
    module: ModuleType = luqum.tree
    return module


WILDCARDS = "*?"


def _segments(word: str) -> list[str | None]:
    """A term as literal text and wildcards (None for ``*``, "" marks ``?``)."""
    parts: list[str | None] = []
    literal: list[str] = []
    index = 0
    while index < len(word):
        char = word[index]
        if char == "\\" and index + 1 < len(word):
            literal.append(word[index + 1])
            index += 2
            continue
        if char in WILDCARDS:
            parts.append("".join(literal))
            literal = []
            parts.append(None if char == "*" else "")
        else:
            literal.append(char)
        index += 1
    parts.append("".join(literal))
    return parts


def _has_wildcard(word: str) -> bool:
    return len(_segments(word)) > 1


def _unescape(word: str) -> str:
    return "".join(part for part in _segments(word) if part)  # only called without wildcards


@cache
def _wildcard_regex(word: str, lower: bool) -> re.Pattern[str]:
    pieces, parts, index = [], _segments(word), 0
    while index < len(parts):
        literal = parts[index]
        assert literal is not None
        pieces.append(re.escape(literal.lower() if lower else literal))
        if index + 1 < len(parts):
            pieces.append(".*" if parts[index + 1] is None else ".")
        index += 2
    return re.compile("".join(pieces) + r"\Z", re.DOTALL)


def _phrase_text(phrase: str) -> str:
    body = phrase[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _contains_sequence(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    width = len(needle)
    return any(haystack[i : i + width] == needle for i in range(len(haystack) - width + 1))


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError as error:
        raise QueryError(f"{text!r} is not a number for an integer field") from error


def _term_test(name: str, kind: str | None, node: Item) -> Test:
    """A test of one field against one Word, Phrase or Regex node."""
    tree = luqum_tree()
    if kind is None:
        return lambda doc: False
    if isinstance(node, tree.Regex):
        pattern = str(node.value)[1:-1]
        if kind in ("keyword", "text"):
            return lambda doc: any(full_match(pattern, term) for term in _terms(doc, name, kind))
        raise QueryError(f"regular expression on {kind} field {name}")
    if isinstance(node, tree.Phrase):
        text = _phrase_text(str(node.value))
        if kind == "text":
            wanted = tokens(text)
            if not wanted:
                # a phrase the analyzer makes no token of queries nothing (Elasticsearch's
                # zero-terms default, "none"): it matches no document, not every one
                return lambda doc: False
            return lambda doc: any(
                _contains_sequence(tokens(str(v)), wanted) for v in doc.get(name)
            )
        return _exact(name, kind, text)
    if not isinstance(node, tree.Word):
        raise Unsupported(f"Lucene term {type(node).__name__}")
    word = str(node.value)
    if word == "*":
        return lambda doc: bool(doc.get(name))
    if not _has_wildcard(word):
        if kind == "text":
            wanted_any = set(tokens(_unescape(word)))
            return lambda doc: bool(wanted_any & set(_terms(doc, name, kind)))
        return _exact(name, kind, _unescape(word))
    if kind == "keyword":
        regex = _wildcard_regex(word, lower=False)
        return lambda doc: any(regex.match(str(v)) for v in doc.get(name))
    if kind == "text":
        return _text_wildcard(name, word)
    raise QueryError(f"wildcard query on {kind} field {name}")


def _terms(doc: Document, name: str, kind: str) -> list[str]:
    if kind == "text":
        return [t for v in doc.get(name) for t in tokens(str(v))]
    return [str(v) for v in doc.get(name)]


def _text_wildcard(name: str, word: str) -> Test:
    parts = _segments(word)
    is_prefix = len(parts) == 3 and parts[1] is None and parts[2] == ""
    if is_prefix:
        head = parts[0] or ""
        analysed = tokens(head)
        if not analysed:
            raise Unsupported(f"prefix {word!r} whose text has no tokens")
        exact, last = set(analysed[:-1]), analysed[-1]
        return lambda doc: any(t in exact or t.startswith(last) for t in _terms(doc, name, "text"))
    regex = _wildcard_regex(word, lower=True)
    return lambda doc: any(regex.match(t) for t in _terms(doc, name, "text"))


def _exact(name: str, kind: str, text: str) -> Test:
    if kind in ("keyword", "date"):
        if kind == "date":
            raise Unsupported(f"term query on date field {name}")
        return lambda doc: any(str(v) == text for v in doc.get(name))
    if kind in ("integer", "long"):
        number = _integer(text)
        return lambda doc: number in doc.get(name)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise QueryError(f"{text!r} is not a boolean")
        wanted = text == "true"
        return lambda doc: wanted in doc.get(name)
    if kind == "ip":
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as error:
            raise QueryError(f"{text!r} is not an IP address") from error
        return lambda doc: any(_in_network(v, network) for v in doc.get(name))
    raise Unsupported(f"term query on {kind} field {name}")


def _range_test(name: str, kind: str | None, node: Any) -> Test:
    """``field:>N``, ``>=``, ``<``, ``<=`` on an integer or long field (a one-sided range)."""
    tree = luqum_tree()
    if kind not in ("integer", "long"):
        raise Unsupported(f"range query on {kind} field {name}")
    bound = _integer(_unescape(str(node.a)))
    lower, include = isinstance(node, tree.From), bool(node.include)

    def test(doc: Document) -> bool:
        for value in doc.get(name):
            if lower and (value > bound or (include and value == bound)):
                return True
            if not lower and (value < bound or (include and value == bound)):
                return True
        return False

    return test


def _in_network(value: Any, network: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in network
    except ValueError:
        return False


class _Compiler:
    def __init__(self, type_of: Callable[[str], str | None]) -> None:
        self.type_of = type_of

    def node(self, node: Item, field: str | None = None) -> Test:
        tree = luqum_tree()
        if isinstance(node, (tree.AndOperation, tree.OrOperation, tree.UnknownOperation)):
            self._no_mixed(node)
            parts = [self.node(child, field) for child in node.children]
            if isinstance(node, tree.AndOperation):
                return lambda doc: all(p(doc) for p in parts)
            return lambda doc: any(p(doc) for p in parts)
        if isinstance(node, tree.Not):
            inner = self.node(node.children[0], field)
            return lambda doc: not inner(doc)
        if isinstance(node, (tree.Group, tree.FieldGroup)):
            return self.node(node.children[0], field)
        if isinstance(node, tree.SearchField):
            if field is not None:
                raise QueryError("nested field names")
            name = str(node.name)
            if name == "_exists_":
                target = node.children[0]
                if not isinstance(target, tree.Word):
                    raise Unsupported("_exists_ with a non-word value")
                exists = _unescape(str(target.value))
                return lambda doc: bool(doc.get(exists))
            return self.node(node.children[0], name.replace("\\", ""))
        if isinstance(node, (tree.From, tree.To)):
            if field is None:
                raise Unsupported(f"range {node} without a field")
            return _range_test(field, self.type_of(field), node)
        if isinstance(node, (tree.Word, tree.Phrase, tree.Regex)):
            if field is None:
                raise Unsupported(f"term {node} without a field (default_field search)")
            return _term_test(field, self.type_of(field), node)
        raise Unsupported(f"Lucene construct {type(node).__name__}: {node}")

    @staticmethod
    def _no_mixed(node: Item) -> None:
        tree = luqum_tree()
        operations = (tree.AndOperation, tree.OrOperation, tree.UnknownOperation)
        for child in node.children:
            if isinstance(child, operations) and type(child) is not type(node):
                raise Unsupported("AND and OR mixed without parentheses (Lucene has no precedence)")


def _escape_apostrophes(query: str) -> str:
    """Escape ``'`` outside phrases and regexes: Lucene reads it as a term character, luqum's
    lexer rejects it, and ``\\'`` means the same character to both."""
    out, index, state = [], 0, ""
    while index < len(query):
        char = query[index]
        if char == "\\" and index + 1 < len(query):
            out.append(query[index : index + 2])
            index += 2
            continue
        if state == "" and char in '"/':
            state = char
        elif state == char:
            state = ""
        elif state == "" and char == "'":
            char = "\\'"
        out.append(char)
        index += 1
    return "".join(out)


@cache
def parse(query: str) -> Item:
    luqum_tree()  # the clear error when luqum is missing
    from luqum.parser import parser  # type: ignore[import-untyped]

    try:
        return parser.parse(_escape_apostrophes(query))
    except Exception as error:  # luqum raises several error types, ParseError among them
        raise QueryError(f"Lucene syntax error: {error}") from error


def matches(query: str, document: Document) -> bool:
    """Whether the query_string query matches the document."""
    return _compiled(query, document)(document)


_COMPILED: dict[str, list[tuple[tuple[tuple[str, str | None], ...], Test]]] = {}
"""Per query, its tests compiled so far, each with the field types it was compiled for."""


def _compiled(query: str, document: Document) -> Test:
    """The query's test for the document: compiled once per query and mapping of the fields it
    names (a query is matched against every document of a case), as a compile for this
    document alone would make it."""
    variants = _COMPILED.setdefault(query, [])
    for types, test in variants:
        if all(document.type_of(name) == kind for name, kind in types):
            return test
    asked: dict[str, str | None] = {}

    def type_of(name: str) -> str | None:
        asked[name] = document.type_of(name)
        return asked[name]

    test = _Compiler(type_of).node(parse(query))
    if len(variants) < 16:
        variants.append((tuple(asked.items()), test))
    return test
