"""Which fast source a candidate line is, and its document parsed with that source's shape only.

The typed scan (``sigma_ext.hunt.fast.typed_scan``) used to parse every candidate line with one
``json_transform`` of the shapes of every fast source at once: each line of one source paid for
the empty structs of all the others. Here a candidate line is recognised first, from its text:
a source's recogniser reads its paths (``json_extract_string`` and ``json_type`` of a list, one
parse each, as ``RecognizerSql`` says; a top-level ``{key}`` as ``json_extract_string``, a
string's text or any other value's JSON text) only on a line that holds the source's claim
strings (``recognizers.CLAIM_STRINGS``, a cheap ``contains``). ``sx_who`` is the index of the
first fast source whose recogniser holds, with the guards the caller adds (an envelope's
carried event is only the first source's; a line a source the SQL does not judge may claim is
nobody's). Then only that source's ``json_transform`` runs on the line (``sx_doc<i>``), and the
columns each source reads come from its own document. A top-level key two sources read is
parsed with the shape of both (the union shape), so that its column has one type.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sigma_ext.hunt.fast.duckdb_backend import sql_string
from sigma_ext.hunt.fast.plan import SourcePlan, ident, recognizer_sql
from sigma_ext.hunt.fast.recognizers import Claims

KEY_PATH = '$."{key}"'


def _key_path(key: str) -> str:
    return KEY_PATH.format(key=key.replace("\\", "\\\\").replace('"', '\\"'))


def _plan_paths(plan: SourcePlan) -> list[str]:
    """The paths a source's recogniser reads (its ``paths``, then its top-level keys)."""
    keys = [_key_path(k) for k in plan.path.recognizer_keys()]
    return list(plan.path.paths) + [k for k in keys if k not in plan.path.paths]


def _own_claims(plans: list[SourcePlan], plan: SourcePlan) -> list[Claims]:
    """The source's own claim strings, looked for before its paths are read: only when other
    sources share the scan (alone, each of its candidate lines needs its paths anyway)."""
    return [plan.path.claims] if plan.path.claims and len(plans) > 1 else []


def paths_sql(plans: list[SourcePlan], forced: bool, text: str) -> list[str]:
    """Per source, the paths its recogniser reads from a candidate line's text that holds its
    claim strings (``FastPath.claims``, cheap to look for): their texts (``sx_ptext<i>``) and
    JSON types (``sx_ptype<i>``), each list in one parse, and only the lists it reads."""
    if forced:
        return []
    columns = []
    for number, plan in enumerate(plans):
        paths = _plan_paths(plan)
        if not paths:
            continue
        when = "sx_line = 'C'"
        for claims in _own_claims(plans, plan):
            when += " AND " + claims_sql(text, claims)
        listed = ", ".join(sql_string(p) for p in paths)
        used = set(re.findall(r"\{([^{}]+)\}", plan.path.recognizer))
        if any(not u.endswith(":type") for u in used):
            columns.append(
                f"CASE WHEN {when} THEN json_extract_string({text}, [{listed}]) END "
                f"AS sx_ptext{number}"
            )
        if any(u.endswith(":type") for u in used):
            columns.append(
                f"CASE WHEN {when} THEN json_type({text}, [{listed}]) END AS sx_ptype{number}"
            )
    return columns


TOKENS = "sx_tokens"
"""The column listing the claim strings that are whole JSON strings found in a line."""


def _whole_string(piece: str) -> bool:
    return len(piece) > 2 and piece[0] == piece[-1] == '"' and '"' not in piece[1:-1]


def tokens_sql(plans: list[SourcePlan], text: str) -> str:
    """Every claim string of the plans that is a whole JSON string (``"Type"``), as found in a
    candidate line, in one pass of one regex: a match is always a whole string token of the line
    (DuckDB read it as JSON: a quote that opens a match after another string's closing quote
    would need a letter right after that quote), so matches never hide one another."""
    pieces = {
        piece
        for plan in plans
        for claims in (*_own_claims(plans, plan), *plan.path.unclaimed)
        for group in claims
        for piece in group
        if _whole_string(piece)
    }
    if not pieces:
        return f"NULL::VARCHAR[] AS {TOKENS}"
    words = "|".join(re.escape(piece[1:-1]) for piece in sorted(pieces))
    regex = sql_string(f'"(?:{words})"')
    return f"CASE WHEN sx_line = 'C' THEN regexp_extract_all({text}, {regex}) END AS {TOKENS}"


def claims_sql(text: str, claims: Claims) -> str:
    """TRUE for a line whose text holds every piece of one group of ``claims`` (a whole JSON
    string looked up among the line's ``tokens_sql``).

    A group is its pieces' AND, written so that the pieces after the first are looked for
    only where the first is found (or NULL): DuckDB evaluates every operand of an AND in a
    projection, and most lines hold no claim (a third of a Docker file's scan went to them)."""

    def holds(piece: str) -> str:
        if _whole_string(piece):
            return f"list_contains({TOKENS}, {sql_string(piece)})"
        return f"contains({text}, {sql_string(piece)})"

    def group(pieces: tuple[str, ...]) -> str:
        first = holds(pieces[0])
        if len(pieces) == 1:
            return first
        rest = " AND ".join(holds(piece) for piece in pieces[1:])
        # the AND's value in every case: NULL AND rest is FALSE or NULL as rest says
        return (
            f"CASE WHEN {first} THEN ({rest}) WHEN NOT {first} THEN FALSE "
            f"ELSE (NULL AND {rest}) END"
        )

    return "(" + " OR ".join(f"({group(pieces)})" for pieces in claims) + ")"


def who_sql(plans: list[SourcePlan], forced: bool, guard: dict[int, str]) -> str:
    """The index in ``plans`` of the first source whose recogniser holds on a candidate line,
    NULL when none does; ``guard`` adds, per index, a condition that must hold too."""
    if forced:
        return "CASE WHEN sx_line = 'C' THEN 0 END"
    whens = []
    for number, plan in enumerate(plans):
        paths = _plan_paths(plan)
        column = {p: f"sx_ptext{number}[{n}]" for n, p in enumerate(paths, start=1)}
        column |= {f"{p}:type": f"sx_ptype{number}[{n}]" for n, p in enumerate(paths, start=1)}
        # a key held by null reads NULL either way: a recogniser over keys tests values
        keys = {k: column[_key_path(k)] for k in plan.path.recognizer_keys()}
        recognized = recognizer_sql(plan, forced, column, keys)
        if number in guard:
            recognized = f"({guard[number]}) AND ({recognized})"
        whens.append(f"WHEN coalesce({recognized}, FALSE) THEN {number}")
    return f"CASE WHEN sx_line = 'C' THEN CASE {' '.join(whens)} END END"


def source_spec(plan: SourcePlan, union: dict[str, Any]) -> dict[str, Any]:
    """The ``json_transform`` structure of one source's document: its top-level keys, each with
    the union shape (``union``, of every fast source)."""
    tops = set(plan.scalar_tops()) | set(plan.roots)
    return {top: union[top] for top in sorted(tops) if top in union}


def documents_sql(
    plans: list[SourcePlan], union: dict[str, Any], text: str
) -> tuple[list[str], list[str]]:
    """The per-source documents (``sx_doc<i>``, parsed only on the lines of source i) and the
    columns unpacked from them: each top-level key from the documents of the sources that read
    it (a line has at most one)."""
    documents = []
    readers: dict[str, list[int]] = {}
    for number, plan in enumerate(plans):
        spec = source_spec(plan, union)
        if not spec:
            continue
        documents.append(
            f"CASE WHEN sx_who = {number} THEN json_transform({text}, "
            f"{sql_string(json.dumps(spec))}) END AS sx_doc{number}"
        )
        for top in spec:
            readers.setdefault(top, []).append(number)
    unpacked = []
    for top in sorted(union):
        sources = readers.get(top)
        if not sources:
            unpacked.append(f"NULL::VARCHAR AS {ident(top)}")
            continue
        values = [f"sx_doc{n}.{ident(top)}" for n in sources]
        value = values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"
        unpacked.append(f"{value} AS {ident(top)}")
    return documents, unpacked
