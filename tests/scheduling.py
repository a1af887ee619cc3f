"""How pytest-xdist hands the tests to its workers (``tests/conftest.py`` selects it).

Each test goes to the next worker that is short of work, except the tests of a group, which all
go to one worker: each group uses a costly resource that a session or module fixture makes once
per process and that cannot be shared with another process (the wheel and its venv; the
splunk-appinspect runs, which the worker that waits for them starts; a costly module fixture).

The work is handed out longest first, by the cost each group and test is known to take
(``COSTS``): the groups and the tests of seconds start while there is still plenty of short work
to give the other worker, so that no worker is left running a long test alone at the end of the
run. The tests without a known cost follow in collection order.

xdist's own ``xdist_group`` marker does not work with pytest 9 (xdist 3.8 renames a grouped
test's node id through an attribute pytest 9 no longer reads), so the groups are named here,
by node id prefix.
"""

from __future__ import annotations

from collections import OrderedDict

from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

GROUPS = {
    "tests/test_wheel.py::": "wheel",
    "tests/test_packages.py::test_splunk_appinspect_": "appinspect",
    # modules whose module fixture costs seconds (a subprocess, every fixture's queries run),
    # which every worker running one of their tests would pay
    "tests/test_plain_pysigma.py::": "test_plain_pysigma",
    "tests/test_compiled_queries.py::": "test_compiled_queries",
}
"""Node id prefix: group."""

COSTS = {
    # groups: their whole cost, the background splunk-appinspect runs included
    "group:appinspect": 30.0,
    "group:wheel": 26.0,
    "group:test_compiled_queries": 6.0,
    "group:test_plain_pysigma": 4.0,
    # single tests (a parametrized test: each of its cases)
    "tests/test_content_repository.py::test_init_then_check_test_build_pass_in_the_repository": 4.9,
    "tests/test_packages.py::test_empty_and_globbing_lists_expand_to_the_inline_searches": 2.4,
    "tests/test_prefilter.py::test_every_fixture_gives_the_reference_verdicts_and_summary": 1.6,
    "tests/test_triage_output.py::test_esql_rules_keep_the_investigation_fields": 3.5,
    "tests/test_correlations_hunt.py::test_the_fixture_sequences_in_every_shape": 2.0,
    "tests/test_cli_errors.py::test_stdout_closed_by_the_reader_is_one_line[build]": 2.8,
    "tests/test_cli.py::test_build_command_writes_outputs": 2.7,
    "tests/test_prefilter.py::test_generated_files_cut_in_any_chunks": 2.7,
    "tests/test_build.py::test_rebuild_is_byte_identical": 2.6,
    "tests/test_compiled_queries_differential.py::test_elastic_registry_patterns_agree": 2.5,
    "tests/test_quoting.py::test_a_rule_value_with_a_tab_is_one_lucene_term": 2.5,
    "tests/test_coverage.py::test_every_positive_fixture_carries_what_its_rules_need": 2.5,
    "tests/test_coverage.py::test_the_command_writes_every_output": 2.5,
    "tests/test_build_output.py::test_an_unwritable_output_is_one_line": 2.4,
    "tests/test_build_output.py::test_a_permission_error_is_one_line": 2.4,
    "tests/test_packages_correlations.py::test_a_correlation_search_that_does_not_expand": 2.3,
    "tests/test_packages.py::test_a_search_that_does_not_expand_back_fails_the_build": 2.3,
    "tests/test_build.py::test_build_command_prints_the_table_and_the_packages": 2.3,
    "tests/test_packages_correlations.py::test_check_and_build_report_unknown_attack_tags": 2.2,
    "tests/test_cli_errors.py::test_stdout_closed_by_the_reader_is_one_line[check]": 2.2,
    "tests/test_ci_formats.py::test_check_format_": 2.0,
    "tests/test_hunt_hostile.py::test_a_line_over_32_mib_is_judged_by_both_engines": 2.0,
    "tests/test_correlations_hunt.py::test_a_forced_source_and_the_exact_scan": 2.0,
    "tests/test_hunt_fast_sources.py::test_the_sql_judges_the_fixtures_of_its_sources": 2.0,
    "tests/test_cli.py::test_check_passes_on_the_shipped_content": 1.9,
    "tests/test_k8s_events.py::test_the_splunk_app_declares_every_indexed_field": 1.8,
    "tests/test_cli_errors.py::test_ctrl_c_during_build_is_one_line": 1.8,
    "tests/test_hunt_spool_direct.py::test_a_large_file_is_scanned_in_place": 1.8,
    "tests/test_problems_reported.py::test_rule_errors_point_at_the_line_at_fault": 1.8,
    "tests/test_cli_errors.py::test_a_field_the_native_mapping_lacks_is_reported": 1.8,
    "tests/test_problems_reported.py::test_unmapped_field_is_an_error_for_every_target": 1.8,
    "tests/test_packages.py::test_lookup_searches_give_the_inline_verdict": 1.7,
    "tests/test_packages_correlations.py::test_unknown_attack_tags_of_correlation_files": 1.7,
    "tests/test_cli_startup.py::test_the_engine_auto_picks_the_reference_engine": 1.6,
    "tests/test_hunt_hostile.py::test_a_closed_standard_output_ends_the_hunt": 1.6,
    "tests/test_correlations_hunt.py::test_generated_sequences_give_the_evaluators_hits": 1.6,
    "tests/test_cli_startup.py::test_a_hunt_with_a_valid_profile_skips_jsonschema": 1.6,
    "tests/test_problems_reported.py::test_broken_native_compile_is_reported": 1.5,
    "tests/test_compiled_queries_differential.py::test_ok_compilations_agree": 1.4,
}
"""Scope (a group, or a node id prefix of single tests): about how many seconds of CPU it takes.
Measured per test (the process's CPU time and its children's, around each test's setup, call
and teardown) in a whole run of the suite under the dev hypothesis profile (``CI_COSTS``: the
properties under the ci one); a session fixture's
cost lands on the first test of a worker to use it. Only the order matters: the figures need
not be exact, nor kept up to date with every change."""


CI_COSTS = {
    "tests/test_correlations_hunt.py::test_generated_sequences_give_the_evaluators_hits": 15.1,
    "tests/test_prefilter.py::test_generated_files_cut_in_any_chunks": 12.9,
    "tests/test_compiled_queries_differential.py::test_ok_compilations_agree": 6.6,
    "tests/test_hunt_duckdb.py::test_the_typed_scan_gets_the_reference_verdicts": 4.7,
    "tests/test_compiled_queries_differential.py::test_elastic_registry_patterns_agree": 3.4,
    "tests/test_hunt_duckdb.py::test_generated_events_get_the_reference_verdicts": 2.7,
    "tests/test_schema_check.py::test_surely_valid_only_what_jsonschema_accepts": 2.7,
    "tests/test_prefilter.py::test_a_line_the_prefilter_dismisses_is_quiet": 2.7,
    "tests/test_hunt_fast_sources.py::test_generated_events_of_the_sql_sources": 2.6,
    "tests/test_image_refs.py::test_patterns_agree_with_grammar_on_generated_references": 1.8,
    "tests/test_profile_values.py::test_a_control_character_in_any_list_is_refused": 1.8,
    "tests/test_hunt_envelopes.py::test_generated_events_in_envelopes_get_the_reference": 1.6,
}
"""The properties under the ci hypothesis profile (all their examples, about five times the
dev profile's): their cost there, where it differs from ``COSTS``."""


def group_of(nodeid: str) -> str | None:
    for prefix, group in GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return None


def cost_of(scope: str, thorough: bool = False) -> float:
    """The known cost of a scope (its longest matching prefix in ``COSTS``, or in ``CI_COSTS``
    first when the hypothesis profile is the thorough one), else 0."""
    for table in (CI_COSTS, COSTS) if thorough else (COSTS,):
        known = [prefix for prefix in table if scope.startswith(prefix)]
        if known:
            return table[max(known, key=len)]
    return 0.0


def longest_first(scopes: list[str], thorough: bool = False) -> list[str]:
    """The scopes by known cost, the longest first; those of equal cost in the order given."""
    return sorted(scopes, key=lambda scope: -cost_of(scope, thorough))


class GroupScheduling(LoadScopeScheduling):
    """xdist's ``loadscope`` scheduling, with a test's group (else the test itself) as its
    scope, and the scopes handed out longest first (``COSTS``)."""

    _order_queue = False

    def _split_scope(self, nodeid: str) -> str:
        group = group_of(nodeid)
        return nodeid if group is None else f"group:{group}"

    def schedule(self) -> None:
        """xdist's, once the work queue is in the order of ``longest_first``: it builds the
        queue and hands out the first scopes in one method, so the queue it orders by the count
        of tests in a scope (``--loadscope-reorder``, the default) is put in order by assigning
        work units through ``_assign_work_unit``, which pops the queue's first scope."""
        self._order_queue = self.collection is None
        super().schedule()

    def _assign_work_unit(self, node: WorkerController) -> None:
        if self._order_queue:
            self._order_queue = False
            from .conftest import HYPOTHESIS_PROFILE

            ordered = longest_first(list(self.workqueue), HYPOTHESIS_PROFILE == "ci")
            self.workqueue = OrderedDict((scope, self.workqueue[scope]) for scope in ordered)
        super()._assign_work_unit(node)
