"""The quick schema check (``sigma_ext.content.schema_check``) never calls valid what jsonschema
refuses, and does call the shipped profile and a usual configuration valid (so that a run with
them skips importing jsonschema)."""

from __future__ import annotations

import datetime
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_ext.content.locate import config_schema
from sigma_ext.content.profile import profile_schema
from sigma_ext.content.schema_check import surely_valid

from .conftest import ROOT, examples

EXAMPLE = yaml.safe_load((ROOT / "profiles" / "example.yml").read_text(encoding="utf-8"))


def _jsonschema_valid(data: Any, schema: dict[str, Any]) -> bool:
    return not list(jsonschema.Draft202012Validator(schema).iter_errors(data))


# Values near the edges of what the schemas accept: entries with spaces, globs, control
# characters, backticks, registry hosts with ports and paths, durations, numbers as text.
TEXTS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "a",
            "registry.corp.example",
            "registry.corp.example:5000/team",
            "Registry.corp.example/Team",
            "quay.io/argoproj",
            "system:node:*",
            " leading",
            "trailing ",
            "tab\there",
            "line\n",
            "back`tick",
            "ques?tion",
            "back\\slash",
            "x\u2028y",
            "2h",
            "90m",
            "0h",
            "15m",
            "60m",
            "1d",
            "30s",
            "10000m",
            "default",
            "every",
            "kubernetes_audit",
            "Kubernetes_Audit",
            "unknown_source",
            "1",
        ]
    ),
    st.text(max_size=8),
)
SCALARS = st.one_of(
    TEXTS,
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.just(datetime.date(2024, 1, 2)),
)
KEYS = st.one_of(
    st.sampled_from(sorted(profile_schema()["properties"])),
    st.sampled_from(sorted(config_schema()["properties"])),
    st.sampled_from(["include", "exclude", "default", "every", "kubernetes_audit", "Unknown"]),
    TEXTS,
    st.integers(min_value=0, max_value=2),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),
    ),
    max_leaves=12,
)


def _mutated(base: dict[str, Any], changes: dict[Any, Any], drop: list[str]) -> dict[Any, Any]:
    document: dict[Any, Any] = {k: v for k, v in base.items() if k not in drop}
    document.update(changes)
    return document


@pytest.mark.parametrize("schema_name", ["profile", "config"])
@settings(max_examples=examples(500), deadline=None)
@given(
    changes=st.dictionaries(KEYS, VALUES, max_size=3),
    drop=st.lists(st.sampled_from(sorted(EXAMPLE)), max_size=3),
    whole=st.one_of(st.none(), VALUES),
)
def test_surely_valid_only_what_jsonschema_accepts(
    schema_name: str, changes: dict[Any, Any], drop: list[str], whole: Any
) -> None:
    schema = profile_schema() if schema_name == "profile" else config_schema()
    base = EXAMPLE if schema_name == "profile" else {"rules": ["rules"], "profile": "p.yml"}
    for document in (_mutated(base, changes, drop), whole):
        if surely_valid(document, schema):
            assert _jsonschema_valid(document, schema), document


def test_the_shipped_profile_is_surely_valid() -> None:
    assert _jsonschema_valid(EXAMPLE, profile_schema())
    assert surely_valid(EXAMPLE, profile_schema())


def test_a_usual_configuration_is_surely_valid() -> None:
    config = {
        "shipped_rules": {"include": ["kubernetes"], "exclude": ["some_rule"]},
        "rules": ["rules"],
        "fixtures": ["fixtures"],
        "profile": "profiles/prod.yml",
        "mappings": "mappings",
    }
    assert _jsonschema_valid(config, config_schema())
    assert surely_valid(config, config_schema())


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"approved_registries": ["registry.corp.example/Team"]}, "upper-case registry path"),
        ({"k8s_pipeline_identities": ["ci", "ci"]}, "duplicate entry"),
        ({"k8s_pipeline_identities": ["tab\there"]}, "control character"),
        ({"k8s_pipeline_identities": [""]}, "empty entry"),
        ({"k8s_creation_burst_threshold": 0}, "below the minimum"),
        ({"k8s_creation_burst_threshold": True}, "a boolean is no integer"),
        ({"telemetry_gap": {"Bad-Name": "2h"}}, "a source name out of pattern"),
        ({"alert_throttle": {"nobody": "1h"}}, "an unknown theme"),
        ({"no_such_list": ["x"]}, "an unknown key"),
    ],
)
def test_what_the_schema_refuses_is_not_surely_valid(change: dict[str, Any], why: str) -> None:
    document = {**EXAMPLE, **change}
    assert not _jsonschema_valid(document, profile_schema()), why
    assert not surely_valid(document, profile_schema()), why
