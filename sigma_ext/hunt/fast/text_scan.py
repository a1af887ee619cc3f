"""The fast hunt of a container runtime text log: its lines parsed and judged in DuckDB.

A containerd, CRI-O or kubelet log (``sigma_ext.sources.runtime_logs``) is text, which the
JSON scans cannot read: line by line, the reference engine would parse it in Python. Here one
DuckDB pass over the file's lines (``read_csv`` of one VARCHAR column, the bare scan's reader)
writes for each line, in file order:

* whether ``parse_runtime_line`` makes it an event (``CLAIM``: the parser's own regular
  expressions, rewritten for RE2 by ``re2``, on lines of ASCII text, where RE2 and Python's
  ``re`` agree once ``\\s`` and ``\\S`` are spelled out); any other non-blank line is left to the
  reference engine, which reads it from the file;
* for an event, the values of the fields the rules read (its *projection*), computed by the
  parser's expressions in SQL, and only on lines that hold the text every rule needs
  (``message_gate``: derived from the rules' positive tests, as ``sigma_ext.hunt.fast.gates``
  does for JSON; the fields only a runtime message sets are absent elsewhere).

The rules' verdict on an event depends only on the fields they read: each distinct projection
is judged once by the reference engine, on an event holding just those fields, and its hits
are placed on every line with that projection. So the verdicts are the reference engine's by
construction, and the differential tests prove the SQL parser agrees with the Python one.

The scan declines (None, before anything is judged) when a rule reads what a projection does
not hold (keywords, a correlation's base rule with its time and group), or the file is gzip,
holds a carriage return (``read_csv`` would end a line there), is not UTF-8, or its rows do
not add up to its lines; the file is then hunted the usual way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
from sigma.rule import SigmaDetection, SigmaRule
from sigma.types import SigmaString

from sigma_ext.condition_tree import rule_fields
from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast import running
from sigma_ext.hunt.fast.duckdb_backend import sql_string
from sigma_ext.hunt.fast.gates import necessary
from sigma_ext.hunt.reference import BadLine, Hit, evaluate_line, is_gzip, open_binary, read_line
from sigma_ext.hunt.summary import FileSummary
from sigma_ext.reference.correlation_engine import BaseRuleFile
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import Source, recognize, source_named
from sigma_ext.sources.runtime_logs import KLOG, LEVELS, LOGRUS, MESSAGES, PREFIX, UNQUOTE

SOURCE = "container_runtime"
_SPACE = " \\t\\n\\r\\f\\v\\x1c-\\x1f"
"""What Python's ``\\s`` matches in ASCII text (RE2's lacks ``\\v`` and ``\\x1c-\\x1f``)."""


def re2(pattern: str) -> str:
    """A Python pattern as RE2 with the same meaning on ASCII text, its named groups plain."""
    out: list[str] = []
    at, in_class = 0, False
    while at < len(pattern):
        char = pattern[at]
        if char == "\\":
            escaped = pattern[at + 1]
            if escaped == "s":
                out.append(_SPACE if in_class else f"[{_SPACE}]")
            elif escaped == "S":
                if in_class:
                    raise ValueError(f"\\S in a class: {pattern}")
                out.append(f"[^{_SPACE}]")
            else:
                out.append(pattern[at : at + 2])
            at += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            at += 1
            for opener in "^]":
                if pattern[at] == opener:
                    out.append(opener)
                    at += 1
            continue
        if char == "]" and in_class:
            in_class = False
        out.append(char)
        at += 1
    return re.sub(r"\(\?P<\w+>", "(", "".join(out))


def _groups(pattern: re.Pattern[str]) -> list[str]:
    if pattern.groups != len(pattern.groupindex):
        raise ValueError(f"unnamed group in {pattern.pattern}")
    return sorted(pattern.groupindex, key=pattern.groupindex.__getitem__)


def _between(text: str, start: str, end: str) -> str:
    if not (text.startswith(start) and text.endswith(end)):
        raise ValueError(f"unexpected shape of {text!r}")
    return text[len(start) : len(text) - len(end)]


_INNER = _between(PREFIX.pattern, "^(?:", ")?(?P<body>.*)$")
_PROCESSES = "(?P<process>containerd|crio|kubelet)"
_LOGRUS_HEAD = _between(LOGRUS.pattern, "^", "(?P<rest>.*)$")
_KLOG_HEAD = _between(KLOG.pattern, "^", "(?P<msg>.*)$")
CLAIM = (
    f"^(?:(?:{re2(_INNER)})?{re2(_LOGRUS_HEAD)}"
    f"|(?:{re2(_INNER.replace(_PROCESSES, 'kubelet'))})?{re2(_KLOG_HEAD)})"
)
"""RE2 that matches exactly the ASCII lines ``parse_runtime_line`` makes events: a logrus body
after any prefix, a klog body after none or kubelet's (the rest of a line always matches)."""

_BASE_FIELDS = ("log", "host", "time", "level", "message", "runtime")
_MESSAGE_FIELDS = ("action", *sorted({g for m in MESSAGES for g in _groups(m.pattern)}))


def _literal(pattern: str) -> str:
    """The longest text without a quote or backslash in the pattern's leading literal (which a
    message it matches holds; a logrus message is unquoted, so the line holds it once its
    backslashes are removed)."""
    text, at = "", 1 if pattern.startswith("^") else 0
    while at < len(pattern):
        char = pattern[at]
        if char == "\\" and at + 1 < len(pattern) and not pattern[at + 1].isalnum():
            char, step = pattern[at + 1], 2
        elif char.isalnum() or char in ' "&:/=,-_':
            step = 1
        else:
            break
        if at + step < len(pattern) and pattern[at + step] in "*?{+":
            break
        text += char
        at += step
    return max(re.split(r'["\\]', text), key=len)


def _has_keywords(detection: Any) -> bool:
    if isinstance(detection, SigmaDetection):
        return any(_has_keywords(item) for item in detection.detection_items)
    return getattr(detection, "field", "") is None


def message_gate(rules: list[tuple[RuleFile, SigmaRule]]) -> frozenset[int] | None:
    """The runtime messages (indices in ``MESSAGES``) one of which an event must be for any
    rule to fire (None: not known), from the rules' positive tests of the fields only a
    message sets."""

    def test(name: str, values: list[Any]) -> frozenset[int] | None:
        if name not in _MESSAGE_FIELDS or not values:
            return None
        if not all(isinstance(v, SigmaString) and not v.contains_special() for v in values):
            return None
        plain = {str(v).lower() for v in values}
        return frozenset(
            number
            for number, message in enumerate(MESSAGES)
            if (message.action.lower() in plain if name == "action" else True)
            and (name == "action" or name in message.pattern.groupindex)
        )

    def all_of(parts: list[frozenset[int] | None]) -> frozenset[int] | None:
        known = [part for part in parts if part is not None]
        return frozenset.intersection(*known) if known else None

    def any_of(parts: list[frozenset[int] | None]) -> frozenset[int] | None:
        if not parts or any(part is None for part in parts):
            return None
        return frozenset().union(*(part for part in parts if part is not None))

    gate: set[int] = set()
    for rule_file, rule in rules:
        needed = necessary(rule_file, rule, test, all_of, any_of)
        if needed is None:
            return None
        gate |= needed
    return frozenset(gate)


def _field_sql(name: str) -> str:
    """One event field in SQL over ``p`` (prefix), ``l`` (logrus), ``k`` (klog), ``message``
    and ``m`` (the index of the message matched)."""
    if name == "log":
        return "p.body"
    if name == "host":
        return "nullif(p.host, '')"
    if name == "time":
        return "CASE WHEN logrus THEN l.time ELSE k.day || ' ' || k.time END"
    if name == "level":
        cases = " ".join(f"WHEN '{s}' THEN '{level}'" for s, level in LEVELS.items())
        return f"CASE WHEN logrus THEN l.level ELSE CASE k.severity {cases} END END"
    if name == "message":
        return "message"
    if name == "runtime":
        known = " ".join(f"WHEN {n} THEN '{m.runtime}'" for n, m in enumerate(MESSAGES))
        return (
            f"CASE m {known} ELSE CASE WHEN p.process <> '' THEN p.process "
            "WHEN logrus AND crio_only THEN 'crio' WHEN logrus THEN 'containerd' "
            "ELSE 'kubelet' END END"
        )
    if name == "action":
        actions = " ".join(f"WHEN {n} THEN {sql_string(m.action)}" for n, m in enumerate(MESSAGES))
        return f"CASE m {actions} END"
    cases = " ".join(
        f"WHEN {n} THEN regexp_extract(message, {sql_string(re2(m.pattern.pattern))}, "
        f"{m.pattern.groupindex[name]})"
        for n, m in enumerate(MESSAGES)
        if name in m.pattern.groupindex
    )
    return f"CASE m {cases} END"


def scan_sql(reader: str, fields: list[str], gate: frozenset[int] | None) -> str:
    """Per line, in file order: ``code`` (``E`` an event, ``R`` for the reference engine, NULL
    blank), ``key`` (an event's projection, the JSON list of ``fields``' values; NULL for an
    event the gate shows no rule fires on) and ``n`` (its length in bytes)."""
    literals = sorted({_literal(MESSAGES[n].pattern.pattern) for n in gate or ()})
    if gate is None or not set(fields) <= set(_MESSAGE_FIELDS) or not all(literals):
        parse = "code = 'E'"
    elif not gate:
        parse = "FALSE"
    else:
        tests = " OR ".join(f"contains(t, {sql_string(w)})" for w in literals)
        parse = f"code = 'E' AND ({tests})"
    unescaped = "CASE WHEN contains(line, '\\') THEN replace(line, '\\', '') ELSE line END"
    prefix = ", ".join(sql_string(g) for g in _groups(PREFIX))
    logrus = ", ".join(sql_string(g) for g in _groups(LOGRUS))
    klog = ", ".join(sql_string(g) for g in _groups(KLOG))
    runtimes = {
        "containerd": "logrus AND (p.process IN ('containerd', 'kubelet') "
        "OR (p.process = '' AND NOT crio_only))",
        "crio": "logrus AND p.process IN ('crio', 'kubelet', '')",
        "kubelet": "NOT logrus AND k.severity <> '' AND p.process IN ('', 'kubelet')",
    }
    which = " ".join(
        f"WHEN ({runtimes[m.runtime]}) AND regexp_matches(message, "
        f"{sql_string(re2(m.pattern.pattern))}) THEN {n}"
        for n, m in enumerate(MESSAGES)
    )
    key = "to_json([" + ", ".join(_field_sql(f) for f in fields) + "]::VARCHAR[])"
    unquote = f"regexp_replace(l.msg, {sql_string(UNQUOTE.pattern)}, '\\1', 'g')"
    return f"""
WITH lines AS (
  SELECT line, coalesce(strlen(line), 0) AS n,
    CASE WHEN line IS NULL THEN NULL
      WHEN strlen(line) = length(line) AND regexp_matches(line, {sql_string(CLAIM)}) THEN 'E'
      ELSE 'R' END AS code
  FROM {reader}),
unescaped AS (SELECT *, CASE WHEN code = 'E' THEN {unescaped} END AS t FROM lines),
gated AS (SELECT line, n, code, coalesce({parse}, FALSE) AS parse FROM unescaped),
prefixed AS (
  SELECT *, CASE WHEN parse THEN
    regexp_extract(line, {sql_string(re2(PREFIX.pattern))}, [{prefix}]) END AS p
  FROM gated),
bodies AS (
  SELECT *,
    CASE WHEN parse THEN regexp_extract(p.body, {sql_string(re2(LOGRUS.pattern))}, [{logrus}])
      END AS l,
    CASE WHEN parse THEN regexp_extract(p.body, {sql_string(re2(KLOG.pattern))}, [{klog}])
      END AS k
  FROM prefixed),
flags AS (
  SELECT *, l.level <> '' AS logrus,
    p.process = '' AND contains(l.rest, 'name=/runtime.v1') AS crio_only
  FROM bodies),
messages AS (SELECT *, CASE WHEN logrus THEN {unquote} ELSE k.msg END AS message FROM flags),
matched AS (SELECT *, CASE WHEN parse THEN CASE {which} END END AS m FROM messages)
SELECT code, CASE WHEN parse THEN {key} END AS key, n FROM matched
"""


class TextScan:
    """The runtime log's rules, ready to judge a file of its lines in DuckDB."""

    def __init__(self, engine: ReferenceEngine, source: Source, fields: list[str]) -> None:
        self.engine = engine
        self.source = source
        self.fields = fields
        rules = [(e.rule_file, e.compiled.rule) for e in engine.rules_for(source)]
        self.gate = message_gate(rules)

    @classmethod
    def build(cls, engine: ReferenceEngine, forced: Source | None) -> TextScan | None:
        """The scan of the runtime log's lines, or None when its rules read more than fields
        (keywords, a correlation base rule) or another source is forced."""
        source = source_named(SOURCE)
        if forced is not None and forced is not source:
            return None
        loaded = engine.rules_for(source)
        names: set[str] = set()
        for entry in loaded:
            rule = entry.compiled.rule
            if isinstance(entry.rule_file, BaseRuleFile) or any(
                _has_keywords(d) for d in rule.detection.detections.values()
            ):
                return None
            names |= rule_fields(rule)
        universe = (*_BASE_FIELDS, *_MESSAGE_FIELDS)
        fields = [f for f in universe if any(n == f or n.startswith(f + ".") for n in names)]
        return cls(engine, source, fields)

    def hunt(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        folder: Path,
        summary: FileSummary | None,
        forced: Source | None,
    ) -> Iterator[Hit | BadLine] | None:
        """Every hit and bad line of ``path``; None when this scan cannot read the file."""
        if is_gzip(path) or _has_carriage_return(path):
            return None
        codes = folder / "text-codes.parquet"
        reader = (
            f"read_csv({sql_string(str(path))}, columns={{'line': 'VARCHAR'}}, delim=chr(31), "
            "quote='', escape='', header=false, auto_detect=false)"
        )
        target = sql_string(str(codes))
        try:
            con.execute(
                f"COPY ({scan_sql(reader, self.fields, self.gate)}) TO {target} (FORMAT parquet)"
            )
        except (duckdb.Error, UnicodeDecodeError):
            return None
        table = f"read_parquet({target}, file_row_number = true)"
        found = con.execute(
            f"SELECT count(*), sum(n), count(*) FILTER (WHERE code = 'E') FROM {table}"
        ).fetchone()
        assert found is not None
        rows, length, events = int(found[0]), int(found[1] or 0), int(found[2])
        if not running.all_lines_read(path, rows, length):
            return None
        fired: dict[str, list[RuleFile]] = {}
        keys = con.execute(f"SELECT DISTINCT key FROM {table} WHERE key IS NOT NULL").fetchall()
        for (key,) in keys:
            event = {
                f: v for f, v in zip(self.fields, json.loads(key), strict=True) if v is not None
            }
            matched = self.engine.match(event, self.source)
            if matched:
                fired[key] = matched
        if summary is not None and events:
            summary.sources[self.source.name] += events
        con.execute("CREATE OR REPLACE TEMP TABLE fired (key VARCHAR)")
        if fired:
            con.executemany("INSERT INTO fired VALUES (?)", [[k] for k in fired])
        result = con.execute(
            f"SELECT file_row_number + 1, code, key FROM {table} WHERE code = 'R' "
            "OR key IN (SELECT key FROM fired) ORDER BY 1"
        )
        return self._items(result, path, fired, summary, forced)

    def _items(
        self,
        result: duckdb.DuckDBPyConnection,
        path: Path,
        fired: dict[str, list[RuleFile]],
        summary: FileSummary | None,
        forced: Source | None,
    ) -> Iterator[Hit | BadLine]:
        lines = running.LineReader(path)
        made: dict[str, list[Hit]] = {}
        try:
            while batch := result.fetchmany(10_000):
                for number, code, key in batch:
                    if code == "R":
                        raw = lines.get(number)
                        yield from evaluate_line(self.engine, path, number, raw, forced, summary)
                        continue
                    if key not in made:
                        made[key] = [Hit.of(rule_file, path, 0) for rule_file in fired[key]]
                    for hit in made[key]:
                        yield hit.at(number)
        finally:
            lines.close()


def _has_carriage_return(path: Path) -> bool:
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            if b"\r" in chunk:
                return True
    return False


SMALL_TEXT = 64 << 10
"""Below this size a runtime log is judged line by line (the spool): DuckDB's start costs more."""


def starts_as_text_log(path: Path, sources: frozenset[str] | None) -> bool:
    """Whether a file is for this scan: the sources it holds (when known) are the runtime
    log's alone, else its first non-blank line is one of its events."""
    if sources is not None:
        return sources == {SOURCE}
    with open_binary(path) as handle:
        for raw in handle:
            item = read_line(raw)
            if item is not None:
                return isinstance(item, dict) and recognize(item) is source_named(SOURCE)
    return False
