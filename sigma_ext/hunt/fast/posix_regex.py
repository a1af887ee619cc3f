"""A rule's ``|re`` value as a POSIX extended regular expression, for the native judge.

The judge (``sigma_ext.hunt.fast.judge``) tests a regular expression only on a string value
with no escape and no character outside ASCII (any other value is unknown to it), and a JSON
string holds no raw control character: every text it searches is printable ASCII
(``PRINTABLE``), with no line break. On such texts a Python regular expression and the POSIX
ERE written here find a match in the same texts (``regexec`` in ``_prefilter.c``): whether a
text holds a match of an expression depends on the language it denotes, not on how an engine
looks for it (Python's first alternative that succeeds against POSIX's longest), and

* each character class is written out as the printable characters it admits, so that no range
  depends on the C library's collation, and a case-insensitive expression is written
  case-sensitive, each letter beside its other case (Python folds no other character onto an
  ASCII letter that is itself ASCII);
* ``$`` and ``^`` hold at the text's ends only, in Python as here, on a text with no line
  break (the same holds for ``.`` and the DOTALL and MULTILINE flags);
* a lazy repetition finds a match where its greedy form does.

Anything else is refused (None), and the judge leaves the test unknown: lookarounds,
back-references, word boundaries, possessive repetitions and atomic groups, inline flags on a
group, a character outside printable ASCII in the expression, an empty alternative, group or
expression, a repetition count over ``MOST_REPEATS``. The expression is read by Python's own
parser (``re._parser``), so that each piece means here what it means to the reference engine.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

from sigma.types import SigmaRegularExpression

from sigma_ext.reference.evaluator import regex_flags

PRINTABLE = frozenset(range(0x20, 0x7F))
"""The characters of every text the judge searches."""
MOST_REPEATS = 255
"""The largest repetition count written (glibc allows 32,767; a longer one costs memory)."""

_SPECIAL = frozenset(b".[]()*+?{}|^$\\")
_DIGIT = frozenset(range(0x30, 0x3A))
_WORD = _DIGIT | frozenset(range(0x41, 0x5B)) | frozenset(range(0x61, 0x7B)) | {0x5F}
_SPACE = frozenset({0x20})  # of the whitespace \s admits, the one printable character
_ALLOWED_FLAGS = re.IGNORECASE | re.DOTALL | re.MULTILINE | re.UNICODE | re.ASCII | re.VERBOSE


# Python's own parser and its opcodes (loaded with ``re``: importing them costs nothing)
_PARSER: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")
_CATEGORIES: dict[Any, frozenset[int]] = {
    _C.CATEGORY_DIGIT: _DIGIT,
    _C.CATEGORY_WORD: _WORD,
    _C.CATEGORY_SPACE: _SPACE,
    _C.CATEGORY_NOT_DIGIT: PRINTABLE - _DIGIT,
    _C.CATEGORY_NOT_WORD: PRINTABLE - _WORD,
    _C.CATEGORY_NOT_SPACE: PRINTABLE - _SPACE,
}
_ATOMS = (_C.LITERAL, _C.NOT_LITERAL, _C.ANY, _C.IN, _C.SUBPATTERN, _C.BRANCH)
"""The opcodes written as one atom: repeated without a group around them."""


class Refused(Exception):
    """A piece of the expression the judge does not test."""


def posix_ere(value: SigmaRegularExpression) -> str | None:
    """``value`` as a POSIX ERE that finds a match in the same printable ASCII texts as the
    reference's ``re.search`` (with the reference's flags, case folded into the expression),
    or None."""
    return ere_of(str(value.regexp), regex_flags(value))


@lru_cache(maxsize=1024)
def ere_of(pattern: str, flags: int = 0) -> str | None:
    """A Python regular expression with ``re`` flags as a POSIX ERE (see the module), or None.
    Cached: the judge asks for each value twice (whether it is known, then its test)."""
    if not pattern or not pattern.isascii():
        return None
    try:
        parsed = _PARSER.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return None
    state = parsed.state.flags
    if state & ~_ALLOWED_FLAGS:
        return None
    try:
        written = _Writer(bool(state & re.IGNORECASE)).sequence(list(parsed))
    except Refused:
        return None
    return written or None


class _Writer:
    def __init__(self, folded: bool) -> None:
        self.folded = folded

    def sequence(self, items: list[tuple[Any, Any]]) -> str:
        return "".join(self.item(op, arg) for op, arg in items)

    def item(self, op: Any, arg: Any) -> str:
        if op is _C.LITERAL:
            return self.literal(arg)
        if op is _C.NOT_LITERAL:
            return self.bracket(PRINTABLE - self.closed({arg}))
        if op is _C.ANY:
            return "."
        if op is _C.IN:
            return self.bracket(self.members(arg))
        if op is _C.AT:
            if arg in (_C.AT_BEGINNING, _C.AT_BEGINNING_STRING):
                return "^"
            if arg in (_C.AT_END, _C.AT_END_STRING):
                return "$"
            raise Refused(arg)
        if op is _C.BRANCH:
            branches = [self.sequence(list(branch)) for branch in arg[1]]
            if not all(branches):
                raise Refused("an empty alternative")
            return "(" + "|".join(branches) + ")"
        if op is _C.SUBPATTERN:
            _, add_flags, del_flags, inner = arg
            body = self.sequence(list(inner))
            if add_flags or del_flags or not body:
                raise Refused("inline flags or an empty group")
            return f"({body})"
        if op in (_C.MAX_REPEAT, _C.MIN_REPEAT):
            return self.repeat(*arg)
        raise Refused(op)

    def repeat(self, low: int, high: Any, inner: Any) -> str:
        items = list(inner)
        if any(op is _C.AT for op, _ in items):
            raise Refused("a repeated anchor")
        body = self.sequence(items)
        if not body:
            raise Refused("an empty repetition")
        atom = body if len(items) == 1 and items[0][0] in _ATOMS else f"({body})"
        unbounded = high is _C.MAXREPEAT
        if low > MOST_REPEATS or (not unbounded and high > MOST_REPEATS):
            raise Refused("too many repetitions")
        if (low, unbounded) == (0, True):
            return atom + "*"
        if (low, unbounded) == (1, True):
            return atom + "+"
        if unbounded:
            return f"{atom}{{{low},}}"
        if (low, high) == (0, 1):
            return atom + "?"
        return f"{atom}{{{low}}}" if low == high else f"{atom}{{{low},{high}}}"

    def literal(self, code: int) -> str:
        if code not in PRINTABLE:
            raise Refused("a character no text holds")
        if self.folded and chr(code).isalpha():
            return self.bracket(self.closed({code}))
        return ("\\" if code in _SPECIAL else "") + chr(code)

    def members(self, items: list[tuple[Any, Any]]) -> frozenset[int]:
        found: set[int] = set()
        negated = False
        for op, arg in items:
            if op is _C.NEGATE:
                negated = True
            elif op is _C.LITERAL:
                found.add(arg)
            elif op is _C.RANGE:
                found.update(range(arg[0], arg[1] + 1))
            elif op is _C.CATEGORY:
                found |= self.category(arg)
            else:
                raise Refused(op)
        closed = self.closed(found & PRINTABLE)
        return PRINTABLE - closed if negated else closed

    @staticmethod
    def category(name: Any) -> frozenset[int]:
        if name not in _CATEGORIES:
            raise Refused(name)
        return _CATEGORIES[name]

    def closed(self, codes: set[int] | frozenset[int]) -> frozenset[int]:
        """The characters, with each letter's other case when case is folded."""
        if not self.folded:
            return frozenset(codes)
        return frozenset(codes) | {ord(chr(code).swapcase()) for code in codes if code < 0x80}

    @staticmethod
    def bracket(codes: frozenset[int]) -> str:
        """A bracket expression of exactly these printable characters, each written out: ``]``
        first, ``-`` last, ``^`` anywhere but first (sorted, a ``[`` is never followed by the
        ``:``, ``.`` or ``=`` that would open a POSIX class; a backslash is itself)."""
        if not codes:
            raise Refused("a class no text character is in")
        chars = sorted(chr(code) for code in codes)
        others = [char for char in chars if char not in "]-^"]
        body = "".join(others) + ("^" if "^" in chars else "")
        close, dash = "]" if "]" in chars else "", "-" if "-" in chars else ""
        if body == "^" and not close:
            return "[-^]" if dash else "\\^"
        return f"[{close}{body}{dash}]"
