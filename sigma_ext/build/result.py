"""The verdict of compiling one rule for one SIEM target and one source.

Every (rule, target, source) ends in one status:

``ok``
    the query expresses the rule completely on data as the target ingests it;
``degraded``
    a query is emitted, but it sees less than the rule asks for; each reason says what;
``impossible``
    the target's ingestion never keeps something the rule needs; no query is emitted;
``shared``
    the SIEM stores this source's events with another source's, whose query already covers them;
``error``
    the content is broken (an unmapped field, an unsupported construct); the build fails.

This module holds the result type only, so the renderers (summary, Splunk app, Kibana rules) and
the emulators name a result without importing the pySigma backends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from sigma_ext.content.rules import RuleFile
from sigma_ext.sources.catalogue import Source
from sigma_ext.targets import Target

Status = Literal["ok", "degraded", "impossible", "shared", "error"]


@dataclass(frozen=True)
class Compiled:
    """The outcome of compiling one rule for one target and one source."""

    rule: RuleFile
    target: Target
    source: Source
    primary: bool
    status: Status
    reasons: tuple[str, ...] = ()
    language: str | None = None
    query: str | None = None
    index: tuple[str, ...] = field(default=())

    @property
    def output_id(self) -> str:
        """The rule id on the primary source; a stable id derived from it on the others."""
        if self.primary:
            return self.rule.id
        return str(uuid.uuid5(uuid.UUID(self.rule.id), self.source.name))

    @property
    def output_stem(self) -> str:
        return self.rule.stem if self.primary else f"{self.rule.stem}.{self.source.name}"

    @property
    def output_name(self) -> str:
        return self.rule.title if self.primary else f"{self.rule.title} ({self.source.label})"
