"""The profile's alert_throttle: read, defaulted, and validated with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_ext.content.profile import DEFAULT_THROTTLE, load_profile
from sigma_ext.problems import ProblemsFound

from .conftest import ROOT

EXAMPLE = (ROOT / "profiles" / "example.yml").read_text()


def _without_throttle(text: str) -> str:
    return text[: text.index("\n# Throttling:")] + "\n"


def test_example_profile_throttles_visibility_rules_longer() -> None:
    profile = load_profile(ROOT / "profiles" / "example.yml")
    assert profile.throttle_period("visibility") == "24h"
    assert profile.throttle_period("unauthorized-creator") == "1h"


def test_a_profile_without_alert_throttle_gets_the_default(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text(_without_throttle(EXAMPLE))
    profile = load_profile(path)
    assert profile.throttle == {}
    assert profile.throttle_period("off-pipeline") == DEFAULT_THROTTLE


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  default: 1d\n", "alert_throttle/default: '1d' is not a valid entry"),
        ("  default: 0m\n", "alert_throttle/default: '0m' is not a valid entry"),
        ("  sometimes: 1h\n", "unknown key in tuning profile: 'sometimes'"),
    ],
)
def test_a_bad_throttle_is_reported_with_its_line(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "p.yml"
    text = _without_throttle(EXAMPLE) + "alert_throttle:\n" + entry
    path.write_text(text)
    with pytest.raises(ProblemsFound) as raised:
        load_profile(path)
    (problem,) = raised.value.problems
    assert message in problem.message
    assert problem.line == text.count("\n")
