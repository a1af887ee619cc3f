"""Loading the rule corpus and checking it against the project's conventions.

A rule is a SigmaHQ-style Sigma rule plus two top-level attributes that tools read:

``theme``
    one of ``unauthorized-creator``, ``unusual-registry``, ``off-pipeline``, ``risky-spec``,
    ``visibility``.
``match_every_element`` (optional)
    names of detections that match only when *every* element of their (multi-valued) field
    matches, so that ``not <detection>`` means "some element does not match". Plain Sigma can
    only say "no element matches"; see docs/extensions.md. Such a detection tests one field and
    stands in the condition only as a top-level ``and not <name>``.

Everything found wrong is returned as ``Problem`` values with file and line; nothing stops at
the first broken rule.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sigma.conditions import ConditionAND, ConditionIdentifier, ConditionItem, ConditionNOT
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import Placeholder, SigmaString

from sigma_ext.problems import Problem
from sigma_ext.sources.catalogue import source_for_logsource
from sigma_ext.yamlio import Located, YAMLProblem, load_located

THEMES = (
    "unauthorized-creator",
    "unusual-registry",
    "off-pipeline",
    "risky-spec",
    "visibility",
)

# SigmaHQ's field order, then this project's attributes.
FIELD_ORDER = (
    "title",
    "id",
    "related",
    "status",
    "description",
    "references",
    "author",
    "date",
    "modified",
    "tags",
    "logsource",
    "detection",
    "fields",
    "falsepositives",
    "level",
    "theme",
    "match_every_element",
)
REQUIRED = (
    "title",
    "id",
    "status",
    "description",
    "references",
    "author",
    "date",
    "tags",
    "logsource",
    "detection",
    "falsepositives",
    "level",
    "theme",
)
_DETECTION_NAME = re.compile(r"^(selection|filter_main|filter_optional)(_[a-z0-9]+)*$")


@dataclass(frozen=True)
class RuleFile:
    """One rule file, parsed, with the attributes the tools read."""

    path: Path
    data: dict[str, Any]
    located: Located

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def title(self) -> str:
        return str(self.data["title"])

    @property
    def level(self) -> str:
        return str(self.data.get("level", ""))

    @property
    def theme(self) -> str:
        return str(self.data.get("theme", ""))

    @property
    def every_element(self) -> tuple[str, ...]:
        return tuple(self.data.get("match_every_element") or ())

    @property
    def product(self) -> str | None:
        value = self.data.get("logsource", {}).get("product")
        return None if value is None else str(value)

    @property
    def service(self) -> str | None:
        value = self.data.get("logsource", {}).get("service")
        return None if value is None else str(value)

    def fresh(self, condition: str | None = None) -> SigmaRule:
        """A new SigmaRule object (pySigma pipelines mutate the rules they process),
        optionally with another condition."""
        data = copy.deepcopy(self.data)
        for key in ("theme", "match_every_element"):
            data.pop(key, None)
        if condition is not None:
            data["detection"]["condition"] = condition
        rule = SigmaRule.from_dict(data, source=SigmaRuleLocation(self.path))
        rule.custom_attributes["theme"] = self.theme
        rule.custom_attributes["match_every_element"] = list(self.every_element)
        return rule

    def placeholders(self) -> set[str]:
        """Names of the %placeholders% the rule's detections use."""
        return set(_placeholders_in(self.fresh().detection.detections.values()))


def _placeholders_in(items: Iterable[SigmaDetection | SigmaDetectionItem]) -> Iterable[str]:
    for item in items:
        if isinstance(item, SigmaDetection):
            yield from _placeholders_in(item.detection_items)
            continue
        for value in item.value:
            if isinstance(value, SigmaString):
                yield from (p.name for p in value.s if isinstance(p, Placeholder))


def rule_paths(roots: Iterable[Path]) -> list[Path]:
    paths: list[Path] = []
    for root in roots:
        paths.extend(sorted(root.rglob("*.yml")) if root.is_dir() else [root])
    return sorted(paths)


def load_rules(roots: Iterable[Path]) -> tuple[list[RuleFile], list[Problem]]:
    """Load every rule under the roots, returning the good ones and every problem found."""
    rules: list[RuleFile] = []
    problems: list[Problem] = []
    for path in rule_paths(roots):
        try:
            located = load_located(path)
        except YAMLProblem as error:
            problems.append(error.problem)
            continue
        if not isinstance(located.data, dict):
            problems.append(Problem(str(path), 1, "a rule file must hold one YAML mapping"))
            continue
        rule_file = RuleFile(path, located.data, located)
        found = check_rule(rule_file)
        problems.extend(found)
        if not found:
            rules.append(rule_file)
    problems.extend(_check_corpus(rules))
    return rules, sorted(problems)


def check_rule(rule_file: RuleFile) -> list[Problem]:
    """Every convention the rule breaks."""
    path, data, located = str(rule_file.path), rule_file.data, rule_file.located
    problems = [
        Problem(path, 1, f"missing required attribute {key!r}")
        for key in REQUIRED
        if key not in data
    ]
    if problems:
        return problems
    try:
        rule = rule_file.fresh()
        for condition in rule.detection.parsed_condition:
            condition.parsed  # noqa: B018 - parsing is the check
    except SigmaError as error:
        problem = Problem.from_sigma_error(path, error)
        return [
            problem
            if problem.line
            else Problem(path, located.line_of(("detection",)), problem.message)
        ]
    known = [k for k in data if k in FIELD_ORDER]
    if known != sorted(known, key=FIELD_ORDER.index):
        problems.append(
            Problem(
                path,
                1,
                "attributes out of SigmaHQ order: expected "
                + ", ".join(sorted(known, key=FIELD_ORDER.index)),
            )
        )
    if rule_file.theme not in THEMES:
        problems.append(
            Problem(path, located.line_of(("theme",)), f"theme must be one of {', '.join(THEMES)}")
        )
    if not isinstance(data["date"], (date, str)):
        problems.append(Problem(path, located.line_of(("date",)), "date must be YYYY-MM-DD"))
    source = source_for_logsource(rule_file.product, rule_file.service)
    if source is None:
        problems.append(
            Problem(
                path,
                located.line_of(("logsource",)),
                "no source of this project serves this logsource",
            )
        )
    elif not rule_file.stem.startswith(f"{source.name}_"):
        problems.append(
            Problem(path, 1, f"file name must start with {source.name}_ (SigmaHQ convention)")
        )
    for name in data["detection"]:
        if name != "condition" and not _DETECTION_NAME.match(name):
            problems.append(
                Problem(
                    path,
                    located.line_of(("detection", name)),
                    f"detection name {name!r} is not selection_*, filter_main_* "
                    "or filter_optional_*",
                )
            )
    problems.extend(_check_every_element(rule_file, rule))
    return problems


def _check_every_element(rule_file: RuleFile, rule: SigmaRule) -> list[Problem]:
    path, located = str(rule_file.path), rule_file.located
    problems: list[Problem] = []
    names = rule_file.every_element
    if not names:
        return problems
    line = located.line_of(("match_every_element",))
    top_level_negated = set()
    for condition in rule.detection.parsed_condition:
        parsed = condition.parse(postprocess=False)
        args = parsed.args if isinstance(parsed, ConditionAND) else [parsed]
        for arg in args:
            if isinstance(arg, ConditionNOT) and isinstance(arg.args[0], ConditionIdentifier):
                top_level_negated.add(arg.args[0].identifier)
        for name in names:
            if _count_references(parsed, name) != 1:
                problems.append(
                    Problem(
                        path,
                        line,
                        f"{name!r} must appear exactly once in the condition, as 'and not {name}'",
                    )
                )
    for name in names:
        detection = rule.detection.detections.get(name)
        if detection is None:
            problems.append(
                Problem(path, line, f"match_every_element names unknown detection {name!r}")
            )
            continue
        if name not in top_level_negated:
            problems.append(
                Problem(
                    path,
                    line,
                    f"{name!r} may only stand in the condition as a top-level 'and not {name}'",
                )
            )
        fields = {item.field for item in _leaf_items(detection)}
        if len(fields) != 1 or None in fields:
            problems.append(
                Problem(
                    path,
                    located.line_of(("detection", name)),
                    f"{name!r} must test exactly one field "
                    f"(it tests {sorted(str(f) for f in fields)})",
                )
            )
    return problems


def _count_references(node: ConditionItem | Any, name: str) -> int:
    if isinstance(node, ConditionIdentifier):
        return int(node.identifier == name)
    if isinstance(node, ConditionItem):
        return sum(_count_references(arg, name) for arg in node.args)
    # selectors ("1 of filter_*") may match the name too
    pattern = getattr(node, "pattern", None)
    if pattern is not None and re.fullmatch(pattern.replace("*", ".*"), name):
        return 2
    return 0


def _leaf_items(detection: SigmaDetection) -> Iterable[SigmaDetectionItem]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _leaf_items(item)
        else:
            yield item


def _check_corpus(rules: list[RuleFile]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, RuleFile] = {}
    for rule_file in rules:
        for key in ("id", "title"):
            value = f"{key}:{rule_file.data[key]}"
            if value in seen:
                problems.append(
                    Problem(
                        str(rule_file.path),
                        rule_file.located.line_of((key,)),
                        f"duplicate {key}, also in {seen[value].path}",
                    )
                )
            seen[value] = rule_file
    return problems
