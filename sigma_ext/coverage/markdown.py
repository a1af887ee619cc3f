"""The coverage report as Markdown, and the README's coverage table from the same data."""

from __future__ import annotations

from sigma_ext.coverage.matrix import TARGETS, Matrix
from sigma_ext.coverage.paths import CreationPaths
from sigma_ext.coverage.telemetry import TelemetryReport
from sigma_ext.sources.catalogue import source_named

README_START = (
    "<!-- coverage-table:start: generated from sigma_ext/data/creation_paths.yml"
    " by sigma-ext coverage --readme README.md -->"
)
README_END = "<!-- coverage-table:end -->"
SYMBOL = {"ok": "ok", "degraded": "degraded", "impossible": "impossible", "none": "-"}


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def creation_path_table(paths: CreationPaths) -> str:
    """The table of creation paths x themes, one line per path."""
    lines = [
        _row(["creation path", "source", *paths.themes.values()]),
        "|" + "---|" * (2 + len(paths.themes)),
    ]
    for path in paths.paths:
        lines.append(
            _row([path.path, path.label, *(path.cells[theme].text for theme in paths.themes)])
        )
    return "\n".join(lines) + "\n"


def readme_block(paths: CreationPaths) -> str:
    return f"{README_START}\n{creation_path_table(paths)}{README_END}"


def replace_readme_block(readme: str, paths: CreationPaths) -> str:
    """The README text with its coverage table replaced; ValueError without the markers."""
    start = readme.find(README_START)
    end = readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError("no coverage-table markers")
    return readme[:start] + readme_block(paths) + readme[end + len(README_END) :]


def matrix_table(matrix: Matrix) -> str:
    heads = [f"{theme} ({target})" for theme in matrix.themes for target in TARGETS]
    lines = [_row(["source", *heads]), "|" + "---|" * (1 + len(heads))]
    for source in matrix.sources:
        lines.append(
            _row(
                [
                    source_named(source).label,
                    *(
                        SYMBOL[matrix.cell(source, theme, target).status]
                        for theme in matrix.themes
                        for target in TARGETS
                    ),
                ]
            )
        )
    return "\n".join(lines) + "\n"


def source_details(matrix: Matrix) -> str:
    out: list[str] = []
    for source in matrix.sources:
        out.append(f"### {source_named(source).label} (`{source}`)\n")
        for theme in matrix.themes:
            for target in TARGETS:
                for rule in matrix.cell(source, theme, target).rules:
                    if rule.status == "ok":
                        continue
                    why = "; ".join(rule.reasons) or "no reason recorded"
                    out.append(f"- {theme}, {target}: `{rule.stem}` {rule.status}: {why}")
        out.append("")
    return "\n".join(out) + "\n"


def report_markdown(
    matrix: Matrix, paths: CreationPaths, telemetry: TelemetryReport | None, version: str
) -> str:
    parts = [
        f"# Coverage of sigma-ext {version}\n",
        "## Creation paths\n",
        creation_path_table(paths),
        "\n## Build verdicts per source, theme and target\n",
        "`ok`: the query expresses every rule; `degraded`: some rule sees less (why below); "
        "`impossible`: the SIEM keeps nothing the rules need; `-`: no rule of the theme.\n",
        matrix_table(matrix),
        "\n## What each target does not see, per source\n",
        source_details(matrix),
    ]
    if telemetry is not None:
        parts.append(telemetry.markdown())
    return "\n".join(parts)
