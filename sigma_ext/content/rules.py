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
``needed_fields``
    the fields (as the rule names them) an event must carry for the rule to fire on it: the
    rule still fires on each of its positive fixtures with every other field removed, and each
    is a field the rule reads (tests/test_needed_fields.py). Fields a rule only excludes with
    (``stage``, ``requestURI``, ...) are not needed: an export that drops them leaves the rule
    working.

Everything found wrong is returned as ``Problem`` values with file and line; nothing stops at
the first broken rule.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from sigma.conditions import ConditionSelector
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.modifiers import modifier_mapping
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import Placeholder, SigmaString

from sigma_ext.condition_tree import Fold, conjuncts, fold, negated_detection
from sigma_ext.content.attack import unknown_tag_message, unknown_tags
from sigma_ext.problems import Problem, did_you_mean
from sigma_ext.sources.catalogue import SOURCES, source_for_logsource
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
    "needed_fields",
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
    "needed_fields",
)
_REQUIRED_HINTS = {
    "theme": f" (one of {', '.join(THEMES)})",
    "id": " (a new random UUID, for example from `python -c 'import uuid; print(uuid.uuid4())'`)",
    "date": " (YYYY-MM-DD)",
    "level": " (informational, low, medium, high or critical)",
    "needed_fields": " (the fields, as the rule names them, an event must carry for it to fire)",
}
_DETECTION_NAME = re.compile(r"^(selection|filter_main|filter_optional)(_[a-z0-9]+)*$")


@lru_cache(maxsize=4096)
def _stem(path: Path) -> str:
    return path.stem


@dataclass(frozen=True)
class RuleFile:
    """One rule file, parsed, with the attributes the tools read."""

    path: Path
    data: dict[str, Any]
    located: Located

    @property
    def stem(self) -> str:
        return _stem(self.path)  # (read for every hit a hunt prints)

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
    def needed_fields(self) -> tuple[str, ...]:
        return tuple(str(field) for field in self.data.get("needed_fields") or ())

    @property
    def product(self) -> str | None:
        value = self.data.get("logsource", {}).get("product")
        return None if value is None else str(value)

    @property
    def service(self) -> str | None:
        value = self.data.get("logsource", {}).get("service")
        return None if value is None else str(value)

    @cached_property
    def parsed(self) -> SigmaRule:
        """The rule parsed once, for what only reads it (the checks, its placeholders); a
        pipeline gets ``fresh()``."""
        return self.fresh()

    def take_parsed(self) -> SigmaRule:
        """The rule ``parsed`` holds, handed over to a pipeline (which changes it): a later
        ``parsed`` parses the rule again. It saves a parse where a rule is parsed for its checks
        and then once for a pipeline (the native compile of a rule with one source)."""
        taken = self.__dict__.pop("parsed", None)
        return taken if isinstance(taken, SigmaRule) else self.fresh()

    def fresh(self, condition: str | None = None) -> SigmaRule:
        """A new SigmaRule object (pySigma pipelines mutate the rules they process),
        optionally with another condition."""
        data = copy.deepcopy(self.data)
        for key in ("theme", "match_every_element", "needed_fields"):
            data.pop(key, None)
        if condition is not None:
            data["detection"]["condition"] = condition
        rule = SigmaRule.from_dict(data, source=SigmaRuleLocation(self.path))
        rule.custom_attributes["theme"] = self.theme
        rule.custom_attributes["match_every_element"] = list(self.every_element)
        return rule

    def detection_items(self) -> Iterator[tuple[str, int, tuple[str | int, ...], dict[Any, Any]]]:
        """(detection name, index in its list or -1, YAML path, item) for every mapping of
        ``field|modifier`` keys in the detections, in file order."""
        detection = self.data.get("detection")
        if not isinstance(detection, dict):
            return
        for name, body in detection.items():
            if name == "condition":
                continue
            items = body if isinstance(body, list) else [body]
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                place = index if isinstance(body, list) else -1
                here = ("detection", name, *(() if place < 0 else (place,)))
                yield str(name), place, here, item

    def detection_keys(self) -> Iterable[tuple[str, int]]:
        """Every ``field|modifier`` key of every detection, with its line, in file order."""
        for _, _, here, item in self.detection_items():
            for key in item:
                yield str(key), self.located.line_of((*here, key))

    def value_lines(self, holds: str) -> list[tuple[str, int]]:
        """Each detection key with a string value holding ``holds``, and that value's line."""
        found: list[tuple[str, int]] = []
        for _, _, here, item in self.detection_items():
            for key, value in item.items():
                values = value if isinstance(value, list) else [value]
                for number, one in enumerate(values):
                    if isinstance(one, str) and holds in one:
                        where = (*here, key, number) if isinstance(value, list) else (*here, key)
                        found.append((str(key), self.located.line_of(where)))
        return found

    def field_lines(self) -> dict[str, int]:
        """Each field the detections test, with the line of its first use."""
        lines: dict[str, int] = {}
        for key, line in self.detection_keys():
            lines.setdefault(key.split("|", 1)[0], line)
        return lines

    def placeholders(self) -> set[str]:
        """Names of the %placeholders% the rule's detections use."""
        return set(_placeholders_in(self.parsed.detection.detections.values()))


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
        Problem(path, 1, f"missing required attribute {key!r}{_REQUIRED_HINTS.get(key, '')}")
        for key in REQUIRED
        if key not in data
    ]
    if problems:
        return problems
    tags = data["tags"]
    problems += [
        Problem(path, located.line_of(("tags", index)), unknown_tag_message(unknown))
        for index, tag in enumerate(tags if isinstance(tags, list) else [])
        for unknown in unknown_tags([str(tag)])
    ]
    item_problems: list[Problem] = []
    try:
        rule = rule_file.parsed
    except SigmaError as error:
        # the rule parses whole when every detection key does: only a rule that does not is
        # searched key by key, for every key pySigma refuses, each at its line
        item_problems, bad_keys = _item_problems(rule_file)
        if not bad_keys:
            return [*problems, _at_detection(rule_file, error)]
        try:
            rule = _without(rule_file, bad_keys).fresh()
        except SigmaError:
            return problems + item_problems
    condition_problems = _condition_problems(rule_file, rule)
    problems.extend(item_problems + condition_problems)
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
                "no source of this project serves this logsource: use one of "
                + ", ".join(_served_logsources()),
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
    if not condition_problems:
        problems.extend(_check_every_element(rule_file, rule))
        problems.extend(_check_needed_fields(rule_file, rule))
    return problems


def _served_logsources() -> list[str]:
    """Every log source a rule may declare, as it is written in the rule."""
    return sorted({f"product: {s.product}, service: {s.service}" for s in SOURCES})


def _check_needed_fields(rule_file: RuleFile, rule: SigmaRule) -> list[Problem]:
    """``needed_fields`` is a non-empty list of field names (that each is a field the rule
    reads is a test: tests/test_needed_fields.py)."""
    path, located = str(rule_file.path), rule_file.located
    listed = rule_file.data.get("needed_fields")
    if (
        isinstance(listed, list)
        and listed
        and all(isinstance(field, str) and field for field in listed)
    ):
        return []
    line = located.line_of(("needed_fields",))
    return [Problem(path, line, "needed_fields must be a list of the fields the rule reads")]


def _item_problems(rule_file: RuleFile) -> tuple[list[Problem], set[tuple[str, int, str]]]:
    """A problem at the line of every detection key pySigma refuses (an unknown modifier, modifiers
    that do not go together, a value the modifiers cannot take), and those keys, as
    (detection, index in its list or -1, key)."""
    problems: list[Problem] = []
    bad: set[tuple[str, int, str]] = set()
    for name, place, at, item in rule_file.detection_items():
        for key, value in item.items():
            try:
                SigmaDetectionItem.from_mapping(key, value)
            except SigmaError as error:
                bad.add((name, place, key))
                problems.append(
                    Problem(
                        str(rule_file.path),
                        rule_file.located.line_of((*at, key)),
                        f"{name}: {key}: {_message(error)}{_modifier_hint(error)}",
                    )
                )
    return problems, bad


def _without(rule_file: RuleFile, bad_keys: set[tuple[str, int, str]]) -> RuleFile:
    """The rule with the refused detection keys left out (a detection left empty tests a
    field that no event has), so that its condition can still be checked."""
    data = copy.deepcopy(rule_file.data)
    for name, place, key in bad_keys:
        body = data["detection"][name]
        item = body[place] if place >= 0 else body
        item.pop(key, None)
        if not item:
            item["sigma_ext_left_out"] = None
    return RuleFile(rule_file.path, data, rule_file.located)


def _condition_problems(rule_file: RuleFile, rule: SigmaRule) -> list[Problem]:
    """A problem at the line of every condition pySigma cannot parse."""
    problems: list[Problem] = []
    conditions = rule_file.data["detection"].get("condition")
    for index, condition in enumerate(rule.detection.parsed_condition):
        try:
            condition.parsed  # noqa: B018 - parsing is the check
        except SigmaError as error:
            here = ("detection", "condition", *((index,) if isinstance(conditions, list) else ()))
            problems.append(
                Problem(
                    str(rule_file.path),
                    rule_file.located.line_of(here),
                    f"condition: {_message(error)}",
                )
            )
    return problems


def _at_detection(rule_file: RuleFile, error: SigmaError) -> Problem:
    problem = Problem.from_sigma_error(rule_file.path, error)
    if problem.line:
        return problem
    return Problem(problem.path, rule_file.located.line_of(("detection",)), problem.message)


def _message(error: SigmaError) -> str:
    return str(error.args[0]) if error.args else type(error).__name__


_UNKNOWN_MODIFIER = re.compile(r"^Unknown modifier '([^']*)'$")


def _modifier_hint(error: SigmaError) -> str:
    """``; did you mean 'contains'?`` for an unknown modifier spelt close to one pySigma knows."""
    found = _UNKNOWN_MODIFIER.match(_message(error))
    return "" if found is None else did_you_mean(found.group(1), modifier_mapping, 0.75)


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
        for arg in conjuncts(parsed):
            negated = negated_detection(arg)
            if negated is not None:
                top_level_negated.add(negated)
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


def _count_references(node: Any, name: str) -> int:
    """How often the parsed condition names the detection; a quantifier whose pattern
    (``1 of filter_*``) selects it counts twice, so that it never passes for once."""

    def selects(selector: ConditionSelector) -> int:
        pattern = ".*".join(re.escape(part) for part in str(selector.pattern).split("*"))
        return 2 if re.fullmatch(pattern, name) else 0

    return fold(
        node,
        Fold[int](
            all_of=sum,
            any_of=sum,
            negate=lambda count: count,
            identifier=lambda identifier: int(identifier == name),
            selector=selects,
            other=lambda _: 0,
        ),
    )


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
