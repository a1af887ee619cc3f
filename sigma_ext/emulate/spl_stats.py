"""SPL over many events: ``multisearch``, ``bin`` and ``stats ... by``, around the streaming
commands of ``sigma_ext.emulate.splunk_search``, as the correlation searches of pySigma's Splunk
backend (correlation method ``stats``) run.

Implemented, following the Splunk Search Reference (multisearch, bin, stats, "Statistical and
charting functions"):

* ``| multisearch [ search ... ] [ search ... ] ...`` as the first command: every subsearch
  runs on every event and the result is all they keep, an event kept by two subsearches twice
  (once with what each computed). Splunk rejects fewer than two subsearches and a subsearch
  with a command that is not streaming (here: ``search``, ``eval``, ``where``, ``regex``,
  ``spath``, ``rex`` are): ``QueryError``.
* Otherwise the first command is the search (with its streaming commands) run per event.
* ``bin _time span=<n><unit>`` with a unit of seconds, minutes or hours: ``_time`` rounded down
  to a multiple of the span since the epoch (Splunk aligns bins on UTC epoch 0 unless
  ``aligntime`` is given). Day and longer spans align on the search's time zone, and every other
  option or field raises ``Unsupported``.
* ``stats agg [as name][, ...] [by field ...]`` with ``count`` (the events) and
  ``dc(field)``/``distinct_count(field)`` (the distinct values, each value of a multi-valued
  field counted); the default names are ``count`` and ``dc(field)``. An event without a value
  for a by-field is left out; a multi-valued by-field puts the event in the group of each of its
  values. One row per group, in by-value order (numbers as numbers), with the by-fields and the
  aggregates (strings, as every SPL value); without ``by``, one row, also over no event.
  Other functions raise ``Unsupported``.
* After those: ``search``, ``where``, ``eval``, ``regex``, ``rex``, ``spath``, ``table`` on each
  row, as ``splunk_search`` runs them. Any other command raises ``Unsupported``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import product

from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.documents import Document
from sigma_ext.emulate.spl_values import Row, as_number
from sigma_ext.emulate.splunk_search import COMMANDS, run, split_pipeline

STREAMING = frozenset({"search", "eval", "where", "regex", "spath", "rex"})
_BIN = re.compile(
    r"_time\s+span=(?P<n>\d+)(?P<unit>s|sec|secs|second|seconds|m|min|mins|minute|minutes"
    r"|h|hr|hrs|hour|hours)\s*"
)
_AGGREGATE = re.compile(
    r"\s*(?P<fn>[A-Za-z_]+)(?:\((?P<arg>[^()]*)\))?(?:\s+as\s+(?P<name>[A-Za-z_][\w.]*))?\s*,?",
    re.IGNORECASE,
)


def _multisearch(text: str) -> tuple[list[str], str]:
    """The subsearches of ``[ ... ] [ ... ]`` at the start of ``text``, and what follows them."""
    subsearches: list[str] = []
    index, depth, quoted, start = 0, 0, False, 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quoted:
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "[":
            if depth == 0:
                start = index + 1
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
            if depth < 0:
                raise QueryError("unbalanced ']' in multisearch")
            if depth == 0:
                subsearches.append(text[start:index].strip())
        elif not quoted and depth == 0 and char == "|":
            return subsearches, text[index:]
        elif not quoted and depth == 0 and not char.isspace():
            raise QueryError(f"multisearch takes [ subsearches ], found {text[index:][:30]!r}")
        index += 1
    if depth or quoted:
        raise QueryError("unbalanced brackets or quotes in multisearch")
    return subsearches, ""


def _event_rows(search: str, documents: list[Document]) -> list[Row]:
    return [found for document in documents if (found := run(search, document)) is not None]


def _bin(text: str) -> Callable[[Row], Row]:
    found = _BIN.fullmatch(text.strip())
    if found is None:
        raise Unsupported(f"bin {text!r} (only 'bin _time span=<n>s|m|h')")
    unit = found.group("unit")[0]
    span = int(found.group("n")) * {"s": 1, "m": 60, "h": 3600}[unit]
    if span == 0:
        raise QueryError("bin span=0")

    def bucket(row: Row) -> Row:
        times = [as_number(value) for value in row.get("_time", ())]
        if len(times) != 1 or times[0] is None:
            return row
        start = int(times[0] // span) * span
        return {**row, "_time": (str(start),)}

    return bucket


def _distinct(field: str) -> Callable[[list[Row]], int]:
    return lambda rows: len({value for row in rows for value in row.get(field, ())})


def _stats(text: str) -> Callable[[list[Row]], list[Row]]:
    head, *tail = re.split(r"\s+by\s+", f" {text} ", maxsplit=1, flags=re.IGNORECASE)
    aggregates: list[tuple[str, Callable[[list[Row]], int]]] = []
    rest = head.strip()
    while rest:
        found = _AGGREGATE.match(rest)
        if found is None or not found.group(0).strip():
            raise QueryError(f"stats cannot read {rest[:30]!r}")
        function, arg = found.group("fn").lower(), found.group("arg")
        if function == "count" and arg is None:
            aggregates.append((found.group("name") or "count", len))
        elif function in ("dc", "distinct_count") and arg and arg.strip():
            default = f"{function}({arg.strip()})"
            aggregates.append((found.group("name") or default, _distinct(arg.strip())))
        else:
            raise Unsupported(f"stats function {found.group(0).strip()!r}")
        rest = rest[found.end() :].strip()
    if not aggregates:
        raise QueryError("stats needs a function")
    by = [name for name in re.split(r"[\s,]+", tail[0].strip()) if name] if tail else []

    def order(key: tuple[str, ...]) -> tuple[tuple[int, float, str], ...]:
        numbers = [as_number(value) for value in key]
        return tuple(
            (0, n, "") if n is not None else (1, 0.0, value)
            for n, value in zip(numbers, key, strict=True)
        )

    def aggregate(rows: list[Row]) -> list[Row]:
        groups: dict[tuple[str, ...], list[Row]] = {} if by else {(): []}
        for row in rows:
            for key in product(*(row.get(name, ()) for name in by)):
                groups.setdefault(key, []).append(row)
        out = []
        for key in sorted(groups, key=order):
            made: Row = {name: (value,) for name, value in zip(by, key, strict=True)}
            made.update({name: (str(fn(groups[key])),) for name, fn in aggregates})
            out.append(made)
        return out

    return aggregate


def run_search(query: str, documents: Iterable[Document]) -> list[Row]:
    """The result rows of an SPL search over a set of events."""
    events = list(documents)
    text = query.strip()
    if text.startswith("|"):
        command = text[1:].lstrip()
        if not command.startswith("multisearch"):
            raise Unsupported(f"a search that starts with '| {command.split(' ')[0]}'")
        subsearches, after = _multisearch(command.removeprefix("multisearch"))
        if len(subsearches) < 2:
            raise QueryError("multisearch needs at least two subsearches")
        rows: list[Row] = []
        for subsearch in subsearches:
            if not subsearch.startswith("search "):
                raise Unsupported(f"a multisearch subsearch not starting with search: {subsearch}")
            body = subsearch.removeprefix("search ")
            for stage in split_pipeline(body)[1:]:
                if stage.partition(" ")[0] not in STREAMING:
                    raise QueryError(f"multisearch subsearches stream; {stage!r} does not")
            rows += _event_rows(body, events)
        first, *stages = split_pipeline(after) if after else [""]
        if first:
            raise QueryError(f"unexpected {first!r} after multisearch")
    else:
        first, *stages = split_pipeline(text)
        rows = _event_rows(first, events)
    for stage in stages:
        name, _, rest = stage.partition(" ")
        if name == "bin":
            rows = [*map(_bin(rest), rows)]
        elif name == "stats":
            rows = _stats(rest)(rows)
        elif name in COMMANDS:
            command_of = COMMANDS[name](rest)
            rows = [out for row in rows if (out := command_of(row)) is not None]
        else:
            raise Unsupported(f"SPL command {name!r}")
    return rows
