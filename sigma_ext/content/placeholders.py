"""Filling rule placeholders from a tuning profile, inside pySigma's processing pipeline.

Identity lists go through pySigma's own ``value_placeholders`` (a ``*`` the author wrote is a
glob; nothing else is). Registry lists go through ``RegistryPlaceholderTransformation``, which
replaces ``%approved_registries%`` with the patterns of ``sigma_ext.content.image_refs`` so that an
approved host never approves a longer host or a path that merely contains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sigma.exceptions import SigmaValueError
from sigma.processing.pipeline import ProcessingItem
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.processing.transformations.base import ValueTransformation
from sigma.types import Placeholder, SigmaString, SigmaType

from sigma_ext.content.image_refs import registry_patterns
from sigma_ext.content.profile import Profile


@dataclass
class RegistryPlaceholderTransformation(ValueTransformation):
    """Replace a value that is exactly one registry-list placeholder with its patterns."""

    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def apply_value(self, field: str | None, val: SigmaType) -> list[SigmaType] | None:
        # ``val.contains_placeholder(include=list(self.lists))``, without a list per value: this
        # runs on every value of every rule a pipeline processes
        if not isinstance(val, SigmaString) or not any(
            isinstance(part, Placeholder) and part.name in self.lists for part in val.s
        ):
            return None
        if len(val.s) != 1 or not isinstance(val.s[0], Placeholder):
            raise SigmaValueError(
                "a registry list placeholder must be the whole value, not part of a string"
            )
        entries = self.lists[val.s[0].name]
        patterns: list[SigmaType] = []
        for entry in entries:
            patterns.extend(registry_patterns(entry))
        if not patterns:
            raise SigmaValueError(f"registry list {val.s[0].name!r} is empty")
        return patterns


def profile_processing_items(profile: Profile) -> list[ProcessingItem]:
    """The items that fill every placeholder the profile knows."""
    registry_lists = {
        name: values for name, values in profile.lists.items() if profile.kind(name) == "registry"
    }
    return [
        ProcessingItem(
            RegistryPlaceholderTransformation(lists=registry_lists),
            identifier="sigma_ext_registry_placeholders",
        ),
        ProcessingItem(
            ValueListPlaceholderTransformation(include=sorted(profile.as_vars())),
            identifier="sigma_ext_identity_placeholders",
        ),
    ]


def identity_vars(profile: Profile) -> dict[str, list[str]]:
    """Pipeline ``vars`` for the identity lists.

    An empty list becomes the one value no identity has, the empty string: pySigma would
    otherwise turn a detection item without values into a null check, and an empty allowlist
    would approve every event whose field is missing.
    """
    return {name: values or [""] for name, values in profile.as_vars().items()}
