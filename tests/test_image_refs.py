"""Image references: the grammar, and allowlist patterns that give the same verdict."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_ext.content.image_refs import is_approved, parse_image_reference, registry_patterns
from sigma_ext.reference.evaluator import value_test

from .conftest import examples

APPROVED = (
    "registry.corp.example",
    "quay.io/argoproj",
    "docker.io/library",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "localhost:5000/team",
)
DIGEST = "sha256:" + "0123456789abcdef" * 4


def patterns_approve(image: str, entries: tuple[str, ...] = APPROVED) -> bool:
    tests = [value_test(v) for entry in entries for v in registry_patterns(entry)]
    return any(test(image) for test in tests)


# (image reference, approved?, why) - the verdict a careful reader gives.
VERDICTS = [
    ("registry.corp.example/team/app:1.2", True, "approved host"),
    ("REGISTRY.corp.example/team/app", True, "hosts compare case-insensitively"),
    ("registry.corp.example/team/app@" + DIGEST, True, "digest-only reference on approved host"),
    ("registry.corp.example:5000/team/app", False, "another port is another registry"),
    ("registry.corp.example.evil.io/x", False, "a longer host is another host"),
    ("evil.io/registry.corp.example/x", False, "the approved name in the path is not the host"),
    ("registry.corp.example@evil.io/x", False, "not a valid reference"),
    ("nginx", True, "no host: docker.io/library/nginx"),
    ("nginx:1.27", True, "tag on an official image"),
    ("nginx@" + DIGEST, True, "digest on an official image"),
    ("library/nginx", True, "explicit library path"),
    ("docker.io/library/nginx", True, "explicit docker.io"),
    ("index.docker.io/library/redis:7.4", True, "index.docker.io is docker.io"),
    ("attacker/miner", False, "docker.io/attacker is not docker.io/library"),
    ("docker.io/bitnami/redis", False, "docker.io/bitnami is not approved"),
    ("Attacker/miner", False, "an upper-case first component is a registry host"),
    ("localhost/miner", False, "localhost is a host, not docker.io"),
    ("quay.io/argoproj/argocd:v2.13.1", True, "approved path prefix"),
    ("quay.io/argoproj", True, "the prefix itself"),
    ("quay.io/argoprojx/argocd", False, "path prefixes end on a / boundary"),
    ("quay.io/other/argoproj", False, "another path on an approved host"),
    ("localhost:5000/team/app", True, "host with port, approved with its port"),
    ("localhost:5000/teamx/app", False, "path boundary on a host with port"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:1.8.0", True, "ECR"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.io/api", False, "ECR look-alike"),
]


@pytest.mark.parametrize(("image", "approved", "why"), VERDICTS, ids=[v[0] for v in VERDICTS])
def test_grammar_verdict(image: str, approved: bool, why: str) -> None:
    assert is_approved(image, APPROVED) is approved, why


@pytest.mark.parametrize(("image", "approved", "why"), VERDICTS, ids=[v[0] for v in VERDICTS])
def test_patterns_give_the_grammar_verdict(image: str, approved: bool, why: str) -> None:
    assert patterns_approve(image) is approved, why


def test_parse_normalises_docker_hub() -> None:
    reference = parse_image_reference("nginx:1.27")
    assert reference is not None
    assert (reference.domain, reference.path, reference.tag) == (
        "docker.io",
        "library/nginx",
        "1.27",
    )


_component = st.from_regex(r"[a-z0-9]{1,6}([._-][a-z0-9]{1,4})?", fullmatch=True)
_host = st.sampled_from(
    [
        "registry.corp.example",
        "REGISTRY.CORP.EXAMPLE",
        "registry.corp.example:5000",
        "registry.corp.example.evil.io",
        "quay.io",
        "docker.io",
        "index.docker.io",
        "localhost",
        "localhost:5000",
        "Evil",
        "evil.io",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    ]
)
_path_start = st.sampled_from(["", "library/", "argoproj/", "argoprojx/", "team/", "localhost/"])


@st.composite
def references(draw: st.DrawFn) -> str:
    host = draw(st.one_of(st.none(), _host))
    path = draw(_path_start) + "/".join(draw(st.lists(_component, min_size=1, max_size=3)))
    name = path if host is None else f"{host}/{path}"
    if draw(st.booleans()):
        name += ":" + draw(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}", fullmatch=True))
    if draw(st.booleans()):
        name += "@" + DIGEST
    return name


@settings(max_examples=examples(400), deadline=None)
@given(references())
def test_patterns_agree_with_grammar_on_generated_references(image: str) -> None:
    if parse_image_reference(image) is None:
        return
    assert patterns_approve(image) == is_approved(image, APPROVED), image


@settings(max_examples=examples(200), deadline=None)
@given(references())
def test_only_docker_hub_entries_approve_implicit_references(image: str) -> None:
    reference = parse_image_reference(image)
    if reference is None or reference.domain == "docker.io":
        return
    assert patterns_approve(image, ("docker.io",)) is False, image
