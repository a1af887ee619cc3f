"""ATT&CK names for rule tags, from a small file shipped with the package (never downloaded)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def attack_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (files("sigma_ext") / "data" / "attack.json").read_text(encoding="utf-8")
    )
    return data


def split_tags(tags: list[str]) -> tuple[list[str], list[str]]:
    """(tactic short names, technique ids) from Sigma ``attack.*`` tags."""
    tactics, techniques = [], []
    for tag in tags:
        namespace, _, name = tag.partition(".")
        if namespace != "attack":
            continue
        if name[:1] in "tT" and name[1:2].isdigit():
            techniques.append(name.upper())
        else:
            tactics.append(name)
    return tactics, techniques


def unknown_tags(tags: list[str]) -> list[str]:
    data = attack_data()
    tactics, techniques = split_tags(tags)
    return [f"attack.{t}" for t in tactics if t not in data["tactics"]] + [
        f"attack.{t.lower()}" for t in techniques if t not in data["techniques"]
    ]


def unknown_tag_message(tag: str) -> str:
    """Why ``tag`` (an ``attack.*`` tag that ``unknown_tags`` returned) is refused."""
    return (
        f"unknown ATT&CK tag {tag!r}: no such tactic or technique in sigma_ext/data/attack.json "
        "(tactics as attack.<short-name>, such as attack.execution; techniques as "
        "attack.t<id>, such as attack.t1610)"
    )


def kibana_threat(tags: list[str]) -> list[dict[str, Any]]:
    """Kibana's ``threat`` array: each tagged tactic with the tagged techniques under it."""
    data = attack_data()
    tactics, techniques = split_tags(tags)
    threat = []
    for tactic in tactics:
        info = data["tactics"][tactic]
        entries: dict[str, dict[str, Any]] = {}
        for technique in techniques:
            if tactic not in data["techniques"][technique]["tactics"]:
                continue
            parent = technique.split(".")[0]
            entry = entries.setdefault(
                parent,
                {
                    "id": parent,
                    "name": data["techniques"][parent]["name"],
                    "reference": f"https://attack.mitre.org/techniques/{parent}/",
                    "subtechnique": [],
                },
            )
            if technique != parent:
                entry["subtechnique"].append(
                    {
                        "id": technique,
                        "name": data["techniques"][technique]["name"],
                        "reference": "https://attack.mitre.org/techniques/"
                        + technique.replace(".", "/")
                        + "/",
                    }
                )
        threat.append(
            {
                "framework": "MITRE ATT&CK",
                "tactic": {
                    "id": info["id"],
                    "name": info["name"],
                    "reference": f"https://attack.mitre.org/tactics/{info['id']}/",
                },
                "technique": list(entries.values()),
            }
        )
    return threat
