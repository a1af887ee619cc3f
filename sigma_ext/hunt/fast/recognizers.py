"""Per source, how the fast hunt recognises its events in SQL and reads their shape.

The facts about a source's format (``fast_path``, ``arrays``, ``large_subtrees``) are its row in
``sigma_ext.sources.catalogue.SOURCES``; what is SQL stays here, keyed by source name:
``RECOGNIZER_SQL`` holds the recogniser of every source with a fast path, and nothing else
(``fast_paths`` refuses to build otherwise, when this module loads). ``FAST_PATHS`` puts the
two together. Provider envelopes the scan opens are ``sigma_ext.hunt.fast.envelopes``; every
other source is judged line by line by the reference engine.

``recognize`` answers with the first source that claims an event. A source with a fast path
that comes after sources the SQL does not judge is judged in SQL only on lines none of those
may claim: ``CLAIM_STRINGS`` names, for each such source, text (quoted keys and values, or
parts of them) that every event it claims holds, and a line whose text holds all of it is left
to the reference engine. A fast source after one without claim strings is not judged in
SQL (``fast_sources``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sigma_ext.sources.catalogue import SOURCES, Source
from sigma_ext.sources.cloud import (
    GCP_AUDIT_LOG_TYPE,
    GCP_KUBERNETES_RESOURCE,
    GCP_KUBERNETES_SERVICE,
)


@dataclass(frozen=True)
class RecognizerSql:
    """A source's recogniser as the fast hunt writes it.

    ``recognizer`` is a SQL boolean with the meaning of ``Source.recognize`` (see ``exact``), over
    top-level keys as ``{key}``, each read as VARCHAR (a JSON string as its text, any other value
    as its JSON text: ``["Event"]`` reads ``'["Event"]'``); ``raw_prefix`` are the first keys of a
    line, with the start of their string values, that prove the recogniser from the text
    (``sigma_ext.hunt.fast.raw_gate``).
    """

    recognizer: str
    raw_prefix: tuple[tuple[str, str], ...] = ()
    exact: bool = True
    """False when ``recognizer`` is only a sufficient condition: the lines it does not claim
    but ``recognize`` may are left to the reference engine."""
    paths: tuple[str, ...] = ()
    """JSON paths the recogniser reads from the line's text (the first occurrence of a repeated
    key counts), for what VARCHAR columns cannot tell (a string from a number, a key held by
    null): ``{$1}`` is the first one's text (a string's text, any other value's JSON text, NULL
    for null or when absent) and ``{$1:type}`` its JSON type (``json_type``: ``'VARCHAR'``,
    ``'OBJECT'``, ``'NULL'`` for null..., NULL when absent)."""


def _string(path: str) -> str:
    """SQL: the JSON value ``{$n}`` is a string (its text is ``{$n}``)."""
    return f"coalesce({path[:-1]}:type}} = 'VARCHAR', FALSE)"


def _text(path: str) -> str:
    return path


RECOGNIZER_SQL: Mapping[str, RecognizerSql] = {
    "kubernetes_audit": RecognizerSql(
        recognizer=("({kind} = 'Event' AND starts_with({apiVersion}, 'audit.k8s.io/'))"),
        # how the API server's audit backend writes every event (TypeMeta first)
        raw_prefix=(("kind", "Event"), ("apiVersion", "audit.k8s.io/")),
        # an event without its type (a webhook batch item, a shipper's copy) is recognised
        # from its fields by the reference engine
        exact=False,
    ),
    # is_aws_cloudtrail: eventSource and eventName non-empty strings, eventSource a service's
    # (*.amazonaws.com)
    "aws_cloudtrail": RecognizerSql(
        recognizer=(
            f"{_string('{$1}')} AND ends_with({_text('{$1}')}, '.amazonaws.com') "
            f"AND {_string('{$2}')} AND {_text('{$2}')} <> ''"
        ),
        paths=("$.eventSource", "$.eventName"),
    ),
    # is_gcp_audit_log: protoPayload an object with serviceName (not k8s.io) and methodName
    # non-empty strings, @type absent or the AuditLog type; resource.type not k8s_cluster (a
    # resource that is no object has no type)
    "gcp_audit": RecognizerSql(
        recognizer=(
            "coalesce({$1:type} = 'OBJECT', FALSE) "
            f"AND {_string('{$2}')} AND {_text('{$2}')} NOT IN ('', '{GCP_KUBERNETES_SERVICE}') "
            f"AND {_string('{$3}')} AND {_text('{$3}')} <> '' "
            f"AND NOT ({_string('{$4}')} AND {_text('{$4}')} = '{GCP_KUBERNETES_RESOURCE}') "
            f"AND ({{$5:type}} IS NULL "
            f"OR ({_string('{$5}')} AND {_text('{$5}')} = '{GCP_AUDIT_LOG_TYPE}'))"
        ),
        paths=(
            "$.protoPayload",
            "$.protoPayload.serviceName",
            "$.protoPayload.methodName",
            "$.resource.type",
            '$.protoPayload."@type"',
        ),
    ),
    # is_docker_event: Type and Action strings, Actor an object holding ID (any value), and
    # timeNano or time present (any value)
    "docker_events": RecognizerSql(
        recognizer=(
            f"{_string('{$1}')} AND {_string('{$2}')} "
            "AND coalesce({$3:type} = 'OBJECT', FALSE) AND {$4:type} IS NOT NULL "
            "AND ({$5:type} IS NOT NULL OR {$6:type} IS NOT NULL)"
        ),
        paths=("$.Type", "$.Action", "$.Actor", "$.Actor.ID", "$.timeNano", "$.time"),
    ),
}


Claims = tuple[tuple[str, ...], ...]
"""Pieces of text, one group of which every event a source claims holds in full."""

CLAIM_STRINGS: Mapping[str, Claims] = {
    # text every event a source claims holds (quoted keys or values, or parts of them; never a
    # character JSON may escape but with \u, which ``raw_gate.escape_sql`` leaves to the
    # reference engine), as groups one of which holds in full: for a fast source, what a line
    # holds before its recogniser's paths are read; for a source the SQL does not judge, or
    # judges only where it is sure (an envelope it opens, the audit log's recogniser, which
    # leaves events without their type to the reference engine), what lets the SQL leave the
    # lines it may claim to the reference engine
    "kubernetes_audit": (('"kind"', '"Event"', '"apiVersion"', "audit.k8s.io"), ('"verb"',)),
    "kubernetes_audit_eks": (('"message"', '"timestamp"', "audit.k8s.io"),),
    "kubernetes_audit_aks": (
        ('"category"', '"kube-audit', '"properties"', '"log"', "audit.k8s.io"),
    ),
    "kubernetes_audit_gke": (('"protoPayload"', '"serviceName"', '"k8s.io"', '"methodName"'),),
    "aws_cloudtrail": (('"eventSource"', '"eventName"', '.amazonaws.com"'),),
    "azure_activitylogs": (('"resourceId"', '"operationName"', '"category"'),),
    "gcp_audit": (('"protoPayload"', '"serviceName"', '"methodName"'),),
    "docker_events": (('"Type"', '"Action"', '"Actor"', '"ID"'),),
}


@dataclass(frozen=True)
class FastPath:
    """How the fast hunt reads one source: its ``RecognizerSql`` and, from its ``Source`` row,
    ``arrays`` (the dotted paths that hold arrays) and ``heavy`` (top-level keys with large
    subtrees, which the exact scan reads last)."""

    recognizer: str
    arrays: frozenset[str] = frozenset()
    heavy: frozenset[str] = frozenset()
    raw_prefix: tuple[tuple[str, str], ...] = ()
    paths: tuple[str, ...] = ()
    claims: Claims = ()
    """Its ``CLAIM_STRINGS``."""
    exact: bool = True
    """Whether the SQL recogniser has ``recognize``'s meaning on every line (else only where
    it holds)."""
    unclaimed: tuple[Claims, ...] = ()
    """For each source before this one that the SQL does not judge itself, its
    ``CLAIM_STRINGS``: a line holding all the strings of one is not this source's to judge
    (``unclaimed_before``)."""

    def recognizer_keys(self) -> list[str]:
        """The top-level keys the recogniser reads as VARCHAR columns (not its ``paths``)."""
        return [k for k in re.findall(r"\{([^{}]+)\}", self.recognizer) if not k.startswith("$")]

    def needs_text(self) -> bool:
        """Whether the recogniser reads the line's text (its paths, or the claim keys of the
        sources before it): the typed scan has it, the exact scan does not."""
        return bool(self.paths or self.unclaimed)


def fast_paths(
    sources: tuple[Source, ...],
    recognizers: Mapping[str, RecognizerSql],
    claims: Mapping[str, Claims] | None = None,
) -> dict[str, FastPath]:
    """The fast path of every source whose row says it has one; a ``ValueError`` when such a
    source has no recogniser in ``recognizers`` or a recogniser has no such source."""
    fast = [source for source in sources if source.fast_path]
    missing = [source.name for source in fast if source.name not in recognizers]
    unclaimed = sorted(set(recognizers) - {source.name for source in fast})
    if missing or unclaimed:
        raise ValueError(
            f"fast hunt recognisers: none for {missing} (sources with fast_path), "
            f"one for {unclaimed} (no source with fast_path)"
        )
    return {
        source.name: FastPath(
            recognizer=recognizers[source.name].recognizer,
            arrays=source.arrays,
            heavy=source.large_subtrees,
            raw_prefix=recognizers[source.name].raw_prefix,
            paths=recognizers[source.name].paths,
            claims=(claims or {}).get(source.name, ()),
            exact=recognizers[source.name].exact,
        )
        for source in fast
    }


FAST_PATHS: Mapping[str, FastPath] = fast_paths(SOURCES, RECOGNIZER_SQL, CLAIM_STRINGS)


def fast_sources(
    sources: tuple[Source, ...] = SOURCES, claims: Mapping[str, Claims] = CLAIM_STRINGS
) -> tuple[list[Source], bool]:
    """The sources the SQL judges, and whether other lines may belong to a source it cannot.

    ``recognize`` answers with the first source that claims an event, so a source is judged in SQL
    only when every source before it has a SQL recogniser too, or claim strings
    (``CLAIM_STRINGS``) that let the SQL leave that source's lines to the reference engine.
    """
    fast: list[Source] = []
    for source in sources:
        if source.fast_path:
            fast.append(source)
        elif source.name not in claims:
            break
    return fast, len(fast) < len(sources)


def unclaimed_before(
    source: Source,
    judged: frozenset[str],
    sources: tuple[Source, ...] = SOURCES,
    claims: Mapping[str, Claims] = CLAIM_STRINGS,
    recognizers: Mapping[str, RecognizerSql] | None = None,
) -> tuple[Claims, ...]:
    """The claim strings of every source before ``source`` that the SQL does not judge
    (``judged``: the names of those it does), or judges only where its recogniser holds."""
    known = RECOGNIZER_SQL if recognizers is None else recognizers
    before = sources[: sources.index(source)]
    return tuple(
        claims[s.name]
        for s in before
        if s.name not in judged or (s.name in known and not known[s.name].exact)
    )
