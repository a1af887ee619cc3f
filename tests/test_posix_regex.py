"""A rule's ``|re`` value as the native judge searches it (``sigma_ext.hunt.fast.posix_regex``
and ``_prefilter.c``): on every text the judge searches (printable ASCII), the POSIX ERE finds a
match exactly where the reference's ``re.search`` does, and what it cannot say so is refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.types import SigmaRegularExpression

from sigma_ext.hunt.fast import prefilter
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.posix_regex import PRINTABLE, ere_of, posix_ere

from .conftest import examples

native = pytest.importorskip("sigma_ext.hunt.fast._prefilter")
pytestmark = pytest.mark.skipif(
    not prefilter.native_available() or native.search(b"a", b"a") is None,
    reason="no native extension with POSIX regular expressions (glibc) here",
)

TEXTS = st.one_of(
    st.text(alphabet=[chr(code) for code in sorted(PRINTABLE)], max_size=12),
    # the characters the expressions below name, in either case, so that most texts match
    st.text(alphabet="aAbBzZ09_-.^$[]\\{}/:@~` !", max_size=8),
)

# pieces of the expressions written for the tests: ASCII that means something to either engine
ATOMS = st.sampled_from(
    [
        "a",
        "B",
        "z",
        "0",
        "9",
        "_",
        "-",
        ".",
        "\\.",
        "\\-",
        "\\/",
        "\\$",
        "\\^",
        "\\[",
        "\\]",
        "\\\\",
        "\\{",
        "\\d",
        "\\w",
        "\\s",
        "\\D",
        "\\W",
        "\\S",
        "[a-z]",
        "[A-Z0-9]",
        "[^a]",
        "[^^]",
        "[]a]",
        "[-a]",
        "[a-]",
        "[\\^-]",
        "[!-~]",
        "[Z-a]",
        "[:@/]",
        "[\\[]",
        "[\\]]",
        "[\\\\]",
        "[.=]",
        "[\\w.-]",
        "[^\\d]",
        " ",
        "'",
        '"',
        "@",
        ":",
        "~",
        "`",
    ]
)
QUANTIFIERS = st.sampled_from(
    ["", "", "", "*", "+", "?", "{2}", "{0,3}", "{1,}", "{,2}", "*?", "+?", "??", "{1,2}?"]
)
# a group's repetition is bounded: a group repeated without bound inside another takes Python's
# backtracking (the reference) exponential time
GROUP_QUANTIFIERS = st.sampled_from(["", "", "?", "{2}", "{0,2}", "??"])


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.integers(0, 5)) == 0:
            branches = draw(st.lists(expressions(depth + 1), min_size=1, max_size=3))
            group = draw(st.sampled_from(["(?:", "(", f"(?P<g{len(parts)}>"]))
            parts.append(group + "|".join(branches) + ")" + draw(GROUP_QUANTIFIERS))
        else:
            parts.append(draw(ATOMS) + draw(QUANTIFIERS))
    body = "".join(parts)
    if depth == 0:
        body = draw(st.sampled_from(["", "^"])) + body + draw(st.sampled_from(["", "$", "\\Z"]))
    return body


@settings(max_examples=examples(600), deadline=None)
@given(
    pattern=expressions(),
    flags=st.sampled_from([0, re.IGNORECASE, re.DOTALL | re.MULTILINE]),
    texts=st.lists(TEXTS, min_size=1, max_size=6),
)
def test_the_ere_finds_a_match_where_python_does(
    pattern: str, flags: int, texts: list[str]
) -> None:
    try:
        compiled = re.compile(pattern, flags)
    except re.error:
        return
    ere = ere_of(pattern, flags)
    if ere is None:
        return
    literal = pattern.replace("\\", "")
    for text in [*texts, literal, literal.swapcase(), ""]:
        if not all(ord(char) in PRINTABLE for char in text):
            continue
        expected = compiled.search(text) is not None
        assert native.search(ere.encode(), text.encode()) is expected, (pattern, ere, text)


@pytest.mark.parametrize(
    ("pattern", "flags"),
    [
        ("^library(?:[:@/][!-~]*)?$", 0),
        ("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$", 0),
        ("^(?:docker\\.io|index\\.docker\\.io)/[a-z0-9]+(?::[0-9]+)?$", re.IGNORECASE),
        ("a[^b]c|d{2,5}?", 0),
        ("^\\d+\\.\\w+\\s*$", re.MULTILINE),
        ("(?i)evil", 0),
    ],
)
def test_the_forms_the_profile_writes_are_written(pattern: str, flags: int) -> None:
    assert ere_of(pattern, flags) is not None


@pytest.mark.parametrize(
    ("why", "pattern"),
    [
        ("a lookahead", "a(?=b)"),
        ("a lookbehind", "(?<!a)b"),
        ("a back-reference", "(a)\\1"),
        ("a word boundary", "\\bword"),
        ("a possessive repetition", "a*+b"),
        ("an atomic group", "(?>ab)"),
        ("inline flags on a group", "(?i:a)b"),
        ("a character outside ASCII", "caf\u00e9"),
        ("a control character", "a\tb"),
        ("an empty alternative", "a|"),
        ("an empty group", "()a"),
        ("a repeated anchor", "(?:^)*a"),
        ("too many repetitions", "a{300}"),
        ("no expression", ""),
        ("not a Python expression", "a("),
        ("the locale flag", "(?L)a"),
    ],
)
def test_what_the_ere_cannot_say_is_refused(why: str, pattern: str) -> None:
    assert ere_of(pattern) is None, why


def test_every_regular_expression_of_the_shipped_rules_is_searched_natively(
    fast: FastHunt,
) -> None:
    """The example profile's registry allowlist writes Docker Hub's implicit forms as regular
    expressions; each is one the judge searches, so no line waits for DuckDB on them."""
    found: list[SigmaRegularExpression] = []
    for plan in fast.plans:
        for _, _, rule in plan.rules:
            stack: list[Any] = list(rule.detection.detections.values())
            while stack:
                node = stack.pop()
                stack.extend(getattr(node, "detection_items", []))
                values = getattr(node, "value", None)
                if isinstance(values, list):
                    found += [v for v in values if isinstance(v, SigmaRegularExpression)]
    assert found, "the shipped rules hold no regular expression any more: adjust this test"
    assert [str(value.regexp) for value in found if posix_ere(value) is None] == []
