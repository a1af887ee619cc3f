"""The shared part of the SIEM compilers: run a pySigma backend, give an honest verdict.

Field renaming and log-source selection happen in the mapping pipelines; a compiler only runs the
pySigma backend and renders what Sigma cannot say (``match_every_element``) in its target's own
language (``sigma_ext.build.splunk.compiler``, ``sigma_ext.build.elastic.compiler``). The statuses
are described in ``sigma_ext.build.result``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conversion.base import TextQueryBackend
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaType,
)

from sigma_ext.build.elastic.lucene_regex import UntranslatableRegex
from sigma_ext.build.every_element import ElementTest, base_rule, element_tests
from sigma_ext.build.result import Compiled, Status
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import conversion_pipeline, state_value
from sigma_ext.content.rules import RuleFile
from sigma_ext.reference.evaluator import sigma_string_regex
from sigma_ext.sources.catalogue import Source, source_named
from sigma_ext.targets import Target

NOT_VISIBLE = "not visible:"
DEGRADED_ATTRIBUTE = "sigma_ext.degraded."
# A mapping state naming the source whose query also covers this one's events: "<source>: why".
SHARED_WITH = "shared_with"


def _degradations(rule: SigmaRule) -> list[str]:
    return [
        f"{name.removeprefix(DEGRADED_ATTRIBUTE)}: {value}"
        for name, value in sorted(rule.custom_attributes.items())
        if name.startswith(DEGRADED_ATTRIBUTE)
    ]


def sigma_value_regex(value: SigmaType) -> str:
    """A PCRE/Java-compatible anchored regex with the Sigma value's semantics."""
    if isinstance(value, SigmaRegularExpression):
        body = str(value.regexp)
        if SigmaRegularExpressionFlag.IGNORECASE in value.flags:
            return f"(?i:{body})"
        return f"(?:{body})"
    if isinstance(value, SigmaString):
        return "(?i:" + sigma_string_regex(value) + ")"
    raise TypeError(f"cannot render {type(value).__name__} as an element test")


class SiemCompiler:
    """Compile with a pySigma backend; render every-element tests in the target language."""

    target: ClassVar[Target]
    language: ClassVar[str]
    backend_class: ClassVar[type[TextQueryBackend]]

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def compile(self, rule_file: RuleFile, source: Source) -> Compiled:
        mapping = self.corpus.mapping(self.target.mapping_dir, source)
        primary = source == self.corpus.sources_of(rule_file)[0]
        shared = state_value(mapping, SHARED_WITH)
        if shared is not None:
            # the SIEM stores this source's events with another source's, in the same fields:
            # that source's query already searches them, and a second one would alert twice
            partner = self.compile(rule_file, source_named(shared.split(":", 1)[0].strip()))
            return Compiled(
                rule_file,
                self.target,
                source,
                primary,
                "shared" if partner.query is not None else partner.status,
                partner.reasons if partner.status == "error" else (shared, *partner.reasons),
            )
        index = state_value(mapping, "index")
        language = self.language
        try:
            if rule_file.every_element:
                rule = base_rule(rule_file)
                tests = element_tests(rule_file, conversion_pipeline(mapping, self.corpus.profile))
                query, extra, language = self.render_every_element(rule_file, source, rule, tests)
            else:
                rule = rule_file.fresh()
                query = self._convert(rule, conversion_pipeline(mapping, self.corpus.profile))
                extra = []
        except (SigmaError, NotImplementedError, TypeError, UntranslatableRegex) as error:
            message = str(error.args[0]) if error.args else type(error).__name__
            if message.startswith(NOT_VISIBLE):
                return Compiled(
                    rule_file,
                    self.target,
                    source,
                    primary,
                    "impossible",
                    (message.removeprefix(NOT_VISIBLE).strip(),),
                )
            return Compiled(rule_file, self.target, source, primary, "error", (message,))
        reasons = tuple(_degradations(rule) + extra)
        status: Status = "degraded" if reasons else "ok"
        return Compiled(
            rule_file,
            self.target,
            source,
            primary,
            status,
            reasons,
            language,
            query,
            (index,) if index else (),
        )

    def _backend(
        self, pipeline: Any, backend_class: type[TextQueryBackend] | None = None
    ) -> TextQueryBackend:
        return (backend_class or self.backend_class)(processing_pipeline=pipeline)

    def _convert(
        self,
        rule: SigmaRule,
        pipeline: Any,
        backend_class: type[TextQueryBackend] | None = None,
    ) -> str:
        queries = self._backend(pipeline, backend_class).convert_rule(rule)
        if len(queries) != 1:
            raise TypeError(f"expected one query, the backend produced {len(queries)}")
        return " ".join(line.strip() for line in str(queries[0]).splitlines())

    def render_every_element(
        self, rule_file: RuleFile, source: Source, base: SigmaRule, tests: list[ElementTest]
    ) -> tuple[str, list[str], str]:
        """The query for a rule with ``match_every_element``, extra reasons, and its language.

        ``base`` is the rule without its every-element conjuncts (``every_element.base_rule``).
        """
        raise NotImplementedError
