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
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(reversed(pairs))


LONGEST_INT = 4000
"""Digits Python turns into an int (it refuses more than 4,300); a longer integer is read as a
float, as DuckDB reads it (infinite when beyond the floats)."""


def _integer(text: str) -> int | float:
    return int(text) if len(text) <= LONGEST_INT else float(text)


def _decoder() -> json.JSONDecoder:
    """The decoder with the hooks of ``_json_hooks.c`` (the same functions in C, called for
    every object and integer: a CloudTrail record decodes in 9 us instead of 19), or these
    Python ones when the extension was not built."""
    try:
        from sigma_ext.sources import _json_hooks  # type: ignore[attr-defined]
    except ImportError:
        return json.JSONDecoder(object_pairs_hook=_first_wins, parse_int=_integer)
    assert _json_hooks.LONGEST_INT == LONGEST_INT
    return json.JSONDecoder(object_pairs_hook=_json_hooks.first_wins, parse_int=_json_hooks.integer)


FIRST_KEY_WINS = _decoder()
"""Strict JSON, the first of a repeated key counting."""
_DECODER = FIRST_KEY_WINS
JSON_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
"""A JSON string token (with ``re.DOTALL``), its loop unrolled and possessive: linear in time
and memory. ``"(?:[^"\\]|\\.)*"`` keeps about 150 bytes of backtracking state per character
in Python's engine (4.1 GB for a 33 MiB string)."""
_TOKENS = re.compile(
    JSON_STRING + r'|(?P<comma>,)(?=[ \t\r\n]*[\]}])|(?P<word>-?[A-Za-z]+)|[^"A-Za-z,-]+|[,-]',
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


_RELAXED_STARTS = tuple('{["-0123456789tfn')


def _may_relax(text: str, error: json.JSONDecodeError) -> bool:
    """Whether ``_relaxed`` may turn the text into JSON: it must start as a JSON value or a
    non-finite number in any case, and a complete value followed by more text can only be
    followed by the ``\\v`` and ``\\f`` that it strips. A text log line (``Nov 23 ...``,
    ``I1123 ...``, ``2026-11-23T...``) fails these at once, without being rewritten."""
    if error.msg == "Extra data":
        return not text[error.pos :].strip(" \t\r\n\v\f")
    stripped = text.lstrip(" \t\r\n\v\f")
    return stripped.startswith(_RELAXED_STARTS) or stripped[:3].lower() in ("nan", "inf")


def parse_json_line(text: str) -> tuple[Any, str | None]:
    """(value, None) when the line is JSON as both engines read it, else (None, error message).

    Nesting has no limit (DuckDB has none): a value nested deeper than Python's recursion allows
    is read by ``parse_deep``, so that no engine judges an event the other skips."""
    try:
        return _DECODER.decode(text), None
    except json.JSONDecodeError as error:
        message = error.msg
        if not _may_relax(text, error):
            return None, message
    except RecursionError:
        return _deep(text)
    try:
        return _DECODER.decode(_relaxed(text.strip(" \t\r\n\v\f"))), None
    except json.JSONDecodeError:
        return None, message
    except RecursionError:
        return _deep(text)


def _deep(text: str) -> tuple[Any, str | None]:
    try:
        return parse_deep(_relaxed(text.strip(" \t\r\n\v\f"))), None
    except ValueError as error:
        return None, str(error)


_DEEP_TOKEN = re.compile(
    r'[ \t\r\n]*(?:(?P<open>[\[{])|(?P<close>[\]}])|(?P<comma>,)|(?P<colon>:)|(?P<string>")'
    r"|(?P<scalar>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null"
    r"|NaN|-?Infinity))"
)
_SCALARS: dict[str, Any] = {"true": True, "false": False, "null": None}


def parse_deep(text: str) -> Any:
    """Strict JSON (plus ``NaN``/``Infinity``) at any depth, with a stack instead of recursion;
    the first of a repeated key counts. Raises ValueError on anything else."""
    # each open container: its items (pairs for an object), whether an object, its pending key
    stack: list[tuple[list[Any], bool, list[str]]] = []
    state = "value"
    pos = 0
    result: Any = None
    while True:
        token = _DEEP_TOKEN.match(text, pos)
        if token is None:
            if state == "end" and not text[pos:].strip(" \t\r\n"):
                return result
            raise ValueError(f"not JSON at character {pos}")
        pos = token.end()
        kind = token.lastgroup or ""
        if state == "end":
            raise ValueError(f"extra data at character {token.start()}")
        value: Any
        if kind == "open" and state in ("value", "value_or_close"):
            is_object = token.group(kind) == "{"
            stack.append(([], is_object, []))
            state = "key_or_close" if is_object else "value_or_close"
            continue
        if kind == "close" and state in ("value_or_close", "key_or_close", "comma_or_close"):
            items, is_object, _ = stack.pop()
            if (token.group(kind) == "}") != is_object:
                raise ValueError(f"mismatched bracket at character {token.start()}")
            value = dict(reversed(items)) if is_object else items
        elif kind == "comma" and state == "comma_or_close":
            state = "key" if stack[-1][1] else "value"
            continue
        elif kind == "colon" and state == "colon":
            state = "value"
            continue
        elif kind == "string" and state in ("key", "key_or_close"):
            key, pos = scanstring(text, pos)
            stack[-1][2].append(key)
            state = "colon"
            continue
        elif kind == "string" and state in ("value", "value_or_close"):
            value, pos = scanstring(text, pos)
        elif kind == "scalar" and state in ("value", "value_or_close"):
            word = token.group(kind)
            value = _SCALARS[word] if word in _SCALARS else json.loads(word, parse_int=_integer)
        else:
            raise ValueError(f"unexpected {kind or 'text'} at character {token.start()}")
        if not stack:
            result, state = value, "end"
            continue
        items, is_object, keys = stack[-1]
        items.append((keys.pop(), value) if is_object else value)
        state = "comma_or_close"
