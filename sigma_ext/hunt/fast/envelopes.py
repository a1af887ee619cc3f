"""Provider envelopes the fast hunt opens in SQL, so that their events are judged in the scan.

EKS delivers each Kubernetes audit event as a CloudWatch Logs event whose ``message`` is the
audit event as a JSON string; AKS, as a resource-log record whose ``properties.log`` is that
string (``sigma_ext.sources.kubernetes``). Once the string is taken out, it is a line of the
plain audit log, and the fast hunt judges it exactly as one: the same text tests, the same typed
scan, the same rules. Before, every line of an EKS or AKS file went to the reference engine, one
at a time.

Which source's event an envelope carries is the ``carries`` of its ``Source`` row
(``sigma_ext.sources.catalogue``); ``ENVELOPE_SQL`` declares, keyed by source name, the
envelope's part of ``Source.recognize`` in SQL, with exactly its meaning on every line DuckDB
reads as a JSON object; the part about the string it carries (that it reads as an audit event)
is left to the scan, which decides that for plain lines already. Every source that carries
another has an entry, and only those (``envelopes_of`` refuses to build otherwise, when this
module loads).

A line the envelope claims is replaced by the string it carries; its length stays the line's own.
Before that string is parsed, DuckDB must read it as JSON (``json_valid``, which accepts less
than ``sigma_ext.sources.json_text``: anything it refuses goes to the reference engine). The scan
never
opens an envelope unless the rules of its source are, as SQL, the rules of the source it
carries, and every source before it in ``sigma_ext.sources.catalogue.SOURCES`` is judged in SQL too
(recognition takes the first source that claims an event).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sigma_ext.hunt.fast.duckdb_backend import sql_string
from sigma_ext.sources.catalogue import SOURCES, Source
from sigma_ext.sources.kubernetes import (
    AKS_AUDIT_CATEGORIES,
    CLOUDWATCH_EVENT_KEYS,
    EKS_AUDIT_STREAM_PREFIX,
)


@dataclass(frozen=True)
class EnvelopeSql:
    """How the fast hunt opens a provider envelope.

    ``paths`` are the JSON paths the recogniser reads, each as its JSON text (NULL when absent):
    ``{v1}`` is the first. ``recognizer`` is SQL over those and ``{keys}`` (the line's top-level
    keys, in order, repeats included); ``carried`` names the value that holds the event as a
    JSON string. ``cannot_start`` is a prefix of a line's text that proves the envelope absent
    (a line the carried source's own text test recognises): such lines skip it all.
    """

    paths: tuple[str, ...]
    recognizer: str
    carried: str
    cannot_start: str


@dataclass(frozen=True)
class Envelope:
    """A provider envelope around an event of ``carries`` (a source name), opened as ``sql``
    says."""

    carries: str
    sql: EnvelopeSql


def _listed(values: frozenset[str]) -> str:
    return ", ".join(sql_string(v) for v in sorted(values))


def _keys_within(allowed: frozenset[str]) -> str:
    return f"list_has_all([{_listed(allowed)}], {{keys}})"


ENVELOPE_SQL: Mapping[str, EnvelopeSql] = {
    # is_eks_cloudwatch_record: "message" and "timestamp" present, no key but CloudWatch's, and
    # logStreamName absent, null or a string naming an audit stream (str() of any other JSON
    # value cannot start with the prefix); the first occurrence of a repeated key counts.
    "kubernetes_audit_eks": EnvelopeSql(
        paths=("$.message", "$.logStreamName", "$.timestamp"),
        recognizer=(
            f"{_keys_within(CLOUDWATCH_EVENT_KEYS)} AND {{v3}} IS NOT NULL "
            "AND json_type({v1}) = 'VARCHAR' "
            "AND CASE coalesce(json_type({v2}), 'NULL') WHEN 'NULL' THEN TRUE "
            "WHEN 'VARCHAR' THEN starts_with(json_extract_string({v2}, '$'), "
            f"{sql_string(EKS_AUDIT_STREAM_PREFIX)}) ELSE FALSE END"
        ),
        carried="{v1}",
        cannot_start='{"kind":',
    ),
    # is_aks_diagnostic_record, on a line is_audit_event does not claim (the plain audit log
    # comes first): category one of the kube-audit categories, properties an object whose log is
    # a string (the first occurrence of a repeated key counts)
    "kubernetes_audit_aks": EnvelopeSql(
        # (a path reaches log only through an object: no need to read properties whole)
        paths=("$.category", "$.properties.log", "$.kind", "$.apiVersion"),
        recognizer=(
            "json_type({v1}) = 'VARCHAR' "
            f"AND json_extract_string({{v1}}, '$') IN ({_listed(AKS_AUDIT_CATEGORIES)}) "
            "AND json_type({v2}) = 'VARCHAR' "
            "AND NOT coalesce(json_type({v3}) = 'VARCHAR' "
            "AND json_extract_string({v3}, '$') = 'Event' AND json_type({v4}) = 'VARCHAR' "
            "AND starts_with(json_extract_string({v4}, '$'), 'audit.k8s.io/'), FALSE)"
        ),
        carried="{v2}",
        cannot_start='{"kind":"Event","apiVersion":"audit.k8s.io/',
    ),
}


def envelopes_of(
    sources: tuple[Source, ...], opened: Mapping[str, EnvelopeSql]
) -> dict[str, Envelope]:
    """The envelope of every source whose row says it carries another; a ``ValueError`` when
    such a source has no entry in ``opened`` or an entry has no such source."""
    carrying = {source.name: source.carries for source in sources if source.carries is not None}
    missing = sorted(set(carrying) - set(opened))
    unclaimed = sorted(set(opened) - set(carrying))
    if missing or unclaimed:
        raise ValueError(
            f"fast hunt envelopes: none for {missing} (sources that carry another), "
            f"one for {unclaimed} (no source that carries another)"
        )
    return {name: Envelope(carries, opened[name]) for name, carries in carrying.items()}


ENVELOPES: Mapping[str, Envelope] = envelopes_of(SOURCES, ENVELOPE_SQL)


def unwrap_sql(rows: str, envelopes: list[Envelope]) -> str:
    """Over ``rows`` (a subquery with each line's text as ``sx_raw``): ``sx_n``, the line's
    length; ``sx_text``, its text or the JSON text its envelope carries; ``sx_wrapped``, whether
    it was carried (DuckDB may still not read it as JSON: ``json_valid`` is left to the lines
    the text tests keep, as the others have no hit either way); ``sx_carrier``, which envelope
    carried it (1 for the first of ``envelopes``), NULL when none did."""
    if not envelopes:
        return (
            f"(SELECT strlen(sx_raw) AS sx_n, sx_raw AS sx_text, FALSE AS sx_wrapped, "
            f"NULL::INTEGER AS sx_carrier FROM {rows})"
        )
    # one parse of the line reads every path of every envelope (and one more its keys); a line
    # that starts the way no envelope can is not parsed at all
    paths = sorted({path for envelope in envelopes for path in envelope.sql.paths})
    skip = " AND ".join(f"starts_with(sx_raw, {sql_string(e.sql.cannot_start)})" for e in envelopes)
    skip = f"sx_raw IS NULL OR ({skip})"
    listed = ", ".join(sql_string(p) for p in paths)
    read = [f"CASE WHEN {skip} THEN NULL ELSE json_extract(sx_raw, [{listed}]) END AS sx_env"]
    if any("{keys}" in e.sql.recognizer for e in envelopes):
        read.append(f"CASE WHEN {skip} THEN NULL ELSE json_keys(sx_raw) END AS sx_env_keys")
    whens = []
    carriers = []
    for number, envelope in enumerate(envelopes, start=1):
        names = {
            f"v{i}": f"sx_env[{paths.index(path) + 1}]"
            for i, path in enumerate(envelope.sql.paths, start=1)
        }
        recognized = envelope.sql.recognizer.format(keys="sx_env_keys", **names)
        carried = envelope.sql.carried.format(**names)
        whens.append(
            f"WHEN sx_env IS NOT NULL AND ({recognized}) THEN json_extract_string({carried}, '$')"
        )
        carriers.append(f"WHEN sx_env IS NOT NULL AND ({recognized}) THEN {number}")
    inner = f"CASE {' '.join(whens)} END"
    carrier = f"CASE {' '.join(carriers)} END"
    opened = (
        f"(SELECT sx_raw, {inner} AS sx_inner, {carrier} AS sx_carrier "
        f"FROM (SELECT sx_raw, {', '.join(read)} FROM {rows}))"
    )
    return (
        "(SELECT strlen(sx_raw) AS sx_n, coalesce(sx_inner, sx_raw) AS sx_text, "
        "sx_inner IS NOT NULL AS sx_wrapped, "
        "CASE WHEN sx_inner IS NOT NULL THEN sx_carrier END AS sx_carrier FROM {opened})"
    ).replace("{opened}", opened)
