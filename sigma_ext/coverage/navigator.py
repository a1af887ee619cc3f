"""An ATT&CK Navigator layer of the techniques the rules tag.

Layer format 4.5 (Navigator 5.x), domain ``enterprise-attack``. Each technique is listed under
each tactic a rule tags beside it (and that ATT&CK files the technique under); its score is the
number of (rule, source) detections that see it, and its comment names them, so a layer shows
both how many rules and how many telemetry sources back a technique.
"""

from __future__ import annotations

import json
from typing import Any

from sigma_ext.content.attack import attack_data, split_tags
from sigma_ext.content.corpus import Corpus

LAYER_VERSIONS = {"attack": "17", "navigator": "5.1.0", "layer": "4.5"}
GRADIENT = ["#ffffff", "#66b1ff", "#0d4a90"]


def navigator_layer(corpus: Corpus, version: str) -> dict[str, Any]:
    data = attack_data()
    detections: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for rule_file in corpus.rules:
        tactics, techniques = split_tags(list(rule_file.data.get("tags") or []))
        for technique in techniques:
            for tactic in tactics:
                if tactic not in data["techniques"][technique]["tactics"]:
                    continue
                for source in corpus.sources_of(rule_file):
                    detections.setdefault((technique, tactic), []).append(
                        (rule_file.title, source.label)
                    )
    entries: list[dict[str, Any]] = []
    for (technique, tactic), seen in sorted(detections.items()):
        rules = sorted({title for title, _ in seen})
        sources = sorted({label for _, label in seen})
        entries.append(
            {
                "techniqueID": technique,
                "tactic": tactic,
                "score": len(seen),
                "color": "",
                "comment": (
                    f"{len(rules)} rule(s) on {len(sources)} source(s), {len(seen)} detection(s). "
                    f"Rules: {'; '.join(rules)}. Sources: {'; '.join(sources)}."
                ),
                "enabled": True,
                "metadata": [{"name": "rule", "value": title} for title in rules]
                + [{"name": "source", "value": label} for label in sources],
                "links": [],
                "showSubtechniques": True,
            }
        )
    top = max((int(t["score"]) for t in entries), default=1)
    return {
        "name": "sigma-ext: container and pod creation",
        "versions": LAYER_VERSIONS,
        "domain": "enterprise-attack",
        "description": (
            f"Techniques tagged by the sigma-ext {version} rules; score: detections "
            "(rule x telemetry source) that see the technique."
        ),
        "filters": {"platforms": ["Containers", "Linux", "IaaS"]},
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True},
        "hideDisabled": False,
        "techniques": entries,
        "gradient": {"colors": GRADIENT, "minValue": 0, "maxValue": top},
        "legendItems": [],
        "metadata": [],
        "links": [],
        "showTacticRowBackground": False,
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
    }


def layer_json(layer: dict[str, Any]) -> str:
    return json.dumps(layer, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
