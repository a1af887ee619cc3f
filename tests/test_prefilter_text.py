"""The native prefilter reads a line's text exactly: an envelope's carried string is decoded to
the very line it carries (its verdict is the line's own), and a strict JSON reading of keys and
strings, whatever their length and wherever their escapes fall, gives the verdicts of the
line as Python's JSON module writes it in any style; and a key is a tested or dotted key exactly
when it is spelled as one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_ext.hunt.fast import prefilter
from sigma_ext.hunt.fast.engine import FastHunt

from .conftest import ROOT, examples
from .test_cli import POD
from .test_prefilter import STATUS_PATCH, audit_line

Outcome = tuple[bool, bytes]
"""Whether the line is set aside, and the bits of the rules the judge found firing on it."""


def outcome(fast: FastHunt, line: bytes) -> Outcome:
    assert fast.prefilter is not None
    kept, _, count, _, _, bits, _, _, _ = fast.prefilter.native.scan(line + b"\n")
    assert count == 1
    return kept == b"", bits


def wrapped(line: str, envelope: str, ascii_only: bool, slashes: bool) -> bytes:
    """The line carried as EKS or AKS delivers it, the carried string written with or without
    escapes of non-ASCII characters and of slashes."""
    if envelope == "eks":
        record: dict[str, Any] = {
            "timestamp": 1795766400000,
            "message": line,
            "logStreamName": "kube-apiserver-audit-1",
        }
    else:
        record = {"category": "kube-audit", "properties": {"pod": "p", "log": line}}
    text = json.dumps(record, ensure_ascii=ascii_only, separators=(",", ":"))
    if slashes:
        text = text.replace("/", "\\/")
    return text.encode("utf-8")


# text that crosses escapes, quotes, control and non-ASCII characters (astral ones too, written
# as surrogate pairs when escaped)
ODD_TEXT = st.text(
    st.one_of(
        st.sampled_from(['"', "\\", "/", "\t", "\n", "\r", "\b", "\f", "\x01", "\x7f", "é", "€"]),
        st.sampled_from(["\U0001f600", "\u2028", "\ufeff", "a", "Z", " ", "{", "}", ":", ","]),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)


@st.composite
def carried_line(draw: st.DrawFn) -> str:
    """An audit line (dismissed, judged or passed on) with odd text in a field no rule reads,
    after padding of any length, so that each escape falls anywhere in the blocks read."""
    event = json.loads(draw(audit_line()))
    if not isinstance(event, dict):
        return json.dumps(event)
    pad = "x" * draw(st.integers(min_value=0, max_value=130))
    notes = {"pad": pad, "note": draw(ODD_TEXT), draw(ODD_TEXT): draw(ODD_TEXT)}
    if draw(st.booleans()):
        event["annotations"] = notes
    else:
        event = {**{k: event[k] for k in list(event)[:2]}, "notes": notes, **event}
    return json.dumps(event, ensure_ascii=draw(st.booleans()), separators=(",", ":"))


@settings(
    max_examples=examples(600),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    line=carried_line(),
    envelope=st.sampled_from(["eks", "aks"]),
    ascii_only=st.booleans(),
    slashes=st.booleans(),
)
def test_a_carried_line_gets_the_verdict_of_the_line_itself(
    line: str, envelope: str, ascii_only: bool, slashes: bool, fast: FastHunt
) -> None:
    plain = outcome(fast, line.encode("utf-8"))
    carried = outcome(fast, wrapped(line, envelope, ascii_only, slashes))
    assert carried == plain, (line, envelope, ascii_only, slashes)


def test_carried_lines_are_set_aside_judged_and_passed_on_as_the_lines(fast: FastHunt) -> None:
    """Lines of each outcome, with escapes in every block of the carried string, keep their
    outcome carried (so the property above compares verdicts, not only lines passed on)."""
    note = {"note": '\\"\u00e9\U0001f600\t/' * 12}
    quiet, firing = {**STATUS_PATCH, "annotations": note}, {**POD, "annotations": note}
    lines = [
        json.dumps(quiet, separators=(",", ":")),
        json.dumps(firing, separators=(",", ":")),
        json.dumps(firing, separators=(",", ":")).replace('"verb"', '"v\\u0065rb"'),
    ]
    seen = []
    for line in lines:
        plain = outcome(fast, line.encode())
        for envelope in ("eks", "aks"):
            for ascii_only in (True, False):
                assert outcome(fast, wrapped(line, envelope, ascii_only, True)) == plain
        seen.append((plain[0], plain[1] != b""))
    assert seen == [(True, False), (True, True), (False, False)]


ALIKE = [f"k{c}z" for c in "abcdefghijklmnopqrstuvwxy"]  # one length, first and last
KEYS = [
    # (tested keys, dotted keys, keys that are neither): a few keys (a slot holds one, compared
    # whole), and many (slots hold several, each tried)
    (["verb", "solo", "kaz"], ["a.b"], ["vexb", "sxlo", "kbz", "verbs", "a_b", "A.b", "aa.b"]),
    (
        ALIKE + [f"key{n:03d}" for n in range(150)],
        [f"d{c}.z" for c in "abcdefghij"] + [f"dot.{n:03d}" for n in range(80)],
        ["kzz", "k_z", "kz", "kaaz", "key150", "key1000", "kEY001", "dk.z", "dot.999", "d_.z"],
    ),
]


@pytest.mark.parametrize(("fields", "dotted", "others"), KEYS)
def test_every_key_is_told_apart_from_keys_of_its_length_and_ends(
    fields: list[str], dotted: list[str], others: list[str]
) -> None:
    """A key is looked up among the tested keys and the dotted keys by its length and first and
    last characters: keys alike in those (in the same slot) are still told apart by all their
    characters, and so are keys that are no tested or dotted key."""
    native = prefilter._load()
    if native is None:
        pytest.skip("the extension is not built")
    x = [(prefilter.GLOB, 0, b"x")]
    made = native(
        [(-1, b"", False), *((0, name.encode(), True) for name in fields)],
        [[(at, x)] for at in range(1, len(fields) + 1)],  # each field: "x" may fire
        [name.encode() for name in dotted],
        [],
        [],
    )

    def passed_on(key: str, value: str = "x") -> bool:
        line = json.dumps({"other": 1, key: value, "last": [True]}, separators=(",", ":"))
        kept, _, count, gone, _, _, _, _, _ = made.scan(line.encode() + b"\n")
        assert count == 1
        assert (sum(gone) == 1) == (kept == b"")
        return kept != b""

    for name in fields:
        assert passed_on(name), name  # a tested key, its condition holds
        assert not passed_on(name, "y"), name  # its condition fails: set aside
    for name in dotted:
        assert passed_on(name, "y"), name  # a dotted key: the scan decides
    for name in others:
        assert not passed_on(name), name  # no tested key and no dotted one


SPEC_OF_THE_SHIPPED_RULES = """
import hashlib, json
from pathlib import Path
from sigma_ext.content.corpus import load_corpus
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast import prefilter
from sigma_ext.reference.engine import ReferenceEngine
root = Path({root!r})
fast = FastHunt(ReferenceEngine(load_corpus(root, root / "profiles" / "example.yml")))
spec = prefilter.prefilter_spec(fast.plans, forced=False)
print(hashlib.sha256(repr(spec).encode()).hexdigest())
"""


def test_the_prefilter_is_built_the_same_whatever_the_string_hashing() -> None:
    """The conjunctions are numbered in one order in every run: the same spec under two
    ``PYTHONHASHSEED`` values (sets of byte strings iterate in the order of their hashes)."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", SPEC_OF_THE_SHIPPED_RULES.format(root=str(ROOT))],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1, digests
