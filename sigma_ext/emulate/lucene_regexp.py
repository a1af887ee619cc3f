"""Lucene regular expressions (``field:/re/`` in Lucene, ``RLIKE`` in ES|QL) as Python regexes.

Elasticsearch runs both with Lucene's ``RegExp`` engine, not PCRE ("Regular expression syntax",
Elasticsearch reference; ES|QL ``RLIKE`` links to the same page). This is a port of the grammar
of ``org.apache.lucene.util.automaton.RegExp`` with the syntax flags ``ALL``:

* the expression always matches the whole term (there are no anchors: ``^`` and ``$`` are
  ordinary characters);
* ``|`` union, concatenation, ``?`` ``*`` ``+`` ``{n}`` ``{n,}`` ``{n,m}`` repetition, ``(...)``
  grouping, ``()`` the empty string, ``.`` any character, ``"..."`` a literal string, ``@`` any
  string, ``[...]`` and ``[^...]`` classes with ranges, ``\\d \\D \\s \\S \\w \\W`` (ASCII
  classes), ``\\`` followed by any other non-letter character for that character; ``\\`` before a
  letter that names no class is an error;
* a reserved character where an expression starts (``?`` after ``(``, for instance) is an
  ordinary character, as the Lucene parser reads it: PCRE's ``(?:...)`` and ``(?i)`` are *not*
  groups or flags there but literal text;
* ``&`` (intersection), ``~`` (complement), ``#`` (empty language) and ``<...>`` (intervals,
  named automata) raise ``Unsupported``.
"""

from __future__ import annotations

import re
from functools import cache

from sigma_ext.emulate import QueryError, Unsupported

_CLASSES = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "s": "[ \\t\\n\\r]",
    "S": "[^ \\t\\n\\r]",
    "w": "[a-zA-Z_0-9]",
    "W": "[^a-zA-Z_0-9]",
}
_IN_CLASS = {key: value[1:-1] for key, value in _CLASSES.items() if not value.startswith("[^")}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.text)

    def peek(self, chars: str) -> bool:
        return self.more() and self.text[self.pos] in chars

    def match(self, char: str) -> bool:
        if self.more() and self.text[self.pos] == char:
            self.pos += 1
            return True
        return False

    def next(self) -> str:
        if not self.more():
            raise QueryError("unexpected end of regular expression")
        self.pos += 1
        return self.text[self.pos - 1]

    def union(self) -> str:
        left = self.inter()
        if self.match("|"):
            return f"(?:{left}|{self.union()})"
        return left

    def inter(self) -> str:
        left = self.concat()
        if self.peek("&"):
            raise Unsupported("Lucene regexp intersection '&'")
        return left

    def concat(self) -> str:
        parts = [self.repeat()]
        while self.more() and not self.peek(")|&"):
            parts.append(self.repeat())
        return "".join(parts)

    def repeat(self) -> str:
        expression = self.compl()
        while self.peek("?*+{"):
            if self.match("?"):
                expression = f"(?:{expression})?"
            elif self.match("*"):
                expression = f"(?:{expression})*"
            elif self.match("+"):
                expression = f"(?:{expression})+"
            elif self.match("{"):
                start = self.pos
                while self.peek("0123456789"):
                    self.pos += 1
                if start == self.pos:
                    raise QueryError(f"integer expected at position {self.pos}")
                low = self.text[start : self.pos]
                high: str | None = low
                if self.match(","):
                    start = self.pos
                    while self.peek("0123456789"):
                        self.pos += 1
                    high = self.text[start : self.pos] or None
                if not self.match("}"):
                    raise QueryError(f"expected '}}' at position {self.pos}")
                bound = f"{{{low}}}" if high == low else f"{{{low},{high or ''}}}"
                expression = f"(?:{expression}){bound}"
        return expression

    def compl(self) -> str:
        if self.peek("~"):
            raise Unsupported("Lucene regexp complement '~'")
        return self.char_class_exp()

    def char_class_exp(self) -> str:
        if self.match("["):
            negate = self.match("^")
            items = [self.char_class_item()]
            while self.more() and not self.peek("]"):
                items.append(self.char_class_item())
            if not self.match("]"):
                raise QueryError(f"expected ']' at position {self.pos}")
            return f"[{'^' if negate else ''}{''.join(items)}]"
        return self.simple()

    def predefined(self) -> str | None:
        if self.peek("\\") and self.pos + 1 < len(self.text):
            following = self.text[self.pos + 1]
            if following in _CLASSES:
                self.pos += 2
                return following
            if following.isascii() and following.isalpha():
                raise QueryError(f"invalid character class \\{following}")
        return None

    def char_class_item(self) -> str:
        name = self.predefined()
        if name is not None:
            if name not in _IN_CLASS:
                raise Unsupported(f"negated class \\{name} inside [...]")
            return _IN_CLASS[name]
        first = self.char()
        if self.match("-"):
            last = self.char()
            if ord(first) > ord(last):
                raise QueryError(f"invalid range {first}-{last}")
            return f"{_class_char(first)}-{_class_char(last)}"
        return _class_char(first)

    def char(self) -> str:
        self.match("\\")
        return self.next()

    def simple(self) -> str:
        if self.match("."):
            return "."
        if self.peek("#"):
            raise Unsupported("Lucene regexp empty language '#'")
        if self.match("@"):
            return ".*"
        if self.match('"'):
            start = self.pos
            while self.more() and not self.peek('"'):
                self.pos += 1
            if not self.match('"'):
                raise QueryError(f"expected '\"' at position {self.pos}")
            return re.escape(self.text[start : self.pos - 1])
        if self.match("("):
            if self.match(")"):
                return ""
            inner = self.union()
            if not self.match(")"):
                raise QueryError(f"expected ')' at position {self.pos}")
            return f"(?:{inner})"
        if self.peek("<"):
            raise Unsupported("Lucene regexp intervals and named automata '<...>'")
        name = self.predefined()
        if name is not None:
            return _CLASSES[name]
        return re.escape(self.char())


def _class_char(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char


@cache
def lucene_regexp(pattern: str) -> re.Pattern[str]:
    """A compiled Python regex that accepts exactly the strings the Lucene regexp accepts."""
    parser = _Parser(pattern)
    body = "" if pattern == "" else parser.union()
    if parser.more():
        raise QueryError(f"end-of-string expected at position {parser.pos} in /{pattern}/")
    return re.compile(f"(?:{body})\\Z", re.DOTALL)


def full_match(pattern: str, text: str) -> bool:
    return lucene_regexp(pattern).match(text) is not None
