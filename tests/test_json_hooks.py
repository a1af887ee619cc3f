"""The JSON decoder's hooks in C (``sigma_ext/sources/_json_hooks.c``) are the Python functions
they copy (``json_text._first_wins``, ``json_text._integer``): the same values, the same key
order, the same errors; and without the extension the decoder uses the Python ones."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sigma_ext.sources
from sigma_ext.sources import json_text
from sigma_ext.sources.json_text import LONGEST_INT, _first_wins, _integer

from .conftest import examples

hooks = pytest.importorskip("sigma_ext.sources._json_hooks")

KEYS = st.sampled_from(["a", "b", "kind", "", "é", "\u2028", "a\x00"])  # few: keys repeat
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
PAIRS = st.lists(st.tuples(KEYS, SCALARS), max_size=8)


def _python_decoder() -> json.JSONDecoder:
    return json.JSONDecoder(object_pairs_hook=_first_wins, parse_int=_integer)


def _items(value: Any) -> Any:
    """The value with every object as its list of items (so that key order is compared)."""
    if isinstance(value, dict):
        return [(key, _items(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_items(item) for item in value]
    return value


@settings(max_examples=examples(300))
@given(PAIRS)
def test_first_wins_is_dict_of_the_reversed_pairs(pairs: list[tuple[str, Any]]) -> None:
    made = hooks.first_wins(pairs)
    assert list(made.items()) == list(_first_wins(pairs).items())
    for key in made:
        assert made[key] is next(value for k, value in pairs if k == key)  # the first counts


@pytest.mark.parametrize(
    "pairs",
    [
        pytest.param((("a", 1), ("a", 2)), id="a tuple of pairs"),
        pytest.param([["a", 1], ["a", 2]], id="pairs as lists"),
        pytest.param([("a", 1), "ab"], id="a two-character string as a pair"),
    ],
)
def test_anything_but_a_list_of_pairs_is_read_as_dict_reads_it(pairs: Any) -> None:
    assert list(hooks.first_wins(pairs).items()) == list(_first_wins(pairs).items())


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        pytest.param([("a", 1), ("b",)], ValueError, id="a pair of one"),
        pytest.param([([], 1)], TypeError, id="an unhashable key"),
        pytest.param(5, TypeError, id="not a sequence"),
    ],
)
def test_what_dict_refuses_the_hook_refuses_alike(pairs: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        _first_wins(pairs)
    with pytest.raises(error):
        hooks.first_wins(pairs)


@settings(max_examples=examples(300))
@given(
    st.one_of(
        st.integers().map(str),
        st.integers(LONGEST_INT - 2, LONGEST_INT + 2).flatmap(
            lambda n: st.sampled_from(["", "-"]).map(lambda sign: sign + "9" * n)
        ),
    )
)
def test_integer_is_an_int_up_to_the_longest_and_a_float_past_it(text: str) -> None:
    made, expected = hooks.integer(text), _integer(text)
    assert type(made) is type(expected)
    assert made == expected
    assert isinstance(made, int) == (len(text) <= LONGEST_INT)


JSON_TEXTS = st.recursive(
    st.one_of(
        st.integers().map(str),
        st.sampled_from(["true", "false", "null", "1.5e3", "-0", '"x"', '"\\u00e9"']),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(KEYS.map(json.dumps), inner), max_size=5).map(
            lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=examples(300))
@given(JSON_TEXTS)
def test_a_text_decodes_to_the_same_value_and_key_order_either_way(text: str) -> None:
    assert _items(json_text.FIRST_KEY_WINS.decode(text)) == _items(_python_decoder().decode(text))


def test_the_decoder_uses_the_extension_and_the_python_hooks_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert json_text.FIRST_KEY_WINS.object_pairs_hook is hooks.first_wins
    assert json_text.FIRST_KEY_WINS.parse_int is hooks.integer
    monkeypatch.setitem(sys.modules, "sigma_ext.sources._json_hooks", None)  # import fails
    monkeypatch.delattr(sigma_ext.sources, "_json_hooks")
    fallback = json_text._decoder()
    assert fallback.object_pairs_hook is _first_wins
    assert fallback.parse_int is _integer
    text = '{"b": 1, "a": {"x": 2, "x": 3}, "b": 4}'
    assert _items(fallback.decode(text)) == _items(json_text.FIRST_KEY_WINS.decode(text))
    assert _items(fallback.decode(text)) == [("b", 1), ("a", [("x", 2)])]
