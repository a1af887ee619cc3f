"""Splunk SPL, the subset the build emits, run on one event's extracted fields.

Implemented, following the Splunk Search Reference and Search Manual:

* Pipeline: commands separated by ``|`` outside quotes; the first is the implied ``search``.
* Quoting: inside ``"..."`` the sequences ``\\\\`` and ``\\"`` stand for a backslash and a quote,
  ``\\|`` for a pipe; other backslash sequences are passed on unchanged ("Quotes and escaping
  characters", search command). A backslash cannot escape ``*`` in a search ("Backslashes",
  Search Manual): ``\\*`` in a search term raises ``Unsupported``.
* ``search`` expressions: ``field=value`` (value quoted or bare), ``field IN (v, ...)``,
  ``NOT``, ``OR``, ``AND`` and the implied AND between terms, parentheses. Precedence is the
  search command's: parentheses, NOT, then OR, then AND ("Boolean expressions", Search Manual:
  "The search command evaluates OR before AND"). Field names are case-sensitive; values
  compare case-insensitively (lower-cased) and whole, a trailing line feed included (no trimming
  is documented), ``*`` matches any run of characters (there is no
  single-character wildcard), ``field=*`` means the field has a value. A multi-valued field
  matches when any value matches; ``NOT field=x`` is true when no value matches, including when
  the field is missing. ``field>N`` (``>= < <=``, spaces around the operator allowed) with a
  numeric ``N``: some value is a number that compares so. Keyword (``_raw``) terms, ``!=``,
  comparisons with a non-numeric bound and field-name wildcards raise ``Unsupported``.
* ``eval name=expr[, ...]`` and ``where expr``: string literals ``"..."``, field names bare or in
  single quotes, numbers, ``NOT``/``AND``/``OR`` (eval and where evaluate AND before OR),
  comparisons ``= == != < > <= >=``, and the functions ``if`` (a null condition takes the else
  branch), ``mvappend``, ``mvfilter``, ``mvcount``, ``mvjoin``, ``match``, ``isnull``,
  ``isnotnull``, ``lower``, ``upper``, ``len``, ``coalesce``. ``mvfilter`` evaluates its
  expression once per value of the one field it names. ``match`` is a PCRE search run with
  Python's ``re`` (the syntax the build emits means the same in both; Python's ``\\w``/``\\d``
  are Unicode where PCRE without UCP is ASCII: only ASCII image references reach them).
  Null propagates: a comparison or ``match`` on a null is null, ``where`` keeps true only.
* ``regex field="re"`` / ``regex field!="re"``: keeps the event when some value matches
  (resp. none does).
* ``spath input=field``: extracts the JSON held in a field the way automatic JSON extraction
  does (``sigma_ext.emulate.documents.splunk_fields``), as the AKS searches need for
  ``properties.log``.
* ``stats count`` (``run_events`` only): the events left at that point become one row with
  their number in ``count`` (a row with ``count=0`` when none is left, as Splunk's stats without
  a by clause returns); the commands after it run on that row.
* ``rex field=field "re"``: the named groups ``(?<name>...)`` of the first match in the field's
  first value become single-valued fields (``max_match=1``, the default); no match changes
  nothing.

* ``table f1, f2, ...``: the row keeps the named fields only (plain names, no wildcards); the
  event is kept, so a search ending in a table matches exactly the events it matched before.

Anything else raises ``Unsupported``. Searches over many events (``multisearch``, ``bin``,
``stats ... by``) run in ``spl_stats``.

This module runs the pipeline and its commands; the search command's expressions are read by
``spl_search_terms``, ``eval``/``where`` expressions by ``spl_eval``, and both pass on the row of
``spl_values``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import cache

from sigma_ext.build.quoting import spl_stages
from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.documents import Document, splunk_fields
from sigma_ext.emulate.spl_eval import EvalFn, EvalParser, eval_tokens, pcre, store
from sigma_ext.emulate.spl_search_terms import SearchParser
from sigma_ext.emulate.spl_values import Row, unescape


def split_pipeline(query: str) -> list[str]:
    """The commands of a search, split at ``|`` outside quotes."""
    try:
        parts = spl_stages(query)
    except ValueError as error:
        raise QueryError(str(error)) from None
    if "```" in query:
        raise Unsupported("SPL comments")
    return parts


# ---------------------------------------------------------------------------------------------
# Commands

Command = Callable[[Row], Row | None]

_ASSIGNMENT = re.compile(r"\s*(?:'((?:\\.|[^'\\])*)'|([A-Za-z_][\w.{}]*))\s*=(?!=)")


def _eval_command(text: str) -> Command:
    assignments: list[tuple[str, EvalFn]] = []
    rest = text
    while rest.strip():
        head = _ASSIGNMENT.match(rest)
        if head is None:
            raise QueryError(f"eval needs name=expression, found {rest[:30]!r}")
        name = head.group(1) if head.group(1) is not None else head.group(2)
        parser = EvalParser(eval_tokens(rest[head.end() :]))
        expression = parser.expression()
        assignments.append((name, expression))
        if parser.done():
            break
        if parser.take() != ("op", ","):
            raise QueryError("eval assignments are separated by ','")
        rest = parser.rest(rest[head.end() :])

    def run(row: Row) -> Row:
        out = dict(row)
        for name, expression in assignments:
            store(out, name, expression(out))
        return out

    return run


def _where_command(text: str) -> Command:
    parser = EvalParser(eval_tokens(text))
    expression = parser.expression()
    if not parser.done():
        raise QueryError(f"unexpected {parser.peek()} in where")
    return lambda row: row if expression(row) is True else None


def _search_command(text: str) -> Command:
    test = SearchParser(text).parse()
    return lambda row: row if test(row) else None


_REGEX = re.compile(r'^(?P<field>[\w.{}]+)\s*(?P<op>!?=)\s*"(?P<re>(?:\\.|[^"\\])*)"\s*$')


def _regex_command(text: str) -> Command:
    found = _REGEX.match(text)
    if found is None:
        raise Unsupported(f"regex form {text!r}")
    name, negate = found.group("field"), found.group("op") == "!="
    pattern = pcre(unescape(found.group("re"), search=False))

    def run(row: Row) -> Row | None:
        hit = any(pattern.search(value) for value in row.get(name, ()))
        return row if hit != negate else None

    return run


def _spath_command(text: str) -> Command:
    found = re.fullmatch(r"input=([\w.{}]+)", text.strip())
    if found is None:
        raise Unsupported(f"spath form {text!r} (only 'spath input=<field>')")
    name = found.group(1)

    def run(row: Row) -> Row:
        values = row.get(name, ())
        if len(values) != 1:
            return row
        try:
            parsed = json.loads(values[0])
        except json.JSONDecodeError:
            return row
        out = dict(row)
        for key, extracted in splunk_fields(parsed).items():
            out[key] = tuple(extracted)
        return out

    return run


_REX = re.compile(r'^field=(?P<field>[\w.{}]+)\s+"(?P<re>(?:\\.|[^"\\])*)"\s*$')


def _rex_command(text: str) -> Command:
    found = _REX.match(text.strip())
    if found is None:
        raise Unsupported(f"rex form {text!r} (only 'rex field=<field> \"<regex>\"')")
    name = found.group("field")
    pattern = pcre(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", unescape(found.group("re"), search=False)))

    def run(row: Row) -> Row:
        values = row.get(name, ())
        hit = pattern.search(values[0]) if values else None
        if hit is None:
            return row
        out = dict(row)
        for key, extracted in hit.groupdict().items():
            if extracted is not None:
                out[key] = (extracted,)
        return out

    return run


_TABLE_FIELD = re.compile(r"[A-Za-z_][\w.{}]*")


def _table_command(text: str) -> Command:
    """``table f1, f2 ...``: the row keeps only the fields named (no wildcards)."""
    names = [name for name in re.split(r"[\s,]+", text.strip()) if name]
    if not names:
        raise QueryError("table needs at least one field")
    for name in names:
        if not _TABLE_FIELD.fullmatch(name):
            raise Unsupported(f"table field {name!r} (only plain field names)")
    kept = tuple(names)

    def run(row: Row) -> Row:
        return {name: row[name] for name in kept if name in row}

    return run


COMMANDS: dict[str, Callable[[str], Command]] = {
    "table": _table_command,
    "search": _search_command,
    "where": _where_command,
    "eval": _eval_command,
    "regex": _regex_command,
    "spath": _spath_command,
    "rex": _rex_command,
}


@cache
def compile_search(query: str) -> tuple[Command, ...]:
    """The commands of an SPL search, ready to run; Unsupported/QueryError when they can't be."""
    stages = split_pipeline(query)
    commands = [_search_command(stages[0])]
    for stage in stages[1:]:
        name, _, rest = stage.partition(" ")
        builder = COMMANDS.get(name)
        if builder is None:
            raise Unsupported(f"SPL command {name!r}")
        commands.append(builder(rest))
    return tuple(commands)


def run(query: str, document: Document) -> Row | None:
    """The event's fields at the end of the search, or None when the search drops it."""
    row: Row | None = {
        name: tuple(str(v) for v in values) for name, values in document.values.items()
    }
    for command in compile_search(query):
        assert row is not None
        row = command(row)
        if row is None:
            return None
    return row


def matches(query: str, document: Document) -> bool:
    return run(query, document) is not None


def run_events(query: str, documents: Iterable[Document]) -> list[Row]:
    """The result rows of a search over a set of events: the events themselves, or, when the
    search has a ``stats count`` stage, the one row it makes and what the later commands leave."""
    stages = split_pipeline(query)
    cut = next((i for i, stage in enumerate(stages) if stage.split(" ")[0] == "stats"), None)
    if cut is None:
        return [found for doc in documents if (found := run(query, doc)) is not None]
    if cut == 0 or stages[cut] != "stats count":
        raise Unsupported(f"SPL stats stage {stages[cut]!r}")
    events = " | ".join(stages[:cut])
    count = sum(1 for doc in documents if run(events, doc) is not None)
    row: Row | None = {"count": (str(count),)}
    for stage in stages[cut + 1 :]:
        name, _, rest = stage.partition(" ")
        builder = COMMANDS.get(name)
        if builder is None:
            raise Unsupported(f"SPL command {name!r}")
        assert row is not None
        row = builder(rest)(row)
        if row is None:
            return []
    return [] if row is None else [row]
