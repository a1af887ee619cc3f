"""Tuning profiles: the environment's allowlists, kept out of the rules.

A profile is a YAML mapping from list name to entries. Each list fills the rule placeholder of
the same name (``%k8s_pipeline_identities%``). The JSON Schema in ``data/profile.schema.json``
declares every list, its type and its kind (``x-kind``): ``identity`` lists compare exactly (a
``*`` is a glob the author wrote), ``registry`` lists are parsed image-registry names. No entry of
either kind may hold a control character (tab, line break, ...): Lucene would cut it into words.
A few scalar settings (``x-setting``: correlation windows and thresholds) fill the ``%name%``
placeholders of the correlation rules (``sigma_ext.content.correlations``).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sigma_ext.content.schema_check import surely_valid
from sigma_ext.problems import Problem, ProblemsFound
from sigma_ext.sources.catalogue import SOURCES
from sigma_ext.yamlio import Located, YAMLProblem, load_located

if TYPE_CHECKING:
    import jsonschema

ListKind = Literal["identity", "registry"]

DEFAULT_PROFILE = Path("profiles/example.yml")
DEFAULT_GAP_WINDOW = "2h"
DEFAULT_GAP_EVERY = "15m"
GAP_SETTINGS = frozenset({"default", "every"})
# Throttle period when the profile has no alert_throttle (docs/packages.md).
DEFAULT_THROTTLE = "1h"


@cache
def profile_schema() -> dict[str, Any]:
    """The profile JSON Schema shipped with the package."""
    text = (files("sigma_ext") / "data" / "profile.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def list_kinds() -> dict[str, ListKind]:
    """Every list the schema knows, with its kind."""
    return dict(_list_kinds())


@cache
def _list_kinds() -> dict[str, ListKind]:
    return {
        name: spec["x-kind"]
        for name, spec in profile_schema()["properties"].items()
        if "x-kind" in spec
    }


def setting_names() -> tuple[str, ...]:
    """Every scalar setting the schema knows."""
    return tuple(
        name for name, spec in profile_schema()["properties"].items() if spec.get("x-setting")
    )


@dataclass(frozen=True)
class Profile:
    """A validated tuning profile."""

    path: Path
    lists: dict[str, tuple[str, ...]]
    throttle: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)

    def throttle_period(self, theme: str) -> str:
        """How long an alert silences the same creator and object (``30m``, ``1h``)."""
        return self.throttle.get(theme, self.throttle.get("default", DEFAULT_THROTTLE))

    # telemetry_gap: source name (or "default", "every") -> duration such as "2h"
    telemetry_gap: dict[str, str] = field(default_factory=dict)

    def gap_window(self, source: str) -> str:
        """How long ``source`` may stay without a creation event before its gap alert fires."""
        return self.telemetry_gap.get(source, self.telemetry_gap.get("default", DEFAULT_GAP_WINDOW))

    @property
    def gap_every(self) -> str:
        """How often the gap alerts run."""
        return self.telemetry_gap.get("every", DEFAULT_GAP_EVERY)

    def kind(self, name: str) -> ListKind:
        return _list_kinds()[name]

    def as_vars(self) -> dict[str, list[str]]:
        """The identity lists as pySigma pipeline ``vars``."""
        return {
            name: list(values)
            for name, values in self.lists.items()
            if self.kind(name) == "identity"
        }


def load_profile(path: Path) -> Profile:
    """Load and validate a profile; every schema violation is reported with its line."""
    try:
        located = load_located(path)
    except YAMLProblem as error:
        raise ProblemsFound([error.problem]) from error
    problems: list[Problem] = []
    if not surely_valid(located.data, profile_schema()):
        problems += _schema_problems(path, located)
    data: dict[str, Any] = located.data
    gaps = data.get("telemetry_gap", {}) if isinstance(data, dict) else {}
    if isinstance(gaps, dict):
        known = {source.name for source in SOURCES} | GAP_SETTINGS
        problems.extend(
            Problem(
                str(path),
                located.line_of(("telemetry_gap", key)),
                f"telemetry_gap: {key!r} is not a source name (sigma-ext sources table), "
                "'default' or 'every'",
            )
            for key in gaps
            if key not in known
        )
    if problems:
        raise ProblemsFound(problems)
    lists = {
        name: tuple(str(v) for v in values) for name, values in data.items() if name in list_kinds()
    }
    throttle = {str(k): str(v) for k, v in data.get("alert_throttle", {}).items()}
    telemetry_gap = {str(k): str(v) for k, v in gaps.items()}
    settings = {name: str(data[name]) for name in setting_names() if name in data}
    return Profile(path, lists, throttle, settings=settings, telemetry_gap=telemetry_gap)


def _schema_problems(path: Path, located: Located) -> list[Problem]:
    """Every violation of the profile schema, with its line (``jsonschema`` names them)."""
    import jsonschema  # only for a profile the quick check is not sure of (schema_check)

    problems: list[Problem] = []
    validator = jsonschema.Draft202012Validator(profile_schema())
    for violation in validator.iter_errors(located.data):
        if violation.validator == "additionalProperties" and isinstance(violation.instance, dict):
            allowed = set(violation.schema.get("properties", {}))
            problems.extend(
                Problem(
                    str(path),
                    located.line_of((*violation.absolute_path, key)),
                    f"unknown key in tuning profile: {key!r}",
                )
                for key in violation.instance
                if key not in allowed
            )
            continue
        problems.append(
            Problem(
                str(path), located.line_of(tuple(violation.absolute_path)), _describe(violation)
            )
        )
    return problems


def _first_control(text: str) -> str | None:
    """The first control character (Unicode category Cc) or line separator in ``text``."""
    return next((c for c in text if unicodedata.category(c) == "Cc" or c in "\u2028\u2029"), None)


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "profile"
    if error.validator == "pattern":
        control = _first_control(str(error.instance))
        if control is not None:
            return (
                f"{where}: {error.instance!r} holds the control character U+{ord(control):04X}, "
                "which no entry may hold (it would cut or rewrite the value in a query)"
            )
        hint = (
            error.schema.get("$comment", "see the schema") if isinstance(error.schema, dict) else ""
        )
        return f"{where}: {error.instance!r} is not a valid entry ({hint})"
    return f"{where}: {error.message}"
