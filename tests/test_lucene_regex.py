"""The PCRE-subset to Lucene RegExp translation behind the ES|QL every-element test.

Lucene RegExp is read back here by a deliberately tiny interpreter (``_lucene_to_python``) that
knows only what ``to_lucene`` writes: escaped literals, classes, groups, alternation and
quantifiers, always anchored. That checks the translation keeps each pattern's meaning; the
query emulators (issue 4) check the ES|QL around it.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sigma.types import SigmaString

from sigma_ext.build.elastic.compiler import esql_element_condition
from sigma_ext.build.elastic.lucene_regex import (
    UntranslatableRegex,
    lower_literals,
    lucene_string,
    to_lucene,
)
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.image_refs import is_approved, parse_image_reference, registry_patterns
from sigma_ext.content.profile import load_profile
from sigma_ext.reference.evaluator import sigma_string_regex


def _lucene_to_python(lucene: str) -> re.Pattern[str]:
    out, index, in_class = [], 0, False
    while index < len(lucene):
        char = lucene[index]
        if char == "\\":
            out.append(re.escape(lucene[index + 1]))
            index += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "(" and not in_class:
            char = "(?:"
        out.append(char)
        index += 1
    return re.compile("".join(out), re.DOTALL)


@pytest.mark.parametrize(
    ("pattern", "lucene"),
    [
        (r"^registry\.corp\.example/.*$", r"registry\.corp\.example\/.*"),
        (r"^(?:a|b)+$", "(a|b)+"),
        (r"^[A-Za-z0-9_][\w.-]{0,127}$", None),
        (r"abc", ".*(abc).*"),
        (r"^[!-~]*@x$", r"[\!-\~]*\@x"),
        (r"^a{2,}b{3}$", "a{2,}b{3}"),
    ],
)
def test_translation(pattern: str, lucene: str | None) -> None:
    if lucene is None:
        with pytest.raises(UntranslatableRegex):
            to_lucene(pattern)
    else:
        assert to_lucene(pattern) == lucene


@pytest.mark.parametrize("pattern", [r"^a(?=b)$", r"^a\d$", r"^a$b$", r"^[a$", r"^a{x}$"])
def test_constructs_outside_the_subset_are_refused(pattern: str) -> None:
    with pytest.raises(UntranslatableRegex):
        to_lucene(pattern)


def test_lower_literals_refuses_letter_escapes() -> None:
    with pytest.raises(UntranslatableRegex):
        lower_literals(r"a\Sb")


ENTRIES = [
    "registry.corp.example",
    "docker.io/library",
    "quay.io/argoproj",
    "localhost:5000",
    "docker.io/bitnami",
]
REFERENCE_TEXT = st.lists(
    st.sampled_from(
        [*"abcdeklorstxyz0123456789.-_/:@ABCEKLR", "registry.corp.", "docker.io/", "library/"]
    ),
    max_size=14,
).map("".join)


def _esql_approves(entries: list[str], image: str) -> bool:
    """Evaluate the ES|QL element condition's RLIKE patterns with the tiny interpreter."""
    condition = esql_element_condition(
        "e", tuple(v for entry in entries for v in registry_patterns(entry))
    )
    approved = False
    for match in re.finditer(r'(TO_LOWER\(e\)|e) RLIKE "((?:[^"\\]|\\.)*)"', condition):
        regex = _lucene_to_python(match[2].replace('\\"', '"').replace("\\\\", "\\"))
        value = image.lower() if match[1].startswith("TO_LOWER") else image
        approved = approved or regex.fullmatch(value) is not None
    return approved


@given(REFERENCE_TEXT)
def test_esql_patterns_agree_with_the_grammar_on_valid_references(image: str) -> None:
    if parse_image_reference(image) is None:
        return
    assert _esql_approves(ENTRIES, image) == is_approved(image, ENTRIES), image


def test_esql_patterns_agree_on_every_fixture_image(corpus: Corpus) -> None:
    entries = list(
        load_profile(corpus.root / "profiles" / "example.yml").lists["approved_registries"]
    )
    images = set()
    for path in sorted((corpus.root / "fixtures").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for match in re.finditer(r'"image":("(?:[^"\\]|\\.)*")', line):
                images.add(json.loads(match[1]))
    assert len(images) > 50
    wrong = sorted(i for i in images if _esql_approves(entries, i) != is_approved(i, entries))
    # Only references no runtime would pull may differ (the patterns approve by host and path).
    assert [i for i in wrong if parse_image_reference(i) is not None] == []


SIGMA_TEXT = st.text(alphabet=st.sampled_from([*"aB9.-_/:@ \\*?[](){}|+^$é\n"]), max_size=10)


@given(SIGMA_TEXT, st.lists(st.text(alphabet="aB9.-_/:@ \\*?é\n", max_size=8), max_size=6))
def test_lucene_string_matches_what_the_sigma_string_matches(
    text: str, candidates: list[str]
) -> None:
    value = SigmaString(text)
    lucene = lucene_string(value)
    # the text of the former route through the Python regex, so queries stay the same (that
    # route refused a value ending in a backslash, taking the regex's "\\$" for an escaped $)
    try:
        former: str | None = to_lucene(sigma_string_regex(value))
    except UntranslatableRegex:
        former = None
    assert former in (lucene, None)
    assert former is not None or text.endswith("\\")
    sigma = re.compile(sigma_string_regex(value), re.DOTALL)
    for candidate in [*candidates, text, text.replace("*", "").replace("?", "x")]:
        expected = sigma.fullmatch(candidate) is not None
        assert (_lucene_to_python(lucene).fullmatch(candidate) is not None) == expected
