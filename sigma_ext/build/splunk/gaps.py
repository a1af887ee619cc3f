"""Telemetry gap alerts for Splunk: one saved search per source that fires when no creation event
of that source has been indexed for a while (a broken pipeline looks exactly like a quiet cluster).

A source's creation events are what its ``visibility``-theme rules match: the gap search is those
searches (as the app runs them, macros included, before their closing filter stage) joined with
OR, counted over the window by index time (``dispatch.index_earliest``), and ``| stats count |
where count=0`` returns a row only when nothing arrived. Sources without an emitted visibility
search get no gap search (``missing_gap_sources`` names them for the build summary).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sigma_ext.build.quoting import conf_stanza_name, conf_text, spl_stages
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.app import ALLOW_SKEW, EVENT_TIME_LATEST
from sigma_ext.build.splunk.knowledge_objects import TunedSearch
from sigma_ext.build.splunk.triage import triage_stages
from sigma_ext.content.profile import Profile

# The event-time range searched besides the index-time window: late events (old _time, indexed
# now) still count; a day on top of the window.
EVENT_TIME_SLACK_MINUTES = 24 * 60
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}
_DURATION = re.compile(r"^([1-9][0-9]*)([mhd])$")


def duration_minutes(text: str) -> int:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return int(match.group(1)) * _UNIT_MINUTES[match.group(2)]


@dataclass(frozen=True)
class GapSearch:
    """The gap alert of one source: its name, the SPL it runs, its window and schedule."""

    source_name: str
    source_label: str
    rules: tuple[Compiled, ...]
    search: str
    window: str
    every: str

    @property
    def stanza_name(self) -> str:
        return conf_stanza_name(f"sigma-ext - Telemetry Gap - {self.source_label}")


def creation_search(searches: Iterable[str]) -> str:
    """One search matching what any of ``searches`` matches.

    The searches of one source share their stages up to the last one (the source's data-source
    term and field extractions), so their last filters join with OR; raises ValueError when they
    do not.
    """
    legs = [spl_stages(s) for s in searches]
    if not legs:
        raise ValueError("no search to join")
    prefix = legs[0][:-1]
    if any(leg[:-1] != prefix for leg in legs):
        raise ValueError("the searches differ before their last stage: " + repr(legs))
    lasts = [leg[-1] for leg in legs]
    if prefix:
        if not all(last.startswith("search ") for last in lasts):
            raise ValueError("a last stage is not a search command: " + repr(lasts))
        lasts = [last.removeprefix("search ") for last in lasts]
    joined = lasts[0] if len(set(lasts)) == 1 else " OR ".join(f"({last})" for last in lasts)
    return " | ".join([*prefix, ("search " if prefix else "") + joined])


def gap_search_text(searches: Iterable[str]) -> str:
    return f"{creation_search(searches)} | stats count | where count=0"


def _before_closing(search: TunedSearch) -> str:
    """The search without its closing stages: the per-search filter macro (local exclusions)
    and the triage table (``triage.triage_stages``), which only shape the alert's rows."""
    text = search.search
    if search.filter_macro is not None:
        text = text.removesuffix(f" | `{search.filter_macro}`")
    compiled = search.compiled
    triage = spl_stages(triage_stages(compiled.source.name, compiled.output_id))
    stages = spl_stages(text)
    closing = stages[len(stages) - len(triage) :]
    if len(stages) <= len(triage) or [c.split(" ")[0] for c in closing] != [
        t.split(" ")[0] for t in triage
    ]:
        raise ValueError(f"{compiled.output_stem}: no triage stages at the end of {text!r}")
    return " | ".join(stages[: len(stages) - len(triage)])


def gap_searches(searches: Iterable[TunedSearch], profile: Profile) -> tuple[GapSearch, ...]:
    """One gap search per source with at least one emitted visibility search, by source name."""
    by_source: dict[str, list[TunedSearch]] = {}
    for search in searches:
        if search.compiled.rule.theme == "visibility" and search.compiled.query is not None:
            by_source.setdefault(search.compiled.source.name, []).append(search)
    gaps = []
    for name in sorted(by_source):
        found = sorted(by_source[name], key=lambda s: s.compiled.rule.stem)
        gaps.append(
            GapSearch(
                source_name=name,
                source_label=found[0].compiled.source.label,
                rules=tuple(s.compiled for s in found),
                search=gap_search_text(_before_closing(s) for s in found),
                window=profile.gap_window(name),
                every=profile.gap_every,
            )
        )
    return tuple(gaps)


def gap_stanza(gap: GapSearch) -> tuple[str, dict[str, str]]:
    """The saved search of one gap alert: disabled, alerting on the one row a gap returns."""
    window_minutes = duration_minutes(gap.window)
    rules = ", ".join(c.rule.title for c in gap.rules)
    return gap.stanza_name, {
        "alert.digest_mode": "1",
        "alert.severity": "4",
        # a gap that lasts alerts once per window, not at every run
        "alert.suppress": "1",
        "alert.suppress.period": f"{window_minutes}m",
        "alert.track": "1",
        "allow_skew": ALLOW_SKEW,
        "counttype": "number of events",
        "cron_schedule": f"*/{duration_minutes(gap.every)} * * * *",
        "description": conf_text(
            f"Telemetry gap: no creation event of {gap.source_label} (what {rules} match) was "
            f"indexed in the last {gap.window}. A broken log pipeline looks like a quiet "
            "cluster; check the forwarder, the input and the source's audit settings. Window: "
            "the profile's telemetry_gap."
        ),
        "disabled": "1",
        "dispatch.earliest_time": f"-{window_minutes + EVENT_TIME_SLACK_MINUTES}m",
        "dispatch.index_earliest": f"-{window_minutes}m",
        "dispatch.index_latest": "now",
        "dispatch.latest_time": EVENT_TIME_LATEST,
        "enableSched": "1",
        "quantity": "0",
        "relation": "greater than",
        "request.ui_dispatch_app": "search",
        "request.ui_dispatch_view": "search",
        "search": gap.search,
    }
