"""A content repository's rules: the shipped rules it chooses, with its own laid over them.

``shipped_rules.include`` and ``exclude`` in ``sigma-ext.yml`` choose shipped rules by rule set
(a folder of the shipped ``rules/``: ``kubernetes``, ``aws/cloudtrail``), rule id or rule name
(the file name without ``.yml``). An own rule with a shipped rule's id replaces it; an own rule
that takes a shipped rule's name or title without its id is a problem, with both ways out named.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sigma_ext.content.locate import Location, Selector
from sigma_ext.content.rules import RuleFile, load_rules
from sigma_ext.problems import Problem


def overlay_rules(location: Location) -> tuple[list[RuleFile], list[Problem]]:
    """The shipped rules chosen by the config, minus those replaced, then the own rules."""
    shipped_dir = location.shipped / "rules"
    shipped, problems = load_rules([shipped_dir])
    chosen, selection_problems = choose(shipped, shipped_dir, location)
    own, own_problems = load_rules(location.rule_roots) if location.rule_roots else ([], [])
    replaced = {rule.id for rule in own}
    kept = [rule for rule in chosen if rule.id not in replaced]
    problems = [*problems, *selection_problems, *own_problems, *_clashes(kept, own)]
    return [*kept, *own], sorted(problems)


def rule_sets(shipped_dir: Path) -> list[str]:
    """Every folder of the shipped rules, as ``product`` or ``product/service``."""
    folders = (p for p in shipped_dir.rglob("*") if p.is_dir())
    return sorted(p.relative_to(shipped_dir).as_posix() for p in folders)


def choose(
    shipped: list[RuleFile], shipped_dir: Path, location: Location
) -> tuple[list[RuleFile], list[Problem]]:
    problems: list[Problem] = []
    sets = rule_sets(shipped_dir)

    def matching(key: str, selectors: Iterable[Selector]) -> set[str]:
        ids: set[str] = set()
        for selector in selectors:
            found = {r.id for r in shipped if _selects(selector.text, r, shipped_dir)}
            if not found:
                problems.append(
                    Problem(
                        str(location.config),
                        selector.line,
                        f"shipped_rules/{key}: {selector.text!r} names no shipped rule set, "
                        f"rule id or rule name; the rule sets are {', '.join(sets)}",
                    )
                )
            ids |= found
        return ids

    included = (
        {r.id for r in shipped}
        if location.include is None
        else matching("include", location.include)
    )
    excluded = matching("exclude", location.exclude)
    return [r for r in shipped if r.id in included - excluded], problems


def _selects(text: str, rule: RuleFile, shipped_dir: Path) -> bool:
    folder = rule.path.parent.relative_to(shipped_dir).as_posix()
    name = text.strip("/")
    return text in (rule.id, rule.stem) or folder == name or folder.startswith(f"{name}/")


def _clashes(shipped: list[RuleFile], own: list[RuleFile]) -> list[Problem]:
    by_stem = {rule.stem: rule for rule in shipped}
    by_title = {rule.title: rule for rule in shipped}
    problems: list[Problem] = []
    for rule in own:
        other = by_stem.get(rule.stem)
        if other is not None:
            problems.append(
                Problem(
                    str(rule.path),
                    1,
                    f"the shipped rule {other.path} has this file name: rename this file, or give "
                    f"this rule the shipped rule's id {other.id} to replace it",
                )
            )
        other = by_title.get(rule.title)
        if other is not None:
            problems.append(
                Problem(
                    str(rule.path),
                    rule.located.line_of(("title",)),
                    f"the shipped rule {other.path} has this title: retitle this rule, or give "
                    f"it the shipped rule's id {other.id} to replace it",
                )
            )
    return problems
