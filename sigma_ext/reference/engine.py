"""The reference engine: every rule, compiled for the native events, applied by source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigma.exceptions import SigmaError

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


def compile_native(
    corpus: Corpus, rule_file: RuleFile, source: Source
) -> CompiledRule | list[Problem]:
    """The rule compiled for the source's native events, or the problems that stop it (each
    with the line of the field at fault where there is one)."""
    mapping = corpus.mapping(NATIVE.mapping_dir, source)
    try:
        rule = rule_file.fresh()
        conversion_pipeline(mapping, corpus.profile).apply(rule)
        return compile_rule(rule, rule_file.every_element)
    except (SigmaError, UnsupportedConstruct) as error:
        message = str(error.args[0]) if error.args else type(error).__name__
        return compile_problems(rule_file, mapping, f"{NATIVE.name}/{source.name}", message)


def native_problems(corpus: Corpus) -> list[Problem]:
    """Every problem that stops a rule from compiling for the native events of a source."""
    return [
        problem
        for rule_file in corpus.rules
        for source in corpus.sources_of(rule_file)
        for problem in _problems(compile_native(corpus, rule_file, source))
    ]


def _problems(outcome: CompiledRule | list[Problem]) -> list[Problem]:
    return outcome if isinstance(outcome, list) else []


class ReferenceEngine:
    """Answers: which rules match this native event?"""

    def __init__(self, corpus: Corpus) -> None:
        """Compile every rule; raise ProblemsFound with every rule that does not compile."""
        self.corpus = corpus
        self._by_source: dict[str, list[Loaded]] = {}
        problems: list[Problem] = []
        for rule_file in corpus.rules:
            for source in corpus.sources_of(rule_file):
                compiled = compile_native(corpus, rule_file, source)
                if isinstance(compiled, list):
                    problems.extend(compiled)
                    continue
                self._by_source.setdefault(source.name, []).append(Loaded(rule_file, compiled))
        if problems:
            raise ProblemsFound(problems)

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
