"""Kibana detection rules (Elastic Security), in the Detection Engine import format.

``detection-rules.ndjson`` holds one rule per line, as ``POST /api/detection_engine/rules/_import``
(or Security > Rules > Import rules) reads it. ``data/kibana_detection_rule.schema.json`` is the
JSON Schema of one line, written from Kibana's rule schema; the tests validate every line with it.
Orders are fixed and nothing depends on the clock, so builds are byte-identical.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from sigma_ext.build.result import Compiled
from sigma_ext.content.attack import kibana_threat

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
MAX_SIGNALS = 100
LICENSE = "Apache-2.0"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def kibana_rule(compiled: Compiled) -> dict[str, Any]:
    """A Kibana detection rule, disabled, for one rule on one source."""
    rule = compiled.rule
    severity, risk_score = KIBANA_SEVERITY.get(rule.level, ("low", 21))
    note = ""
    if compiled.status == "degraded":
        note = "**Degraded on Elastic:**\n\n" + "\n".join(f"- {r}" for r in compiled.why)
    body: dict[str, Any] = {
        "author": [str(rule.data["author"])],
        "description": _one_line(str(rule.data["description"])),
        "enabled": False,
        "false_positives": [str(f) for f in rule.data.get("falsepositives", [])],
        "from": f"now-{LOOKBACK_MINUTES}m",
        "interval": f"{INTERVAL_MINUTES}m",
        "language": compiled.language,
        "license": LICENSE,
        "max_signals": MAX_SIGNALS,
        "name": compiled.output_name,
        "note": note,
        "query": compiled.query,
        "references": [str(r) for r in rule.data.get("references", [])],
        "risk_score": risk_score,
        "rule_id": compiled.output_id,
        "severity": severity,
        "tags": [
            "sigma-ext",
            f"Theme: {rule.theme}",
            f"Sigma: {rule.stem}",
            f"Source: {compiled.source.label}",
        ],
        "threat": kibana_threat([str(t) for t in rule.data.get("tags", [])]),
        "to": "now",
        "type": "esql" if compiled.language == "esql" else "query",
        "version": 1,
    }
    if compiled.language != "esql":
        body["index"] = list(compiled.index)
    if rule.theme == "visibility":
        body["building_block_type"] = "default"
    return body


def kibana_ndjson(results: list[Compiled]) -> str:
    return "".join(json.dumps(kibana_rule(c), sort_keys=True) + "\n" for c in results)


@cache
def kibana_rule_schema() -> dict[str, Any]:
    """The JSON Schema of one line of the import file, shipped with the package."""
    text = (files("sigma_ext") / "data" / "kibana_detection_rule.schema.json").read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema
