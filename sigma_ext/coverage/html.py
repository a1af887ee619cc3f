"""The coverage report as one self-contained HTML page: a heat map of the build verdicts, the
creation paths, what each target misses per source and, given logs, the telemetry check.

No script, font, image or style sheet is loaded from anywhere: the page is one file that opens
offline, and every text from the content is escaped.
"""

from __future__ import annotations

import re
from html import escape

from sigma_ext.coverage.matrix import TARGETS, Matrix
from sigma_ext.coverage.paths import CreationPaths
from sigma_ext.coverage.telemetry import TelemetryReport
from sigma_ext.sources.catalogue import source_named

STATUS_CLASS = {"ok": "ok", "degraded": "degraded", "impossible": "impossible", "none": "none"}
STATUS_WORD = {"ok": "ok", "degraded": "degraded", "impossible": "impossible", "none": "no rule"}
CLAIM_CLASS = {
    "covered": "ok",
    "partial": "degraded",
    "not visible": "impossible",
    "exempt": "none",
    "n/a": "none",
}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1b1f24; max-width: 110rem; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.86rem; }
th, td { border: 1px solid #d0d7de; padding: 0.35rem 0.5rem; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
td.ok { background: #c7ebd1; } td.degraded { background: #ffe7a3; }
td.impossible { background: #ffc9c9; } td.none { background: #eef1f4; color: #57606a; }
td.status { text-align: center; font-weight: 600; white-space: nowrap; }
code { background: #eff1f3; padding: 0 0.2rem; border-radius: 3px; }
.legend span { display: inline-block; padding: 0.2rem 0.6rem; margin-right: 0.4rem; }
details { margin: 0.4rem 0; } summary { cursor: pointer; font-weight: 600; }
"""


def _inline(text: str) -> str:
    """Escaped text with Markdown's `code` and [link](target) shown as code and plain words."""
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    parts = text.split("`")
    return "".join(
        f"<code>{escape(part)}</code>" if index % 2 else escape(part)
        for index, part in enumerate(parts)
    )


def _heat_map(matrix: Matrix) -> str:
    head = "".join(f'<th colspan="{len(TARGETS)}">{escape(theme)}</th>' for theme in matrix.themes)
    sub = "".join(f"<th>{escape(t)}</th>" for _ in matrix.themes for t in TARGETS)
    rows = []
    for source in matrix.sources:
        cells = []
        for theme in matrix.themes:
            for target in TARGETS:
                cell = matrix.cell(source, theme, target)
                tip = "; ".join(f"{r.stem}: {r.status}" for r in cell.rules) or "no rule"
                cells.append(
                    f'<td class="status {STATUS_CLASS[cell.status]}" title="{escape(tip)}">'
                    f"{STATUS_WORD[cell.status]}</td>"
                )
        rows.append(f"<tr><th>{escape(source_named(source).label)}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="heat"><tr><th rowspan="2">source</th>{head}</tr><tr>{sub}</tr>'
        f"{''.join(rows)}</table>"
    )


def _paths(paths: CreationPaths) -> str:
    head = "".join(f"<th>{escape(title)}</th>" for title in paths.themes.values())
    rows = []
    for path in paths.paths:
        cells = []
        for theme in paths.themes:
            cell = path.cells[theme]
            claims = set(cell.claims.values())
            css = CLAIM_CLASS[next(iter(claims))] if len(claims) == 1 else "degraded"
            cells.append(f'<td class="{css}">{_inline(cell.text)}</td>')
        rows.append(
            f"<tr><td>{_inline(path.path)}</td><td>{_inline(path.label)}</td>{''.join(cells)}</tr>"
        )
    return f"<table><tr><th>creation path</th><th>source</th>{head}</tr>{''.join(rows)}</table>"


def _why(reasons: tuple[str, ...]) -> str:
    return "; ".join(reasons) or "no reason recorded"


def _details(matrix: Matrix) -> str:
    out = []
    for source in matrix.sources:
        items = [
            f"<li><b>{escape(theme)}</b>, {escape(target)}: <code>{escape(rule.stem)}</code> "
            f"{escape(rule.status)}: {_inline(_why(rule.reasons))}</li>"
            for theme in matrix.themes
            for target in TARGETS
            for rule in matrix.cell(source, theme, target).rules
            if rule.status != "ok"
        ]
        body = f"<ul>{''.join(items)}</ul>" if items else "<p>Every rule is ok on every target.</p>"
        out.append(
            f"<details><summary>{escape(source_named(source).label)} "
            f"(<code>{escape(source)}</code>)</summary>{body}</details>"
        )
    return "".join(out)


def _share_class(ratio: float | None) -> str:
    if ratio is None:
        return "none"
    return "ok" if ratio == 1 else "impossible" if ratio == 0 else "degraded"


def _telemetry(report: TelemetryReport) -> str:
    rows = []
    for name, seen in report.sources.items():
        for share in seen.rules.values():
            ratio = share.carrying / seen.creations if seen.creations else None
            css = _share_class(ratio)
            word = "no creation event" if ratio is None else f"{100 * ratio:.0f}%"
            rows.append(
                f"<tr><td>{escape(name)}</td><td>{seen.records}</td><td>{seen.creations}</td>"
                f"<td><code>{escape(share.stem)}</code></td>"
                f'<td class="status {css}">{word}</td></tr>'
            )
    findings = "".join(f"<li>{_inline(f.why)}</li>" for f in report.findings()) or (
        "<li>Every creation event carries what every rule needs.</li>"
    )
    return (
        "<h2>Telemetry check</h2>"
        f"<p>Files: {escape(', '.join(report.files))}. Records not recognised: "
        f"{report.unrecognised}; malformed: {report.malformed}.</p>"
        "<table><tr><th>source</th><th>records</th><th>creation events</th><th>rule</th>"
        f"<th>creation events carrying what the rule needs</th></tr>{''.join(rows)}</table>"
        f"<h3>What this telemetry leaves blind</h3><ul>{findings}</ul>"
    )


def report_html(
    matrix: Matrix, paths: CreationPaths, telemetry: TelemetryReport | None, version: str
) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>sigma-ext {escape(version)} coverage</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style></head><body>"
        f"<h1>What the SOC can see: sigma-ext {escape(version)}</h1>"
        "<p>Container and pod creation (ATT&amp;CK DC0072, DC0019), per telemetry source, "
        "detection theme and target (<b>hunt</b>: the reference evaluator over log files).</p>"
        '<table class="legend"><tr>'
        '<td class="status ok">ok</td><td class="status degraded">degraded / partial</td>'
        '<td class="status impossible">impossible / not visible</td>'
        '<td class="status none">no rule / not applicable</td></tr></table>'
        "<h2>Build verdicts</h2>"
        f"{_heat_map(matrix)}"
        "<h2>Creation paths</h2>"
        f"{_paths(paths)}"
        "<h2>What each target does not see, per source</h2>"
        f"{_details(matrix)}"
        f"{_telemetry(telemetry) if telemetry is not None else ''}"
        "</body></html>\n"
    )
