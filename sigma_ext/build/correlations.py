"""Compiling Sigma correlation rules for each SIEM, or saying per target why not.

pySigma 1.5 compiles ``event_count``, ``value_count`` and ``temporal`` correlations with its
Splunk backend (method ``stats``: ``bin _time span=``, ``stats count``/``dc(event_type)``,
``multisearch`` for ``temporal``) and its Elasticsearch ES|QL backend (``date_trunc``,
``stats``); its Lucene backend compiles none, so Elastic gets ES|QL rules. ``temporal_ordered``
compiles for neither. Verdicts use the single rules' vocabulary (``sigma_ext.build.result``):

- **Splunk**: a source whose mapping embeds a prelude (AKS's ``spath input=properties.log``,
  GKE's ``rex`` of the method name) gets the prelude where each base search starts: in front of
  an ``event_count`` search, inside each ``multisearch`` branch of a ``temporal`` one.
- **Elastic**: a group-by field the mapping does not name is *impossible* (pySigma would search
  the rule's own field name, which no document has); the base rules' mapping degradations carry
  over; a source the SIEM stores with another's is *shared*, as for single rules. The query is
  pySigma's ES|QL with two changes its output needs on real data: Sigma's two-valued negation
  (``NullSafeESQLBackend``: ``not (a or b)`` is null, and drops the event, when ``a`` is a
  missing field), and the mapping's ``esql_prelude`` after ``FROM`` (a column no index maps
  fails the whole query).
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma.correlations import SigmaCorrelationRule

from sigma_ext.build.elastic.compiler import (
    ESQL_PRELUDE,
    NullSafeESQLBackend,
    with_esql_prelude,
)
from sigma_ext.build.result import Reason, SharedWith, Status
from sigma_ext.build.siem_compiler import CONTENT_ERRORS, _degradations, _failure, shared_with
from sigma_ext.build.splunk.compiler import QuotingSplunkBackend
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.correlations import CorrelationFile
from sigma_ext.content.mappings import Mapping, conversion_pipeline, state_value
from sigma_ext.sources.catalogue import Source
from sigma_ext.targets import ELASTIC, SPLUNK, Target

CORRELATION_TARGETS: tuple[Target, ...] = (SPLUNK, ELASTIC)


@dataclass(frozen=True)
class CompiledCorrelation:
    """One correlation rule compiled for one target and source."""

    correlation: str
    source: str
    target: str
    status: Status
    query: str | None
    language: str | None
    reasons: tuple[Reason, ...] = ()
    shared: SharedWith | None = None


def _group_by_problem(
    correlation: SigmaCorrelationRule, mapping: Mapping, target: Target
) -> Reason | None:
    """A group-by field the mapping neither maps nor knows cannot be grouped on."""
    known = mapping.known_fields()
    failing = {
        name
        for item in mapping.data.get("transformations", [])
        if item.get("type") == "detection_item_failure"
        and str(item.get("message", "")).startswith("not visible")
        for condition in item.get("field_name_conditions", [])
        if condition.get("type") == "include_fields"
        for name in condition.get("fields", [])
    }
    for field in correlation.group_by or ():
        if field in failing or field not in known:
            return Reason(
                "not_visible",
                f"the correlation groups by {field}, which {target.name} events of this source "
                "do not carry as a field",
                field,
            )
    return None


def _embedded_prefix(mapping: Mapping) -> str | None:
    """The prefix a Splunk mapping embeds in front of each search (``... | search ``)."""
    for item in mapping.data.get("postprocessing", []) or []:
        if item.get("type") == "embed" and item.get("prefix"):
            return str(item["prefix"])
    return None


def _with_prelude(query: str, prefix: str) -> str:
    """The prelude where each base search starts; ``prefix`` ends in ``| search ``."""
    if "| multisearch" in query:
        return query.replace("[ search ", f"[ search {prefix}")
    return f"{prefix}{query.lstrip()}"


# The (source, target) pairs whose documented ingestion stamps an event with the time it was
# read, not the time the API server wrote it (stageTimestamp, the evaluator's time): the windows
# are cut on that time there (docs/correlations.md, tests/test_correlation_emulation.py).
READ_TIME_STAMPED: dict[tuple[str, str], str] = {
    ("kubernetes_audit", "splunk"): "the OpenTelemetry Collector's filelog receiver, the "
    "documented kube:apiserver-audit input, does not parse the audit timestamp, so _time is the "
    "time the line was collected or indexed",
    ("kubernetes_audit", "elastic"): "the Kubernetes integration's audit_logs input and ingest "
    "pipeline do not parse the audit timestamp, so @timestamp is the time the agent read the line",
}


def _window_time_reasons(source: Source, target: Target) -> list[Reason]:
    """Why the SIEM's windows may differ from the evaluator's: the time they are cut on."""
    why = READ_TIME_STAMPED.get((source.name, target.name))
    if why is None:
        return []
    return [
        Reason(
            "degraded",
            f"{why}, later than stageTimestamp by the collection delay: an event written just "
            "before a window boundary and read after it counts in the next window (a pair "
            "written inside one window is missed, or one split by the boundary is joined)",
            "window time",
        )
    ]


def _esql_with_mapping_prelude(query: str, mapping: Mapping) -> str:
    """The ES|QL query with the mapping's ``esql_prelude`` right after ``FROM``, as single ES|QL
    rules get it: ES|QL refuses a query that names a column no index maps, so a mapping whose
    source lacks a field the rules read (GKE's request URI) defines it there as null."""
    return with_esql_prelude(query, state_value(mapping, ESQL_PRELUDE))


def compile_correlation(
    corpus: Corpus, correlation_file: CorrelationFile, source: Source, target: Target
) -> CompiledCorrelation:
    """The correlation for one target and source, with the verdict and its reasons."""
    stem = correlation_file.stem
    mapping = corpus.mapping(target.mapping_dir, source)
    shared = shared_with(mapping) if target is ELASTIC else None
    collection = correlation_file.collection()
    correlation = correlation_file.correlation(collection)
    missing = _group_by_problem(correlation, mapping, target)
    if missing is not None:
        return CompiledCorrelation(
            stem, source.name, target.name, "impossible", None, None, (missing,)
        )
    reasons: list[Reason] = []
    for rule in correlation_file.base_rules():
        try:
            conversion_pipeline(mapping, corpus.profile).apply(rule)
        except CONTENT_ERRORS as error:
            status, reason = _failure(str(error.args[0]) if error.args else type(error).__name__)
            return CompiledCorrelation(
                stem, source.name, target.name, status, None, None, (reason,)
            )
        reasons += [r for r in _degradations(rule) if r not in reasons]
    pipeline = conversion_pipeline(mapping, corpus.profile)
    # the prelude a Splunk mapping embeds goes where each base search starts (below), not in
    # front of the whole correlation search
    prelude = _embedded_prefix(mapping) if target is SPLUNK else None
    if prelude is not None:
        pipeline.postprocessing_items = []
    backend = QuotingSplunkBackend(pipeline) if target is SPLUNK else NullSafeESQLBackend(pipeline)
    try:
        queries = backend.convert(collection)
    except CONTENT_ERRORS as error:
        status, reason = _failure(str(error.args[0]) if error.args else type(error).__name__)
        return CompiledCorrelation(stem, source.name, target.name, status, None, None, (reason,))
    [query] = queries
    if prelude is not None:
        query = _with_prelude(str(query), prelude)
    if target is ELASTIC:
        query = _esql_with_mapping_prelude(str(query), mapping)
    reasons += _window_time_reasons(source, target)
    verdict: Status = "shared" if shared else ("degraded" if reasons else "ok")
    language = "spl" if target is SPLUNK else "esql"
    return CompiledCorrelation(
        stem, source.name, target.name, verdict, str(query), language, tuple(reasons), shared
    )


def compile_correlations(corpus: Corpus, files: list[CorrelationFile]) -> list[CompiledCorrelation]:
    """Every correlation for every SIEM target and every source of its base rules."""
    return [
        compile_correlation(corpus, correlation_file, source, target)
        for correlation_file in files
        for source in correlation_file.sources()
        for target in CORRELATION_TARGETS
    ]


def correlation_markdown(compiled: list[CompiledCorrelation]) -> str:
    """The verdict of every correlation per source and SIEM, with the reasons."""
    lines = [
        "# Correlation rules",
        "",
        "Sigma correlation rules (`correlations/`) per source and SIEM: ok, degraded (why), shared "
        "(another source's query searches the same stored events), impossible (why). Lucene has "
        "no correlations; Elastic gets ES|QL. `sigma-ext hunt` evaluates them on every input.",
        "",
        "| correlation | source | target | verdict | why |",
        "|---|---|---|---|---|",
    ]
    for c in compiled:
        why = "; ".join(str(r) for r in c.reasons) or (str(c.shared) if c.shared else "")
        why = why.replace("|", "\\|")
        lines.append(f"| {c.correlation} | {c.source} | {c.target} | {c.status} | {why} |")
    return "\n".join(lines) + "\n"
