"""The reference engine: every rule, compiled for the native events, applied by source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.content.rules import RuleFile
from sigma_ext.reference.evaluator import CompiledRule, Fields, compile_rule
from sigma_ext.sources.catalogue import Source, recognize
from sigma_ext.targets import NATIVE


@dataclass(frozen=True)
class Loaded:
    rule_file: RuleFile
    compiled: CompiledRule


class ReferenceEngine:
    """Answers: which rules match this native event?"""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self._by_source: dict[str, list[Loaded]] = {}
        for rule_file in corpus.rules:
            for source in corpus.sources_of(rule_file):
                rule = rule_file.fresh()
                conversion_pipeline(
                    corpus.mapping(NATIVE.mapping_dir, source), corpus.profile
                ).apply(rule)
                loaded = Loaded(rule_file, compile_rule(rule, rule_file.every_element))
                self._by_source.setdefault(source.name, []).append(loaded)

    def rules_for(self, source: Source) -> list[Loaded]:
        return self._by_source.get(source.name, [])

    def match(self, event: Mapping[str, Any], source: Source | None = None) -> list[RuleFile]:
        """The rules that fire on the event; its source is recognised when not given.

        The event is as the source writes it; the source's ``decode`` unwraps any envelope.
        """
        source = source or recognize(event)
        if source is None:
            return []
        fields = Fields(source.decode(event))
        return [
            loaded.rule_file for loaded in self.rules_for(source) if loaded.compiled.matches(fields)
        ]
