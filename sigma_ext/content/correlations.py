"""Sigma correlation rules: loading them, with their base rules, from ``correlations/``.

A correlation file holds its base rules and then one correlation rule, as YAML documents
(sigma-specification v2.1.0, correlation rules). The tuning profile's scalar settings fill the
``'%name%'`` values of the correlation (its timespan and threshold) before the file is parsed;
identity placeholders in the base rules are filled by the conversion pipeline, as for any rule.

The files live apart from ``rules/``: their base rules exist only to be correlated (a pod
deletion is no alert of its own), so the single-rule machinery (check, fixtures, hunt) never sees
them. ``sigma_ext.reference.correlation`` evaluates them; ``sigma_ext.build.correlations``
compiles them per target.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from sigma_ext.content.attack import unknown_tag_message, unknown_tags
from sigma_ext.content.profile import Profile, setting_names
from sigma_ext.problems import Problem
from sigma_ext.sources.catalogue import Source, sources_for_logsource
from sigma_ext.yamlio import SAFE_LOADER

_SETTING = re.compile(r"'%([a-z0-9_]+)%'")


@dataclass(frozen=True)
class CorrelationFile:
    """One correlation rule and the base rules it correlates."""

    path: Path
    text: str

    @property
    def stem(self) -> str:
        return self.path.stem

    @cached_property
    def _documents(self) -> list[Any]:
        """The file's YAML documents, parsed once (``SAFE_LOADER``: what pySigma's
        ``SigmaCollection.from_yaml`` reads with PyYAML's pure-Python safe loader, faster)."""
        return list(yaml.load_all(self.text, Loader=SAFE_LOADER))

    def collection(self) -> SigmaCollection:
        """A fresh collection (pySigma pipelines change the rules they process)."""
        collection = SigmaCollection.from_dicts(copy.deepcopy(self._documents))
        collection.resolve_rule_references()
        return collection

    @cached_property
    def read_only(self) -> SigmaCollection:
        """One collection, parsed once, for what only reads the rules (the correlation, the log
        source); a pipeline processes a fresh ``collection()``."""
        return self.collection()

    def correlation(self, collection: SigmaCollection | None = None) -> SigmaCorrelationRule:
        """The correlation rule of ``collection``; without one, a shared copy to read only."""
        rules = (collection or self.read_only).rules
        [correlation] = [r for r in rules if isinstance(r, SigmaCorrelationRule)]
        return correlation

    def base_rules(self, collection: SigmaCollection | None = None) -> list[SigmaRule]:
        """The base rules of ``collection``, else of a fresh one (a pipeline may change them)."""
        return [r for r in (collection or self.collection()).rules if isinstance(r, SigmaRule)]

    def sources(self) -> tuple[Source, ...]:
        """The sources of the base rules' log source (all base rules share one)."""
        [first, *_] = self.base_rules(self.read_only)
        return sources_for_logsource(first.logsource.product, first.logsource.service)

    @property
    def theme(self) -> str:
        return str(self.correlation().custom_attributes.get("theme", ""))


def fill_settings(text: str, profile: Profile) -> tuple[str, list[str]]:
    """The text with each ``'%setting%'`` replaced by the profile's value; settings it lacks."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in setting_names():
            return match.group(0)  # an identity list: the conversion pipeline fills it
        if name not in profile.settings:
            missing.append(name)
            return match.group(0)
        return profile.settings[name]

    return _SETTING.sub(value, text), missing


def _unknown_tag_problems(path: Path, text: str, collection: SigmaCollection) -> list[Problem]:
    """A problem for each ATT&CK tag of any rule of the file that ``attack.json`` lacks, at each
    line that names it (pySigma keeps no lines)."""
    tags = sorted({str(t) for rule in collection.rules for t in rule.tags})
    problems = []
    for tag in unknown_tags(tags):
        line = re.compile(rf"^\s*-\s*['\"]?{re.escape(tag)}['\"]?\s*(?:#.*)?$", re.IGNORECASE)
        numbers = [n for n, t in enumerate(text.splitlines(), start=1) if line.match(t)] or [1]
        problems += [Problem(str(path), n, unknown_tag_message(tag)) for n in numbers]
    return problems


def load_correlations(root: Path, profile: Profile) -> tuple[list[CorrelationFile], list[Problem]]:
    """Every ``correlations/**/*.yml`` file that parses, and a problem for each that does not."""
    files: list[CorrelationFile] = []
    problems: list[Problem] = []
    for path in sorted((root / "correlations").rglob("*.yml")):
        text, missing = fill_settings(path.read_text(encoding="utf-8"), profile)
        if missing:
            problems.extend(
                Problem(str(path), 1, f"the profile {profile.path} has no setting {name!r}")
                for name in missing
            )
            continue
        candidate = CorrelationFile(path, text)
        try:
            collection = candidate.read_only
            correlations = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
            if len(correlations) != 1:
                raise SigmaError("a correlation file holds exactly one correlation rule")
            if not candidate.sources():
                raise SigmaError("the base rules' log source is served by no source")
        except (SigmaError, ValueError) as error:
            problems.append(Problem(str(path), 1, f"invalid correlation file: {error}"))
            continue
        unknown = _unknown_tag_problems(path, text, collection)
        problems.extend(unknown)
        if not unknown:
            files.append(candidate)
    return files, problems
