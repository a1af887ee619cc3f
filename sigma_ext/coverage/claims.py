"""The creation-path table checked against the build: it may claim less than the build shows, never
more, and it leaves out no source and no theme."""

from __future__ import annotations

from collections.abc import Mapping

from sigma_ext.coverage.matrix import CellStatus, Matrix
from sigma_ext.coverage.paths import Claim, CreationPaths
from sigma_ext.problems import Problem

# The build verdicts under which a claim holds, for every source the path names.
HOLDS_UNDER: Mapping[Claim, frozenset[CellStatus]] = {
    "covered": frozenset({"ok"}),
    "partial": frozenset({"ok", "degraded"}),
    "not visible": frozenset({"ok", "degraded", "impossible", "none"}),
    "exempt": frozenset({"ok", "degraded", "impossible", "none"}),
    "n/a": frozenset({"ok", "degraded", "impossible", "none"}),
}


def check_claims(paths: CreationPaths, matrix: Matrix) -> list[Problem]:
    """Every claim the build does not bear out, every unknown source, every source or theme the
    table leaves out."""
    where = str(paths.file)
    problems: list[Problem] = []
    named: set[str] = set()
    for path in paths.paths:
        for source in path.sources:
            if source not in matrix.sources:
                problems.append(
                    Problem(where, path.line, f"unknown source {source!r} in {path.path!r}")
                )
                continue
            named.add(source)
            for theme, cell in path.cells.items():
                for siem, claim in cell.claims.items():
                    verdict = matrix.cell(source, theme, siem)
                    if verdict.status in HOLDS_UNDER[claim]:
                        continue
                    because = "; ".join(
                        f"{r.stem}: {r.status}" for r in verdict.rules if r.status != "ok"
                    )
                    problems.append(
                        Problem(
                            where,
                            cell.line,
                            f"{path.path!r} claims {theme} is {claim!r} on {siem} for {source}, "
                            f"but the build says {verdict.status} ({because or 'no rule'})",
                        )
                    )
    for source in matrix.sources:
        if source not in named:
            problems.append(Problem(where, None, f"no creation path names the source {source}"))
    for theme in matrix.themes:
        if theme not in paths.themes:
            problems.append(
                Problem(where, None, f"rules of theme {theme} have no column in the table")
            )
    return problems
