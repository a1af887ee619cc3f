"""Tests on the raw text of a JSON line, before it is parsed: the fast hunt's first filter.

``read_json_objects`` hands the fast hunt every line as its text, checked as JSON but not taken
apart. Most lines of an audit log can be dismissed from the text alone:

* **recognised** (``FastPath.raw_prefix``): the line starts with the source's first keys, so its
  recogniser holds (the first keys are the first occurrences, which are the ones that count);
* **no rule can fire** (``value_test``, one per field, put together by
  ``typed_scan.raw_dismissal``): a rule that needs ``verb`` to be ``create`` or ``patch``
  cannot fire on a line in which no key ending in ``verb`` is followed by one of those strings
  (in any case) or by a value that is not a string. Built from each rule's positive string tests
  on fields that hold one value, as the typed gate is (``sigma_ext.hunt.fast.gates``): an AND keeps
  its parts, an OR needs every part known, a NOT or any other test says nothing.

Text tests cannot see through JSON escapes or Unicode case folding, so a line is **suspicious**
(``suspicious_sql``), and goes to the reference engine, when it holds a ``\\u`` escape of a
printable character (other than the ``&``, ``<`` and ``>`` Go writes escaped) or of any
non-ASCII one (``escape_sql``), or a character whose case folding is ASCII text that RE2's
``(?i)`` does not match (``folding_sql``: ``ß`` folds to ``ss``). Escapes of ``/``, ``"`` and
``\\`` are matched in place. The folding test is the dearer one, so it runs only on the lines the
value tests keep: these find a folding character in a value they test themselves.

``shape_regexes`` find, anywhere in the line, a value of a key the rules read that breaks the
shape ``json_transform`` assumes (an array where an object is expected, a non-array where an
array is, nested arrays). Anywhere is more than needed: such a line is judged by the reference
engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sigma.types import SigmaString

from sigma_ext.hunt.fast.duckdb_backend import re2_escape, sigma_string_pattern, sql_string

# JSON whitespace.
WS = "[\\t\\n\\r ]*"

# A \u escape that may spell a printable or non-ASCII character (not &, <, >, DEL or a control
# character, which no rule value and no key holds).
SUSPICIOUS_ESCAPE = (
    "\\\\u(?:[1-9a-fA-F][0-9a-fA-F]{3}|0[1-9a-fA-F][0-9a-fA-F]{2}|00(?:2[0-57-9a-fA-F]|"
    "3[0-9abdfABDF]|[4-6][0-9a-fA-F]|7[0-9a-eA-E]|[89a-fA-F][0-9a-fA-F]))"
)

# One decoded character of a JSON string.
_ONE_CHAR = '(?:[^"\\\\]|\\\\u[0-9a-fA-F]{4}|\\\\.)'
# Characters that may stand escaped in a JSON string without \u (RFC 8259): the escape to match.
_SHORT_ESCAPES = {"/": "\\\\/", '"': '\\\\"', "\\": "\\\\\\\\"}
# &, < and > as Go's encoder writes them.
_GO_ESCAPES = {"&": "0026", "<": "003[cC]", ">": "003[eE]"}


# Non-ASCII characters whose Python case folding holds ASCII text (``ß`` folds to ``ss``, the
# ``ﬁ`` ligature to ``fi``, the Kelvin sign to ``k``): a case-insensitive test may match them.
# tests/test_raw_gate.py recomputes the list.
FOLDING_INTO_ASCII = (
    "\u00df\u0130\u0149\u017f\u01f0\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9e\u212a"
    "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
)
FOLDING = "[" + FOLDING_INTO_ASCII + "]"


def escape_sql(column: str) -> str:
    """TRUE for a line with a ``\\u`` escape a raw test may misread (see the module docstring)."""
    return (
        f"(contains({column}, '\\u') AND regexp_matches({column}, {sql_string(SUSPICIOUS_ESCAPE)}))"
    )


def folding_sql(column: str) -> str:
    """TRUE for a line with a character whose case folding is ASCII text (``strlen`` and
    ``length`` differ only on a line with a non-ASCII character, and RE2 reads such a class
    byte by byte, so the cheap test goes first)."""
    return (
        f"(strlen({column}) <> length({column}) AND "
        f"regexp_matches({column}, {sql_string(FOLDING)}))"
    )


def suspicious_sql(column: str) -> str:
    """TRUE for a line whose text a raw test may misread (see the module docstring)."""
    return f"({escape_sql(column)} OR {folding_sql(column)})"


def _char(char: str) -> str:
    """One literal character of a rule value as it may stand in the JSON text (case is left to
    the pattern's ``(?i)``)."""
    plain = re2_escape(char)
    if char in _SHORT_ESCAPES:
        return f"(?:{plain}|{_SHORT_ESCAPES[char]})"
    if char in _GO_ESCAPES:
        return f"(?:{plain}|\\\\u{_GO_ESCAPES[char]})"
    return plain


def string_pattern(value: SigmaString) -> str | None:
    """The JSON text of a string equal to ``value`` (wildcards, any case), without its quotes;
    None when the value is not plain printable ASCII or holds a placeholder."""
    return sigma_string_pattern(
        value, f"{_ONE_CHAR}*", _ONE_CHAR, lambda text: "".join(_char(c) for c in text)
    )


def value_test(key: str, patterns: Iterable[str]) -> str:
    """A regex that finds a key ending in ``key`` followed by one of the string ``patterns``, by
    a string holding a character of ``FOLDING_INTO_ASCII`` (which ``(?i)`` may not fold as the
    reference engine does), or by any value that is not a string."""
    alternatives = "|".join(sorted(set(patterns)))
    quoted_key = re.escape(key).replace("\\-", "-")
    return f'{quoted_key}"{WS}:{WS}(?:"(?i:{alternatives})"|"{_ONE_CHAR}*{FOLDING}|[^"\\t\\n\\r ])'


def regex_sql(column: str, regex: str) -> str:
    return f"regexp_matches({column}, {sql_string(regex)})"


def prefix_text(keys: list[tuple[str, str]]) -> str:
    """``prefix_regex`` as the compact text it most often is (tested first, as it is cheaper):
    every value but the last is whole, so it is closed by its quote."""
    return "{" + '",'.join(f'"{k}":"{v}' for k, v in keys)


def prefix_regex(keys: list[tuple[str, str]]) -> str:
    """A regex for a line whose first keys are ``keys`` with string values starting as given."""
    parts = [f'"{re.escape(k)}"{WS}:{WS}"{re.escape(v)}' for k, v in keys]
    return "^\\{" + WS + (f'"{WS},{WS}').join(parts)


def shape_regexes(
    nodes: Iterable[tuple[str, bool, bool]],
    dotted: Iterable[str],
    nested_arrays: bool = True,
    by_key: bool = False,
) -> list[str]:
    """Regexes, any of which finds a value off the shape: for each (key, is array, has children)
    a node along the rules' paths; nested arrays anywhere (unless ``nested_arrays`` is False);
    and any of the ``dotted`` keys (a run of a path's keys joined with dots, which the reference
    evaluator also reads).

    One regex per leading character: RE2 skips ahead to a regex's one possible first byte
    (``memchr``), but reads byte by byte through a regex that may start with several, which costs
    twice the three passes over the benchmark's candidate lines. With ``by_key``, one regex per
    leading key instead (``"objectRef`` for ``"objectRef"`` and ``"objectRef.resource"``): RE2
    then skips ahead to that whole literal, which pays for a pass per key when there are few
    keys (the gate's shape: a third of the cost of one regex on the benchmark's hit lines).
    """
    alternatives = {f"\\[{WS}\\[", f",{WS}\\["} if nested_arrays else set()
    alternatives.update(f'"{re.escape(key)}"{WS}:' for key in dotted)
    for key, array, children in nodes:
        quoted = f'"{re.escape(key)}"{WS}:{WS}'
        if array:
            alternatives.add(quoted + ("\\{" if children else "[^\\[n\\t\\n\\r ]"))
        elif children:
            alternatives.add(quoted + "\\[")
    by_start: dict[str, list[str]] = {}
    for alternative in sorted(alternatives):
        by_start.setdefault(_lead(alternative, by_key), []).append(alternative)
    return [
        start + "(?:" + "|".join(a[len(start) :] for a in group) + ")"
        for start, group in sorted(by_start.items())
    ]


def _lead(alternative: str, by_key: bool) -> str:
    """The literal regex text ``alternative`` starts with: its first character (a whole escape
    such as ``\\[``), or with ``by_key`` a quote and the key up to its end or first escape."""
    if by_key and alternative.startswith('"'):
        return '"' + re.split('["\\\\]', alternative[1:], maxsplit=1)[0]
    return alternative[:2] if alternative.startswith("\\") else alternative[0]


def any_regex_sql(column: str, regexes: Iterable[str]) -> str:
    return " OR ".join(regex_sql(column, regex) for regex in regexes)
