""" "Every element of a list matches" as one regular expression over the elements, one per line.

An every-element detection (``match_every_element``) asks whether each value of a pooled list
satisfies the detection. Written with a DuckDB lambda, the test costs little per row but a lot
per vector: DuckDB compiles a lambda's regular expressions again for every vector it runs on, so
on the fast hunt's sparse candidate rows the lambda costs more than the whole scan.

When the detection is an OR of value tests on the element (the approved-registry lists are),
the test is instead one RE2 full match over the elements joined by newlines: every line must
match one of the values. That is exact when no value can match across a newline, which
``line_pattern`` checks: values with ``*`` and ``?`` read them as "not a newline", and regular
expressions that may match a newline (``(?s)``, negated classes, ``\\s``, ``\\D``, ``\\W``) are
left to the lambda. An element holding a newline (or any other character outside printable
ASCII) never reaches this test: the field's guard has made the row undecidable before.
"""

from __future__ import annotations

import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from sigma.conditions import ConditionOR
from sigma.types import (
    SigmaCasedString,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
)

from sigma_ext.condition_tree import leaves
from sigma_ext.hunt.fast.duckdb_backend import (
    FieldSql,
    pooled_values,
    re2_escape,
    regex_is_portable,
    sigma_string_pattern,
    sql_string,
    unless_pool_unknown,
)


def line_regex(tree: Any) -> str | None:
    """An RE2 pattern that fully matches the newline-joined elements exactly when every element
    satisfies ``tree``; None when ``tree`` is not an OR of line-safe value tests."""
    found = leaves(tree, (ConditionOR,))
    if not found:
        return None
    values = [leaf.value for leaf in found]
    patterns: dict[str, None] = {}
    for value in values:
        pattern = line_pattern(value)
        if pattern is None:
            return None
        patterns[pattern] = None
    line = "(?:" + "|".join(patterns) + ")"
    return f"(?m){line}(?:\\n{line})*"


def line_pattern(value: Any) -> str | None:
    """A value test as a pattern that fully matches one line (an element) when the element
    satisfies it, and never matches a newline; None when that cannot be written."""
    if isinstance(value, SigmaString):
        return _string_pattern(value)
    if isinstance(value, SigmaRegularExpression):
        return _regex_pattern(value)
    return None


def _string_pattern(value: SigmaString) -> str | None:
    text = sigma_string_pattern(value, "[^\\n]*", "[^\\n]", re2_escape)
    if text is None:
        return None
    return text if isinstance(value, SigmaCasedString) else f"(?i:{text})"


def _regex_pattern(value: SigmaRegularExpression) -> str | None:
    pattern = str(value.regexp)
    if SigmaRegularExpressionFlag.DOTALL in value.flags or not regex_is_portable(value):
        return None
    flags = re.IGNORECASE if SigmaRegularExpressionFlag.IGNORECASE in value.flags else 0
    try:
        parsed = sre_parse.parse(pattern, flags)
    except re.error:
        return None
    if parsed.state.flags & re.DOTALL or not _line_safe(parsed):
        return None
    inner = f"(?i:{pattern})" if flags else f"(?:{pattern})"
    # a search: anything before and after the match, on the same line
    return f"[^\\n]*{inner}[^\\n]*"


_NEWLINE = ord("\n")
_UNSAFE_CATEGORIES = frozenset(
    {
        sre_constants.CATEGORY_SPACE,
        sre_constants.CATEGORY_NOT_DIGIT,
        sre_constants.CATEGORY_NOT_WORD,
        sre_constants.CATEGORY_LINEBREAK,
        sre_constants.CATEGORY_NOT_LINEBREAK,
        sre_constants.CATEGORY_UNI_SPACE,
        sre_constants.CATEGORY_UNI_NOT_DIGIT,
        sre_constants.CATEGORY_UNI_NOT_WORD,
        sre_constants.CATEGORY_UNI_LINEBREAK,
        sre_constants.CATEGORY_UNI_NOT_LINEBREAK,
    }
)


def _line_safe(items: Any) -> bool:
    """Whether a parsed pattern can never match a newline."""
    for op, arg in items:
        if op is sre_constants.LITERAL:
            if arg == _NEWLINE:
                return False
        elif op is sre_constants.NOT_LITERAL:
            if arg != _NEWLINE:
                return False
        elif op is sre_constants.ANY:
            continue  # without DOTALL (checked by the caller)
        elif op is sre_constants.IN:
            if not _class_safe(arg):
                return False
        elif op is sre_constants.AT:
            continue
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            if not _line_safe(arg[2]):
                return False
        elif op is sre_constants.SUBPATTERN:
            add_flags = arg[1]
            if add_flags & re.DOTALL or not _line_safe(arg[3]):
                return False
        elif op is sre_constants.BRANCH:
            if not all(_line_safe(branch) for branch in arg[1]):
                return False
        else:
            return False
    return True


def _class_safe(items: Any) -> bool:
    for op, arg in items:
        if op is sre_constants.NEGATE:
            return False
        if op is sre_constants.LITERAL and arg == _NEWLINE:
            return False
        if op is sre_constants.RANGE and arg[0] <= _NEWLINE <= arg[1]:
            return False
        if op is sre_constants.CATEGORY and arg in _UNSAFE_CATEGORIES:
            return False
    return True


def every_element_line_regex_sql(pool: list[FieldSql], regex: str) -> str:
    """Three-valued "every pooled value matches ``regex`` as a line" (vacuously TRUE)."""
    values = pooled_values(pool)
    test = (
        f"(len({values}) = 0 OR coalesce(regexp_full_match(array_to_string({values}, "
        f"chr(10)), {sql_string(regex)}), FALSE))"
    )
    return unless_pool_unknown(pool, test)
