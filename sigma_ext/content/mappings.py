"""The YAML processing pipelines in ``mappings/``, one per target and source.

``mappings/<target>/<source>.yml`` is a plain pySigma pipeline (it works with
``sigma convert -p``). Here it is loaded, checked, and joined with the tuning profile's
placeholder items into the pipeline a conversion runs.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import SetStateTransformation
from sigma.rule import SigmaRule

from sigma_ext.content import gke_method
from sigma_ext.content.placeholders import identity_vars, profile_processing_items
from sigma_ext.content.profile import Profile
from sigma_ext.content.rules import RuleFile
from sigma_ext.problems import Problem, did_you_mean
from sigma_ext.sources.catalogue import SOURCES, Source
from sigma_ext.yamlio import YAMLProblem, load_located


@dataclass(frozen=True)
class Mapping:
    """One mapping file, read and checked."""

    path: Path
    data: dict[str, Any]

    def pipeline(self) -> ProcessingPipeline:
        """A fresh pipeline object (pySigma pipelines keep state between conversions).

        The file is parsed into pipeline items once; each pipeline holds those same items, as a
        pySigma backend applies the same items to every rule it converts. An item writes its
        state into one pipeline, the one made last (``ProcessingPipeline.__add__`` detaches and
        re-attaches them so); a pipeline made here takes them back whenever it is applied.
        """
        parsed = self._parsed
        fresh = _OwnItems() + parsed  # ``+`` detaches the items from the last pipeline
        fresh.name, fresh.priority = parsed.name, parsed.priority
        fresh.allowed_backends = parsed.allowed_backends
        return fresh

    @cached_property
    def _parsed(self) -> ProcessingPipeline:
        return _pipeline(self.path, self.data)

    @cached_property
    def _placeholders(self) -> dict[int, tuple[Profile, ProcessingPipeline]]:
        """The profile items of ``conversion_pipeline`` per profile (by identity), made once
        for this mapping: like its own items, they go only into this mapping's pipelines."""
        return {}

    def known_fields(self) -> set[str]:
        """The fields the fail-closed item accepts."""
        for item in self.data.get("transformations", []):
            if item.get("type") == "detection_item_failure":
                for condition in item.get("field_name_conditions", []):
                    if condition.get("type") == "exclude_fields":
                        return set(condition["fields"])
        return set()


class _OwnItems(ProcessingPipeline):
    """A pipeline whose items, shared with the other pipelines of its mapping, are attached to
    it again each time it is applied (an item keeps the state it sets in its pipeline)."""

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> SigmaRule | SigmaCorrelationRule:
        self._clear_pipeline()
        self.set_pipeline()
        return super().apply(rule)


def _pipeline(path: Path, data: Any) -> ProcessingPipeline:
    """What ``ProcessingPipeline.from_yaml(text, source_path=path)`` gives, from data already
    parsed: template vars may only come from the mapping's own directory."""
    gke_method.register()
    if not isinstance(data, dict):
        raise TypeError(f"a pipeline is a mapping, not {type(data).__name__}")
    return _OwnItems.from_dict(
        copy.deepcopy(data), vars_allowed_paths=(str(path.resolve().parent),)
    )


def mapping_path(root: Path, target_dir: str, source: Source) -> Path:
    return root / "mappings" / target_dir / f"{source.name}.yml"


def load_mappings(
    root: Path, target_dirs: list[str], overrides: Path | None = None
) -> tuple[dict[tuple[str, str], Mapping], list[Problem]]:
    """Every mapping file for every target and source, with every problem found.

    ``overrides`` (a content repository's mapping folder) holds ``<target>/<source>.yml`` files
    that replace the one under ``root``; any other file there is a problem.
    """
    mappings: dict[tuple[str, str], Mapping] = {}
    problems: list[Problem] = [] if overrides is None else stray_overrides(overrides, target_dirs)
    for target_dir in target_dirs:
        for source in SOURCES:
            path = mapping_path(root, target_dir, source)
            if overrides is not None:
                override = overrides / target_dir / f"{source.name}.yml"
                path = override if override.is_file() else path
            if not path.exists():
                problems.append(
                    Problem(
                        str(path),
                        None,
                        f"missing mapping for target {target_dir}, source {source.name}",
                    )
                )
                continue
            try:
                located = load_located(path)
                mapping = Mapping(path, located.data)
                mapping._parsed  # noqa: B018 - parsing is the check (and the one parse)
            except YAMLProblem as error:
                problems.append(error.problem)
                continue
            except (SigmaError, TypeError, KeyError, ValueError) as error:
                problems.append(Problem(str(path), None, f"invalid pySigma pipeline: {error}"))
                continue
            if not mapping.known_fields():
                problems.append(
                    Problem(
                        str(path),
                        1,
                        "no fail-closed detection_item_failure item with exclude_fields: "
                        "unknown fields would pass silently",
                    )
                )
            mappings[(target_dir, source.name)] = mapping
    return mappings, problems


# Pipeline state that sigma-ext sets and plain pySigma does not: a mapping whose rules need what
# only sigma-ext does (the ES|QL prelude after FROM) fails loudly without it (rule condition
# ``processing_state`` on this key, negated).
SIGMA_EXT_STATE = "sigma_ext_build"


def stray_overrides(overrides: Path, target_dirs: list[str]) -> list[Problem]:
    """Files in a mapping override folder that replace no mapping, each with how to name one."""
    known = {Path(t, f"{s.name}.yml") for t in target_dirs for s in SOURCES}
    return [
        Problem(
            str(path),
            None,
            "replaces no mapping: name an override <target>/<source>.yml with target one of "
            f"{', '.join(target_dirs)} and source one of {', '.join(s.name for s in SOURCES)}",
        )
        for path in sorted(overrides.rglob("*.yml"))
        if path.relative_to(overrides) not in known
    ]


def conversion_pipeline(mapping: Mapping, profile: Profile) -> ProcessingPipeline:
    """Profile placeholders first, then the mapping file: a new pipeline of the items made
    once per mapping and profile, which it takes back when it is applied (``Mapping.pipeline``)."""
    made = mapping._placeholders.get(id(profile))
    if made is None:
        marker = ProcessingItem(
            SetStateTransformation(SIGMA_EXT_STATE, True), identifier=SIGMA_EXT_STATE
        )
        placeholders = _OwnItems(
            items=[marker, *profile_processing_items(profile)],
            vars=identity_vars(profile),
            name="sigma_ext_profile",
        )
        made = mapping._placeholders[id(profile)] = (profile, placeholders)
    return made[1] + mapping._parsed


def compile_problems(
    rule_file: RuleFile, mapping: Mapping, where: str, message: str
) -> list[Problem]:
    """A compile error as problems with lines: one per field of the rule that ``mapping``'s
    fail-closed item does not accept, named and at its line; else one at the detection."""
    known = mapping.known_fields()
    unknown = [
        (field, line) for field, line in rule_file.field_lines().items() if field not in known
    ]
    if not unknown or not known:
        values = _values_at_fault(rule_file, message)
        if values:
            return [
                Problem(str(rule_file.path), line, f"{where}: {key}: {message}")
                for key, line in values
            ]
        line = rule_file.located.line_of(("detection",))
        return [Problem(str(rule_file.path), line, f"{where}: {message}")]
    # a field the mapping knows, spelt almost the same, is a typo in the rule, not one to map
    return [
        Problem(
            str(rule_file.path),
            line,
            f"{where}: {_naming(field, message)}{did_you_mean(field, known, 0.85)}",
        )
        for field, line in unknown
    ]


_HOLDS = re.compile(r"a value holds (?:the control character U\+([0-9A-F]{4,6})|a (backtick))")


def _values_at_fault(rule_file: RuleFile, message: str) -> list[tuple[str, int]]:
    """The detection values a quoting error names (``build.quoting``: a control character or a
    backtick), with their lines."""
    match = _HOLDS.search(message)
    if match is None:
        return []
    character = chr(int(match.group(1), 16)) if match.group(1) else "`"
    return rule_file.value_lines(character)


def _naming(field: str, message: str) -> str:
    """The message with the field's name: ``field is not mapped`` -> ``field 'x' is not mapped``."""
    if message.startswith("field "):
        return f"field {field!r} {message.removeprefix('field ')}"
    return f"field {field!r}: {message}"


def state_value(mapping: Mapping, key: str) -> str | None:
    """The value a ``set_state`` item of the mapping sets (such as the Elastic index)."""
    for item in mapping.data.get("transformations", []):
        if item.get("type") == "set_state" and item.get("key") == key:
            return str(item["val"])
    return None
