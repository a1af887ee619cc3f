"""Compiling one rule for one SIEM target, with an honest verdict on the result.

Every (rule, target) pair ends in one status:

``ok``
    the query expresses the rule completely on data as the target ingests it;
``degraded``
    a query is emitted, but it sees less than the rule asks for; each reason says what;
``impossible``
    the target's ingestion never keeps something the rule needs; no query is emitted;
``error``
    the content is broken (an unmapped field, an unsupported construct); the build fails.

Field renaming and log-source selection happen in the mapping pipelines; this module only runs
the pySigma backends and renders what Sigma cannot say (``match_every_element``) in each
target's own language.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.backends.splunk.splunk import SplunkBackend
from sigma.conditions import ConditionNOT
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaType,
)

from sigma_ext.build.elastic.lucene_regex import UntranslatableRegex, lower_literals, to_lucene
from sigma_ext.build.every_element import ElementTest, base_rule, element_tests
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import conversion_pipeline, state_value
from sigma_ext.content.rules import RuleFile
from sigma_ext.problems import Problem
from sigma_ext.reference.evaluator import UnsupportedConstruct, compile_rule, sigma_string_regex
from sigma_ext.sources.catalogue import Source, source_named
from sigma_ext.targets import ELASTIC, NATIVE, SPLUNK, Target

Status = Literal["ok", "degraded", "impossible", "shared", "error"]
NOT_VISIBLE = "not visible:"
DEGRADED_ATTRIBUTE = "sigma_ext.degraded."
# A mapping state naming the source whose query also covers this one's events: "<source>: why".
SHARED_WITH = "shared_with"
NO_ESQL_ATTRIBUTE = "sigma_ext.no_esql"


@dataclass(frozen=True)
class Compiled:
    """The outcome of compiling one rule for one target and one source."""

    rule: RuleFile
    target: Target
    source: Source
    primary: bool
    status: Status
    reasons: tuple[str, ...] = ()
    language: str | None = None
    query: str | None = None
    index: tuple[str, ...] = field(default=())

    @property
    def output_id(self) -> str:
        """The rule id on the primary source; a stable id derived from it on the others."""
        if self.primary:
            return self.rule.id
        return str(uuid.uuid5(uuid.UUID(self.rule.id), self.source.name))

    @property
    def output_stem(self) -> str:
        return self.rule.stem if self.primary else f"{self.rule.stem}.{self.source.name}"

    @property
    def output_name(self) -> str:
        return self.rule.title if self.primary else f"{self.rule.title} ({self.source.label})"


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


def _spl_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


SPLUNK_PRELUDE = "splunk_prelude"


class SplunkCompiler(SiemCompiler):
    """Splunk searches; a mapping may set the state ``splunk_prelude``.

    The prelude is the SPL that must run before the rule's own search can see its fields, such
    as ``sourcetype=... | spath input=properties.log`` when the event carries the document as a
    JSON string. The search then reads ``<prelude> | search <rule search>``.
    """

    target = SPLUNK
    language = "spl"
    backend_class = SplunkBackend

    def compile(self, rule_file: RuleFile, source: Source) -> Compiled:
        compiled = super().compile(rule_file, source)
        prelude = state_value(self.corpus.mapping(self.target.mapping_dir, source), SPLUNK_PRELUDE)
        if prelude is None or compiled.query is None:
            return compiled
        return replace(compiled, query=f"{prelude} | search {compiled.query}")

    def render_every_element(
        self, rule_file: RuleFile, source: Source, base: SigmaRule, tests: list[ElementTest]
    ) -> tuple[str, list[str], str]:
        """``mvfilter`` keeps the pooled elements that match no approved value."""
        mapping = self.corpus.mapping(self.target.mapping_dir, source)
        stages = [self._convert(base, conversion_pipeline(mapping, self.corpus.profile))]
        for number, test in enumerate(tests, start=1):
            pool, left = f"sigma_ext_elements_{number}", f"sigma_ext_unmatched_{number}"
            fields = ", ".join(f"'{name}'" for name in test.fields)
            regex = "|".join(sigma_value_regex(value) for value in test.values)
            stages += [
                f"eval {pool}=mvappend({fields})",
                f"eval {left}=mvfilter(NOT match({pool}, {_spl_string(regex)}))",
                f"where mvcount({left}) > 0",
            ]
        return " | ".join(stages), [], self.language


def _esql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _esql_field(name: str) -> str:
    return name if all(c.isalnum() or c in "._" for c in name) else f"`{name}`"


def esql_element_condition(column: str, values: tuple[SigmaType, ...]) -> str:
    """An ES|QL condition true when the single value in ``column`` matches one of ``values``.

    Case-insensitive values compare the lower-cased element with a lower-cased pattern;
    case-sensitive regular expressions compare the element as it is.
    """
    folded: list[str] = []
    exact: list[str] = []
    for value in values:
        if isinstance(value, SigmaString):
            folded.append(lower_literals(to_lucene(sigma_string_regex(value))))
        elif isinstance(value, SigmaRegularExpression):
            lucene = to_lucene(str(value.regexp))
            if SigmaRegularExpressionFlag.IGNORECASE in value.flags:
                folded.append(lower_literals(lucene))
            else:
                exact.append(lucene)
        else:
            raise TypeError(f"cannot render {type(value).__name__} as an element test")
    tests = []
    if folded:
        tests.append(f"TO_LOWER({column}) RLIKE {_esql_string('|'.join(folded))}")
    if exact:
        tests.append(f"{column} RLIKE {_esql_string('|'.join(exact))}")
    return " OR ".join(tests) if tests else "false"


class NullSafeESQLBackend(ESQLBackend):
    """pySigma's ES|QL backend with Sigma's two-valued negation.

    In ES|QL a comparison with a missing (null) field is null, and ``NOT null`` is null, so
    ``not field == "x"`` drops every event without the field, where Sigma keeps it. Each negated
    expression is therefore written ``not coalesce(<expression>, false)``.
    """

    def convert_condition_not(
        self, cond: ConditionNOT, state: ConversionState
    ) -> str | DeferredQueryExpression | None:
        converted = super().convert_condition_not(cond, state)
        prefix = self.not_token + self.token_separator
        if isinstance(converted, str) and converted.startswith(prefix):
            return f"{prefix}coalesce({converted.removeprefix(prefix)}, false)"
        return converted


ESQL_PRELUDE = "esql_prelude"


class ElasticCompiler(SiemCompiler):
    """Lucene for plain rules; ES|QL where a rule needs ``match_every_element``.

    A mapping may set the state ``esql_prelude``: ES|QL commands that make the fields the
    element tests read (``DISSECT kubernetes.event.message ...`` where the image is inside a
    text message), run after the rule's own ``WHERE``.
    """

    target = ELASTIC
    language = "lucene"
    backend_class = LuceneBackend

    def render_every_element(
        self, rule_file: RuleFile, source: Source, base: SigmaRule, tests: list[ElementTest]
    ) -> tuple[str, list[str], str]:
        """``MV_EXPAND`` the pooled elements and keep the rows whose element matches no value.

        A document with several unapproved elements yields several rows; the query keeps
        ``_id`` (``METADATA``), by which Kibana deduplicates the alerts of a non-aggregating
        ES|QL rule. Pattern matching uses Lucene regular expressions (``RLIKE``), which are
        case-sensitive, so case-insensitive values compare lower-cased elements.

        Where the mapping marks the rule ``sigma_ext.no_esql`` (ES|QL cannot read its fields),
        the best alternative is Sigma's plain reading in Lucene, reported as degraded.
        """
        mapping = self.corpus.mapping(self.target.mapping_dir, source)
        plain = rule_file.fresh()
        lucene = self._convert(plain, conversion_pipeline(mapping, self.corpus.profile))
        if NO_ESQL_ATTRIBUTE in plain.custom_attributes:
            conversion_pipeline(mapping, self.corpus.profile).apply(base)  # its degradations
            names = ", ".join(t.name for t in tests)
            return (
                lucene,
                [
                    f"match_every_element ({names}): "
                    f"{plain.custom_attributes[NO_ESQL_ATTRIBUTE]}, and Lucene cannot say "
                    "'some element does not match', so this Lucene query fires only when no "
                    "element is approved (one approved image hides an unapproved one)"
                ],
                self.language,
            )
        pipeline = conversion_pipeline(mapping, self.corpus.profile)
        stages = [self._convert(base, pipeline, NullSafeESQLBackend)]
        prelude = state_value(mapping, ESQL_PRELUDE)
        if prelude is not None:
            stages.append(prelude)
        for number, test in enumerate(tests, start=1):
            column = f"sigma_ext_element_{number}"
            pooled = _esql_field(test.fields[0])
            for name in test.fields[1:]:
                pooled = f"MV_APPEND({pooled}, {_esql_field(name)})"
            stages += [
                f"EVAL {column} = {pooled}",
                f"MV_EXPAND {column}",
                f"WHERE NOT ({esql_element_condition(column, test.values)})",
            ]
        return " | ".join(stages), [], "esql"


COMPILERS: tuple[type[SiemCompiler], ...] = (SplunkCompiler, ElasticCompiler)


def compile_all(corpus: Corpus) -> list[Compiled]:
    """Every rule for every source it runs on and every SIEM target, in a stable order."""
    compilers = [compiler(corpus) for compiler in COMPILERS]
    return [
        c.compile(rule_file, source)
        for rule_file in corpus.rules
        for source in corpus.sources_of(rule_file)
        for c in compilers
    ]


def check_compilation(corpus: Corpus, results: list[Compiled] | None = None) -> list[Problem]:
    """Every rule that fails to compile for a target because the content is broken.

    ``results`` are the SIEM compilations when the caller already has them.
    """
    problems = [
        Problem(str(c.rule.path), None, f"{c.target.name}/{c.source.name}: {reason}")
        for c in (compile_all(corpus) if results is None else results)
        if c.status == "error"
        for reason in c.reasons
    ]
    for rule_file in corpus.rules:
        for source in corpus.sources_of(rule_file):
            mapping = corpus.mapping(NATIVE.mapping_dir, source)
            try:
                rule = rule_file.fresh()
                conversion_pipeline(mapping, corpus.profile).apply(rule)
                compile_rule(rule, rule_file.every_element)
            except (SigmaError, UnsupportedConstruct) as error:
                message = str(error.args[0]) if error.args else type(error).__name__
                problems.append(
                    Problem(str(rule_file.path), None, f"{NATIVE.name}/{source.name}: {message}")
                )
    return sorted(problems)
