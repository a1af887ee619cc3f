"""Kibana detection rules (Elastic Security), in the Detection Engine import format.

``detection-rules.ndjson`` holds one rule per line, as ``POST /api/detection_engine/rules/_import``
(or Security > Rules > Import rules) reads it. ``data/kibana_detection_rule.schema.json`` is the
JSON Schema of one line, written from Kibana's rule schema; the tests validate every line with it.
Orders are fixed and nothing depends on the clock, so builds are byte-identical.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

from sigma_ext.build.elastic.triage import SOURCES, field_types
from sigma_ext.build.result import Compiled
from sigma_ext.content.attack import attack_data, kibana_threat, split_tags
from sigma_ext.content.profile import DEFAULT_THROTTLE, Profile

# Kibana severity and risk score per Sigma level (Elastic's conventions: 21, 47, 73, 99).
KIBANA_SEVERITY = {
    "informational": ("low", 21),
    "low": ("low", 21),
    "medium": ("medium", 47),
    "high": ("high", 73),
    "critical": ("critical", 99),
}
INTERVAL_MINUTES = 5
LOOKBACK_MINUTES = 6
# Elastic's building-block convention (detection-rules' validate_bbr): every 60 minutes over
# now-119m, tagged "Rule Type: BBR".
BUILDING_BLOCK_INTERVAL = "60m"
BUILDING_BLOCK_FROM = "now-119m"
MAX_SIGNALS = 100
LICENSE = "Apache-2.0"
# Elastic's own rules search on ingest time, so that events that arrive late are not missed.
TIMESTAMP_OVERRIDE = "event.ingested"
_THEME_USE_CASE = {
    "unauthorized-creator": "Use Case: Identity and Access Audit",
    "unusual-registry": "Use Case: Threat Detection",
    "off-pipeline": "Use Case: Configuration Audit",
    "risky-spec": "Use Case: Vulnerability",
    "visibility": "Use Case: Asset Visibility",
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _duration(period: str) -> dict[str, Any]:
    return {"value": int(period[:-1]), "unit": period[-1]}


def query_fields(query: str, source: str) -> list[str]:
    """The mapped fields of the source that a Lucene or ES|QL query reads, in query order; a
    flattened field counts when the query reads one of its keys."""
    found: dict[str, int] = {}
    for name, forms, pattern in _field_patterns(source):
        if not any(form in query for form in forms):
            continue  # the pattern cannot match: spare its search
        hit = pattern.search(query)
        if hit is not None:
            found[name] = hit.start()
    return sorted(found, key=lambda n: (found[n], n))


@cache
def _field_patterns(source: str) -> list[tuple[str, tuple[str, ...], re.Pattern[str]]]:
    """Each mapped field of the source, the ways a query writes it, and the pattern of its use
    in a query, made once."""
    patterns = []
    for name, kind in field_types(source).items():
        forms = tuple(sorted({name, name.replace("/", "\\/")}))
        either = "|".join(re.escape(f) for f in forms)
        keys = r"(?:\.[\w.]+)?" if kind == "flattened" else ""
        patterns.append((name, forms, re.compile(rf"(?<![\w.@])(?:{either}){keys}(?![\w.@])")))
    return patterns


def setup_guide(compiled: Compiled) -> str:
    info = SOURCES[compiled.source.name]
    index = ", ".join(compiled.index) or "the indices in the query's FROM"
    return "\n".join(
        [
            f"## Setup ({compiled.source.label})",
            "",
            f"This rule reads the **{info.package}** integration's `{info.integration}` data "
            f"stream ({index}). Install the integration with Fleet and send the source's "
            "events to it. The rule searches on `event.ingested` (the time Elasticsearch "
            "received the event), so delayed deliveries are still searched once; the "
            "integration's ingest pipeline sets it.",
            "",
            "Tuning lists (approved identities and registries) are written into the query from "
            "the sigma-ext profile: rebuild with your profile, or add rule exceptions.",
        ]
    )


def kibana_rule(compiled: Compiled, profile: Profile | None = None) -> dict[str, Any]:
    """A Kibana detection rule, disabled, for one rule on one source."""
    rule = compiled.rule
    source = compiled.source.name
    info = SOURCES[source]
    severity, risk_score = KIBANA_SEVERITY.get(rule.level, ("low", 21))
    note = ""
    if compiled.status == "degraded":
        note = "**Degraded on Elastic:**\n\n" + "\n".join(f"- {r}" for r in compiled.why)
    building_block = rule.theme == "visibility"
    tags = [str(t) for t in rule.data.get("tags", [])]
    tactics = [attack_data()["tactics"][t]["name"] for t in split_tags(tags)[0]]
    period = profile.throttle_period(rule.theme) if profile else DEFAULT_THROTTLE
    types = field_types(source)
    query = str(compiled.query)
    body: dict[str, Any] = {
        "alert_suppression": {
            "group_by": list(info.suppress_by),
            "duration": _duration(period),
            "missing_fields_strategy": "suppress",
        },
        "author": [str(rule.data["author"])],
        "description": _one_line(str(rule.data["description"])),
        "enabled": False,
        "false_positives": [str(f) for f in rule.data.get("falsepositives", [])],
        "from": BUILDING_BLOCK_FROM if building_block else f"now-{LOOKBACK_MINUTES}m",
        "interval": BUILDING_BLOCK_INTERVAL if building_block else f"{INTERVAL_MINUTES}m",
        "investigation_fields": {"field_names": list(info.investigation)},
        "language": compiled.language,
        "license": LICENSE,
        "max_signals": MAX_SIGNALS,
        "name": compiled.output_name,
        "note": note,
        "query": query,
        "references": [str(r) for r in rule.data.get("references", [])],
        "related_integrations": [
            {"package": info.package, "integration": info.integration, "version": info.version}
        ],
        "required_fields": [
            {"name": name, "type": types[name]} for name in query_fields(query, source)
        ],
        "risk_score": risk_score,
        "rule_id": compiled.output_id,
        "setup": setup_guide(compiled),
        "severity": severity,
        "tags": [
            *info.tags,
            _THEME_USE_CASE[rule.theme],
            *(f"Tactic: {t}" for t in tactics),
            *(["Rule Type: BBR"] if building_block else []),
            "sigma-ext",
            f"Theme: {rule.theme}",
            f"Sigma: {rule.stem}",
            f"Source: {compiled.source.label}",
        ],
        "threat": kibana_threat(tags),
        "timestamp_override": TIMESTAMP_OVERRIDE,
        "to": "now",
        "type": "esql" if compiled.language == "esql" else "query",
        "version": 1,
    }
    if compiled.language != "esql":
        body["index"] = list(compiled.index)
    if building_block:
        body["building_block_type"] = "default"
    return body


def kibana_ndjson(results: list[Compiled], profile: Profile | None = None) -> str:
    return "".join(json.dumps(kibana_rule(c, profile), sort_keys=True) + "\n" for c in results)


@cache
def kibana_rule_schema() -> dict[str, Any]:
    """The JSON Schema of one line of the import file, shipped with the package."""
    text = (files("sigma_ext") / "data" / "kibana_detection_rule.schema.json").read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema
