"""The shared part of the SIEM compilers: run a pySigma backend, give an honest verdict.

Field renaming and log-source selection happen in the mapping pipelines; a compiler only runs the
pySigma backend and renders what Sigma cannot say (``match_every_element``) in its target's own
language (``sigma_ext.build.splunk.compiler``, ``sigma_ext.build.elastic.compiler``). The statuses
are described in ``sigma_ext.build.result``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
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

from sigma_ext.build.every_element import ElementTest, base_rule, element_tests
from sigma_ext.build.quoting import one_line_query
from sigma_ext.build.result import Compiled, Reason, SharedWith, Status, Unconvertible
from sigma_ext.condition_tree import sigma_string_pattern
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import Mapping, conversion_pipeline, state_value
from sigma_ext.content.rules import RuleFile
from sigma_ext.sources.catalogue import Source, source_named
from sigma_ext.targets import Target

NOT_VISIBLE = "not visible:"
DEGRADED_ATTRIBUTE = "sigma_ext.degraded."
# A mapping state naming the source whose query also covers this one's events.
SHARED_WITH = "shared_with"
# What a conversion raises when the content is broken: pySigma's errors, a pySigma backend's
# NotImplementedError ("... not supported by the backend") and this package's Unconvertible
# (UntranslatableRegex among them). Anything else is a bug and propagates.
CONTENT_ERRORS = (SigmaError, NotImplementedError, Unconvertible)


def _degradations(rule: SigmaRule) -> list[Reason]:
    """What the mapping marked degraded: ``sigma_ext.degraded.<field>`` attributes."""
    return [
        Reason("degraded", f"{value}", name.removeprefix(DEGRADED_ATTRIBUTE))
        for name, value in sorted(rule.custom_attributes.items())
        if name.startswith(DEGRADED_ATTRIBUTE)
    ]


def _failure(message: str) -> tuple[Status, Reason]:
    """The verdict on a conversion that failed with ``message``.

    A mapping says that the target never keeps a field with a ``detection_item_failure`` whose
    message starts ``not visible:`` (the only thing a pySigma failure carries is its text);
    any other failure is broken content.
    """
    if message.startswith(NOT_VISIBLE):
        return "impossible", Reason("not_visible", message.removeprefix(NOT_VISIBLE).strip())
    return "error", Reason("content_error", message)


def shared_with(mapping: Mapping) -> SharedWith | None:
    """The mapping's ``shared_with`` state, written ``"<source>: why"``."""
    text = state_value(mapping, SHARED_WITH)
    if text is None:
        return None
    source, _, why = text.partition(":")
    return SharedWith(source.strip(), why.strip())


def sigma_value_regex(value: SigmaType) -> str:
    """A PCRE/Java-compatible anchored regex with the Sigma value's semantics."""
    if isinstance(value, SigmaRegularExpression):
        body = str(value.regexp)
        if SigmaRegularExpressionFlag.IGNORECASE in value.flags:
            return f"(?i:{body})"
        return f"(?:{body})"
    if isinstance(value, SigmaString):
        pattern = sigma_string_pattern(value, ".*", ".", re.escape)
        if pattern is None:
            raise Unconvertible(f"unfilled placeholder in {value}")
        return "(?i:^" + pattern + "$)"
    raise Unconvertible(f"cannot render {type(value).__name__} as an element test")


class SiemCompiler(ABC):
    """Compile with a pySigma backend; render every-element tests in the target language."""

    target: ClassVar[Target]
    language: ClassVar[str]
    backend_class: ClassVar[type[TextQueryBackend]]

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def compile(self, rule_file: RuleFile, source: Source) -> Compiled:
        mapping = self.corpus.mapping(self.target.mapping_dir, source)
        primary = source == self.corpus.sources_of(rule_file)[0]
        shared = shared_with(mapping)
        if shared is not None:
            # the SIEM stores this source's events with another source's, in the same fields:
            # that source's query already searches them, and a second one would alert twice
            partner = self.compile(rule_file, source_named(shared.source))
            return Compiled(
                rule_file,
                self.target,
                source,
                primary,
                "shared" if partner.query is not None else partner.status,
                partner.reasons,
                shared_with=None if partner.status == "error" else shared,
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
        except CONTENT_ERRORS as error:
            message = str(error.args[0]) if error.args else type(error).__name__
            failed, reason = _failure(message)
            return Compiled(rule_file, self.target, source, primary, failed, (reason,))
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
            raise Unconvertible(f"expected one query, the backend produced {len(queries)}")
        query = str(queries[0])
        if getattr(backend_class or self.backend_class, "escapes_control_characters", False):
            return query
        return one_line_query(query, self.target.name)

    @abstractmethod
    def render_every_element(
        self, rule_file: RuleFile, source: Source, base: SigmaRule, tests: list[ElementTest]
    ) -> tuple[str, list[Reason], str]:
        """The query for a rule with ``match_every_element``, extra reasons, and its language.

        ``base`` is the rule without its every-element conjuncts (``every_element.base_rule``).
        """
