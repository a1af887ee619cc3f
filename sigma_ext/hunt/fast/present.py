"""The sources a file's scan judges in SQL: those whose events it holds.

The typed scan's query grows with every source it judges (its shapes, gates and rules), and
DuckDB spends on planning it, and on each of its rows, what the sources absent from the file
would cost. So a file is scanned with the query of the fast sources whose events it holds: the
spool knows them (it recognised every event it wrote), a file scanned in place tells them by its
first lines (``SAMPLE_LINES``, ``SAMPLE_BYTES``); the first fast source is judged when its
events or an envelope carrying them are present (and the envelopes are opened only then). A
fast source left out is, for the query, one the SQL does not judge:
its lines go to the reference engine, and the sources after it leave to the reference engine
every line it may claim (its ``recognizers.CLAIM_STRINGS``), so the verdicts stay the reference
engine's whatever the sample missed; only the speed of such lines changes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sigma_ext.hunt.fast.plan import SourcePlan
from sigma_ext.hunt.fast.recognizers import CLAIM_STRINGS, unclaimed_before
from sigma_ext.hunt.reference import open_binary, read_line
from sigma_ext.sources.catalogue import SOURCES, Source, recognize

SAMPLE_LINES = 2000
SAMPLE_BYTES = 4 << 20
"""How much of a file scanned in place is read to tell its sources (its memory bound)."""
SAME_START = 64
"""A sampled line that starts with the same bytes as one already read is not parsed again:
the lines of one source mostly share their first keys and values (a Docker container event's
type and action, an audit event's kind, version and level), and parsing 2,000 of them cost
about a third of a small file's bare scan. A line of another source so passed over only
costs speed, as any line the sample misses."""


def sources_in(path: Path, forced: Source | None = None) -> frozenset[str]:
    """The sources of the events on the first lines of a (plain or gzip) file."""
    if forced is not None:
        return frozenset({forced.name})
    found: set[str] = set()
    starts: set[bytes] = set()
    read = 0
    with open_binary(path) as handle:
        for _ in range(SAMPLE_LINES):
            # memory: at most SAMPLE_BYTES, however long a line is (a cut line is no event)
            raw = handle.readline(SAMPLE_BYTES - read)
            read += len(raw)
            if not raw or (not raw.endswith(b"\n") and read >= SAMPLE_BYTES):
                break
            start = raw[:SAME_START]
            if start in starts:
                continue
            starts.add(start)
            item = read_line(raw)
            if isinstance(item, dict):
                source = recognize(item)
                if source is not None:
                    found.add(source.name)
    return frozenset(found)


def present_plans(
    plans: list[SourcePlan], present: frozenset[str] | None, *, forced: bool
) -> list[SourcePlan]:
    """The plans of the sources a scan judges (every one when ``present`` is None), each with
    the claim strings of the sources before it that the scan does not judge itself. Those
    include the envelopes it opens: their SQL claims only lines they are sure of (an envelope
    with keys CloudWatch does not write is left to the reference engine), and a line that
    carries an event is never judged as another source's anyway."""
    if forced or not plans:
        return plans
    # the first source also when an envelope that carries its events is present
    first = {plans[0].source.name} | {s.name for s in SOURCES if s.carries == plans[0].source.name}
    kept = [
        plan
        for number, plan in enumerate(plans)
        if present is None
        or plan.source.name not in CLAIM_STRINGS
        or (plan.source.name in present if number else bool(first & present))
    ]
    judged = frozenset(plan.source.name for plan in kept)
    return [
        replace(plan, path=replace(plan.path, unclaimed=unclaimed_before(plan.source, judged)))
        for plan in kept
    ]
