"""The order the xdist workers get the tests in (``tests/scheduling.py``)."""

from __future__ import annotations

import re

from .conftest import ROOT
from .scheduling import CI_COSTS, COSTS, GROUPS, cost_of, group_of, longest_first


def test_every_known_cost_names_a_test_or_group_that_exists() -> None:
    """A renamed test leaves no stale entry behind (it would just be handed out late)."""
    groups = {f"group:{name}" for name in GROUPS.values()}
    stale = []
    for scope in [*COSTS, *CI_COSTS]:
        if scope.startswith("group:"):
            if scope not in groups:
                stale.append(scope)
            continue
        path, _, name = scope.partition("::")
        function = re.split(r"[\[]", name)[0]
        module = ROOT / path
        if not module.is_file() or f"def {function}" not in module.read_text(encoding="utf-8"):
            stale.append(scope)
    assert stale == []


def test_the_groups_and_the_long_tests_go_first_in_cost_order() -> None:
    scopes = [
        "tests/test_yamlio.py::test_quick",
        "tests/test_cli.py::test_build_command_writes_outputs",
        "group:test_plain_pysigma",
        "tests/test_cli_errors.py::test_stdout_closed_by_the_reader_is_one_line[hunt]",
        "tests/test_cli_errors.py::test_stdout_closed_by_the_reader_is_one_line[build]",
        "group:wheel",
        "tests/test_layering.py::test_quick",
    ]
    assert longest_first(scopes) == [
        "group:wheel",
        "group:test_plain_pysigma",
        "tests/test_cli_errors.py::test_stdout_closed_by_the_reader_is_one_line[build]",
        "tests/test_cli.py::test_build_command_writes_outputs",
        "tests/test_yamlio.py::test_quick",
        "tests/test_cli_errors.py::test_stdout_closed_by_the_reader_is_one_line[hunt]",
        "tests/test_layering.py::test_quick",
    ]
    assert cost_of("tests/test_layering.py::test_quick") == 0.0


def test_a_group_is_named_by_its_prefix() -> None:
    assert group_of("tests/test_wheel.py::test_anything") == "wheel"
    assert (
        group_of("tests/test_packages.py::test_splunk_appinspect_x[macros-tags0]") == "appinspect"
    )
    assert group_of("tests/test_packages.py::test_other") is None


def test_the_thorough_profile_hands_out_the_long_properties_first() -> None:
    prop = (
        "tests/test_prefilter.py::test_generated_files_cut_in_any_chunks_get_the_reference_verdicts"
    )
    build = (
        "tests/test_content_repository.py::test_init_then_check_test_build_pass_in_the_repository"
    )
    assert longest_first([prop, build]) == [build, prop]
    assert longest_first([build, prop], thorough=True) == [prop, build]
    assert cost_of(build, thorough=True) == cost_of(build)
