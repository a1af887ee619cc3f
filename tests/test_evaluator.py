"""The reference evaluator keeps Sigma's semantics; each test runs a small rule on events."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.rule import SigmaRule

from sigma_ext.reference.evaluator import Fields, UnsupportedConstruct, compile_rule, field_values

from .conftest import examples


def run(detection: str, event: dict[str, Any], every_element: tuple[str, ...] = ()) -> bool:
    text = textwrap.dedent(
        """
        title: t
        logsource: {product: kubernetes, service: audit}
        detection:
        """
    ) + textwrap.indent(textwrap.dedent(detection), "    ")
    return compile_rule(SigmaRule.from_yaml(text), every_element).matches(event)


def test_strings_compare_case_insensitively() -> None:
    assert run("sel: {verb: CREATE}\ncondition: sel", {"verb": "create"})


def test_cased_modifier_is_case_sensitive() -> None:
    assert not run("sel: {verb|cased: CREATE}\ncondition: sel", {"verb": "create"})


def test_wildcards_are_anchored() -> None:
    rule = "sel: {user.username: 'system:node:*'}\ncondition: sel"
    assert run(rule, {"user": {"username": "system:node:ip-10-0-1-23"}})
    assert not run(rule, {"user": {"username": "evil-system:node:x"}})


def test_a_wildcard_value_spans_the_whole_value_even_one_ending_in_a_newline() -> None:
    """Python's ``$`` also matches before a final newline; a Sigma value spans the whole value,
    with wildcards as without (and as the fast hunt's LIKE and RE2 full matches do)."""
    wildcard = "sel: {objectRef.name: '*miner'}\ncondition: sel"
    plain = "sel: {objectRef.name: 'xmrig-miner'}\ncondition: sel"
    for rule in (wildcard, plain):
        assert run(rule, {"objectRef": {"name": "xmrig-miner"}})
        assert not run(rule, {"objectRef": {"name": "xmrig-miner\n"}})
    assert run(
        "sel: {objectRef.name: '*miner*'}\ncondition: sel", {"objectRef": {"name": "miner\n"}}
    )


def test_question_mark_matches_one_character() -> None:
    rule = "sel: {verb: 'cr?ate'}\ncondition: sel"
    assert run(rule, {"verb": "create"})
    assert not run(rule, {"verb": "crate"})


def test_escaped_wildcard_is_literal() -> None:
    rule = "sel: {objectRef.name: 'literal\\*star'}\ncondition: sel"
    assert run(rule, {"objectRef": {"name": "literal*star"}})
    assert not run(rule, {"objectRef": {"name": "literalXstar"}})


def test_array_field_matches_when_any_element_matches() -> None:
    rule = "sel: {user.groups: 'oidc:platform-admins'}\ncondition: sel"
    assert run(rule, {"user": {"groups": ["system:authenticated", "oidc:platform-admins"]}})
    assert not run(rule, {"user": {"groups": ["system:authenticated", "oidc:platform-admins-x"]}})


def test_negation_over_array_is_no_element_matches() -> None:
    rule = "sel: {verb: create}\nflt: {images: 'good/*'}\ncondition: sel and not flt"
    assert not run(rule, {"verb": "create", "images": ["good/a", "evil/b"]})
    assert run(rule, {"verb": "create", "images": ["evil/a", "evil/b"]})


def test_every_element_negation_is_some_element_does_not_match() -> None:
    rule = "sel: {verb: create}\nflt: {images: 'good/*'}\ncondition: sel and not flt"
    mixed = {"verb": "create", "images": ["good/a", "evil/b"]}
    assert run(rule, mixed, every_element=("flt",))
    assert not run(rule, {"verb": "create", "images": ["good/a", "good/b"]}, every_element=("flt",))


def test_every_element_is_vacuously_true_without_elements() -> None:
    rule = "sel: {verb: create}\nflt: {images: 'good/*'}\ncondition: sel and not flt"
    assert not run(rule, {"verb": "create"}, every_element=("flt",))


def test_nested_arrays_of_objects_are_flattened() -> None:
    event = {"spec": {"containers": [{"image": "a"}, {"image": "b"}]}}
    assert field_values(event, "spec.containers.image") == ["a", "b"]


def test_keys_containing_dots_are_found() -> None:
    event = {"annotations": {"authorization.k8s.io/decision": "allow"}}
    assert field_values(event, "annotations.authorization.k8s.io/decision") == ["allow"]


def test_null_matches_missing_and_null_fields() -> None:
    rule = "sel: {objectRef.subresource: null}\ncondition: sel"
    assert run(rule, {"objectRef": {"resource": "pods"}})
    assert run(rule, {"objectRef": {"subresource": None}})
    assert not run(rule, {"objectRef": {"subresource": "exec"}})


def test_exists_modifier() -> None:
    assert run(
        "sel: {objectRef.subresource|exists: true}\ncondition: sel",
        {"objectRef": {"subresource": "exec"}},
    )
    assert run("sel: {objectRef.subresource|exists: false}\ncondition: sel", {"objectRef": {}})


def test_numbers_match_numbers_and_numeric_strings() -> None:
    rule = "sel: {responseStatus.code: 201}\ncondition: sel"
    assert run(rule, {"responseStatus": {"code": 201}})
    assert run(rule, {"responseStatus": {"code": "201"}})
    assert not run(rule, {"responseStatus": {"code": 403}})


def test_comparison_modifiers() -> None:
    assert run(
        "sel: {responseStatus.code|gte: 400}\ncondition: sel", {"responseStatus": {"code": 403}}
    )
    assert not run(
        "sel: {responseStatus.code|lt: 400}\ncondition: sel", {"responseStatus": {"code": 403}}
    )


def test_regex_is_case_sensitive_unless_flagged() -> None:
    assert not run("sel: {verb|re: '^CREATE$'}\ncondition: sel", {"verb": "create"})
    assert run("sel: {verb|re|i: '^CREATE$'}\ncondition: sel", {"verb": "create"})


def test_cidr_over_array() -> None:
    rule = "sel: {sourceIPs|cidr: 192.0.2.0/24}\ncondition: sel"
    assert run(rule, {"sourceIPs": ["198.51.100.7", "192.0.2.10"]})
    assert not run(rule, {"sourceIPs": ["198.51.100.7"]})


def test_contains_and_startswith() -> None:
    assert run(
        "sel: {requestURI|contains: 'dryRun=All'}\ncondition: sel",
        {"requestURI": "/api/v1/pods?dryRun=All"},
    )
    assert not run(
        "sel: {user.username|startswith: 'system:'}\ncondition: sel",
        {"user": {"username": "alice"}},
    )


def test_booleans() -> None:
    assert run("sel: {spec.hostNetwork: true}\ncondition: sel", {"spec": {"hostNetwork": True}})
    assert not run(
        "sel: {spec.hostNetwork: true}\ncondition: sel", {"spec": {"hostNetwork": False}}
    )


def test_selectors_one_of_and_all_of() -> None:
    detection = "selection_a: {a: 1}\nselection_b: {b: 2}\ncondition: {cond}"
    event = {"a": 1, "b": 3}
    assert run(detection.replace("{cond}", "1 of selection_*"), event)
    assert not run(detection.replace("{cond}", "all of selection_*"), event)


def test_keywords_search_every_value() -> None:
    assert run(
        "keywords: [xmrig]\ncondition: keywords", {"spec": {"args": ["--run", "/opt/xmrig"]}}
    )


def test_unsupported_construct_fails_loudly() -> None:
    with pytest.raises(UnsupportedConstruct):
        run(
            "sel: {user.username|expand: '%unfilled%'}\ncondition: sel", {"user": {"username": "x"}}
        )


def test_a_list_of_plain_values_compares_each_as_text_case_insensitively() -> None:
    rule = "sel: {verb: [CREATE, patch, 'true']}\ncondition: sel"
    assert run(rule, {"verb": "Create"})
    assert run(rule, {"verb": ["get", "PATCH"]})
    assert run(rule, {"verb": True})
    assert not run(rule, {"verb": "creates"})
    assert not run(rule, {"verb": {"create": "create"}})
    assert not run(rule, {"other": "create"})


def test_cased_and_uncased_values_in_one_or_keep_their_own_case_rules() -> None:
    rule = "sel:\n  - {verb|cased: CREATE}\n  - {verb: patch}\ncondition: sel"
    assert run(rule, {"verb": "CREATE"})
    assert not run(rule, {"verb": "create"})
    assert run(rule, {"verb": "PATCH"})


def test_one_event_shared_by_rules_gives_each_rule_its_own_verdict() -> None:
    event = {"verb": "create", "images": ["good/a", "evil/b"], "user": {"username": "alice"}}
    rules = [
        ("sel: {verb: create}\nflt: {images: 'good/*'}\ncondition: sel and not flt", ("flt",)),
        ("sel: {images: 'evil/*'}\ncondition: sel", ()),
        ("sel: {user.username: bob}\ncondition: sel", ()),
        ("sel: {verb: create}\nflt: {images: 'good/*'}\ncondition: sel and not flt", ()),
    ]
    compiled = [compile_rule(_rule(text), every) for text, every in rules]
    shared = Fields(event)
    assert [c.matches(shared) for c in compiled] == [True, True, False, False]
    assert [c.matches(shared) for c in compiled] == [c.matches(event) for c in compiled]


def _rule(detection: str) -> SigmaRule:
    text = "title: t\nlogsource: {product: kubernetes, service: audit}\ndetection:\n"
    return SigmaRule.from_yaml(text + textwrap.indent(detection, "    "))


_TEXT = st.text(alphabet="aAbBsSß\u212a\u017fk*?", max_size=4)
_SCALAR = st.one_of(_TEXT, st.integers(-2, 2), st.booleans(), st.none())
_VALUE = st.one_of(_SCALAR, st.lists(_SCALAR, max_size=3), st.just({"f": "a"}))


@settings(max_examples=examples(300), deadline=None)
@given(values=st.lists(_TEXT, min_size=1, max_size=5), cased=st.booleans(), value=_VALUE)
def test_a_list_of_values_matches_exactly_when_one_of_its_values_does(
    values: list[str], cased: bool, value: Any
) -> None:
    """The OR of a list's values is evaluated as one set lookup; its meaning is the OR's."""
    field = "f|cased" if cased else "f"

    def matches(listed: list[str]) -> bool:
        detection = {"sel": {field: listed}, "condition": "sel"}
        rule = SigmaRule.from_dict(
            {"title": "t", "logsource": {"product": "p"}, "detection": detection}
        )
        return compile_rule(rule).matches({"f": value})

    assert matches(values) == any(matches([one]) for one in values)
