"""What the Splunk app ships besides its searches: macros, lookups, and the tuned searches.

Values only: ``sigma_ext.build.splunk.tuning`` makes them with the Splunk backend,
``sigma_ext.build.splunk.app`` renders them as ``.conf`` files and CSV lookups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.tuning_modes import TuningMode

if TYPE_CHECKING:
    from sigma_ext.build.correlation_package import PackagedCorrelation

MacroKind = Literal["list", "registry", "source", "filter"]
LOOKUP_COLUMN = "identity"
_MACRO_CALL = re.compile(r"`([A-Za-z0-9_]+)`")


@dataclass(frozen=True)
class Macro:
    """One search macro of the app (``macros.conf`` stanza without arguments)."""

    name: str
    definition: str
    description: str
    kind: MacroKind
    list_name: str | None = None
    field: str | None = None
    whole_list: bool = False
    used_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lookup:
    """A tuning list shipped as a CSV lookup (``lookups/<name>.csv`` and ``transforms.conf``)."""

    name: str
    list_name: str
    entries: tuple[str, ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"


@dataclass(frozen=True)
class TunedSearch:
    """What one saved search runs, next to the inline compilation it was made from."""

    compiled: Compiled
    search: str
    filter_macro: str | None
    inline_lists: tuple[str, ...] = ()


@dataclass(frozen=True)
class CorrelationSearch:
    """What one correlation saved search runs, next to the compiled correlation it was made
    from (``sigma_ext.build.splunk.correlation_searches``)."""

    packaged: PackagedCorrelation
    search: str
    filter_macro: str | None
    inline_lists: tuple[str, ...] = ()


@dataclass(frozen=True)
class SplunkTuning:
    """Every search of a build, with the macros and lookups they use."""

    mode: TuningMode
    searches: tuple[TunedSearch, ...]
    macros: tuple[Macro, ...]
    lookups: tuple[Lookup, ...]
    correlations: tuple[CorrelationSearch, ...] = ()


def expand_macros(text: str, macros: Iterable[Macro]) -> str:
    """Replace every `` `name` `` call by the macro's definition, as Splunk does before parsing."""
    definitions = {m.name: m.definition for m in macros}

    def expand(match: re.Match[str]) -> str:
        return definitions[match.group(1)]

    return _MACRO_CALL.sub(expand, text)
