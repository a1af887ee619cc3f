"""One per-source table: the catalogue's rows say how the fast hunt reads each source, and the
hunt's SQL tables refuse to load when they and the rows disagree."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import takewhile

import pytest

from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.envelopes import ENVELOPE_SQL, ENVELOPES, envelopes_of
from sigma_ext.hunt.fast.recognizers import (
    CLAIM_STRINGS,
    FAST_PATHS,
    RECOGNIZER_SQL,
    RecognizerSql,
    fast_paths,
    fast_sources,
    unclaimed_before,
)
from sigma_ext.sources.catalogue import SOURCES, Source, source_named, table_problems
from sigma_ext.sources.runtime_logs import parse_runtime_line

from .conftest import ROOT


def _row(name: str, **facts: object) -> Source:
    return Source(name, "kubernetes", "audit", name, lambda event: False, **facts)  # type: ignore[arg-type]


def test_the_catalogue_is_consistent() -> None:
    assert table_problems(SOURCES) == []


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        pytest.param((_row("a"), _row("a")), "a: listed twice", id="a name twice"),
        pytest.param(
            (_row("a", fast_path=True, parse_text=parse_runtime_line),),
            "a: a text format has no fast path",
            id="text format with a fast path",
        ),
        pytest.param(
            (_row("a", fast_path=True, large_subtrees=frozenset({"spec.x"})),),
            "a: large subtrees are top-level keys",
            id="dotted large subtree",
        ),
        pytest.param(
            (_row("b", carries="a"), _row("a", fast_path=True)),
            "b: carries 'a', no source before it",
            id="carries a later source",
        ),
        pytest.param(
            (_row("a", fast_path=True), replace(_row("b", carries="a"), product="aws")),
            "b: carries 'a', which must serve the same log source and carry none itself",
            id="carries another log source",
        ),
        pytest.param(
            (_row("a", fast_path=True), _row("b", carries="a", arrays=frozenset({"x"}))),
            "b: its events have the shape of 'a', no fast path or shape of their own",
            id="envelope with a shape of its own",
        ),
    ],
)
def test_an_inconsistent_row_is_reported(rows: tuple[Source, ...], problem: str) -> None:
    assert table_problems(rows) == [problem]


def test_the_fast_paths_follow_the_rows() -> None:
    assert set(FAST_PATHS) == {s.name for s in SOURCES if s.fast_path}
    audit = source_named("kubernetes_audit")
    assert FAST_PATHS["kubernetes_audit"].arrays == audit.arrays
    assert FAST_PATHS["kubernetes_audit"].heavy == audit.large_subtrees
    assert {name: e.carries for name, e in ENVELOPES.items()} == {
        s.name: s.carries for s in SOURCES if s.carries is not None
    }


def test_a_source_with_a_fast_path_but_no_sql_recogniser_does_not_load() -> None:
    rows = (*SOURCES[:1], _row("new_source", fast_path=True))
    with pytest.raises(ValueError, match=r"none for \['new_source'\]"):
        fast_paths(rows, RECOGNIZER_SQL)


def test_a_sql_recogniser_without_its_source_does_not_load() -> None:
    rows = tuple(
        replace(s, fast_path=False) if s.name == "kubernetes_audit" else s for s in SOURCES
    )
    with pytest.raises(ValueError, match=r"one for \['kubernetes_audit'\]"):
        fast_paths(rows, RECOGNIZER_SQL)


def test_an_envelope_without_its_sql_does_not_load() -> None:
    rows = (*SOURCES, _row("new_envelope", carries="kubernetes_audit"))
    with pytest.raises(ValueError, match=r"none for \['new_envelope'\]"):
        envelopes_of(rows, ENVELOPE_SQL)
    unclaimed = tuple(replace(s, carries=None) for s in SOURCES)
    with pytest.raises(
        ValueError, match=r"one for \['kubernetes_audit_aks', 'kubernetes_audit_eks'\]"
    ):
        envelopes_of(unclaimed, ENVELOPE_SQL)


def test_a_source_without_a_fast_path_is_left_to_the_reference_engine(fast: FastHunt) -> None:
    # recognition takes the first source that claims an event: SQL judges the sources with a
    # fast path up to the first source before which a source has neither a fast path nor claim
    # strings, and every other line may be one for the reference engine
    judged = list(takewhile(lambda s: s.fast_path or s.name in CLAIM_STRINGS, SOURCES))
    assert [plan.source.name for plan in fast.plans] == [s.name for s in judged if s.fast_path]
    assert {e.carries for e in fast.envelopes} <= {s.name for s in judged}
    assert fast.route_unrecognized == (len(fast.plans) < len(SOURCES))


def test_a_fast_source_after_one_the_sql_cannot_tell_apart_is_not_judged_in_sql() -> None:
    rows = (_row("first", fast_path=True), _row("second"), _row("third", fast_path=True))
    assert [s.name for s in fast_sources(rows, {})[0]] == ["first"]
    assert [s.name for s in fast_sources(rows, {"second": (("key",),)})[0]] == ["first", "third"]
    # the claim strings of the sources before it that the SQL does not judge
    claims = {"second": (("key",),), "first": (("other",),)}
    assert unclaimed_before(rows[2], frozenset({"first"}), rows, claims, {}) == ((("key",),),)
    assert unclaimed_before(rows[2], frozenset({"first", "second"}), rows, claims, {}) == ()
    # a source judged only where its SQL recogniser holds: its other lines are left alone too
    inexact = {"first": RecognizerSql("TRUE", exact=False)}
    assert unclaimed_before(rows[2], frozenset({"first"}), rows, claims, inexact) == (
        (("other",),),
        (("key",),),
    )


def test_every_source_the_sql_skips_over_has_claim_strings_it_holds() -> None:
    # each string is one the source's recogniser needs: an event without it is not claimed
    claims = CLAIM_STRINGS
    fixtures = ROOT / "fixtures"
    for name, strings in claims.items():
        source = source_named(name)
        lines = [
            line
            for path in sorted((fixtures / name).glob("*.jsonl"))
            for line in path.read_text().splitlines()
            if line.strip()
        ]
        assert lines, name
        for line in lines:
            event = json.loads(line)
            assert source.recognize(event), (name, line[:80])
            assert any(all(s in line for s in group) for group in strings), (name, line[:80])
            # without the pieces of text, the recogniser does not claim the event
            text = line
            for piece in {piece for group in strings for piece in group}:
                text = text.replace(piece, piece[:1] + "x" + piece[1:])
            assert not source.recognize(json.loads(text)), (name, line[:80])
