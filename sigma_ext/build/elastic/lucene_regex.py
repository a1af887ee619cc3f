"""Translating the project's own regular expressions into Lucene ``RegExp`` syntax.

ES|QL ``RLIKE`` (like Lucene ``regexp`` queries) takes Lucene's regular-expression language,
not PCRE: every pattern is anchored at both ends, there are no ``(?:...)``, ``(?i)``, ``^`` or
``$``, no ``\\d``/``\\s``/``\\w`` shorthands in older releases, and ``@ # & < > ~`` are operators
when all syntax flags are on. The regexes this project writes (``sigma_ext.content.image_refs``)
use a small PCRE subset; this module translates exactly that subset and refuses anything else,
so a regex it cannot translate faithfully is an error at build time rather than a query that
means something else. A Sigma string with wildcards is written directly (``lucene_string``).

Accepted input: literal characters and backslash-escaped punctuation, ``.``, character classes
``[...]`` / ``[^...]`` with ranges, groups ``(...)`` and ``(?:...)``, alternation ``|``,
quantifiers ``? * + {m} {m,} {m,n}``, and ``^`` / ``$`` as the first / last character of the whole
pattern only (Lucene anchors every pattern anyway). A pattern without them is unanchored in
Sigma's sense, so the translation wraps it in ``.*(...).*``.
"""

from __future__ import annotations

import string

from sigma.types import SigmaString

from sigma_ext.build.result import Unconvertible
from sigma_ext.condition_tree import sigma_string_pattern

# Characters written escaped in the output: everything but letters and digits. Escaping a
# character that is not an operator is harmless in Lucene, and this way no flag setting can
# turn a literal into an operator.
_PLAIN = set(string.ascii_letters + string.digits)
_REGEX_META = set(".[](){}|?*+^$\\")
_NO_SHORTHANDS = set(string.ascii_letters + string.digits)


class UntranslatableRegex(Unconvertible):
    """A regular expression outside the subset this module translates."""


def _literal(char: str) -> str:
    return char if char in _PLAIN else "\\" + char


def _class(pattern: str, start: int) -> tuple[str, int]:
    """Translate the character class opening at ``start``; return it and the index after it."""
    index = start + 1
    out = ["["]
    if index < len(pattern) and pattern[index] == "^":
        out.append("^")
        index += 1
    first = True
    while index < len(pattern):
        char = pattern[index]
        if char == "]" and not first:
            out.append("]")
            return "".join(out), index + 1
        if char == "\\":
            if index + 1 >= len(pattern) or pattern[index + 1] in _NO_SHORTHANDS:
                raise UntranslatableRegex(f"escape {pattern[index : index + 2]!r} in a class")
            out.append("\\" + pattern[index + 1])
            index += 2
        elif char == "-" and not first and index + 1 < len(pattern) and pattern[index + 1] != "]":
            out.append("-")
            index += 1
        else:
            out.append(_literal(char))
            index += 1
        first = False
    raise UntranslatableRegex(f"unterminated character class in {pattern!r}")


def _quantifier(pattern: str, start: int) -> tuple[str, int]:
    end = pattern.find("}", start)
    body = pattern[start + 1 : end] if end != -1 else ""
    low, comma, high = body.partition(",")
    if end == -1 or not low.isdigit() or (high and not high.isdigit()):
        raise UntranslatableRegex(f"malformed repetition at {start} in {pattern!r}")
    return "{" + low + comma + high + "}", end + 1


def to_lucene(pattern: str) -> str:
    """The Lucene RegExp matching the same whole strings as ``pattern`` does with ``search``."""
    anchored_start = pattern.startswith("^")
    anchored_end = pattern.endswith("$") and not pattern.endswith("\\$")
    body = pattern[1 if anchored_start else 0 : len(pattern) - 1 if anchored_end else None]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            if index + 1 >= len(body) or body[index + 1] in _NO_SHORTHANDS:
                raise UntranslatableRegex(f"escape {body[index : index + 2]!r} in {pattern!r}")
            out.append("\\" + body[index + 1])
            index += 2
        elif char == "[":
            translated, index = _class(body, index)
            out.append(translated)
        elif char == "(":
            if body.startswith("(?:", index):
                index += 3
            elif body.startswith("(?", index):
                raise UntranslatableRegex(f"group construct at {index} in {pattern!r}")
            else:
                index += 1
            out.append("(")
        elif char == "{":
            translated, index = _quantifier(body, index)
            out.append(translated)
        elif char in ")|?*+.":
            out.append(char)
            index += 1
        elif char in "^$":
            raise UntranslatableRegex(f"anchor {char!r} inside {pattern!r}")
        elif char in _REGEX_META:
            raise UntranslatableRegex(f"unexpected {char!r} in {pattern!r}")
        else:
            out.append(_literal(char))
            index += 1
    translated = "".join(out)
    if len(translated) and not (anchored_start and anchored_end):
        translated = f"({translated})"
    return ("" if anchored_start else ".*") + translated + ("" if anchored_end else ".*")


def lucene_string(value: SigmaString) -> str:
    """The Lucene RegExp matching the same whole strings as a Sigma string with wildcards."""
    pattern = sigma_string_pattern(
        value, ".*", ".", lambda text: "".join(_literal(char) for char in text)
    )
    if pattern is None:
        raise UntranslatableRegex(f"unfilled placeholder in {value}")
    return pattern


def lower_literals(lucene: str) -> str:
    """Lower-case a translated pattern, for matching against a lower-cased value.

    Safe because the translation never writes a backslash before a letter: every letter in the
    output is a literal or a class bound.
    """
    if any(lucene[i] == "\\" and lucene[i + 1].isalpha() for i in range(len(lucene) - 1)):
        raise UntranslatableRegex(f"letter escape in {lucene!r}")
    return lucene.lower()
