"""The coverage matrix: per source, theme and target, what the rules see, from the build verdicts.

Each cell aggregates the verdicts of the theme's rules on the source for the target: ``ok`` when
every rule is ``ok``, ``impossible`` when every rule is, ``degraded`` otherwise, and ``none`` when
the source has no rule of the theme. A ``shared`` verdict (the SIEM stores the source's events
with another source's, whose query covers them) counts as that rule's verdict on that other
source. The ``hunt`` target is the reference evaluator: it reads every native field, so
each rule it loads is ``ok`` there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sigma_ext.build.result import Compiled
from sigma_ext.content.corpus import Corpus
from sigma_ext.sources.catalogue import SOURCES

CellStatus = Literal["ok", "degraded", "impossible", "none"]
RuleStatus = Literal["ok", "degraded", "impossible"]
HUNT = "hunt"
TARGETS: tuple[str, ...] = (HUNT, "splunk", "elastic")


@dataclass(frozen=True)
class RuleVerdict:
    stem: str
    title: str
    status: RuleStatus
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class MatrixCell:
    source: str
    theme: str
    target: str
    status: CellStatus
    rules: tuple[RuleVerdict, ...]


@dataclass(frozen=True)
class Matrix:
    sources: tuple[str, ...]
    themes: tuple[str, ...]
    cells: dict[tuple[str, str, str], MatrixCell]  # (source, theme, target)

    def cell(self, source: str, theme: str, target: str) -> MatrixCell:
        return self.cells[(source, theme, target)]


def _aggregate(statuses: Iterable[RuleStatus]) -> CellStatus:
    seen = set(statuses)
    if not seen:
        return "none"
    if seen == {"ok"}:
        return "ok"
    if seen == {"impossible"}:
        return "impossible"
    return "degraded"


def _rule_verdict(result: Compiled, by_source: dict[tuple[str, str, str], Compiled]) -> RuleVerdict:
    if result.shared_with is not None:
        covering = by_source[(result.rule.stem, result.target.name, result.shared_with.source)]
        return RuleVerdict(
            result.rule.stem,
            result.rule.title,
            _rule_verdict(covering, by_source).status,
            result.why,
        )
    if result.status not in ("ok", "degraded", "impossible"):
        raise ValueError(f"{result.rule.stem}: no coverage from a build with errors")
    return RuleVerdict(result.rule.stem, result.rule.title, result.status, result.why)


def build_matrix(corpus: Corpus, results: list[Compiled], themes: Iterable[str]) -> Matrix:
    """The matrix for every source of the catalogue and every theme (column order kept)."""
    theme_order = list(themes)
    for rule_file in corpus.rules:
        if rule_file.theme not in theme_order:
            theme_order.append(rule_file.theme)
    by_source = {(r.rule.stem, r.target.name, r.source.name): r for r in results}
    verdicts: dict[tuple[str, str, str], list[RuleVerdict]] = {}
    for result in results:
        key = (result.source.name, result.rule.theme, result.target.name)
        verdicts.setdefault(key, []).append(_rule_verdict(result, by_source))
    for rule_file in corpus.rules:
        for source in corpus.sources_of(rule_file):
            verdicts.setdefault((source.name, rule_file.theme, HUNT), []).append(
                RuleVerdict(rule_file.stem, rule_file.title, "ok", ())
            )
    cells = {}
    for source in SOURCES:
        for theme in theme_order:
            for target in TARGETS:
                rules = tuple(verdicts.get((source.name, theme, target), ()))
                cells[(source.name, theme, target)] = MatrixCell(
                    source.name, theme, target, _aggregate(r.status for r in rules), rules
                )
    return Matrix(tuple(s.name for s in SOURCES), tuple(theme_order), cells)
