"""The native judge's programs: an OR's tests of one field are one test of all their values,
which the extension finds as it finds the OR of the tests, in Kleene's logic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sigma_ext.hunt.fast import prefilter
from sigma_ext.hunt.fast.judge import OP_AND, OP_NOT, OP_OR, OP_TEST, OP_UNKNOWN, _one_test_a_field


def test_an_ors_tests_of_one_field_become_one_test_at_the_first_ones_place() -> None:
    parts: list[Any] = [
        [("verb", ["create"])],
        [(OP_UNKNOWN, 0)],
        [("resource", ["pods"])],
        [("verb", ["patch", "update"])],
        [("verb", ["x"]), ("resource", ["y"]), (OP_AND, 2)],  # not one test: kept
        [("resource", [None])],
    ]
    assert _one_test_a_field(parts) == [
        [("verb", ["create", "patch", "update"])],
        [(OP_UNKNOWN, 0)],
        [("resource", ["pods", None])],
        [("verb", ["x"]), ("resource", ["y"]), (OP_AND, 2)],
    ]


GLOB, INT, NULL = prefilter.GLOB, prefilter.INT, prefilter.NULL
VALUE_SETS = [
    # strings with a wildcard (\x01), an integer (unknown against a string), null
    [(GLOB, 0, b"x"), (GLOB, 0, b"y\x01"), (INT, 7, b""), (NULL, 0, b"")],
    [(GLOB, 0, b"x"), (GLOB, 0, b"y\x01")],
    [(GLOB, 0, b"x"), (NULL, 0, b"")],
]
LINES = [
    {"a": "x"},
    {"a": "X"},
    {"a": "yes"},
    {"a": "z"},
    {"a": 7},
    {"a": 8},
    {"a": "7"},
    {"a": None},
    {},
    {"a": True},
    {"a": {"b": 1}},
    {"a": "\u00e9"},
]


@pytest.mark.parametrize("values", VALUE_SETS)
@pytest.mark.parametrize("line", LINES, ids=json.dumps)
def test_one_test_of_all_values_is_the_or_of_the_tests(
    line: dict[str, Any], values: list[tuple[int, int, bytes]]
) -> None:
    """On every kind of value (a match, none, another type, null, absent, one the extension does
    not read as the reference does), the rule with one test of the values gets the verdict of
    the rule with an OR of a test per value, known or not alike."""
    native = prefilter._load()
    if native is None:
        pytest.skip("the extension is not built")
    nodes = [(-1, b"", False), (0, b"a", True)]

    def outcome(program: list[int], tests: list[Any]) -> tuple[bytes, bytes]:
        made = native(nodes, [[]], [], [], [], [(0, False, program, tests, [0], [])])
        text = json.dumps(line).encode() + b"\n"
        kept, _, _, _, _, bits, _, _, _ = made.scan(text)
        return kept, bits

    apart = [n for k in range(len(values)) for n in (OP_TEST, k)] + [OP_OR, len(values)]
    one = [OP_TEST, 0]
    singles = [(1, [value]) for value in values]
    assert outcome(one, [(1, values)]) == outcome(apart, singles)
    # under a NOT, and in an AND with a test that holds (or is unknown, on a number)
    assert outcome([*one, OP_NOT, 0], [(1, values)]) == outcome([*apart, OP_NOT, 0], singles)
    anything = (1, [(GLOB, 0, b"\x01")])
    assert outcome([*one, OP_TEST, 1, OP_AND, 2], [(1, values), anything]) == outcome(
        [*apart, OP_TEST, len(values), OP_AND, 2], [*singles, anything]
    )
