"""Parts of the ES|QL emulator (``sigma_ext.emulate.esql``, where what is emulated is
described): the text-splitting commands ``DISSECT`` and ``GROK``, time-span literals and
``DATE_TRUNC``; the columns a query may name."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.documents import Document

_DISSECT_KEY = re.compile(r"%\{([^}]*)\}")


def dissect(pattern: str) -> tuple[list[str], Callable[[Any], dict[str, Any]]]:
    """The columns a DISSECT pattern makes, and its matcher on one value.

    Keys are ``%{name}`` or skipped (``%{}``, ``%{?name}``); the text between keys are
    delimiters, found left to right (the first occurrence), and the last key takes the rest.
    No match, a null or a multi-valued input: every column is null. Modifiers (``->``, ``+``,
    ``*``, ``&``) and the ``APPEND_SEPARATOR`` option are not emulated.
    """
    parts = _DISSECT_KEY.split(pattern)
    literals, keys = parts[0::2], parts[1::2]
    if any(k[:1] in ("+", "*", "&") or k.endswith("->") for k in keys):
        raise Unsupported(f"DISSECT modifiers in {pattern!r}")
    named = [k for k in keys if k and not k.startswith("?")]

    def run(value: Any) -> dict[str, Any]:
        nulls: dict[str, Any] = dict.fromkeys(named)
        if not isinstance(value, str) or not value.startswith(literals[0]):
            return nulls
        found: dict[str, Any] = {}
        pos = len(literals[0])
        for key, delimiter in zip(keys, literals[1:], strict=True):
            if delimiter:
                end = value.find(delimiter, pos)
                if end < 0:
                    return nulls
            else:
                end = len(value)
            if key and not key.startswith("?"):
                found[key] = value[pos:end]
            pos = end + len(delimiter)
        return found

    return named, run


def grok(pattern: str) -> re.Pattern[str]:
    """A GROK pattern made of a regular expression with inline named captures ``(?<name>...)``
    (no ``%{SYNTAX:name}`` patterns), as Python reads it; found anywhere in the value unless
    anchored, as grok does."""
    if "%{" in pattern:
        raise Unsupported(f"GROK %{{...}} patterns in {pattern!r}")
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", pattern))


def grok_row(pattern: re.Pattern[str], keys: list[str], value: Any) -> dict[str, Any]:
    found = pattern.search(value) if isinstance(value, str) else None
    return {key: found.group(key) if found else None for key in keys}


# Time-span literals (``5 minutes``, ``5minutes``): the fixed-length units; calendar units
# (week, month, quarter, year) and milliseconds are not emulated.
TIME_UNITS = {
    **dict.fromkeys(("second", "seconds", "sec", "s"), 1),
    **dict.fromkeys(("minute", "minutes", "min"), 60),
    **dict.fromkeys(("hour", "hours", "h"), 3600),
    **dict.fromkeys(("day", "days", "d"), 86400),
}
CALENDAR_UNITS = frozenset(
    {"millisecond", "milliseconds", "ms", "week", "weeks", "w", "month", "months", "mo"}
    | {"quarter", "quarters", "q", "year", "years", "yr", "y"}
)
SPAN_UNITS = CALENDAR_UNITS | TIME_UNITS.keys()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_span(number: float, unit: str) -> timedelta:
    if unit in CALENDAR_UNITS:
        raise Unsupported(f"the time span {number} {unit} (calendar and millisecond units)")
    if not isinstance(number, int):
        raise QueryError(f"a time span is a whole number of units: {number} {unit}")
    return timedelta(seconds=number * TIME_UNITS[unit])


def date_trunc(span: Any, date: Any) -> Any:
    """``DATE_TRUNC(span, date)``: the date rounded down to a multiple of the span since the
    epoch, in UTC (a fixed interval, as ES|QL rounds one); null on a null or multi-value."""
    if date is None or isinstance(date, tuple):
        return None
    if not isinstance(span, timedelta) or not isinstance(date, datetime):
        raise QueryError(f"DATE_TRUNC takes a time span and a date, not {span!r}, {date!r}")
    return date - (date - _EPOCH) % span


class Columns:
    """The columns a query may name at one point: mapped fields (``known``) and computed ones."""

    def __init__(self, known: Callable[[str], str | None]) -> None:
        self.known = known
        self.seen: dict[str, str | None] = {}

    def check(self, name: str) -> None:
        if name in self.seen:
            return
        kind = self.known(name)
        if kind is None:
            raise QueryError(f"Unknown column [{name}]")
        if kind == "flattened":
            raise QueryError(f"ES|QL does not support the flattened field [{name}]")
        self.seen[name] = kind

    def add(self, *names: str) -> None:
        self.seen.update(dict.fromkeys(names, "computed"))


def document_columns(document: Document) -> Columns:
    """The columns of the index a document lives in (its mapping), none computed yet."""

    def known(name: str) -> str | None:
        if any(d == name and spec.type == "flattened" for d, spec in document.declared):
            return "flattened"
        return document.type_of(name)

    return Columns(known)
