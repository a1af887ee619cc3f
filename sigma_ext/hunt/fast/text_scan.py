"""The fast hunt of a container runtime text log: its lines claimed and gated in C (or DuckDB).

A containerd, CRI-O or kubelet log (``sigma_ext.sources.runtime_logs``) is text, which the
JSON scans cannot read: line by line, the reference engine would parse it in Python. Here each
line is asked two things, in file order:

* whether ``parse_runtime_line`` makes it an event (``CLAIM``: the parser's own regular
  expressions, rewritten by ``re2`` with every class spelled as the ASCII characters Python's
  ``re`` matches with it, on lines of ASCII text); any other non-blank line is left to the
  reference engine;
* whether it is an event some rule may fire on: one whose message is one of the runtime
  messages every rule needs (``message_gate``, derived from the rules' positive tests of the
  fields only a message sets, as ``sigma_ext.hunt.fast.gates`` does for JSON): the message's
  own pattern, quoted as its runtime writes it (``gated_expression``; DuckDB looks for the
  message's leading text instead).

With the ``_line_dfa`` extension both expressions are compiled into one automaton
(``sigma_ext.hunt.fast.line_dfa``) that C runs over each line, on the hunt's threads; the
file is read in blocks, not mapped. Without it one DuckDB pass over the file's lines
(``read_csv`` of one VARCHAR column) asks them in SQL (``scan_sql``: the claim with RE2, the
gate as the message text anywhere in the line), and declines a file that holds a carriage
return (``read_csv`` would end a line there), is not UTF-8, or whose rows do not add up to
its lines.

The events are counted for the file's summary there; only the lines passed on are parsed, by
the Python parser itself. The rules' verdict on an event depends only on the fields they read:
each distinct projection of an event on those fields is judged once by the reference engine,
and its hits placed on every line with that projection. So the verdicts are the reference
engine's by construction, and the differential tests prove the claim and the gate are the
parser's.

The scan declines (None, before anything is judged) when a rule reads what a projection does
not hold (keywords, a correlation's base rule with its time and group), or the file is gzip
and the extension is not built; the file is then hunted the usual way. With it, a gzip log is
read as it is unpacked (``sigma_ext.hunt.inputs.open_content``), its problems reported as the
reference engine reports them.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
from sigma.rule import SigmaDetection, SigmaRule
from sigma.types import SigmaString

from sigma_ext.condition_tree import rule_fields
from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast import line_dfa, running
from sigma_ext.hunt.fast.duckdb_backend import sql_string
from sigma_ext.hunt.fast.gates import necessary
from sigma_ext.hunt.fast.line_dfa import LineDfa, byte_class, compile_lines
from sigma_ext.hunt.inputs import Input, open_content
from sigma_ext.hunt.reference import BadLine, Hit, evaluate_line, is_gzip, open_binary, read_line
from sigma_ext.hunt.summary import FileSummary
from sigma_ext.reference.correlation_engine import BaseRuleFile
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import Source, recognize, source_named
from sigma_ext.sources.runtime_logs import KLOG, LOGRUS, MESSAGES, PREFIX, parse_runtime_line

SOURCE = "container_runtime"
CLAIMED = 1
"""The outcome bit of a line ``CLAIM`` matches (``line_dfa``: expression 0)."""
GATED = 2
"""The outcome bit of a line ``gated_expression`` matches (expression 1)."""


@cache
def _ascii_class(atom: str) -> str:
    """The ASCII characters Python's ``re`` matches with ``atom`` (a class, an escape such as
    ``\\s``, or ``.``), as an RE2 class of byte ranges: the same meaning on ASCII text by
    construction, and a small automaton (no UTF-8 sequences for a negated class)."""
    return byte_class(code for code in range(128) if re.fullmatch(atom, chr(code)))


def re2(pattern: str) -> str:
    """A Python pattern as RE2 with the same meaning on ASCII text: every class, class escape
    and ``.`` spelled as the ASCII characters Python matches with it, groups not capturing (a
    boolean match runs faster without)."""
    out: list[str] = []
    at = 0
    while at < len(pattern):
        char = pattern[at]
        if char == "[":
            end = at + 1
            end += pattern[end] == "^"
            end += pattern[end] == "]"
            while pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            out.append(_ascii_class(pattern[at : end + 1]))
            at = end + 1
        elif char == "\\":
            escape = pattern[at : at + 2]
            out.append(_ascii_class(escape) if escape[1] in "dDwWsS" else escape)
            at += 2
        elif char == ".":
            out.append(_ascii_class("."))
            at += 1
        else:
            out.append(char)
            at += 1
    return re.sub(r"\(\?P<\w+>", "(?:", "".join(out))


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
_QUOTED = '\\\\["\\\\]'
"""The escapes the claim lets a logrus message hold: a quote's and a backslash's."""
_LOGRUS_HEAD = _between(LOGRUS.pattern, "^", "(?P<rest>.*)$")
_KLOG_HEAD = _between(KLOG.pattern, "^", "(?P<msg>.*)$")
_ESCAPE = "\\\\."
if _LOGRUS_HEAD.count(_ESCAPE) != 1:
    raise ValueError(f"unexpected escape in {LOGRUS.pattern}")
CLAIM = (
    f"^(?:(?:{re2(_INNER)})?{re2(_LOGRUS_HEAD.replace(_ESCAPE, _QUOTED))}"
    f"|(?:{re2(_INNER.replace(_PROCESSES, 'kubelet'))})?{re2(_KLOG_HEAD)})"
)
"""RE2 that matches the ASCII lines ``parse_runtime_line`` makes events whose messages escape
only quotes and backslashes: a logrus body after any prefix, a klog body after none or
kubelet's (the rest of a line always matches). A message with another escape (``\\n``...)
goes to the reference engine: the others hold, unescaped, any text of their message without a
quote or backslash, which is what the gate looks for."""

_LOGRUS_TO_MESSAGE = _LOGRUS_HEAD[: _LOGRUS_HEAD.index("(?P<msg>")]


def gated_expression(gate: frozenset[int]) -> str | None:
    """RE2 matching the start of a line whose message one of the messages in ``gate`` matches,
    with the runtime it is that runtime's (a logrus line: containerd's or CRI-O's; a klog line:
    kubelet's): the message's own pattern after the line's head, quoted the logrus way in a
    logrus line (``line_dfa.quoted``: a claimed line escapes only quotes and backslashes, so
    its quoted message is the message written that way). None when a pattern is more than
    ``line_dfa`` reads."""
    logrus, klog = [], []
    try:
        for number in sorted(gate):
            message = MESSAGES[number]
            written = re2(message.pattern.pattern)
            if not written.startswith("^"):
                written = "^" + written  # (matched at the message's start)
            if message.runtime == "kubelet":
                klog.append(written.removeprefix("^"))
            else:
                logrus.append(line_dfa.quoted(written))
    except ValueError:
        return None
    branches = []
    if logrus:
        branches.append(f"(?:{re2(_INNER)})?{re2(_LOGRUS_TO_MESSAGE)}(?:{'|'.join(logrus)})")
    if klog:
        branches.append(
            f"(?:{re2(_INNER.replace(_PROCESSES, 'kubelet'))})?{re2(_KLOG_HEAD)}"
            f"(?:{'|'.join(klog)})"
        )
    return f"^(?:{'|'.join(branches)})" if branches else None


_MESSAGE_FIELDS = ("action", *sorted({g for m in MESSAGES for g in _groups(m.pattern)}))


def _literal(pattern: str) -> str:
    """The longest text without a quote or backslash in the pattern's leading literal (which a
    message it matches holds; a logrus message is unquoted, so the line holds it once its
    backslashes are removed)."""
    return max(re.split(r'["\\]', _leading(pattern)), key=len)


def _leading(pattern: str) -> str:
    """The text every message the pattern matches starts with (``MESSAGES`` are matched at the
    message's start; an alternation anywhere: none)."""
    if "|" in pattern:
        return ""
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
    return text


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
        # a plain, non-empty string: it tests a value that is there
        if not all(
            isinstance(v, SigmaString) and not v.contains_special() and str(v) for v in values
        ):
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


def scan_sql(reader: str, gate: frozenset[int] | None) -> str:
    """Per line, in file order: ``code`` (``E`` an event, ``R`` for the reference engine, NULL
    blank), ``n`` (its length in bytes) and ``text``, the line of an event some rule may fire
    on (NULL for the events the gate shows no rule fires on)."""
    literals = sorted({_literal(MESSAGES[n].pattern.pattern) for n in gate or ()})
    if gate is None or not all(literals):
        parse = "code = 'E'"
    elif not gate:
        parse = "FALSE"
    else:
        # a claimed message escapes only quotes and backslashes: the line holds its text
        tests = " OR ".join(f"contains(line, {sql_string(w)})" for w in literals)
        parse = f"code = 'E' AND ({tests})"
    return f"""
SELECT code, n, CASE WHEN {parse} THEN line END AS text FROM (
  SELECT line, coalesce(strlen(line), 0) AS n,
    CASE WHEN line IS NULL THEN NULL
      WHEN strlen(line) = length(line) AND regexp_matches(line, {sql_string(CLAIM)}) THEN 'E'
      ELSE 'R' END AS code
  FROM {reader})
"""


class TextScan:
    """The runtime log's rules, ready to judge a file of its lines in DuckDB."""

    def __init__(self, engine: ReferenceEngine, source: Source, read: frozenset[str]) -> None:
        self.engine = engine
        self.source = source
        self.read = read
        """The rules' fields: an event's projection holds the keys they name."""
        rules = [(e.rule_file, e.compiled.rule) for e in engine.rules_for(source)]
        self.gate = message_gate(rules)
        self._dfa: tuple[LineDfa | None, Any, frozenset[int]] | None = None

    @classmethod
    def build(cls, engine: ReferenceEngine, forced: Source | None) -> TextScan | None:
        """The scan of the runtime log's lines, or None when its rules read more than fields
        (keywords, a correlation base rule) or another source is forced."""
        source = source_named(SOURCE)
        if forced is not None and forced is not source:
            return None
        names: set[str] = set()
        for entry in engine.rules_for(source):
            rule = entry.compiled.rule
            if isinstance(entry.rule_file, BaseRuleFile) or any(
                _has_keywords(d) for d in rule.detection.detections.values()
            ):
                return None
            names |= rule_fields(rule)
        return cls(engine, source, frozenset(names))

    def _reads(self, key: str) -> bool:
        return any(n == key or n.startswith(key + ".") for n in self.read)

    def hunt(
        self,
        path: Path,
        folder: Path,
        summary: FileSummary | None,
        forced: Source | None,
        config: dict[str, str | int],
    ) -> Iterator[Hit | BadLine] | None:
        """Every hit and bad line of ``path``; None when this scan cannot read the file.
        ``config``: DuckDB's (threads, memory limit)."""
        dfa, native, picked = self._automaton()
        if is_gzip(path) and dfa is None:
            return None
        if dfa is not None:
            threads = int(config.get("threads", 1))
            return self._native(path, native, picked, summary, forced, threads)
        if _has_carriage_return(path):
            return None
        # no macros, no settings beyond the defaults (rows keep their order): the scan needs
        # none of the JSON scans' (``running.connect``)
        con = duckdb.connect(config={**config, "preserve_insertion_order": True})
        try:
            result = self._scan(con, path, folder, summary)
        except BaseException:
            con.close()
            raise
        if result is None:
            con.close()
            return None
        return self._items(con, result, path, summary, forced)

    def line_dfa(self) -> LineDfa | None:
        """The claim and the gate as one automaton for ``_line_dfa.c`` (None without the
        extension, or when the expressions are more than it reads or holds: DuckDB scans
        then)."""
        return self._automaton()[0]

    def _automaton(self) -> tuple[LineDfa | None, Any, frozenset[int]]:
        """The automaton, as the extension holds it, and the outcomes of the lines it picks to
        be read again."""
        if self._dfa is None:
            gated = gated_expression(self.gate) if self.gate else None
            dfa: LineDfa | None = None
            native: Any = None
            if line_dfa.native_available():
                try:
                    dfa = compile_lines([CLAIM] if gated is None else [CLAIM, gated])
                    native = line_dfa.native(dfa)
                except ValueError:
                    dfa = None
            # the lines read again: those not claimed (for the reference engine) and the
            # claimed ones the gate passes (all of them when it has no expression; none when no
            # rule fires on any event)
            if gated is not None:
                passed = {CLAIMED | GATED}
            elif self.gate is None or self.gate:
                passed = {CLAIMED}
            else:
                passed = set()
            self._dfa = (dfa, native, frozenset({0, GATED, line_dfa.NON_ASCII, *passed}))
        return self._dfa

    def _native(
        self,
        path: Path,
        native: Any,
        picked: frozenset[int],
        summary: FileSummary | None,
        forced: Source | None,
        threads: int,
    ) -> Iterator[Hit | BadLine]:
        """The hits and bad lines of the file's lines, read by the automaton; a gzip file is
        unpacked as ``sigma_ext.hunt.inputs`` unpacks it, and what went wrong reading it
        (truncated, junk after the gzip data) reported after its last line, as the reference
        engine reports it."""
        judge = _Projections(self)
        problems: list[str] = []
        read = 0
        with open_content(Input(str(path), path, gzip=is_gzip(path)), problems) as handle:
            for lines in line_dfa.scan_lines(handle, native, picked, threads):
                read += sum(lines.counts)
                if summary is not None:
                    events = sum(lines.counts[o] for o in range(16) if o & CLAIMED)
                    if events:
                        summary.sources[self.source.name] += events
                data = lines.data
                for outcome, number, start, stop in lines.picks:
                    if outcome < line_dfa.NON_ASCII and outcome & CLAIMED:
                        text = str(data[start:stop], "ascii").removesuffix("\n").rstrip("\r")
                        for hit in judge.hits(path, number, text):
                            yield hit.at(number)
                    else:
                        raw = bytes(data[start:stop])
                        yield from evaluate_line(self.engine, path, number, raw, forced, summary)
        for problem in problems:
            if summary is not None:
                summary.malformed += 1
            yield BadLine(str(path), max(read, 1), problem)

    def _scan(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        folder: Path,
        summary: FileSummary | None,
    ) -> duckdb.DuckDBPyConnection | None:
        codes = folder / "text-codes.parquet"
        reader = (
            f"read_csv({sql_string(str(path))}, columns={{'line': 'VARCHAR'}}, delim=chr(31), "
            "quote='', escape='', header=false, auto_detect=false, new_line='\\n')"
        )
        target = sql_string(str(codes))
        try:
            con.execute(f"COPY ({scan_sql(reader, self.gate)}) TO {target} (FORMAT parquet)")
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
        if summary is not None and events:
            summary.sources[self.source.name] += events
        result = con.execute(
            f"SELECT file_row_number + 1, code, text FROM {table} "
            "WHERE code = 'R' OR text IS NOT NULL ORDER BY 1"
        )
        return result

    def _items(
        self,
        con: duckdb.DuckDBPyConnection,
        result: duckdb.DuckDBPyConnection,
        path: Path,
        summary: FileSummary | None,
        forced: Source | None,
    ) -> Iterator[Hit | BadLine]:
        """The reference verdicts: a line left to it read from the file; an event's from its
        projection, judged once."""
        lines = running.LineReader(path)
        judge = _Projections(self)
        try:
            while batch := result.fetchmany(10_000):
                for number, code, text in batch:
                    if code == "R":
                        raw = lines.get(number)
                        yield from evaluate_line(self.engine, path, number, raw, forced, summary)
                    else:
                        for hit in judge.hits(path, number, text):
                            yield hit.at(number)
        finally:
            lines.close()
            con.close()


class _Projections:
    """The reference verdicts on claimed lines: each distinct projection judged once."""

    def __init__(self, scan: TextScan) -> None:
        self.scan = scan
        self.reads: dict[str, bool] = {}
        self.judged: dict[tuple[tuple[str, Any], ...], list[Hit]] = {}

    def hits(self, path: Path, number: int, text: str) -> list[Hit]:
        """The hits of a claimed line, placed on line 0 (``Hit.at`` places them)."""
        event = parse_runtime_line(text)
        assert event is not None, f"{path}:{number}: CLAIM disagrees with the parser"
        reads = self.reads
        for key in event.keys() - reads.keys():
            reads[key] = self.scan._reads(key)
        known = tuple(sorted(item for item in event.items() if reads[item[0]]))
        hits = self.judged.get(known)
        if hits is None:
            matched = self.scan.engine.match(dict(known), self.scan.source)
            hits = self.judged[known] = [Hit.of(r, path, 0) for r in matched]
        return hits


def _has_carriage_return(path: Path) -> bool:
    with path.open("rb") as handle:
        if path.stat().st_size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return mapped.find(b"\r") >= 0


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
