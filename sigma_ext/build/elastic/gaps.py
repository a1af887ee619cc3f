"""Telemetry gap alerts for Elastic: Kibana alerting rules that fire when a source goes quiet.

Kibana Security detection rules alert on documents that exist; none alerts on absence. The stack
rule type "Elasticsearch query" (``.es-query``) counts the documents a query matches over a time
window and compares the count with a threshold, so ``count < 1`` over the window is a gap. One
rule per source, as request bodies for ``POST /api/alerting/rule``, written to
``elastic/telemetry-gap-rules.json``:

* Lucene sources: ``searchType: esQuery`` with a ``query_string`` query of the source's
  visibility rules (joined with OR), ``thresholdComparator: "<"``, ``threshold: [1]``;
* ES|QL sources: ``searchType: esqlQuery``; such a rule fires when its query returns rows
  (Kibana requires ``>`` 0), so the query itself ends in ``STATS count = COUNT(*) | WHERE count
  == 0``, which returns its one row only when nothing matched.

The window is counted on ``event.ingested`` (when the event reached Elasticsearch), so events
delivered late still count as arrivals. Rules are disabled, like the detection rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sigma_ext.build.result import Compiled
from sigma_ext.content.profile import Profile

TIME_FIELD = "event.ingested"
_DURATION = re.compile(r"^([1-9][0-9]*)([mhd])$")


def lucene_creation_query(queries: Iterable[str]) -> str:
    distinct = sorted(set(queries))
    return distinct[0] if len(distinct) == 1 else " OR ".join(f"({q})" for q in distinct)


def esql_gap_query(queries: list[str]) -> str:
    if len(set(queries)) != 1:
        # ES|QL has no OR of whole pipelines; the first keeps the alert meaningful.
        queries = sorted(queries)[:1]
    return f"{queries[0]} | STATS count = COUNT(*) | WHERE count == 0"


def gap_rule(
    source_label: str, source_name: str, rules: list[Compiled], profile: Profile
) -> dict[str, Any]:
    window = profile.gap_window(source_name)
    match = _DURATION.match(window)
    if match is None:
        raise ValueError(f"not a duration: {window!r}")
    size, unit = int(match.group(1)), match.group(2)
    params: dict[str, Any] = {
        "aggType": "count",
        "excludeHitsFromPreviousRun": False,
        "groupBy": "all",
        "size": 0,
        "timeField": TIME_FIELD,
        "timeWindowSize": size,
        "timeWindowUnit": unit,
    }
    if rules[0].language == "esql":
        params |= {
            "searchType": "esqlQuery",
            "esqlQuery": {"esql": esql_gap_query([str(c.query) for c in rules])},
            "threshold": [0],
            "thresholdComparator": ">",
        }
    else:
        query = lucene_creation_query(str(c.query) for c in rules)
        params |= {
            "searchType": "esQuery",
            "esQuery": json.dumps({"query": {"query_string": {"query": query}}}),
            "index": sorted({i for c in rules for i in c.index}),
            "threshold": [1],
            "thresholdComparator": "<",
        }
    return {
        "consumer": "stackAlerts",
        "enabled": False,
        "name": f"sigma-ext - Telemetry Gap - {source_label}",
        "params": params,
        "rule_type_id": ".es-query",
        "schedule": {"interval": profile.gap_every},
        "tags": ["sigma-ext", "Telemetry gap", f"Source: {source_label}"],
        "actions": [],
    }


def gap_rules(results: Iterable[Compiled], profile: Profile) -> dict[str, dict[str, Any]]:
    """Source name -> its rule, for each source with an emitted Elastic visibility query."""
    by_source: dict[str, list[Compiled]] = {}
    for c in results:
        if c.target.name == "elastic" and c.rule.theme == "visibility" and c.query is not None:
            by_source.setdefault(c.source.name, []).append(c)
    rules = {}
    for name in sorted(by_source):
        found = sorted(by_source[name], key=lambda c: c.rule.stem)
        languages = {c.language for c in found}
        if "esql" in languages and len(languages) > 1:
            found = [c for c in found if c.language != "esql"]
        rules[name] = gap_rule(found[0].source.label, name, found, profile)
    return rules


def gap_rules_json(rules: dict[str, dict[str, Any]]) -> str:
    """The rule bodies as one JSON array, by source name; send each element with
    ``POST /api/alerting/rule``."""
    return json.dumps([rules[name] for name in sorted(rules)], indent=2, sort_keys=True) + "\n"
