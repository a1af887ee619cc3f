"""The telemetry check: do these logs carry what each rule needs?

Per recognised source: the records read, the creation events among them (events on which a
``visibility`` rule of the source fires), and for each rule of the source the share of creation
events that carry what it needs (``sigma_ext.coverage.needs``). A rule that no creation event
feeds is blind; one that only some feed is partly blind. Each finding says why in plain words,
naming the field that is missing and, for the Kubernetes audit log, the audit level that dropped it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.coverage.needs import Alternatives, carries, needed_fields
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.reference.evaluator import Fields
from sigma_ext.sources.catalogue import Source, recognize
from sigma_ext.targets import NATIVE

VISIBILITY = "visibility"
SAMPLE_PLACES = 5


@dataclass
class RuleShare:
    stem: str
    title: str
    needs: Alternatives
    carrying: int = 0
    absent: Counter[str] = field(default_factory=Counter)  # field -> creation events without it


@dataclass
class SourceTelemetry:
    source: Source
    records: int = 0
    creations: int = 0
    levels: Counter[str] = field(default_factory=Counter)  # audit level of the creation events
    rules: dict[str, RuleShare] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """Rules left blind (share 0) or partly blind by one missing field, and why."""

    source: str
    field: str
    absent_share: float
    rules: tuple[str, ...]
    blind: bool
    why: str


@dataclass
class TelemetryReport:
    files: tuple[str, ...]
    sources: dict[str, SourceTelemetry]
    unrecognised: int = 0
    malformed: int = 0
    unrecognised_places: list[str] = field(default_factory=list)

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for name, seen in self.sources.items():
            if seen.creations == 0:
                continue
            by_field: dict[str, list[RuleShare]] = {}
            for share in seen.rules.values():
                if share.carrying < seen.creations and share.absent:
                    by_field.setdefault(_top_missing(share), []).append(share)
            for missing, shares in sorted(by_field.items()):
                count = max(share.absent[missing] for share in shares)
                out.append(
                    Finding(
                        name,
                        missing,
                        count / seen.creations,
                        tuple(share.stem for share in shares),
                        all(share.carrying == 0 for share in shares),
                        _why(seen, missing, count, shares),
                    )
                )
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_data(), indent=2, sort_keys=True) + "\n"

    def as_data(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "unrecognised_records": self.unrecognised,
            "unrecognised_places": self.unrecognised_places,
            "malformed_records": self.malformed,
            "sources": {
                name: {
                    "records": seen.records,
                    "creation_events": seen.creations,
                    "audit_levels": dict(sorted(seen.levels.items())),
                    "rules": {
                        share.stem: {
                            "carrying": share.carrying,
                            "share": _share(share.carrying, seen.creations),
                            "absent": dict(sorted(share.absent.items())),
                        }
                        for share in seen.rules.values()
                    },
                }
                for name, seen in self.sources.items()
            },
            "findings": [
                {
                    "source": f.source,
                    "field": f.field,
                    "absent_share": round(f.absent_share, 4),
                    "rules": list(f.rules),
                    "blind": f.blind,
                    "why": f.why,
                }
                for f in self.findings()
            ],
        }

    def markdown(self) -> str:
        lines = ["## Telemetry check\n", f"Files: {', '.join(self.files)}\n"]
        lines.append("| source | records | creation events | rule | carries what it needs |")
        lines.append("|---|---|---|---|---|")
        for name, seen in self.sources.items():
            for share in seen.rules.values():
                lines.append(
                    f"| {name} | {seen.records} | {seen.creations} | `{share.stem}` | "
                    f"{_percent(share.carrying, seen.creations)} |"
                )
        lines.append("")
        lines.append(f"Records not recognised: {self.unrecognised}; malformed: {self.malformed}.\n")
        findings = self.findings()
        lines.append("### What this telemetry leaves blind\n")
        if not findings:
            lines.append("Every creation event carries what every rule needs.\n")
        for finding in findings:
            lines.append(f"- {finding.why}")
        return "\n".join(lines) + "\n"


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percent(part: int, whole: int) -> str:
    return "no creation event" if not whole else f"{100 * part / whole:.0f}%"


def _top_missing(share: RuleShare) -> str:
    """The field most often missing; of equally frequent ones the shortest path (``requestObject``
    when the whole request body is gone)."""
    return min(share.absent.items(), key=lambda kv: (-kv[1], kv[0].count("."), kv[0]))[0]


LEVEL_ADVICE = (
    "the audit policy logs them at {level} level, which keeps no request body (log pods and "
    "workloads at Request level: docs/audit-policy.yaml)"
)


def _why(seen: SourceTelemetry, missing: str, count: int, shares: list[RuleShare]) -> str:
    text = (
        f"`{missing}` is absent from {_percent(count, seen.creations)} of the "
        f"{seen.source.label} creation events"
    )
    thin = [level for level in ("Metadata", "None") if seen.levels.get(level)]
    if missing.startswith("request") and thin:
        text += ": " + LEVEL_ADVICE.format(level=" or ".join(thin))
    titles = ", ".join(sorted(f"'{share.title}'" for share in shares))
    if all(share.carrying == 0 for share in shares):
        return f"{text}; {titles} cannot judge any of them (what they test is not logged)."
    return f"{text}; {titles} cannot judge those events (what they test is not logged)."


def _missing(needs: Alternatives, fields: Fields) -> set[str]:
    """Every missing field of every alternative, and every missing object on its path."""
    out: set[str] = set()
    for alternative in needs:
        for path in alternative:
            parts = path.split(".")
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                if not fields.values(prefix):
                    out.add(prefix)
    return out


def check_telemetry(
    corpus: Corpus, events: Iterable[tuple[str, Any | None]], files: tuple[str, ...]
) -> TelemetryReport:
    """``events`` are (place, event) pairs, the event None for a malformed record."""
    engine = ReferenceEngine(corpus)
    needs: dict[tuple[str, str], Alternatives] = {}
    for rule_file in corpus.rules:
        for source in corpus.sources_of(rule_file):
            rule = rule_file.fresh()
            conversion_pipeline(corpus.mapping(NATIVE.mapping_dir, source), corpus.profile).apply(
                rule
            )
            needs[(source.name, rule_file.stem)] = needed_fields(rule, rule_file.every_element)
    report = TelemetryReport(files, {})
    for place, event in events:
        if event is None:
            report.malformed += 1
            continue
        recognised = recognize(event)
        if recognised is None:
            report.unrecognised += 1
            if len(report.unrecognised_places) < SAMPLE_PLACES:
                report.unrecognised_places.append(place)
            continue
        source = recognised
        seen = report.sources.get(source.name)
        if seen is None:
            seen = report.sources[source.name] = SourceTelemetry(source)
            for loaded in engine.rules_for(source):
                stem = loaded.rule_file.stem
                seen.rules[stem] = RuleShare(
                    stem, loaded.rule_file.title, needs[(source.name, stem)]
                )
        seen.records += 1
        native = source.decode(event)
        fields = Fields(native)
        loaded_rules = engine.rules_for(source)
        if not any(
            loaded.rule_file.theme == VISIBILITY and loaded.compiled.matches(fields)
            for loaded in loaded_rules
        ):
            continue
        seen.creations += 1
        level = native.get("level") if isinstance(native, dict) else None
        if isinstance(level, str):
            seen.levels[level] += 1
        for share in seen.rules.values():
            if carries(share.needs, fields.values):
                share.carrying += 1
            else:
                share.absent.update(_missing(share.needs, fields))
    return report
