"""A hit's JSON line, written from text made once per rule and file, is what ``json.dumps``
with sorted keys writes of its fields (the line format ``hunt`` prints and users parse)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_ext.hunt.reference import Hit

from .conftest import examples

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=examples(300))
@given(
    fields=st.tuples(_TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT),
    line=st.integers(min_value=1, max_value=10**12),
    record=st.one_of(st.none(), st.integers(min_value=1, max_value=10**6)),
)
def test_a_hit_prints_the_json_of_its_fields(
    fields: tuple[str, str, str, str, str, str], line: int, record: int | None
) -> None:
    rule_id, title, level, theme, rule, file = fields
    hit = Hit(rule_id, title, level, theme, rule, file, line, record)
    expected = {
        "rule_id": rule_id,
        "title": title,
        "level": level,
        "theme": theme,
        "rule": rule,
        "file": file,
        "line": line,
        **({} if record is None else {"record": record}),
    }
    assert hit.to_json() == json.dumps(expected, sort_keys=True)
    # the same rule and file on another line: the text made once serves it too
    assert json.loads(hit.at(line + 1).to_json())["line"] == line + 1
