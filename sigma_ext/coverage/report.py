"""Everything ``sigma-ext coverage`` writes, as files in memory: the build verdicts and creation
paths as Markdown and HTML, the ATT&CK Navigator layer and, given logs, the telemetry check."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sigma_ext.build.compile import check_compilation, compile_all
from sigma_ext.content.corpus import Corpus
from sigma_ext.coverage.claims import check_claims
from sigma_ext.coverage.html import report_html
from sigma_ext.coverage.markdown import report_markdown
from sigma_ext.coverage.matrix import TARGETS, Matrix, build_matrix
from sigma_ext.coverage.navigator import layer_json, navigator_layer
from sigma_ext.coverage.paths import CreationPaths, load_creation_paths
from sigma_ext.coverage.telemetry import TelemetryReport
from sigma_ext.problems import ProblemsFound


@dataclass(frozen=True)
class Coverage:
    matrix: Matrix
    paths: CreationPaths


def coverage_of(corpus: Corpus) -> Coverage:
    """The matrix and the creation paths, checked against each other; ProblemsFound when the
    paths file is broken, the build has errors, or the table claims more than the build shows."""
    paths, problems = load_creation_paths()
    if paths is None:
        raise ProblemsFound(problems)
    results = compile_all(corpus)
    errors = check_compilation(corpus, results)
    if errors:
        raise ProblemsFound(errors)
    matrix = build_matrix(corpus, results, paths.themes)
    problems = check_claims(paths, matrix)
    if problems:
        raise ProblemsFound(problems)
    return Coverage(matrix, paths)


def matrix_json(matrix: Matrix) -> str:
    data = [
        {
            "source": cell.source,
            "theme": cell.theme,
            "target": cell.target,
            "status": cell.status,
            "rules": [
                {"rule": r.stem, "status": r.status, "reasons": list(r.reasons)} for r in cell.rules
            ],
        }
        for (source, theme, target), cell in sorted(matrix.cells.items())
        if target in TARGETS
    ]
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def report_files(
    coverage: Coverage, corpus: Corpus, telemetry: TelemetryReport | None, version: str
) -> dict[str, str]:
    files = {
        "coverage.md": report_markdown(coverage.matrix, coverage.paths, telemetry, version),
        "coverage.html": report_html(coverage.matrix, coverage.paths, telemetry, version),
        "coverage.json": matrix_json(coverage.matrix),
        "attack-navigator-layer.json": layer_json(navigator_layer(corpus, version)),
    }
    if telemetry is not None:
        files["telemetry.json"] = telemetry.to_json()
    return files
