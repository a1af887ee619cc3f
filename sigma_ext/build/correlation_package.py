"""What the SIEM packages need to know of a compiled correlation rule, and where it went.

``sigma_ext.build.correlations`` compiles each correlation rule per source and SIEM; this module
turns every emitted result (ok or degraded: a *shared* result adds no second rule over the same
stored events, an *impossible* one has no query) into a ``PackagedCorrelation`` that the Splunk
app (``sigma_ext.build.splunk.correlation_searches``) and the Kibana rules
(``sigma_ext.build.elastic.correlation_rules``) render, and says per correlation, source and
target what was packaged where (``packaged_markdown``, appended to ``correlations.md``).

Schedules. A correlation counts base events in fixed, clock-aligned windows of its timespan
(``bin _time span=``, ``date_trunc``) over *event* time. A run sees a window whole when the
window lies inside the run's range and all of its events have arrived, so the range of each
run reaches back ``timespan + interval + DELIVERY_LAG``: whatever the phase of the schedule, the
first run that starts at least ``DELIVERY_LAG`` after a window ends still covers the whole window.
A window seen in part (at either end of a range) can only hold fewer events, and every
correlation here fires on *more* (``gt``/``gte`` counts, ``temporal``), so a partial view never
fires where the whole would not; a window seen whole by two runs fires twice, and the throttle
(Splunk) or alert suppression (Kibana) over the group-by fields, for at least the range,
keeps one alert.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sigma_ext.content.correlations import CorrelationFile
from sigma_ext.sources.catalogue import Source, sources_for_logsource

if TYPE_CHECKING:  # the renderers name a result without importing the pySigma backends
    from sigma.correlations import SigmaCorrelationRule

    from sigma_ext.build.correlations import CompiledCorrelation

# How late an event of these sources may reach the SIEM and still be correlated: CloudTrail,
# Azure and GCP deliver 5 to 15 minutes after the fact (docs/packages.md).
DELIVERY_LAG_SECONDS = 15 * 60
# How often a correlation runs: every 5 minutes, as the single rules; hourly for a window
# longer than an hour (a run reads the whole window).
INTERVAL_SECONDS = 5 * 60
LONG_WINDOW_SECONDS = 60 * 60
LONG_INTERVAL_SECONDS = 60 * 60
PACKAGED_STATUSES = ("ok", "degraded")


@dataclass(frozen=True)
class PackagedCorrelation:
    """One correlation rule on one source, compiled for one SIEM, to be packaged."""

    compiled: CompiledCorrelation
    file: CorrelationFile
    source: Source
    primary: bool
    title: str
    rule_id: str
    level: str
    theme: str
    tags: tuple[str, ...]
    description: str
    author: str
    references: tuple[str, ...]
    falsepositives: tuple[str, ...]
    window_seconds: int
    group_by: tuple[str, ...]
    correlation_type: str = "event_count"
    base_rules: tuple[str, ...] = ()

    @property
    def output_id(self) -> str:
        """The correlation's id on its primary source, a stable id derived from it on others."""
        if self.primary:
            return self.rule_id
        return str(uuid.uuid5(uuid.UUID(self.rule_id), self.source.name))

    @property
    def output_name(self) -> str:
        return self.title if self.primary else f"{self.title} ({self.source.label})"

    @property
    def output_stem(self) -> str:
        return f"{self.file.stem}.{self.source.name}"

    @property
    def query(self) -> str:
        assert self.compiled.query is not None, "only emitted results are packaged"
        return self.compiled.query

    @property
    def why(self) -> tuple[str, ...]:
        return tuple(str(r) for r in self.compiled.reasons)

    @property
    def alerting(self) -> bool:
        """Whether it raises alerts: informational correlations feed risk and coverage only, as
        the single rules of theme visibility (all informational) do."""
        return self.level != "informational"

    @property
    def interval_seconds(self) -> int:
        if self.window_seconds > LONG_WINDOW_SECONDS:
            return LONG_INTERVAL_SECONDS
        return INTERVAL_SECONDS

    @property
    def lookback_seconds(self) -> int:
        """How far back each run reads: the window, one interval and the delivery lag."""
        return self.window_seconds + self.interval_seconds + DELIVERY_LAG_SECONDS


_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def duration(seconds: int) -> str:
    """``seconds`` in the largest unit that divides it (``22m``, ``90s``, ``2h``)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def seconds(period: str) -> int:
    """A profile period (``30m``, ``24h``, ``1d``: the schema's pattern) in seconds."""
    return int(period[:-1]) * _UNIT_SECONDS[period[-1]]


def packaged(
    compiled: list[CompiledCorrelation], files: list[CorrelationFile], target: str
) -> list[PackagedCorrelation]:
    """The results of ``target`` that become a saved search or a detection rule, in order."""
    by_stem = {f.stem: f for f in files}
    parsed: dict[str, tuple[SigmaCorrelationRule, tuple[str, ...], tuple[Source, ...]]] = {}
    out = []
    for c in compiled:
        if c.target != target or c.status not in PACKAGED_STATUSES or c.query is None:
            continue
        correlation_file = by_stem[c.correlation]
        if c.correlation not in parsed:  # one parse per file (pySigma's parse is the cost)
            collection = correlation_file.collection()
            bases = correlation_file.base_rules(collection)
            parsed[c.correlation] = (
                correlation_file.correlation(collection),
                tuple(str(r.name) for r in bases),
                sources_for_logsource(bases[0].logsource.product, bases[0].logsource.service),
            )
        rule, bases_named, sources = parsed[c.correlation]
        [source] = [s for s in sources if s.name == c.source]
        out.append(
            PackagedCorrelation(
                compiled=c,
                file=correlation_file,
                source=source,
                primary=source == sources[0],
                title=str(rule.title),
                rule_id=str(rule.id),
                level=str(rule.level) if rule.level else "medium",
                theme=str(rule.custom_attributes.get("theme", "visibility")),
                tags=tuple(str(t) for t in rule.tags),
                description=" ".join(str(rule.description or rule.title).split()),
                author=str(rule.author or ""),
                references=tuple(str(r) for r in rule.references),
                falsepositives=tuple(str(f) for f in rule.falsepositives),
                window_seconds=rule.timespan.seconds,
                group_by=tuple(rule.group_by or ()),
                correlation_type=rule.type.name.lower(),
                base_rules=bases_named,
            )
        )
    return out


_SPL_BY = re.compile(r"\| stats .* by _time (?P<fields>[^|\n]+?)\s*$", re.MULTILINE)
_ESQL_BY = re.compile(r"\| stats .* by timebucket, (?P<fields>[^|\n]+?)\s*$", re.MULTILINE)


def group_fields(query: str, language: str) -> tuple[str, ...]:
    """The group-by fields as the compiled query names them (after the mapping), read from the
    ``stats ... by`` of pySigma's correlation templates."""
    if language == "spl":
        match = _SPL_BY.search(query)
        return tuple(match.group("fields").split()) if match else ()
    match = _ESQL_BY.search(query)
    return tuple(f.strip() for f in match.group("fields").split(",")) if match else ()


@dataclass(frozen=True)
class Placement:
    """Where one result went: ``what`` (a saved search, a detection rule, nothing) and where."""

    correlation: str
    source: str
    target: str
    what: str
    where: str


def packaged_markdown(placements: list[Placement]) -> str:
    """The section of ``correlations.md`` saying what each SIEM package holds."""
    lines = [
        "",
        "## Packaged",
        "",
        "What the SIEM packages hold for each correlation, source and SIEM: ok and degraded "
        "results are shipped disabled like the single rules; shared and impossible ones are not "
        "(see the verdicts above). Each query file is also written under "
        "`splunk/correlations/` or `elastic/correlations/`.",
        "",
        "| correlation | source | target | packaged as | where |",
        "|---|---|---|---|---|",
    ]
    for p in placements:
        where = p.where.replace("|", "\\|")
        lines.append(f"| {p.correlation} | {p.source} | {p.target} | {p.what} | {where} |")
    return "\n".join(lines) + "\n"
