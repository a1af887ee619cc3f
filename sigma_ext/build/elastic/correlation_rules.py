"""Correlation rules as Kibana ES|QL detection rules, in ``detection-rules.ndjson``.

Each packaged Elastic correlation (``sigma_ext.build.correlation_package``: ok or degraded; a
shared result adds no second rule over the same stored events) is one line after the single
rules, of Kibana's ``esql`` rule type (the detection engine's ``EsqlRuleRequiredFields``:
``type: esql``, ``language: esql``, ``query``; ``EsqlRuleOptionalFields``: ``alert_suppression``;
no ``index`` or data view: the query's ``FROM`` names the indices):

- ``query`` is the compiled correlation (``elastic/correlations/<rule>.<source>.esql``) as
  pySigma's ES|QL backend writes it, then ``KEEP`` of the columns its ``STATS`` returns
  (Elastic's detection-rules require a KEEP in every ES|QL rule; Kibana does not). It is an
  *aggregating* query (``STATS ... BY timebucket, <group-by>``): Elastic documents that such a
  rule's alerts hold only the columns the query returns, that it needs no ``METADATA _id``
  (only non-aggregating queries use ``_id`` to deduplicate alerts; the ``METADATA _id,
  _index, _version`` pySigma writes in ``FROM`` is dropped by ``STATS``), and that it may
  alert twice for events in the additional look-back;
- ``rule_id``: the correlation's Sigma id on its primary source, a UUID derived from it and the
  source's name on the others (stable across builds, as for single rules);
- ``interval`` every 5 minutes (hourly for windows over an hour) and ``from``
  ``now-(timespan + interval + 15m)`` on ``@timestamp`` (the event time ``date_trunc`` buckets;
  no ``timestamp_override``): the first run 15 minutes (the cloud delivery lag) after a window
  ends reads the whole window; a window two runs read whole is one alert through
  ``alert_suppression`` by the group-by fields (Kibana 8.15+ for ES|QL) for the profile's
  throttle period, and at least the look-back;
- severity and risk score from the level (as single rules), ATT&CK ``threat`` from the tags,
  ``investigation_fields`` the group-by fields, ``required_fields`` the fields the query reads;
  an informational correlation is a building block, as the visibility rules are;
- a query naming a field that no document of the source has and no ``EVAL`` of the query
  defines is not packaged (``refusal``): ES|QL fails on an unknown column, where Lucene finds
  nothing (the mapping's ``esql_prelude`` defines GKE's never-logged request URI as null, so
  the GKE query passes).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sigma_ext.build.correlation_package import (
    PackagedCorrelation,
    duration,
    group_fields,
    seconds,
)
from sigma_ext.build.elastic.kibana import (
    _THEME_USE_CASE,
    KIBANA_SEVERITY,
    LICENSE,
    MAX_SIGNALS,
    query_fields,
)
from sigma_ext.build.elastic.triage import SOURCES, field_types
from sigma_ext.content.attack import attack_data, kibana_threat, split_tags
from sigma_ext.content.profile import Profile

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_DOTTED = re.compile(r"(?<![\w.@])[A-Za-z_@][\w@]*(?:\.[\w@]+)+")
_ASSIGNED = re.compile(r"(?<![\w.@])([A-Za-z_@][\w.@]*)\s*=(?!=)")
_STATS = re.compile(r"\| stats (?P<count>\w+)=.* by (?P<by>timebucket, [^|\n]+?)\s*$", re.MULTILINE)


def unknown_columns(packaged: PackagedCorrelation) -> list[str]:
    """The fields the query names that no document of its source has (the document spec,
    ``sigma_ext/data/documents/elastic``) and no ``EVAL`` of the query defines: ES|QL refuses
    such a query (``Unknown column``), where Lucene only finds nothing. A mapping names such a
    field on purpose for what the source never carries (``gcp.audit.sx_no_request_uri_in_gke``)
    and defines it in its ``esql_prelude``."""
    types = field_types(packaged.source.name)
    flattened = [name for name, kind in types.items() if kind == "flattened"]
    # after FROM ... METADATA, strings left out; a column an EVAL defines is known (a mapping's
    # esql_prelude defines the fields its source never carries as null)
    stages = _STRING.sub('""', packaged.query).split("|")[1:]
    defined = {
        name
        for stage in stages
        if stage.strip().lower().startswith("eval ")
        for name in _ASSIGNED.findall(stage)
    }
    return sorted(
        {
            name
            for stage in stages
            for name in _DOTTED.findall(stage)
            if name not in types
            and name not in defined
            and not any(name.startswith(f"{f}.") for f in flattened)
        }
    )


def refusal(packaged: PackagedCorrelation) -> str | None:
    """Why the correlation cannot be a Kibana rule although it compiled, or None."""
    unknown = unknown_columns(packaged)
    if not unknown:
        return None
    return (
        f"not packaged: the ES|QL query names {', '.join(unknown)}, which no "
        f"{packaged.source.label} document has, and ES|QL refuses an unknown column"
    )


def rule_query(packaged: PackagedCorrelation) -> str:
    """The compiled query, then ``KEEP`` of the columns ``STATS`` returns (the window, the
    group-by fields, the count), as Elastic's detection-rules require of every ES|QL rule."""
    match = _STATS.search(packaged.query)
    assert match is not None, "pySigma's correlation template ends in STATS ... BY timebucket"
    return f"{packaged.query}\n| keep {match.group('by')}, {match.group('count')}"


def _suppression_period(packaged: PackagedCorrelation, profile: Profile) -> dict[str, Any]:
    """The profile's throttle period, and at least the look-back, in Kibana's units (s, m, h)."""
    total = max(seconds(profile.throttle_period(packaged.theme)), packaged.lookback_seconds)
    for unit, size in (("h", 3600), ("m", 60)):
        if total % size == 0:
            return {"value": total // size, "unit": unit}
    return {"value": total, "unit": "s"}


def _setup(packaged: PackagedCorrelation) -> str:
    info = SOURCES[packaged.source.name]
    window = duration(packaged.window_seconds)
    return "\n".join(
        [
            f"## Setup ({packaged.source.label})",
            "",
            f"This rule reads the **{info.package}** integration's `{info.integration}` data "
            "stream (the indices in the query's FROM). Install the integration with Fleet and "
            "send the source's events to it.",
            "",
            f"It counts the base events in fixed windows of {window} aligned on the clock "
            "(`date_trunc` on `@timestamp`, the event time). Each run reads the last "
            f"{duration(packaged.lookback_seconds)}: the window, one interval and 15 minutes "
            "for late deliveries, so a window is judged whole at least once; alert suppression "
            "by the group-by fields keeps one alert when two runs see the same window.",
            "",
            "Tuning lists and the window and threshold are written into the query from the "
            "sigma-ext profile: rebuild with your profile to change them.",
        ]
    )


def correlation_rule(packaged: PackagedCorrelation, profile: Profile) -> dict[str, Any]:
    """A disabled Kibana ES|QL rule for one correlation on one source."""
    source = packaged.source.name
    info = SOURCES[source]
    severity, risk_score = KIBANA_SEVERITY.get(packaged.level, ("medium", 47))
    tags = list(packaged.tags)
    tactics = [attack_data()["tactics"][t]["name"] for t in split_tags(tags)[0]]
    building_block = not packaged.alerting
    query = rule_query(packaged)
    types = field_types(source)
    groups = list(group_fields(query, "esql"))
    note = ""
    if packaged.compiled.status == "degraded":
        note = "**Degraded on Elastic:**\n\n" + "\n".join(f"- {r}" for r in packaged.why)
    body: dict[str, Any] = {
        "alert_suppression": {
            "group_by": groups,
            "duration": _suppression_period(packaged, profile),
            "missing_fields_strategy": "suppress",
        },
        "author": [packaged.author] if packaged.author else ["sigma-ext contributors"],
        "description": packaged.description,
        "enabled": False,
        "false_positives": list(packaged.falsepositives),
        "from": f"now-{duration(packaged.lookback_seconds)}",
        "interval": duration(packaged.interval_seconds),
        "investigation_fields": {"field_names": groups},
        "language": "esql",
        "license": LICENSE,
        "max_signals": MAX_SIGNALS,
        "name": packaged.output_name,
        "note": note,
        "query": query,
        "references": list(packaged.references),
        "related_integrations": [
            {"package": info.package, "integration": info.integration, "version": info.version}
        ],
        "required_fields": [
            {"name": name, "type": types[name]} for name in query_fields(query, source)
        ],
        "risk_score": risk_score,
        "rule_id": packaged.output_id,
        "setup": _setup(packaged),
        "severity": severity,
        "tags": [
            *info.tags,
            _THEME_USE_CASE.get(packaged.theme, "Use Case: Threat Detection"),
            *(f"Tactic: {t}" for t in tactics),
            *(["Rule Type: BBR"] if building_block else []),
            "sigma-ext",
            "Sigma: correlation",
            f"Theme: {packaged.theme}",
            f"Sigma: {packaged.file.stem}",
            f"Source: {packaged.source.label}",
        ],
        "threat": kibana_threat(tags),
        "to": "now",
        "type": "esql",
        "version": 1,
    }
    if building_block:
        body["building_block_type"] = "default"
    return body


def correlation_ndjson(correlations: list[PackagedCorrelation], profile: Profile) -> str:
    return "".join(
        json.dumps(correlation_rule(p, profile), sort_keys=True) + "\n" for p in correlations
    )
