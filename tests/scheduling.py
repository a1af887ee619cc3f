"""How pytest-xdist hands the tests to its workers (``tests/conftest.py`` selects it).

Each test goes to the next worker that is short of work, in collection order, except the tests
of a group, which all go to one worker, and before any other test: each group uses a costly
resource that a session or module fixture makes once per process and that cannot be shared with
another process (the wheel and its venv; the splunk-appinspect runs, which the worker that waits
for them starts; a costly module fixture). Handing the groups out first lets the worker with a group start on it while the
others take the single tests, so no worker is left with a long group at the end of the run.

xdist's own ``xdist_group`` marker does not work with pytest 9 (xdist 3.8 renames a grouped
test's node id through an attribute pytest 9 no longer reads), so the groups are named here,
by node id prefix.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

GROUPS = {
    "tests/test_wheel.py::": "wheel",
    "tests/test_packages.py::test_splunk_appinspect_": "appinspect",
    # modules whose module fixture costs seconds (a subprocess, every fixture's queries run),
    # which every worker running one of their tests would pay
    "tests/test_plain_pysigma.py::": "test_plain_pysigma",
    "tests/test_compiled_queries.py::": "test_compiled_queries",
}
"""Node id prefix: group."""


def group_of(nodeid: str) -> str | None:
    for prefix, group in GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return None


class GroupScheduling(LoadScopeScheduling):
    """xdist's ``loadscope`` scheduling, with a test's group (else the test itself) as its
    scope; groups first (``loadscope`` puts the scopes with the most tests first)."""

    def _split_scope(self, nodeid: str) -> str:
        group = group_of(nodeid)
        return nodeid if group is None else f"group:{group}"
