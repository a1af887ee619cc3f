"""One notion of a telemetry source, shared by ``hunt``, the fixture harness and the build.

A source names the Sigma log source its rules declare, the mapping file each target uses for it
(``mappings/<target>/<source>.yml``), how to recognise one of its events in a log file, how to
unwrap a provider envelope into the document its native mapping addresses, and, for text logs,
how to parse a line into fields, and the facts about its format that the fast hunt reads
(which fields hold arrays, which subtrees are large, which source's event an envelope carries,
whether the hunt judges it in SQL). Adding a source means one row here, its mapping files and its
fixtures; a source with ``fast_path`` or ``carries`` also needs its SQL in ``sigma_ext.hunt.fast``
(``recognizers.RECOGNIZER_SQL``, ``envelopes.ENVELOPE_SQL``), which refuses to load without it.

Several sources may serve one Sigma log source (the Kubernetes audit log as written by the API
server, and as EKS, AKS and GKE deliver it): one rule then compiles once per source. The first
source in the table that serves a log source is that log source's primary source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sigma_ext.sources.auditd import (
    decode_audit_event,
    group_records,
    is_auditd_event,
    parse_audit_text,
)
from sigma_ext.sources.cloud import (
    CLOUDTRAIL_ARRAY_FIELDS,
    GCP_AUDIT_ARRAY_FIELDS,
    is_aws_cloudtrail,
    is_azure_activity_log,
    is_gcp_audit_log,
)
from sigma_ext.sources.container_logs import unwrap_container_lines, wrapping_of
from sigma_ext.sources.docker import is_docker_event
from sigma_ext.sources.k8s_events import (
    decode_event_object,
    decode_watch_body,
    is_event_object,
    is_watch_body,
)
from sigma_ext.sources.kubernetes import (
    AUDIT_ARRAY_FIELDS,
    AUDIT_LARGE_SUBTREES,
    decode_aks_diagnostic_record,
    decode_eks_cloudwatch_record,
    decode_gke_audit_entry,
    is_aks_diagnostic_record,
    is_audit_event,
    is_eks_cloudwatch_record,
    is_gke_audit_entry,
)
from sigma_ext.sources.process import (
    decode_sysmon_event,
    decode_tetragon_event,
    is_falco_alert,
    is_sysmon_event,
    is_tetragon_event,
    parse_sysmon_line,
)
from sigma_ext.sources.runtime_logs import (
    decode_runtime_event,
    is_runtime_event,
    parse_runtime_line,
)

Event = Mapping[str, Any]
Grouper = Callable[[Iterable[tuple[int, str]]], Iterator[tuple[int, str]]]


def _as_is(event: Event) -> Event:
    return event


@dataclass(frozen=True)
class Source:
    """A telemetry source and the Sigma log source of its rules.

    ``recognize`` answers whether a parsed event comes from this source; ``decode`` turns such
    an event into the document the native mapping addresses (for example parsing a JSON string
    that a provider envelope carries); ``parse_text`` turns one line of a text log into an event
    that ``recognize`` claims, or None, and is set only for text formats.

    For the fast hunt (``sigma_ext.hunt.fast``): ``fast_path`` says that it judges the source's
    events in SQL, with a recogniser of their own; ``arrays`` are the dotted paths that hold
    arrays in the documented format and ``large_subtrees`` the top-level keys with large
    subtrees (read last); ``keys_with_dots`` the dotted paths whose objects' keys hold dots (an
    Azure token's claims are keyed by URI): a field below one is read with the rest of its name
    as one key (the reference evaluator reads every way of splitting a field's name into keys;
    the native prefilter reads this one, and passes on a line holding a key of any other way).
    ``carries`` names the source whose event this source's envelope holds
    as a JSON string (the string is that source's event, line for line): the fast hunt opens
    the envelope in SQL and judges the event as one of that source. A source with neither is
    judged line by line by the reference engine.

    ``group_lines`` is set for a text format whose events span several lines (auditd): it turns
    (line number, text) pairs into one (first line number, text) per event, which ``parse_text``
    reads; a file whose first line this source parses is read through it (``grouper_for``), by
    both hunt engines and the fixture harness.
    """

    name: str
    product: str
    service: str
    label: str
    recognize: Callable[[Event], bool]
    decode: Callable[[Event], Event] = _as_is
    parse_text: Callable[[str], Event | None] | None = None
    fast_path: bool = False
    arrays: frozenset[str] = frozenset()
    large_subtrees: frozenset[str] = frozenset()
    keys_with_dots: frozenset[str] = frozenset()
    carries: str | None = None
    group_lines: Grouper | None = None

    def serves(self, product: str | None, service: str | None) -> bool:
        return (product, service) == (self.product, self.service)

    @property
    def decodes_as_is(self) -> bool:
        """Whether its native document is the event itself (no ``decode`` of its own)."""
        return self.decode is _as_is


SOURCES: tuple[Source, ...] = (
    Source(
        "kubernetes_audit",
        "kubernetes",
        "audit",
        "Kubernetes audit",
        is_audit_event,
        fast_path=True,
        arrays=AUDIT_ARRAY_FIELDS,
        large_subtrees=AUDIT_LARGE_SUBTREES,
    ),
    Source(
        "kubernetes_audit_eks",
        "kubernetes",
        "audit",
        "Kubernetes audit (EKS, CloudWatch Logs)",
        is_eks_cloudwatch_record,
        decode=decode_eks_cloudwatch_record,
        carries="kubernetes_audit",
    ),
    Source(
        "kubernetes_audit_aks",
        "kubernetes",
        "audit",
        "Kubernetes audit (AKS, diagnostic setting)",
        is_aks_diagnostic_record,
        decode=decode_aks_diagnostic_record,
        carries="kubernetes_audit",
    ),
    Source(
        "kubernetes_audit_gke",
        "kubernetes",
        "audit",
        "Kubernetes audit (GKE, Cloud Audit Logs)",
        is_gke_audit_entry,
        decode=decode_gke_audit_entry,
    ),
    Source(
        "aws_cloudtrail",
        "aws",
        "cloudtrail",
        "AWS CloudTrail",
        is_aws_cloudtrail,
        fast_path=True,
        arrays=CLOUDTRAIL_ARRAY_FIELDS,
    ),
    Source(
        "azure_activitylogs",
        "azure",
        "activitylogs",
        "Azure Activity Log",
        is_azure_activity_log,
        keys_with_dots=frozenset({"identity.claims"}),
    ),
    Source(
        "gcp_audit",
        "gcp",
        "gcp.audit",
        "Google Cloud audit logs",
        is_gcp_audit_log,
        fast_path=True,
        arrays=GCP_AUDIT_ARRAY_FIELDS,
    ),
    Source(
        "docker_events",
        "docker",
        "events",
        "Docker daemon events",
        is_docker_event,
        fast_path=True,
    ),
    Source(
        "container_runtime",
        "linux",
        "container_runtime",
        "containerd, CRI-O and kubelet logs",
        is_runtime_event,
        decode=decode_runtime_event,
        parse_text=parse_runtime_line,
    ),
    Source(
        "kubernetes_events",
        "kubernetes",
        "events",
        "Kubernetes Event objects",
        is_event_object,
        decode=decode_event_object,
    ),
    Source(
        "kubernetes_events_watch",
        "kubernetes",
        "events",
        "Kubernetes Event objects (k8sobjects watch body)",
        is_watch_body,
        decode=decode_watch_body,
    ),
    Source(
        "sysmon_linux",
        "linux",
        "sysmon",
        "Sysmon for Linux",
        is_sysmon_event,
        decode=decode_sysmon_event,
        parse_text=parse_sysmon_line,
    ),
    Source(
        "tetragon",
        "linux",
        "tetragon",
        "Tetragon process events",
        is_tetragon_event,
        decode=decode_tetragon_event,
    ),
    Source(
        "falco",
        "linux",
        "falco",
        "Falco alerts",
        is_falco_alert,
        keys_with_dots=frozenset({"output_fields"}),
    ),
    Source(
        "auditd",
        "linux",
        "auditd",
        "auditd EXECVE (audit.log)",
        is_auditd_event,
        decode=decode_audit_event,
        parse_text=parse_audit_text,
        group_lines=group_records,
    ),
)


def table_problems(sources: tuple[Source, ...]) -> list[str]:
    """What is inconsistent in a table of sources (empty when nothing is)."""
    problems = []
    seen: dict[str, Source] = {}
    for source in sources:
        if source.name in seen:
            problems.append(f"{source.name}: listed twice")
        if source.group_lines is not None and source.parse_text is None:
            problems.append(f"{source.name}: only a text format groups lines")
        if source.fast_path and source.parse_text is not None:
            problems.append(f"{source.name}: a text format has no fast path")
        if any("." in key for key in source.large_subtrees):
            problems.append(f"{source.name}: large subtrees are top-level keys")
        if source.carries is not None:
            carried = seen.get(source.carries)
            if carried is None:
                problems.append(f"{source.name}: carries {source.carries!r}, no source before it")
            elif carried.carries is not None or not source.serves(carried.product, carried.service):
                problems.append(
                    f"{source.name}: carries {source.carries!r}, which must serve the same log "
                    "source and carry none itself"
                )
            if source.fast_path or source.arrays or source.large_subtrees:
                problems.append(
                    f"{source.name}: its events have the shape of {source.carries!r}, "
                    "no fast path or shape of their own"
                )
        seen[source.name] = source
    return problems


_problems = table_problems(SOURCES)
if _problems:
    raise ValueError("sigma_ext.sources.catalogue.SOURCES: " + "; ".join(_problems))


def source_named(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in SOURCES)
    raise KeyError(f"unknown source {name!r} (known: {known})")


def sources_for_logsource(product: str | None, service: str | None) -> tuple[Source, ...]:
    """Every source serving a Sigma log source, the primary one first."""
    return tuple(source for source in SOURCES if source.serves(product, service))


def source_for_logsource(product: str | None, service: str | None) -> Source | None:
    """The primary source of a Sigma log source."""
    served = sources_for_logsource(product, service)
    return served[0] if served else None


def parse_text_line(text: str) -> Event | None:
    """A text-log line parsed by the first text source that understands it."""
    for source in SOURCES:
        if source.parse_text is not None:
            event = source.parse_text(text)
            if event is not None:
                return event
    return None


def grouper_for(first_line: str) -> Grouper | None:
    """How to read a file whose first non-blank line is ``first_line``: a container log file
    (CRI or Docker json-file) through ``unwrap_container_lines``; a text file through the line
    grouper of the first text source that parses that line, when that source's events span
    lines."""
    if wrapping_of(first_line) is not None:
        return unwrap_container_lines
    if first_line.lstrip()[:1] in ("{", "["):
        return None  # JSON: no text parser reads it
    for source in SOURCES:
        if source.parse_text is not None and source.parse_text(first_line) is not None:
            return source.group_lines
    return None


def recognize(event: Event) -> Source | None:
    """The source an event comes from, or None when no source claims it."""
    for source in SOURCES:
        if source.recognize(event):
            return source
    return None
