"""The Elastic compiler: Lucene from pySigma's Lucene backend, ES|QL for every-element rules."""

from __future__ import annotations

import re
from dataclasses import replace

from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.conditions import ConditionNOT
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag, SigmaString, SigmaType

from sigma_ext.build.elastic.lucene_regex import lower_literals, lucene_string, to_lucene
from sigma_ext.build.elastic.triage import esql_keep
from sigma_ext.build.every_element import ElementTest
from sigma_ext.build.quoting import LUCENE_ESCAPED, esql_line_breaks, esql_string
from sigma_ext.build.result import Compiled, Reason, Unconvertible
from sigma_ext.build.siem_compiler import SiemCompiler
from sigma_ext.build.string_values import PlainStrings
from sigma_ext.content.mappings import conversion_pipeline, state_value
from sigma_ext.content.rules import RuleFile
from sigma_ext.sources.catalogue import Source
from sigma_ext.targets import ELASTIC

NO_ESQL_ATTRIBUTE = "sigma_ext.no_esql"


class EscapingLuceneBackend(PlainStrings, LuceneBackend):
    """pySigma's Lucene backend, escaping every whitespace and control character too: Lucene's
    query parser ends a term at a tab or a line break, which pySigma leaves unescaped."""

    add_escaped = LUCENE_ESCAPED
    escapes_control_characters = True


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
            folded.append(lower_literals(lucene_string(value)))
        elif isinstance(value, SigmaRegularExpression):
            lucene = to_lucene(str(value.regexp))
            if SigmaRegularExpressionFlag.IGNORECASE in value.flags:
                folded.append(lower_literals(lucene))
            else:
                exact.append(lucene)
        else:
            raise Unconvertible(f"cannot render {type(value).__name__} as an element test")
    tests = []
    if folded:
        tests.append(f"TO_LOWER({column}) RLIKE {esql_string('|'.join(folded))}")
    if exact:
        tests.append(f"{column} RLIKE {esql_string('|'.join(exact))}")
    return " OR ".join(tests) if tests else "false"


class NullSafeESQLBackend(PlainStrings, ESQLBackend):
    """pySigma's ES|QL backend with Sigma's two-valued negation.

    In ES|QL a comparison with a missing (null) field is null, and ``NOT null`` is null, so
    ``not field == "x"`` drops every event without the field, where Sigma keeps it. Each negated
    expression is therefore written ``not coalesce(<expression>, false)``.
    """

    escapes_control_characters = True

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        """pySigma's string literal, with tab, line feed and carriage return escaped as ES|QL
        writes them (a raw CR or LF may not stand in a string)."""
        return esql_line_breaks(super().convert_value_str(s, state))

    def convert_condition_not(
        self, cond: ConditionNOT, state: ConversionState
    ) -> str | DeferredQueryExpression | None:
        converted = super().convert_condition_not(cond, state)
        prefix = self.not_token + self.token_separator
        if isinstance(converted, str) and converted.startswith(prefix):
            return f"{prefix}coalesce({converted.removeprefix(prefix)}, false)"
        return converted


ESQL_PRELUDE = "esql_prelude"
PRELUDE_FIELD = re.compile(r"(?<![\w.])sx_\w+")


def with_esql_prelude(query: str, prelude: str | None) -> str:
    """The query with the prelude's commands right after its ``FROM`` (before any ``WHERE``)."""
    if prelude is None:
        return query
    source, bar, rest = query.partition("|")
    return f"{source.rstrip()} | {prelude}" + (f" |{rest}" if bar else "")


class ElasticCompiler(SiemCompiler):
    """Lucene for plain rules; ES|QL where a rule needs ``match_every_element``.

    A mapping may set the state ``esql_prelude``: ES|QL commands that make fields the rules
    read out of a text (``DISSECT kubernetes.event.message ...``, ``GROK
    process.command_line ...``), named ``sx_*``, run right after ``FROM``. A rule that reads
    one of them is compiled to ES|QL, since Lucene cannot read them, and ends in ``KEEP``.
    """

    target = ELASTIC
    language = "lucene"
    backend_class = EscapingLuceneBackend

    def compile(self, rule_file: RuleFile, source: Source) -> Compiled:
        compiled = super().compile(rule_file, source)
        mapping = self.corpus.mapping(self.target.mapping_dir, source)
        prelude = state_value(mapping, ESQL_PRELUDE)
        if (
            prelude is None
            or compiled.language != "lucene"
            or compiled.query is None
            or not PRELUDE_FIELD.search(compiled.query)
        ):
            return compiled
        pipeline = conversion_pipeline(mapping, self.corpus.profile)
        query = with_esql_prelude(
            self._convert(rule_file.fresh(), pipeline, NullSafeESQLBackend), prelude
        )
        # like every ES|QL rule, it ends in KEEP of the source's investigation fields
        query = f"{query} | {esql_keep(source.name, [])}"
        return replace(compiled, query=query, language="esql")

    def render_every_element(
        self, rule_file: RuleFile, source: Source, base: SigmaRule, tests: list[ElementTest]
    ) -> tuple[str, list[Reason], str]:
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
                    Reason(
                        "degraded",
                        f"{plain.custom_attributes[NO_ESQL_ATTRIBUTE]}, and Lucene cannot say "
                        "'some element does not match', so this Lucene query fires only when no "
                        "element is approved (one approved image hides an unapproved one)",
                        f"match_every_element ({names})",
                    )
                ],
                self.language,
            )
        pipeline = conversion_pipeline(mapping, self.corpus.profile)
        stages = [
            with_esql_prelude(
                self._convert(base, pipeline, NullSafeESQLBackend),
                state_value(mapping, ESQL_PRELUDE),
            )
        ]
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
        columns = [f"sigma_ext_element_{n}" for n in range(1, len(tests) + 1)]
        stages.append(esql_keep(source.name, columns))
        return " | ".join(stages), [], "esql"
