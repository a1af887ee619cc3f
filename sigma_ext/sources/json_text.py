"""JSON text as both hunt engines read it: RFC 8259 plus what DuckDB's reader also accepts.

That is a trailing comma before ``]`` or ``}``, ``NaN``/``Infinity`` in any letter case, and
``\\v`` and ``\\f`` around the value; when a key appears twice in one object, the first
occurrence counts (as in DuckDB). A log line is read this way (``sigma_ext.hunt.reference``), and
so is an
event a provider envelope carries as a JSON string (``sigma_ext.sources.kubernetes``), so that a
line means the same whether the SQL or the reference engine judges it.
"""

from __future__ import annotations

import json
import re
from typing import Any


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(reversed(pairs))


FIRST_KEY_WINS = json.JSONDecoder(object_pairs_hook=_first_wins)
"""Strict JSON, the first of a repeated key counting."""
_DECODER = FIRST_KEY_WINS
_TOKENS = re.compile(
    r'"(?:[^"\\]|\\.)*"|(?P<comma>,)(?=[ \t\r\n]*[\]}])|(?P<word>-?[A-Za-z]+)|[^"A-Za-z,-]+|[,-]',
    re.DOTALL,
)
_NON_FINITE = {"nan": "NaN", "-nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_NON_FINITE |= {"infinity": "Infinity", "-infinity": "-Infinity"}


def _relaxed(text: str) -> str:
    """Rewrite DuckDB's accepted JSON extensions into strict JSON (outside strings only)."""
    out: list[str] = []
    previous = ""
    for match in _TOKENS.finditer(text):
        token = match.group(0)
        if match.group("comma") is not None and previous not in ("", "[", "{", ",", ":"):
            continue  # one trailing comma after a value
        if match.group("word") is not None:
            token = _NON_FINITE.get(token.lower(), token)
        out.append(token)
        stripped = token.strip(" \t\r\n")
        if stripped:
            previous = stripped[-1]
    return "".join(out)


def parse_json_line(text: str) -> tuple[Any, str | None]:
    """(value, None) when the line is JSON as both engines read it, else (None, error message)."""
    try:
        return _DECODER.decode(text), None
    except json.JSONDecodeError as error:
        message = error.msg
    except RecursionError:
        return None, "nested too deeply"
    try:
        return _DECODER.decode(_relaxed(text.strip(" \t\r\n\v\f"))), None
    except (json.JSONDecodeError, RecursionError):
        return None, message
