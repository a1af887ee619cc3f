"""Correlation files run on events: base rules compiled natively per source, then the evaluator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.correlations import CorrelationFile
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.reference.correlation import (
    TIME_FIELDS,
    BaseHit,
    BaseRules,
    Correlation,
    CorrelationHit,
    evaluate,
)
from sigma_ext.sources.catalogue import Source
from sigma_ext.targets import NATIVE

Item = tuple[Source, Mapping[str, Any], tuple[str, int]]


class CorrelationEngine:
    """Every correlation file of the corpus, ready for native documents of each source."""

    def __init__(self, corpus: Corpus, files: Iterable[CorrelationFile]) -> None:
        self._runs: list[tuple[Correlation, dict[str, BaseRules]]] = []
        for correlation_file in files:
            correlation = Correlation.of(correlation_file.stem, correlation_file.correlation())
            per_source: dict[str, BaseRules] = {}
            for source in correlation_file.sources():
                if source.name not in TIME_FIELDS:
                    continue
                pipeline = conversion_pipeline(
                    corpus.mapping(NATIVE.mapping_dir, source), corpus.profile
                )
                base = correlation_file.base_rules()
                for rule in base:
                    pipeline.apply(rule)
                per_source[source.name] = BaseRules.compile(
                    base, correlation.group_by, TIME_FIELDS[source.name]
                )
            self._runs.append((correlation, per_source))

    def correlate(self, items: Iterable[Item]) -> list[CorrelationHit]:
        """The hits of every correlation over the items, per correlation in window order.

        ``items`` are decoded native documents with their source and place (file, line).
        """
        base_hits: dict[str, list[BaseHit]] = {c.name: [] for c, _ in self._runs}
        for source, document, place in items:
            for correlation, per_source in self._runs:
                base = per_source.get(source.name)
                if base is not None:
                    base_hits[correlation.name] += base.hits(document, place)
        return [
            hit
            for correlation, _ in self._runs
            for hit in evaluate(correlation, base_hits[correlation.name])
        ]
