"""How the native prefilter decodes the string an envelope carries (an EKS or AKS record's
audit event, ``_prefilter.c``: ``read_unescaped``): as ``json.loads`` reads it, whichever way it
runs (16 bytes at a time by a byte shuffle where the CPU has SSSE3, an escape at a time else),
and a string it takes for no strict JSON is left to the reference engine."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import examples

_prefilter = pytest.importorskip("sigma_ext.hunt.fast._prefilter")

# what a carried event is made of: plain text, quotes and backslashes at any place of a block
CARRIED_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from('aZ09 :,{}[]"\\/\t\n\r'),
        st.characters(min_codepoint=0x20, exclude_categories=["Cs"]),
    ),
    max_size=120,
)
LITERAL_BYTES = st.lists(
    st.sampled_from([b'"', b"\\", b"a", b"u", b"0", b"d8", b"\xc3\xa9", b"\xff", b"\x01", b"/"]),
    max_size=80,
).map(lambda parts: b'"' + b"".join(parts) + b'"')


def decoded(literal: bytes) -> bytes | None:
    """What the extension reads of a JSON string literal, both ways, which must agree."""
    shuffled = _prefilter.unescaped(literal, True)
    assert shuffled == _prefilter.unescaped(literal, False), literal
    return shuffled  # type: ignore[no-any-return]


@settings(max_examples=examples(2000), deadline=None)
@given(text=CARRIED_TEXT, ascii_only=st.booleans())
def test_a_carried_string_is_decoded_as_json_reads_it(text: str, ascii_only: bool) -> None:
    literal = json.dumps(text, ensure_ascii=ascii_only).encode()
    assert decoded(literal) == text.encode()


@settings(max_examples=examples(2000), deadline=None)
@given(literal=LITERAL_BYTES)
def test_what_the_extension_decodes_json_reads_the_same(literal: bytes) -> None:
    got = decoded(literal)
    if got is not None:
        assert json.loads(literal) == got.decode()


@pytest.mark.parametrize("at", range(40))
def test_an_escaped_quote_at_every_place_of_a_block(at: int) -> None:
    """Each offset of a ``\\"`` in and across the 16-byte blocks, and a run of them."""
    text = "x" * at + '"' + "y" * (40 - at) + '""' + "z" * 20
    assert decoded(json.dumps(text).encode()) == text.encode()
    assert decoded(json.dumps("\\" * at + '"' * 17).encode()) == ("\\" * at + '"' * 17).encode()


@pytest.mark.parametrize(
    "literal",
    [b'"ab\\"', b'"' + b"a" * 40 + b'\\"', b'"' + b"a" * 15 + b"\\", b'"\\b"', b'"\\u0001"'],
)
def test_a_string_that_is_not_strict_json_is_left_alone(literal: bytes) -> None:
    assert decoded(literal) is None


def test_the_shuffle_runs_where_the_cpu_has_it() -> None:
    cpu = Path("/proc/cpuinfo")
    if platform.machine() not in ("x86_64", "AMD64") or not cpu.exists():
        pytest.skip("the shuffle is built for x86 only; its flags are read from /proc/cpuinfo")
    flags = next(line for line in cpu.read_text().splitlines() if line.startswith("flags"))
    assert _prefilter.shuffles() is ("ssse3" in flags.split())
