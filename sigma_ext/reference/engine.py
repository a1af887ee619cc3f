"""The reference engine: every rule, compiled for the native events, applied by source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import compile_problems, conversion_pipeline
from sigma_ext.content.rules import RuleFile
from sigma_ext.problems import Problem, ProblemsFound
from sigma_ext.reference.evaluator import (
    CompiledRule,
    Fields,
    UnsupportedConstruct,
    compile_rule,
)
from sigma_ext.sources.catalogue import Source, recognize
from sigma_ext.targets import NATIVE


@dataclass(frozen=True)
class Loaded:
    rule_file: RuleFile
    compiled: CompiledRule


@dataclass(frozen=True)
class NativeCompilation:
    """Every rule compiled for the native events of each of its sources, and what failed."""

    by_source: dict[str, list[Loaded]]
    problems: list[Problem]


def compile_native(corpus: Corpus) -> NativeCompilation:
    """The one native compile: the reference engine runs it, ``check`` reports its problems."""
    by_source: dict[str, list[Loaded]] = {}
    problems: list[Problem] = []
    # One pipeline per source, applied to each of its rules in turn, as a pySigma backend
    # applies its pipeline to each rule of a collection (``apply`` starts from a clean state).
    pipelines: dict[str, ProcessingPipeline] = {}
    for rule_file in corpus.rules:
        sources = corpus.sources_of(rule_file)
        for number, source in enumerate(sources):
            mapping = corpus.mapping(NATIVE.mapping_dir, source)
            try:
                # the rule the checks parsed serves its last source (no parse of its own)
                rule = rule_file.take_parsed() if number == len(sources) - 1 else rule_file.fresh()
                if source.name not in pipelines:
                    pipelines[source.name] = conversion_pipeline(mapping, corpus.profile)
                pipelines[source.name].apply(rule)
                loaded = Loaded(rule_file, compile_rule(rule, rule_file.every_element))
            except (SigmaError, UnsupportedConstruct) as error:
                message = str(error.args[0]) if error.args else type(error).__name__
                # at the line of the field at fault, naming it, where there is one
                problems += compile_problems(
                    rule_file, mapping, f"{NATIVE.name}/{source.name}", message
                )
                continue
            by_source.setdefault(source.name, []).append(loaded)
    return NativeCompilation(by_source, problems)


class ReferenceEngine:
    """Answers: which rules match this native event?

    Raises ``ProblemsFound`` when a rule does not compile for the native events.
    """

    def __init__(self, corpus: Corpus, native: NativeCompilation | None = None) -> None:
        self.corpus = corpus
        native = compile_native(corpus) if native is None else native
        if native.problems:
            raise ProblemsFound(native.problems)
        self._by_source = native.by_source

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
