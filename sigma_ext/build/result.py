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


class Unconvertible(Exception):
    """The rule asks for something the target's language cannot say: broken content.

    Raised by this package's own renderers (every-element tests, regular expressions); the
    compilers report it, like a pySigma error, as status ``error`` with its message.
    """


Status = Literal["ok", "degraded", "impossible", "shared", "error"]
# degraded: the query sees less than the rule asks for; not_visible: the target never keeps
# something the rule needs; content_error: the content is broken.
ReasonKind = Literal["degraded", "not_visible", "content_error"]


@dataclass(frozen=True)
class Reason:
    """Why a result is not simply ``ok``; ``subject`` is what it is about, such as a field."""

    kind: ReasonKind
    text: str
    subject: str | None = None

    def __str__(self) -> str:
        return self.text if self.subject is None else f"{self.subject}: {self.text}"


@dataclass(frozen=True)
class SharedWith:
    """The SIEM stores this source's events with ``source``'s, whose query searches them too."""

    source: str
    why: str

    def __str__(self) -> str:
        return f"{self.source}: {self.why}"


@dataclass(frozen=True)
class Compiled:
    """The outcome of compiling one rule for one target and one source."""

    rule: RuleFile
    target: Target
    source: Source
    primary: bool
    status: Status
    reasons: tuple[Reason, ...] = ()
    language: str | None = None
    query: str | None = None
    index: tuple[str, ...] = field(default=())
    # set when the verdict is the partner source's (status shared, or the partner's impossible)
    shared_with: SharedWith | None = None

    @property
    def why(self) -> tuple[str, ...]:
        """The reasons as the build writes them: the source it shares with first, then each one."""
        shared = () if self.shared_with is None else (str(self.shared_with),)
        return shared + tuple(str(reason) for reason in self.reasons)

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
