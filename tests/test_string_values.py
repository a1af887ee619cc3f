"""``PlainStrings`` writes every string value as pySigma's own method does, without building the
regular expression that method makes of every value and drops."""

from __future__ import annotations

from typing import Any

import pytest
from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.backends.splunk.splunk import SplunkBackend
from sigma.backends.test.backend import TextQueryTestBackend
from sigma.conversion.base import TextQueryBackend
from sigma.rule import SigmaRule

from sigma_ext.build.elastic.compiler import EscapingLuceneBackend, NullSafeESQLBackend
from sigma_ext.build.splunk.compiler import QuotingSplunkBackend
from sigma_ext.build.string_values import PlainStrings
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import conversion_pipeline

# each of ours, and the pySigma backend whose string method it replaces
OURS: list[tuple[type[TextQueryBackend], type[TextQueryBackend], str]] = [
    (QuotingSplunkBackend, SplunkBackend, "splunk"),
    (EscapingLuceneBackend, LuceneBackend, "elastic"),
    (NullSafeESQLBackend, ESQLBackend, "elastic"),
]


def _as_pysigma(ours: type[TextQueryBackend], theirs: type[TextQueryBackend]) -> Any:
    class PySigmaStrings(ours):  # type: ignore[valid-type,misc]
        def convert_condition_field_eq_val_str(self, cond: Any, state: Any) -> Any:
            return theirs.convert_condition_field_eq_val_str(self, cond, state)

    return PySigmaStrings


RULE = {
    "title": "every way a string value is written",
    "logsource": {"product": "test"},
    "detection": {
        "selection_plain": {"a": "plain value"},
        "selection_prefix": {"b": "prefix*"},
        "selection_suffix": {"c": "*suffix"},
        "selection_contains": {"d": "*inside*"},
        "selection_middle": {"e": ["mid*dle", "one?char", "*in*side*", "x*"]},
        "selection_wildcard": {"j": "wild*card?"},
        "selection_quoted": {"f": ['a "quoted" \\ value*', "*"]},
        "selection_modifiers": {"g|contains": "inner", "h|startswith": "st", "i|endswith": "en"},
        "condition": "1 of selection_* and not (selection_plain and selection_prefix)",
    },
}


class PlainTestBackend(PlainStrings, TextQueryTestBackend):
    """pySigma's test backend, which has every string operator (contains too)."""


class RegexTestBackend(PlainStrings, TextQueryTestBackend):
    """A backend whose wildcard expression is a regular expression: pySigma's method writes it."""

    wildcard_match_expression = "{field} like /{regex}/"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        *((ours, theirs) for ours, theirs, _ in OURS),
        (PlainTestBackend, TextQueryTestBackend),
        (RegexTestBackend, TextQueryTestBackend),
    ],
)
def test_every_string_operator_is_written_as_pysigma_writes_it(
    ours: type[TextQueryBackend], theirs: type[TextQueryBackend]
) -> None:
    assert issubclass(ours, PlainStrings)
    expected = _as_pysigma(ours, theirs)().convert_rule(SigmaRule.from_dict(RULE))
    assert ours().convert_rule(SigmaRule.from_dict(RULE)) == expected
    assert expected
    if ours is RegexTestBackend:
        assert "like /" in str(expected)


@pytest.mark.parametrize(("ours", "theirs", "target"), OURS)
def test_every_rule_is_written_as_with_pysigmas_string_method(
    corpus: Corpus, ours: type[TextQueryBackend], theirs: type[TextQueryBackend], target: str
) -> None:
    reference = _as_pysigma(ours, theirs)
    converted = 0
    for rule_file in corpus.rules:
        source = corpus.sources_of(rule_file)[0]
        mapping = corpus.mapping(target, source)
        outcomes = []
        for backend in (ours, reference):
            try:
                pipeline = conversion_pipeline(mapping, corpus.profile)
                outcomes.append(backend(pipeline).convert_rule(rule_file.fresh()))
            except Exception as error:
                outcomes.append(f"{type(error).__name__}: {error}")
        assert outcomes[0] == outcomes[1], rule_file.stem
        converted += isinstance(outcomes[0], list)
    assert converted > len(corpus.rules) // 2
