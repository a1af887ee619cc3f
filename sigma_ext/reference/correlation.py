"""The one correlation evaluator: Sigma correlation rules over the base rules' hits.

Both hunt engines and the tests hand it the same thing, a stream of base-rule hits (which base
rule, when, and the values of the correlation's group-by fields), so correlation semantics live
here only.

Semantics, chosen to give the verdicts the SIEM backends compile (pySigma's Splunk ``stats``
method and its Elasticsearch ES|QL backend):

- **Windows** are fixed and aligned on the Unix epoch: Splunk's ``bin _time span=<timespan>``
  and ES|QL's ``date_trunc(<timespan>, @timestamp)``. A sequence across a window boundary is
  split, on every target alike (the specification allows sliding windows; no backend has them).
- **Group-by**: a hit whose group-by field is missing or empty is left out, as Splunk's
  ``stats ... by`` leaves out events without a by-field.
- ``event_count``: the number of base hits in the window and group, compared with the condition.
- ``temporal``: every referenced base rule has a hit in the window and group (order ignored:
  ``temporal_ordered`` compiles for neither backend and is refused here too).
"""

from __future__ import annotations

import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.rule import SigmaRule

from sigma_ext.reference.evaluator import CompiledRule, Fields, compile_rule, field_values

Group = tuple[str, ...]

_OPERATORS: dict[SigmaCorrelationConditionOperator, Callable[[int, int], bool]] = {
    SigmaCorrelationConditionOperator.LT: operator.lt,
    SigmaCorrelationConditionOperator.LTE: operator.le,
    SigmaCorrelationConditionOperator.GT: operator.gt,
    SigmaCorrelationConditionOperator.GTE: operator.ge,
    SigmaCorrelationConditionOperator.EQ: operator.eq,
    SigmaCorrelationConditionOperator.NEQ: operator.ne,
}
SUPPORTED = (SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.TEMPORAL)


class UnsupportedCorrelation(ValueError):
    """A correlation type this evaluator (and the project) does not run."""


@dataclass(frozen=True)
class BaseHit:
    """One base rule's match: which rule (its ``name``), when, and where it came from."""

    rule: str
    time: datetime
    group: Group | None
    place: tuple[str, int]
    record: int | None = None
    """The record's 1-based position in its batch document (a CloudTrail S3 file's ``Records``)."""

    def where(self) -> str:
        """``file:line``, and ``#record`` for a record of a batch document."""
        file, line = self.place
        return f"{file}:{line}" if self.record is None else f"{file}:{line}#{self.record}"


@dataclass(frozen=True)
class CorrelationHit:
    """A correlation that fired: its window, group and the base hits that made it."""

    correlation: str
    window_start: datetime
    group: Group
    hits: tuple[BaseHit, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "correlation": self.correlation,
            "window_start": self.window_start.isoformat().replace("+00:00", "Z"),
            "group": list(self.group),
            "events": [h.where() for h in self.hits],
        }


@dataclass(frozen=True)
class Correlation:
    """What the evaluator needs of a Sigma correlation rule."""

    name: str
    kind: SigmaCorrelationType
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    seconds: int
    test: Callable[[int], bool]

    @classmethod
    def of(cls, name: str, rule: SigmaCorrelationRule) -> Correlation:
        if rule.type not in SUPPORTED:
            raise UnsupportedCorrelation(f"correlation type {rule.type.value!r} is not supported")
        references = tuple(str(r.reference) for r in rule.rules or ())
        if rule.type is SigmaCorrelationType.TEMPORAL:
            wanted = len(set(references))

            def test(count: int) -> bool:
                return count >= wanted

        else:
            condition = rule.condition
            if not isinstance(condition, SigmaCorrelationCondition):
                raise UnsupportedCorrelation("only a count condition is supported")
            compare, threshold = _OPERATORS[condition.op], condition.count

            def test(count: int) -> bool:
                return compare(count, threshold)

        return cls(
            name, rule.type, references, tuple(rule.group_by or ()), rule.timespan.seconds, test
        )


def window_start(time: datetime, seconds: int) -> datetime:
    """The start of the epoch-aligned window of ``seconds`` that holds ``time``."""
    stamp = int(time.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=UTC)


def evaluate(correlation: Correlation, hits: Iterable[BaseHit]) -> list[CorrelationHit]:
    """The correlation's hits, in window and group order."""
    cells: dict[tuple[datetime, Group], list[BaseHit]] = defaultdict(list)
    for hit in hits:
        if hit.rule in correlation.rules and hit.group is not None:
            cells[(window_start(hit.time, correlation.seconds), hit.group)].append(hit)
    fired = []
    for (start, group), members in sorted(cells.items()):
        if correlation.kind is SigmaCorrelationType.TEMPORAL:
            count = len({h.rule for h in members})
        else:
            count = len(members)
        if correlation.test(count):
            fired.append(CorrelationHit(correlation.name, start, group, tuple(members)))
    return fired


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (audit events, Cloud Audit Logs) or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python parses at most microseconds; Cloud Audit Logs write nanoseconds
        head, _, tail = text.partition(".")
        fraction = _DIGITS.match(tail)
        digits = fraction.group() if fraction is not None else ""
        if not digits:
            return None  # (RFC 3339: a fraction has a digit at least)
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_DIGITS = re.compile("[0-9]+")
"""A fraction of a second's digits (ASCII: ``str.isdigit`` takes other scripts' too)."""

# When an event happened, per source, in the native document (after the source's decode): the
# audit stage timestamp, which every Kubernetes delivery has (GKE's decode sets it from the
# entry's timestamp).
TIME_FIELDS: Mapping[str, str] = {
    "kubernetes_audit": "stageTimestamp",
    "kubernetes_audit_eks": "stageTimestamp",
    "kubernetes_audit_aks": "stageTimestamp",
    "kubernetes_audit_gke": "stageTimestamp",
}


@dataclass(frozen=True)
class BaseRules:
    """A correlation's base rules, compiled for native documents of one source."""

    rules: tuple[tuple[str, CompiledRule], ...]
    group_by: tuple[str, ...]
    time_field: str

    @classmethod
    def compile(
        cls, base_rules: Iterable[SigmaRule], group_by: tuple[str, ...], time_field: str
    ) -> BaseRules:
        """``base_rules`` already processed by the source's native pipeline."""
        return cls(
            tuple((str(rule.name), compile_rule(rule)) for rule in base_rules),
            group_by,
            time_field,
        )

    def hits(
        self, document: Mapping[str, Any], place: tuple[str, int], record: int | None = None
    ) -> list[BaseHit]:
        """The base hits of one native document (none without a time)."""
        fields = Fields(document)
        matched = [name for name, compiled in self.rules if compiled.matches(fields)]
        if not matched:
            return []
        time, group = self.values(document)
        if time is None:
            return []
        return [BaseHit(name, time, group, place, record) for name in matched]

    def values(self, document: Mapping[str, Any]) -> tuple[datetime | None, Group | None]:
        return hit_values(document, self.group_by, self.time_field)


def hit_values(
    document: Mapping[str, Any], group_by: tuple[str, ...], time_field: str
) -> tuple[datetime | None, Group | None]:
    """What a base hit on a native document keeps: its time (None: the hit is left out) and
    its group (None: a group-by field is missing or empty, the hit is left out)."""
    return hit_time(document, time_field), hit_group(document, group_by)


def hit_time(document: Mapping[str, Any], time_field: str) -> datetime | None:
    """The time a base hit on a native document keeps (``hit_values``)."""
    return parse_time(next(iter(field_values(document, time_field)), None))


def hit_group(document: Mapping[str, Any], group_by: tuple[str, ...]) -> Group | None:
    """The group a base hit on a native document keeps (``hit_values``)."""
    values = []
    for field in group_by:
        found = [str(v) for v in field_values(document, field) if v not in (None, "")]
        if not found:
            return None
        values.append(found[0])
    return tuple(values)
