"""The row of field values that SPL commands pass on, SPL values, and quoted strings.

Shared by the search command (``sigma_ext.emulate.spl_search_terms``), ``eval``/``where``
(``sigma_ext.emulate.spl_eval``) and the pipeline (``sigma_ext.emulate.splunk_search``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigma_ext.emulate import Unsupported

Row = dict[str, tuple[str, ...]]
Value = Any  # None (null), str, int, float, bool, or a tuple of str for a multi-valued result
RowTest = Callable[[Row], bool]


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


def as_values(value: Value) -> tuple[Any, ...]:
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


def single(value: Value, what: str) -> Value:
    if isinstance(value, tuple):
        if len(value) == 1:
            return value[0]
        raise Unsupported(f"{what} on a multi-valued field")
    return value


def as_text(value: Value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def as_number(value: Value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
