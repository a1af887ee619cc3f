"""How the native prefilter knows a line's source beyond the first source's first keys: the
provider envelopes it opens (``ENVELOPE_TEXT``), and, per source, its recogniser as the native
judge reads it (``RECOGNIZERS``), for the sources after the first, whose lines start with no
first keys of their own.

``recognize`` answers with the first source in ``SOURCES`` that claims an event. The native
prefilter (``sigma_ext.hunt.fast.prefilter``) sets a line aside as an event of a later source
(a CloudTrail record, an Azure Activity Log record, a Google Cloud audit entry, a Docker event, a
Falco alert) only when a guard holds: the
source's own recogniser is known true, and the recogniser of every source before it is known
false. Each recogniser is written here as a condition in three-valued logic over the line's
fields, in the judge's tests (``sigma_ext.hunt.fast.judge``): true only where ``recognize``
claims the event for that source, false only where it does not, unknown wherever the
extension does not read the value as the reference does (an escape, a character outside
ASCII, a value of another type than the test's) or the recogniser reads more than fields
(an audit event carried as a string, which the prefilter does not open here). A guard that is
not known true passes the line on to the typed scan, which judges it as before.

The tests: ``Matches`` (a string ``re.search`` finds the pattern in, case counting, as
``str`` comparisons do), ``Present`` (the key is there, even with null), ``IsObject``,
``Not``, ``all_of``, ``any_of`` and ``UNSURE``. tests/test_native_recognizers.py checks every
condition against its ``Source.recognize`` on each fixture event and on generated events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigma_ext.hunt.fast.judge import OP_AND, OP_NOT, OP_OR, OP_UNKNOWN, Program, on_array
from sigma_ext.hunt.fast.plan import SourcePlan
from sigma_ext.sources.catalogue import SOURCES, Source
from sigma_ext.sources.cloud import (
    AZURE_ACTIVITY_CATEGORIES,
    GCP_AUDIT_LOG_TYPE,
    GCP_KUBERNETES_RESOURCE,
    GCP_KUBERNETES_SERVICE,
)
from sigma_ext.sources.k8s_events import WATCH_TYPES
from sigma_ext.sources.kubernetes import (
    AKS_AUDIT_CATEGORIES,
    CLOUDWATCH_EVENT_KEYS,
    EKS_AUDIT_STREAM_PREFIX,
)
from sigma_ext.sources.process import SYSMON_PROVIDER, TETRAGON_EVENTS
from sigma_ext.sources.runtime_logs import RUNTIMES


@dataclass(frozen=True)
class Matches:
    """The field holds a string ``re.search`` finds the pattern in (written for the judge as a
    POSIX ERE by ``posix_regex.ere_of``)."""

    field: str
    pattern: str


@dataclass(frozen=True)
class Present:
    """The field's key is there (its value may be null)."""

    field: str


@dataclass(frozen=True)
class IsObject:
    """The field holds an object (``isinstance(value, Mapping)``)."""

    field: str


@dataclass(frozen=True)
class Not:
    part: Condition


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Unsure:
    """Unknown: what the recogniser reads beyond the fields (an embedded event)."""


Leaf = Matches | Present | IsObject
"""A condition's tests: each one test of the judge."""
Condition = Leaf | Not | AllOf | AnyOf | Unsure
UNSURE = Unsure()


def all_of(*parts: Condition) -> Condition:
    return AllOf(parts)


def any_of(*parts: Condition) -> Condition:
    return AnyOf(parts)


def equals(field: str, *texts: str) -> Condition:
    """A string equal to one of ``texts`` (case counting)."""
    return any_of(*(Matches(field, f"^{_escaped(text)}\\Z") for text in sorted(texts)))


def _escaped(text: str) -> str:
    """``text`` as a pattern matching it alone (only the characters special to both Python's
    ``re`` and a POSIX ERE escaped: ``posix_regex.ere_of`` writes no other escape)."""
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\" else c for c in text)


def string(field: str) -> Condition:
    """Any string (``isinstance(value, str)``; a value of another type is unknown)."""
    return Matches(field, "^")


def filled(field: str) -> Condition:
    """A string that is not empty (``_strings`` in ``sigma_ext.sources.cloud``)."""
    return Matches(field, "(?s).")


@dataclass(frozen=True)
class EnvelopeText:
    """How the extension recognises, from a line's top-level keys, a provider envelope carrying
    the source's event as a JSON string at ``carrier`` (one or two keys): a subset of its
    source's ``recognize`` that no source before it claims (``forbidden`` keys, or only
    ``allowed`` ones). ``required`` keys must be present, each ``one_of`` key a string among its
    values, each ``prefixed`` key absent or a string starting with its prefix; a repeated key
    among these leaves the line to the scan. The event carried must then be dismissed as a line
    of the source is."""

    carrier: tuple[str, ...]
    allowed: frozenset[str] = frozenset()
    forbidden: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    one_of: tuple[tuple[str, frozenset[str]], ...] = ()
    prefixed: tuple[tuple[str, str], ...] = ()

    def spec(self) -> tuple[list[bytes], ...] | Any:
        def listed(keys: frozenset[str]) -> list[bytes]:
            return [key.encode() for key in sorted(keys)]

        return (
            [key.encode() for key in self.carrier],
            listed(self.allowed),
            listed(self.forbidden),
            listed(self.required),
            [(key.encode(), listed(values)) for key, values in self.one_of],
            [(key.encode(), prefix.encode()) for key, prefix in self.prefixed],
        )


ENVELOPE_TEXT: Mapping[str, EnvelopeText] = {
    # is_eks_cloudwatch_record: message and timestamp present, logStreamName absent or naming an
    # audit stream; only CloudWatch's keys, so no kind or verb: no audit event itself
    "kubernetes_audit_eks": EnvelopeText(
        carrier=("message",),
        allowed=CLOUDWATCH_EVENT_KEYS,
        required=frozenset({"timestamp"}),
        prefixed=(("logStreamName", EKS_AUDIT_STREAM_PREFIX),),
    ),
    # is_aks_diagnostic_record: category a kube-audit one, properties.log a string; no kind or
    # verb (no audit event itself), no message (no EKS record)
    "kubernetes_audit_aks": EnvelopeText(
        carrier=("properties", "log"),
        forbidden=frozenset({"kind", "verb", "message"}),
        one_of=(("category", AKS_AUDIT_CATEGORIES),),
    ),
}
"""The envelopes the extension opens, by source name: only those the typed scan opens
(``FastHunt.envelopes``, whose rules are the carried source's), in their order."""


RECOGNIZERS: Mapping[str, Condition] = {
    # is_audit_event: its type (kind Event, apiVersion audit.k8s.io/...), or a verb, the object
    # or URI acted on, and an auditID or stage
    "kubernetes_audit": any_of(
        all_of(equals("kind", "Event"), Matches("apiVersion", "^audit\\.k8s\\.io/")),
        all_of(
            string("verb"),
            any_of(IsObject("objectRef"), string("requestURI")),
            any_of(string("auditID"), string("stage")),
        ),
    ),
    # is_eks_cloudwatch_record: message and timestamp, and an audit event in the message
    "kubernetes_audit_eks": all_of(Present("message"), Present("timestamp"), UNSURE),
    # is_aks_diagnostic_record: a kube-audit category, and an audit event in properties.log
    "kubernetes_audit_aks": all_of(equals("category", *AKS_AUDIT_CATEGORIES), UNSURE),
    # is_gke_audit_entry: the Kubernetes API's service, a method, no other resource type
    "kubernetes_audit_gke": all_of(
        equals("protoPayload.serviceName", GCP_KUBERNETES_SERVICE),
        string("protoPayload.methodName"),
        UNSURE,
    ),
    # is_aws_cloudtrail
    "aws_cloudtrail": all_of(Matches("eventSource", "\\.amazonaws\\.com\\Z"), filled("eventName")),
    # is_azure_activity_log
    "azure_activitylogs": all_of(
        filled("resourceId"),
        filled("operationName"),
        equals("category", *AZURE_ACTIVITY_CATEGORIES),
    ),
    # is_gcp_audit_log: a payload (an object, as a string field below it shows) naming a
    # service other than GKE's and a method, a resource of another type than GKE's, an AuditLog
    # payload type or none
    "gcp_audit": all_of(
        filled("protoPayload.serviceName"),
        Not(equals("protoPayload.serviceName", GCP_KUBERNETES_SERVICE)),
        filled("protoPayload.methodName"),
        Not(equals("resource.type", GCP_KUBERNETES_RESOURCE)),
        any_of(
            Not(Present("protoPayload.@type")),
            equals("protoPayload.@type", GCP_AUDIT_LOG_TYPE),
        ),
    ),
    # is_docker_event: Type and Action strings, Actor an object holding ID, timeNano or time
    "docker_events": all_of(
        string("Type"),
        string("Action"),
        Present("Actor.ID"),
        any_of(Present("timeNano"), Present("time")),
    ),
    # is_runtime_event on a JSON object: a runtime's event with its message, or a journal entry
    # one of the runtimes wrote (its MESSAGE parsed as a line)
    "container_runtime": any_of(
        all_of(equals("runtime", *RUNTIMES), Present("message")),
        all_of(equals("SYSLOG_IDENTIFIER", *RUNTIMES), Present("__REALTIME_TIMESTAMP"), UNSURE),
    ),
    # is_event_object: a string reason and an object metadata, and more
    "kubernetes_events": all_of(string("reason"), IsObject("metadata"), UNSURE),
    # is_watch_body: a watch type, and an Event object
    "kubernetes_events_watch": all_of(equals("type", *WATCH_TYPES), IsObject("object"), UNSURE),
    # is_sysmon_event
    "sysmon_linux": all_of(equals("Provider", SYSMON_PROVIDER), string("EventID")),
    # is_tetragon_event: exactly one event key holding an object, node_name and time strings
    "tetragon": all_of(
        any_of(*(IsObject(key) for key in sorted(TETRAGON_EVENTS))),
        string("node_name"),
        string("time"),
        UNSURE,
    ),
    # is_falco_alert
    "falco": all_of(
        string("rule"), string("priority"), string("output"), IsObject("output_fields")
    ),
}
"""Each source's recogniser (its row's ``recognize``) as the judge reads it."""


def guard_program(source: Source, plan: SourcePlan) -> Program | None:
    """The guard of a source's lines: its recogniser known true, and that of every source
    before it in ``SOURCES`` known false (``RECOGNIZERS``); None when one of those is not
    written, or reads a field the source documents an array at or above (the judge would read
    it as the rules do)."""
    before = SOURCES[: SOURCES.index(source)]
    if any(s.name not in RECOGNIZERS for s in (*before, source)):
        return None
    conditions = [RECOGNIZERS[source.name], *(Not(RECOGNIZERS[s.name]) for s in before)]
    if any(on_array(plan, name) for c in conditions for name in fields_of(c)):
        return None
    parts = [_guard_ops(condition) for condition in conditions]
    return [op for part in parts for op in part] + [(OP_AND, len(parts))]


def _guard_ops(condition: Condition) -> Program:
    """A condition as the judge's postfix program, its tests' values the conditions' tests."""
    if isinstance(condition, Leaf):
        return [(condition.field, [condition])]
    if isinstance(condition, Not):
        return [*_guard_ops(condition.part), (OP_NOT, 0)]
    if isinstance(condition, AllOf | AnyOf):
        ops = [op for part in condition.parts for op in _guard_ops(part)]
        return [*ops, (OP_AND if isinstance(condition, AllOf) else OP_OR, len(condition.parts))]
    return [(OP_UNKNOWN, 0)]


def fields_of(condition: Condition) -> set[str]:
    """The fields a condition reads."""
    if isinstance(condition, Leaf):
        return {condition.field}
    if isinstance(condition, Not):
        return fields_of(condition.part)
    if isinstance(condition, AllOf | AnyOf):
        return set().union(*(fields_of(part) for part in condition.parts))
    return set()
