"""The fast hunt's tests on a line's text, and its one-regex every-element test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionOR
from sigma.types import SigmaRegularExpression, SigmaString, SpecialChars

from sigma_ext.hunt.fast import element_lines, raw_gate
from sigma_ext.hunt.fast.duckdb_backend import install_macros
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.recognizers import FAST_PATHS
from sigma_ext.hunt.reference import read_line
from sigma_ext.reference.engine import ReferenceEngine

from .conftest import ROOT, examples


def test_the_folding_table_is_every_character_folding_into_ascii() -> None:
    computed = "".join(
        c for c in map(chr, range(0x80, 0x110000)) if any(x.isascii() for x in c.casefold())
    )
    assert computed == raw_gate.FOLDING_INTO_ASCII


def _kubernetes_audit_lines() -> list[str]:
    return [
        line
        for path in sorted((ROOT / "fixtures" / "kubernetes_audit").rglob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


@pytest.fixture(scope="module")
def con(duckdb_con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The module's one connection, with the fast hunt's SQL macros (sx_unsure and others)."""
    install_macros(duckdb_con)
    return duckdb_con


def _dismissed(con: duckdb.DuckDBPyConnection, fast: FastHunt, lines: list[str]) -> list[bool]:
    con.execute("CREATE TEMP TABLE lines (n INTEGER, sx_text VARCHAR)")
    try:
        con.executemany("INSERT INTO lines VALUES (?, ?)", list(enumerate(lines)))
        dismissal = fast._raw_dismissal("sx_text")
        assert dismissal is not None
        recognized, needed = dismissal
        rows = con.execute(
            f"SELECT coalesce({recognized} AND NOT ({needed}), FALSE) FROM lines ORDER BY n"
        ).fetchall()
    finally:
        con.execute("DROP TABLE lines")
    return [bool(row[0]) for row in rows]


def test_quiet_audit_lines_are_dismissed_from_their_text_and_firing_ones_never(
    con: duckdb.DuckDBPyConnection, engine: ReferenceEngine, fast: FastHunt
) -> None:
    lines = _kubernetes_audit_lines()
    dismissed = _dismissed(con, fast, lines)
    fired = []
    for line in lines:
        event = read_line(line.encode())
        assert isinstance(event, dict), line
        fired.append(bool(engine.match(event, None)))
    assert not [line for line, d, f in zip(lines, dismissed, fired, strict=True) if d and f]
    reads = [
        d
        for line, d in zip(lines, dismissed, strict=True)
        if json.loads(line).get("verb") in ("get", "list", "watch")
    ]
    assert reads
    assert all(reads), "read requests should never need parsing"


def test_the_compact_prefix_is_how_the_api_server_starts_every_event() -> None:
    keys = list(FAST_PATHS["kubernetes_audit"].raw_prefix)
    compact = raw_gate.prefix_text(keys)
    events = [json.loads(line) for line in _kubernetes_audit_lines()]
    written = [json.dumps(e, separators=(",", ":")) for e in events if e.get("kind") == "Event"]
    assert written
    assert all(line.startswith(compact) for line in written)
    assert all(re.match(raw_gate.prefix_regex(keys), line) for line in written)
    assert not re.match(raw_gate.prefix_regex(keys), '{"kind":"EventList","apiVersion":"a"}')
    assert not '{"kind":"EventList","apiVersion":"audit.k8s.io/v1"}'.startswith(compact)


@pytest.mark.parametrize(
    ("value", "text", "found"),
    [
        ("create", '"verb":"create"', True),
        ("create", '"verb" : "CREATE"', True),
        ("create", '"verb":["get"]', True),  # not a string: judged after parsing
        ("create", '"verb":"created"', False),
        ("create", '"verb":"get"', False),
        ("a/b", '"verb":"a\\/b"', True),
        ("a&b", '"verb":"a\\u0026b"', True),
        ("sys*", '"verb":"system:x"', True),
        ("sys*", '"verb":"xsystem"', False),
        ("s?s", '"verb":"s\\"s"', True),
        ("create", '"verb":"cre\u017fate"', True),  # a folding character: judged after parsing
        ("pods", '"verb":"pod\u017f"', True),
        ("create", '"verb":"café"', False),
    ],
)
def test_a_value_is_found_in_the_text_as_json_may_write_it(
    value: str, text: str, found: bool
) -> None:
    pattern = raw_gate.string_pattern(SigmaString(value))
    assert pattern is not None
    regex = raw_gate.value_test("verb", [pattern])
    assert bool(re.search(regex, "{" + text + "}")) is found


@pytest.mark.parametrize(
    "text",
    ['{"verb":"cr\\u0065ate"}', '{"v\\u0065rb":"create"}', '{"verb":"STRAẞE"}', '{"x":"ﬁ"}'],
)
def test_escaped_letters_and_case_folding_make_a_line_suspicious(
    con: duckdb.DuckDBPyConnection, text: str
) -> None:
    found = con.execute(
        f"SELECT {raw_gate.suspicious_sql('t')} FROM (SELECT ? AS t)", [text]
    ).fetchone()
    assert found == (True,)


def test_go_escapes_and_plain_utf8_text_are_not_suspicious(con: duckdb.DuckDBPyConnection) -> None:
    found = con.execute(
        f"SELECT {raw_gate.suspicious_sql('t')} FROM (SELECT ? AS t)",
        ['{"u":"/a?b=1\\u0026c=\\u003c2\\u003e","n":"café"}'],
    ).fetchone()
    assert found == (False,)


@pytest.mark.parametrize(
    "pattern", ["(?s)a.*b", "a[^/]*", "a\\sb", "\\Dx", "\\W", "a\\nb", "(?s:x.)", "a|[\\n]"]
)
def test_a_regex_that_may_match_a_newline_keeps_the_lambda(pattern: str) -> None:
    assert element_lines.line_pattern(SigmaRegularExpression(pattern)) is None


ELEMENT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
VALUES = [
    SigmaString("registry.corp.example/*"),
    SigmaString("quay.io/argoproj"),
    SigmaString("quay.io/argoproj:*"),
    SigmaString("a?c"),
    SigmaRegularExpression("^library(?:[:@/][!-~]*)?$"),
    SigmaRegularExpression("(?i)^(?:docker\\.io)/[a-z0-9]+$"),
    SigmaRegularExpression("evil"),
]


def _element_matches(value: object, element: str) -> bool:
    if isinstance(value, SigmaRegularExpression):
        return re.search(str(value.regexp), element) is not None
    assert isinstance(value, SigmaString)
    parts = [
        ".*"
        if p == SpecialChars.WILDCARD_MULTI
        else "."
        if p == SpecialChars.WILDCARD_SINGLE
        else re.escape(str(p))
        for p in value.s
    ]
    return re.fullmatch("".join(parts), element, re.IGNORECASE | re.DOTALL) is not None


@settings(max_examples=examples(200), deadline=None)
@given(
    elements=st.lists(
        st.one_of(
            ELEMENT,
            st.sampled_from(
                [
                    "registry.corp.example/x:1",
                    "REGISTRY.CORP.EXAMPLE/y",
                    "registry.corp.example.evil.io/x",
                    "quay.io/argoproj",
                    "quay.io/argoproj:v2",
                    "quay.io/argoprojx",
                    "abc",
                    "library/nginx",
                    "Docker.io/nginx",
                    "evil.io/x",
                ]
            ),
        ),
        max_size=5,
    )
)
def test_the_one_regex_every_element_test_agrees_with_element_by_element(
    con: duckdb.DuckDBPyConnection, elements: list[str]
) -> None:
    tree = ConditionOR([ConditionFieldEqualsValueExpression("image", v) for v in VALUES])
    regex = element_lines.line_regex(tree)
    assert regex is not None
    expected = all(any(_element_matches(v, e) for v in VALUES) for e in elements)
    found = con.execute(
        "SELECT len(?::VARCHAR[]) = 0 OR regexp_full_match(array_to_string(?::VARCHAR[], "
        "chr(10)), ?)",
        [elements, elements, regex],
    ).fetchone()
    assert found == (expected,)


def test_lines_whose_lengths_add_up_to_the_file_need_no_count(tmp_path: Path) -> None:
    from sigma_ext.hunt.fast.running import all_lines_read

    cases = {
        b'{"a":1}\n{"b":2}\n': (2, 14, True),
        b'{"a":1}\n{"b":2}': (2, 14, True),
        b'{"a":1}\n\n{"b":2}': (2, 14, False),  # a blank line, no final newline
        b'{"a":1}\r\n{"b":2}\n': (2, 14, False),
        b"": (0, 0, True),
    }
    for number, (content, (rows, length, expected)) in enumerate(cases.items()):
        path = tmp_path / f"{number}.jsonl"
        path.write_bytes(content)
        assert all_lines_read(path, rows, length) is expected, content


NUMBERISH = st.text(alphabet="-+.0123456789eE_ infINFnaNty{[x", max_size=8)


@settings(max_examples=examples(300), deadline=None)
@given(value=st.one_of(NUMBERISH, ELEMENT))
def test_the_cheap_unsure_check_finds_every_value_sx_unsure_finds(
    con: duckdb.DuckDBPyConnection, value: str
) -> None:
    from sigma_ext.hunt.fast.plan import MAYBE_UNSURE

    unsure, maybe = con.execute(
        "SELECT coalesce(sx_unsure(?), FALSE), regexp_matches(?, ?)",
        [value, value, MAYBE_UNSURE],
    ).fetchone() or (None, None)
    assert maybe or not unsure, value


SHAPE_NODES = [
    ("objectRef", False, True),
    ("user", False, True),
    ("containers", True, True),
    ("groups", True, False),
    ("ownerReferences", True, True),
]
SHAPE_DOTTED = ["objectRef.resource", "objectRef.subresource", "user.username", "spec.containers"]
SHAPE_TEXT = st.lists(
    st.sampled_from(
        [
            *(f'"{key}"' for key, _, _ in SHAPE_NODES),
            *(f'"{key}"' for key in SHAPE_DOTTED),
            '"objectRefs"',
            '"user-agent"',
            ":",
            " : ",
            "[",
            "{",
            ",",
            "\n",
            '"x"',
            "n",
        ]
    ),
    max_size=8,
).map("".join)


# one line off the shape for each way of being off it
SHAPE_WITNESSES = [
    '{"objectRef": [1]}',
    '{"user":[]}',
    '{"containers" :{"image":"x"}}',
    '{"groups":"system:masters"}',
    '{"ownerReferences":\n{}}',
    '{"objectRef.resource":"pods"}',
    '{"objectRef.subresource":"exec"}',
    '{"user.username" : "x"}',
    '{"spec.containers":[]}',
    '{"x":[[1]]}',
    '{"x":[1, [2]]}',
]


@pytest.mark.parametrize("text", SHAPE_WITNESSES)
def test_shape_regexes_find_every_way_off_the_shape_grouped_either_way(text: str) -> None:
    for by_key in (False, True):
        regexes = raw_gate.shape_regexes(SHAPE_NODES, SHAPE_DOTTED, by_key=by_key)
        assert any(re.search(regex, text) for regex in regexes), (text, by_key)


@settings(max_examples=examples(400), deadline=None)
@given(text=SHAPE_TEXT, nested_arrays=st.booleans())
def test_shape_regexes_grouped_by_key_find_what_the_others_find(
    text: str, nested_arrays: bool
) -> None:
    by_character = raw_gate.shape_regexes(SHAPE_NODES, SHAPE_DOTTED, nested_arrays)
    by_key = raw_gate.shape_regexes(SHAPE_NODES, SHAPE_DOTTED, nested_arrays, by_key=True)
    found = any(re.search(regex, text) for regex in by_character)
    assert any(re.search(regex, text) for regex in by_key) is found, (text, by_key)


def test_shape_regexes_grouped_by_key_start_with_the_whole_key() -> None:
    # RE2 skips ahead to a literal only when the whole regex starts with it
    by_key = raw_gate.shape_regexes(
        [("objectRef", False, True), ("user", False, True)],
        ["objectRef.resource", "user.username"],
        nested_arrays=False,
        by_key=True,
    )
    assert [regex.split("(?:")[0] for regex in by_key] == ['"objectRef', '"user']
