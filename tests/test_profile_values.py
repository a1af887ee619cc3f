"""What a profile value may hold, per list kind: a control character never reaches a query.

An identity or a registry holding a tab or a line break would be cut into words by Lucene (and
rewritten by a query joined line by line), so that ``"g\\th"`` exempts the users ``g`` and ``h``.
The schema rejects every control character, with the file and line of the entry.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_ext.content.profile import list_kinds, load_profile
from sigma_ext.problems import ProblemsFound

from .conftest import ROOT, examples

# Every character a value may not hold anywhere: the C0 and C1 controls and DEL (tab, line
# feed, carriage return, vertical tab, form feed, NEL, the file/group/record separators), and
# the Unicode line and paragraph separators.
CONTROL = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"] + [
    "\u2028",
    "\u2029",
]
# Characters special in some target (Splunk search, macros, CSV; Lucene; ES|QL) that an
# identity may hold: they are quoted, never refused.
SPECIAL = [*list("\"'|=()[]{}<>!^~*:/+-&,;#%$@ "), "é", "中"]


def test_every_control_character_is_listed() -> None:
    assert {"\t", "\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\x00", "\x7f"} <= set(
        CONTROL
    )
    assert len(CONTROL) == 65 + 2


def profile_with(tmp_path: Path, name: str, value: str) -> tuple[Path, int]:
    """The example profile with ``value`` (written as a YAML double-quoted string, escaped) as
    the first entry of list ``name``, and the line it stands on."""
    example = yaml.safe_load((ROOT / "profiles" / "example.yml").read_text(encoding="utf-8"))
    example.pop(name, None)
    text = yaml.safe_dump(example, sort_keys=True) + f"{name}:\n  - {json.dumps(value)}\n"
    path = tmp_path / "profile.yml"
    path.write_text(text, encoding="utf-8")
    return path, len(text.splitlines())


@settings(max_examples=examples(100), deadline=None)
@given(
    st.sampled_from(sorted(list_kinds())),
    st.sampled_from(CONTROL),
    st.sampled_from(["{c}", "a{c}b", "g{c}h", "{c}x", "x{c}", "a.b{c}"]),
)
def test_a_control_character_in_any_list_is_refused_at_its_line(
    name: str, control: str, shape: str
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path, line = profile_with(Path(folder), name, shape.format(c=control))
        assert yaml.safe_load(path.read_text())[name][0] == shape.format(c=control)
        with pytest.raises(ProblemsFound) as caught:
            load_profile(path)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == (str(path), line)
    assert problem.message.startswith(f"{name}/0: ")
    assert f"holds the control character U+{ord(control):04X}" in problem.message


@pytest.mark.parametrize("special", SPECIAL)
def test_an_identity_may_hold_any_special_character_inside(tmp_path: Path, special: str) -> None:
    identities = sorted(name for name, kind in list_kinds().items() if kind == "identity")
    name = identities[SPECIAL.index(special) % len(identities)]  # each list gets some
    value = f"a{special}b"
    path, _ = profile_with(tmp_path, name, value)
    assert load_profile(path).lists[name][0] == value


def test_an_identity_with_a_backtick_is_refused(tmp_path: Path) -> None:
    """Splunk reads `...` as a macro call, in a search and in a macro definition alike."""
    path, line = profile_with(tmp_path, "k8s_pipeline_identities", "ci`sigma_ext_x`bot")
    with pytest.raises(ProblemsFound) as caught:
        load_profile(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.message[:26]) == (line, "k8s_pipeline_identities/0:")
    assert "backtick" in problem.message


def test_check_refuses_a_tab_in_an_identity_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, ``g<TAB>h`` passed check, exempted the users g and h on Elastic, and failed the
    macros build with a misleading "does not expand"."""
    from sigma_ext.cli.main import main

    path, line = profile_with(tmp_path, "k8s_authorized_creators", "g\th")
    code = main(["check", "--root", str(ROOT), "--profile", str(path)])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        f"{path}:{line}: k8s_authorized_creators/0: 'g\\th' holds the control character U+0009"
        in err
    )


def test_the_identity_kind_says_what_it_refuses() -> None:
    from sigma_ext.content.profile import profile_schema

    comment = profile_schema()["$defs"]["identity_list"]["items"]["$comment"]
    assert "control character" in comment
    assert "backtick" in comment
