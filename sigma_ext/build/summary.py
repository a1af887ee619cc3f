"""Rendering the build summary and the plain SPL searches.

Every renderer returns text; ``sigma_ext.build.folder`` writes it atomically. Orders are fixed and
nothing depends on the clock, so the same inputs give byte-identical files. The SIEM packages
are rendered by ``sigma_ext.build.splunk.app`` and ``sigma_ext.build.elastic.kibana``.
"""

from __future__ import annotations

import json

from sigma_ext.build.quoting import markdown_cell, spl_comment
from sigma_ext.build.result import Compiled


def spl_file(compiled: Compiled) -> str:
    """The inline search (every tuning value written in), to paste into Splunk without the app."""
    rule = compiled.rule
    header = (
        f"``` sigma-ext rule_id={rule.id} source={compiled.source.name} "
        f"status={compiled.status} title={spl_comment(rule.title)} ```"
    )
    return f"{header}\n{compiled.query}\n"


def summary_markdown(results: list[Compiled]) -> str:
    lines = [
        "# sigma-ext build summary",
        "",
        "| rule | theme | source | target | status | why |",
        "|---|---|---|---|---|---|",
    ]
    for c in results:
        why = markdown_cell("; ".join(c.why))
        lines.append(
            f"| {c.rule.stem} | {c.rule.theme} | {c.source.name} | {c.target.name} "
            f"| {c.status} | {why} |"
        )
    return "\n".join(lines) + "\n"


def summary_json(results: list[Compiled]) -> str:
    rows = [
        {
            "rule": c.rule.stem,
            "rule_id": c.rule.id,
            "output_id": c.output_id,
            "source": c.source.name,
            "theme": c.rule.theme,
            "target": c.target.name,
            "status": c.status,
            "reasons": list(c.why),
            "language": c.language,
        }
        for c in results
    ]
    return json.dumps(rows, indent=2, sort_keys=True) + "\n"


def summary_table(results: list[Compiled]) -> str:
    """A compact table for the terminal: one row per rule and source, one column per target.

    Each reason is written once, as a numbered note under the table, so the rows stay short
    however many sources and targets there are.
    """
    targets = list(dict.fromkeys(c.target.name for c in results))
    rows: dict[tuple[str, str], dict[str, str]] = {}
    notes: dict[str, int] = {}
    for c in results:
        marks = "".join(f"[{notes.setdefault(r, len(notes) + 1)}]" for r in c.why)
        rows.setdefault((c.rule.stem, c.source.name), {})[c.target.name] = c.status + marks
    header = ["rule", "source", *targets]
    table = [header] + [
        [stem, source, *(cells.get(t, "-") for t in targets)]
        for (stem, source), cells in rows.items()
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines += [f"[{n}] {reason}" for reason, n in notes.items()]
    return "\n".join(lines) + "\n"
