"""Correlation files run on events: base rules compiled natively per source, then the evaluator.

Two ways in, one semantics (``sigma_ext.reference.correlation``):

* ``CorrelationEngine.correlate``: decoded native documents in, correlation hits out (the
  evaluator over a stream of events, as the tests drive it);
* ``CorrelationEngine.hunting``: the reference engine with every correlation's base rules added
  after each source's own rules (``HuntEngine``), so that ``hunt`` judges them in its one pass,
  whichever engine runs: the reference engine per event, the fast engine in its SQL like any
  rule. A base rule's match is a ``BaseMatch``: the rule with the event's time and group-by
  values (taken from the event the verdict was made on, so nothing is read twice), which
  ``hunt`` hands to ``CorrelationEngine.evaluate`` instead of printing it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sigma.rule import SigmaRule

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.correlations import CorrelationFile
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.content.rules import RuleFile
from sigma_ext.reference.correlation import (
    TIME_FIELDS,
    BaseHit,
    BaseRules,
    Correlation,
    CorrelationHit,
    Group,
    evaluate,
    hit_group,
    hit_time,
    hit_values,
    parse_time,
)
from sigma_ext.reference.engine import Loaded, NativeCompilation, ReferenceEngine
from sigma_ext.reference.evaluator import CompiledRule, Fields, compile_rule
from sigma_ext.sources.catalogue import SOURCES, Source, recognize
from sigma_ext.targets import NATIVE
from sigma_ext.yamlio import SAFE_LOADER, Located

# (source, native document, (file, line) or (file, line, record in its batch document))
Item = tuple[Source, Mapping[str, Any], tuple[str, int] | tuple[str, int, int]]


@dataclass(frozen=True)
class BaseRuleFile(RuleFile):
    """A correlation's base rule, as the hunt engines take a rule (``path`` is the correlation
    file's, ``data`` the base rule's document). Its hits are never printed."""

    correlation: str
    """The correlation file's stem (``Correlation.name``)."""
    name: str
    """The base rule's ``name``, as the correlation refers to it."""
    group_by: tuple[str, ...]

    def matched(self, document: Mapping[str, Any], source: Source) -> BaseMatch:
        """This rule's match on a native document of ``source``, with its time and group."""
        return self.match_of(*hit_values(document, self.group_by, TIME_FIELDS[source.name]))

    def match_of(self, time: datetime | None, group: Group | None) -> BaseMatch:
        """This rule's match on an event with that time and group."""
        return BaseMatch(
            self.path,
            self.data,
            self.located,
            self.correlation,
            self.name,
            self.group_by,
            time,
            group,
        )


@dataclass(frozen=True)
class BaseMatch(BaseRuleFile):
    """A base rule's verdict on one event: what the correlation evaluator keeps of it."""

    time: datetime | None
    group: Group | None


def carried(
    rule_files: Sequence[RuleFile], document: Mapping[str, Any], source: Source
) -> list[RuleFile]:
    """The rules a verdict on a native document of ``source`` found, each base rule as its
    ``BaseMatch`` on the document (its time read once, and each group-by's values once)."""
    return _matched(
        rule_files,
        lambda: hit_time(document, TIME_FIELDS[source.name]),
        lambda group_by: hit_group(document, group_by),
    )


def carried_strings(
    rule_files: Sequence[RuleFile], strings: Mapping[str, str], source: Source
) -> list[RuleFile]:
    """``carried`` on a native document of ``source`` in which each field of ``strings`` holds
    that one string, and each other field the hits read (time, group-by) no value: what the
    fast engine's native judge hands back (``judge.CarriedValues``), read without a document."""

    def group(group_by: tuple[str, ...]) -> Group | None:
        values = tuple(strings.get(name, "") for name in group_by)
        return values if all(values) else None  # (an empty string is no value)

    return _matched(rule_files, lambda: parse_time(strings.get(TIME_FIELDS[source.name])), group)


def _matched(
    rule_files: Sequence[RuleFile],
    time_of: Callable[[], datetime | None],
    group_of: Callable[[tuple[str, ...]], Group | None],
) -> list[RuleFile]:
    """``rule_files``, each base rule as its ``BaseMatch`` with the event's time (``time_of``,
    read once) and group (``group_of`` each group-by, read once)."""
    found: list[RuleFile] = []
    groups: dict[tuple[str, ...], Group | None] = {}
    time: datetime | None = None
    timed = False
    for rule_file in rule_files:
        if isinstance(rule_file, BaseRuleFile) and not isinstance(rule_file, BaseMatch):
            if not timed:
                time, timed = time_of(), True
            if rule_file.group_by not in groups:
                groups[rule_file.group_by] = group_of(rule_file.group_by)
            found.append(rule_file.match_of(time, groups[rule_file.group_by]))
        else:
            found.append(rule_file)
    return found


class HuntEngine(ReferenceEngine):
    """The reference engine with the correlations' base rules after each source's own rules:
    ``match`` names a base rule as its ``BaseMatch``; ``rules_for`` gives them to the fast
    engine, which compiles them like any rule."""

    def __init__(self, engine: ReferenceEngine, correlations: CorrelationEngine) -> None:
        by_source = {
            source.name: [*engine.rules_for(source), *correlations.loaded(source)]
            for source in SOURCES
        }
        super().__init__(engine.corpus, NativeCompilation(by_source, []))
        self.correlations = correlations

    def match(self, event: Mapping[str, Any], source: Source | None = None) -> list[RuleFile]:
        source = source or recognize(event)
        if source is None:
            return []
        document = source.decode(event)
        fields = Fields(document)
        # base rules of several correlations may be one rule (the bursts'): judged once
        verdicts: dict[int, bool] = {}
        found = []
        for loaded in self.rules_for(source):
            verdict = verdicts.get(id(loaded.compiled))
            if verdict is None:
                verdict = verdicts[id(loaded.compiled)] = loaded.compiled.matches(fields)
            if verdict:
                found.append(loaded.rule_file)
        return carried(found, document, source)


class CorrelationEngine:
    """Every correlation file of the corpus, ready for native documents of each source."""

    def __init__(self, corpus: Corpus, files: Iterable[CorrelationFile]) -> None:
        self.files: dict[str, CorrelationFile] = {}
        self._runs: list[tuple[Correlation, dict[str, BaseRules]]] = []
        self._loaded: dict[str, list[Loaded]] = {}
        self._same: dict[tuple[str, str], CompiledRule] = {}
        for correlation_file in files:
            self.files[correlation_file.stem] = correlation_file
            correlation = Correlation.of(correlation_file.stem, correlation_file.correlation())
            rule_files = _base_rule_files(correlation_file, correlation)
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
                compiled = [
                    (str(rule.name), self._compiled(source, rule_files[str(rule.name)], rule))
                    for rule in base
                ]
                per_source[source.name] = BaseRules(
                    tuple(compiled), correlation.group_by, TIME_FIELDS[source.name]
                )
                self._loaded.setdefault(source.name, []).extend(
                    Loaded(rule_files[name], rule) for name, rule in compiled
                )
            self._runs.append((correlation, per_source))

    def _compiled(self, source: Source, rule_file: BaseRuleFile, rule: SigmaRule) -> CompiledRule:
        """The base rule compiled for ``source``: one object for base rules that are the same
        rule in several correlation files (same log source and detection), judged once."""
        key = (
            source.name,
            json.dumps(
                [rule_file.data.get("logsource"), rule_file.data.get("detection")],
                sort_keys=True,
                default=str,
            ),
        )
        if key not in self._same:
            self._same[key] = compile_rule(rule)
        return self._same[key]

    def loaded(self, source: Source) -> list[Loaded]:
        """The base rules of every correlation, compiled for the native events of ``source``."""
        return self._loaded.get(source.name, [])

    def hunting(self, engine: ReferenceEngine) -> HuntEngine:
        """``engine`` with the base rules: what ``hunt`` judges events with."""
        return HuntEngine(engine, self)

    def correlate(self, items: Iterable[Item]) -> list[CorrelationHit]:
        """The hits of every correlation over the items, per correlation in window order.

        ``items`` are decoded native documents with their source and place (file, line, and
        the record's position for a record of a batch document).
        """
        base_hits: list[tuple[str, BaseHit]] = []
        for source, document, place in items:
            record = place[2] if len(place) == 3 else None
            for correlation, per_source in self._runs:
                base = per_source.get(source.name)
                if base is not None:
                    base_hits += [
                        (correlation.name, hit)
                        for hit in base.hits(document, (place[0], place[1]), record)
                    ]
        return self.evaluate(base_hits)

    def evaluate(self, base_hits: Iterable[tuple[str, BaseHit]]) -> list[CorrelationHit]:
        """The hits of every correlation, per correlation in window order, from its base
        rules' hits (the correlation's name with each, in the order the events came)."""
        per_correlation: dict[str, list[BaseHit]] = {c.name: [] for c, _ in self._runs}
        for name, hit in base_hits:
            per_correlation[name].append(hit)
        return [
            hit
            for correlation, _ in self._runs
            for hit in evaluate(correlation, per_correlation[correlation.name])
        ]


def _base_rule_files(
    correlation_file: CorrelationFile, correlation: Correlation
) -> dict[str, BaseRuleFile]:
    """Each base rule of the file, by name, as the hunt engines take a rule."""
    found: dict[str, BaseRuleFile] = {}
    for document in yaml.load_all(correlation_file.text, Loader=SAFE_LOADER):
        if not isinstance(document, dict) or "correlation" in document:
            continue
        name = str(document.get("name", ""))
        found[name] = BaseRuleFile(
            correlation_file.path,
            document,
            Located(correlation_file.path, document, {}),
            correlation.name,
            name,
            correlation.group_by,
        )
    return found
