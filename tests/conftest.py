"""Shared test fixtures. The whole suite runs with the network switched off.

What is costly to make and never changed by a test is made once per run here: the example
corpus, its reference engine and fast hunt, every rule compiled for every target
(``compiled``), and the build folder of each Splunk tuning mode (``example_builds``). A test
that needs a different corpus or a fresh build makes its own. The splunk-appinspect runs that
are selected (marker ``appinspect``) start in the background when the session begins
(``tests/appinspect_runs.py``).

The suite runs on every core (pytest-xdist's ``-n auto``) unless told otherwise: ``-n 0`` or
``-p no:xdist`` runs it in this one process (a debugger, one quick test). Session fixtures are
made once per worker; the costly ones are shared: the example builds are made once per run under
a file lock in a folder every worker sees, and the tests of a costly resource that cannot be
shared (the wheel, the appinspect runs) form a group that one worker runs
(``tests/scheduling.py``).

Hypothesis runs under one of two profiles, with the same properties and strategies:

* ``ci`` (selected when the environment has ``CI=true``, as ``.ci/run`` has in CI): every
  property runs the number of examples its test asks for, derandomized (the same examples on
  every run), with no example database;
* ``dev`` (everywhere else): a fifth of those examples, at least one, with the example database
  in ``.hypothesis/`` so that a failure found locally is tried first on the next run.

``HYPOTHESIS_PROFILE=ci`` (or ``dev``) chooses one explicitly. A test states its thorough count
as ``@settings(max_examples=examples(300))``; a property with no count runs the profile's
``max_examples`` (100 in ``ci``, 20 in ``dev``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pytest
from hypothesis import HealthCheck, settings

from sigma_ext.content.corpus import Corpus, load_corpus
from sigma_ext.content.correlations import CorrelationFile, load_correlations
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.reference.engine import ReferenceEngine

if TYPE_CHECKING:  # the compilers are imported by the fixtures that need them
    from sigma_ext.build.correlations import CompiledCorrelation
    from sigma_ext.build.result import Compiled
    from sigma_ext.build.splunk.tuning_modes import TuningMode

    from .appinspect_runs import AppInspectRuns

ROOT = Path(__file__).resolve().parent.parent

THOROUGH_EXAMPLES = 100  # max_examples of the ci profile; examples(n) scales n by the profile's
settings.register_profile(
    "ci",
    settings.get_profile("ci"),  # Hypothesis's own: derandomized, no database, blobs printed
    max_examples=THOROUGH_EXAMPLES,
    deadline=None,
)
settings.register_profile(
    "dev",
    settings.get_profile("default"),
    max_examples=THOROUGH_EXAMPLES // 5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HYPOTHESIS_PROFILE = os.environ.get(
    "HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"
)
settings.load_profile(HYPOTHESIS_PROFILE)


def fixture_lines(source: str) -> list[str]:
    """The fixture events of ``source``: every non-blank line of its JSON Lines fixtures."""
    return [
        line
        for path in sorted((ROOT / "fixtures" / source).glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def examples(thorough: int) -> int:
    """How many examples a property runs: ``thorough`` under the ci profile, a fifth under dev."""
    assert settings.default is not None
    return max(1, thorough * settings.default.max_examples // THOROUGH_EXAMPLES)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Distribute the tests over every core when pytest-xdist is there and no ``-n`` was given
    (an option in ``addopts`` would break ``-p no:xdist``), with the groups of
    ``tests/scheduling.py`` unless another ``--dist`` was given; a worker never distributes
    again.

    The run writes Python's bytecode caches (``__pycache__``, ignored by git) even where the
    environment says not to (``PYTHONDONTWRITEBYTECODE``): without them each worker, and each
    ``sigma-ext`` the tests start, compiles every module it imports again (measured: collecting
    the suite took 5.5 s of CPU without them, 2.8 s with them, in every worker)."""
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        sys.dont_write_bytecode = False
    if not config.pluginmanager.hasplugin("xdist") or "PYTEST_XDIST_WORKER" in os.environ:
        return
    if config.getoption("numprocesses") is None and not config.getoption("collectonly"):
        config.option.numprocesses = "auto"
    if config.getoption("dist") == "no":
        config.option.dist = "loadgroup"  # xdist's own turns it back to "no" for -n 0


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``loadgroup``: each test to the next free worker, the tests of one group to one worker
    (``tests/scheduling.py``, which says why xdist's own does not do)."""
    if config.getoption("dist") != "loadgroup":
        return None
    from .scheduling import GroupScheduling

    return GroupScheduling(config, log)


def pytest_report_header() -> str:
    return f"hypothesis profile: {HYPOTHESIS_PROFILE} (set HYPOTHESIS_PROFILE=ci|dev to choose)"


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds and tests must never touch the network (pySigma's ATT&CK download included)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load_corpus(ROOT, ROOT / "profiles" / "example.yml")


@pytest.fixture(scope="session")
def engine(corpus: Corpus) -> ReferenceEngine:
    return ReferenceEngine(corpus)


@pytest.fixture(scope="session")
def fast(engine: ReferenceEngine) -> FastHunt:
    """The fast hunt over the whole corpus (its SQL is made once; hunting keeps no state). Under
    xdist, every core already runs a worker: a DuckDB thread per core in each worker only made
    them wait on each other (about 12% more CPU on the hunt tests), so each scans with one
    thread; ``-n 0`` runs the scans on every core, as ``sigma-ext hunt`` does."""
    return FastHunt(engine, threads=1 if "PYTEST_XDIST_WORKER" in os.environ else None)


@pytest.fixture(scope="session")
def correlation_files(corpus: Corpus) -> list[CorrelationFile]:
    """The example corpus's correlation files, loaded once (tests never change them)."""
    files, problems = load_correlations(corpus.correlations_root, corpus.profile)
    assert problems == []
    return files


@pytest.fixture(scope="session")
def compiled_correlations(
    corpus: Corpus, correlation_files: list[CorrelationFile]
) -> list[CompiledCorrelation]:
    """Every correlation compiled for every SIEM target and source, once per run."""
    from sigma_ext.build.correlations import compile_correlations

    return compile_correlations(corpus, correlation_files)


@pytest.fixture(scope="session")
def compiled(corpus: Corpus) -> list[Compiled]:
    """``compile_all`` of the example corpus, once per run (the results are frozen; tests filter
    the list and never change it)."""
    from sigma_ext.build.compile import compile_all

    return compile_all(corpus)


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` (made if missing), across processes."""
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder for this run: shared by every xdist worker of the run (the parent of the
    workers' own base folders), or this process's own when there are no workers."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        folder = tmp_path_factory.getbasetemp().parent / name
        folder.mkdir(exist_ok=True)
        return folder
    return tmp_path_factory.mktemp(name)


class Builds:
    """``sigma-ext build`` of the example corpus into a folder per Splunk tuning mode, each built
    on first use and then shared (tests read the folders and never write into them). Under
    xdist the folders are the run's: the first worker to need a mode builds it, under a lock
    the others wait on."""

    def __init__(self, corpus: Corpus, root: Path, request: pytest.FixtureRequest) -> None:
        self.corpus = corpus
        self.root = root
        self.request = request
        self.outs: dict[str, Path] = {}

    def __getitem__(self, mode: TuningMode | Literal["es"]) -> Path:
        """``es``: Enterprise Security mode (``--splunk-es``) with the default tuning."""
        from sigma_ext.build.folder import build

        if mode not in self.outs:
            out = self.root / mode / "build"
            built = self.root / mode / "built"  # written once the build is whole
            with exclusive(self.root / f"{mode}.lock"):
                if not built.exists():
                    # the session's compile_all of the corpus, made once in this worker
                    results = self.request.getfixturevalue("compiled")
                    if mode == "es":
                        made = build(self.corpus, out, "macros", True, results=results).out
                    else:
                        made = build(self.corpus, out, mode, results=results).out
                    assert made == out
                    built.touch()
            self.outs[mode] = out
        return self.outs[mode]


@pytest.fixture(scope="session")
def example_builds(
    corpus: Corpus, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Builds:
    return Builds(corpus, run_folder(tmp_path_factory, "example-builds"), request)


@pytest.fixture(scope="module")
def duckdb_con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB connection for a whole test module: opening one costs about 100 ms,
    which a property that opened one per example spent on every example. Tests that create a
    table drop it again."""
    con = duckdb.connect()
    try:
        yield con
    finally:
        con.close()


def selected_appinspect_runs(session: pytest.Session) -> list[tuple[TuningMode, tuple[str, ...]]]:
    """The (mode, options) of every splunk-appinspect run a selected test asks for (a test
    marked ``appinspect`` is parametrized with ``mode`` and ``tags``)."""
    return [
        (item.callspec.params["mode"], tuple(item.callspec.params["tags"]))
        for item in session.items
        if item.get_closest_marker("appinspect") and hasattr(item, "callspec")
    ]


def start_appinspect_runs(runs: AppInspectRuns, session: pytest.Session) -> None:
    """Start every selected run now, so that the runs go on beside the other tests. When a run
    cannot start here (no splunk-appinspect, a build that fails), its test starts it and reports
    why."""
    from .appinspect_runs import APPINSPECT

    if not APPINSPECT.exists():
        return
    try:
        for mode, options in selected_appinspect_runs(session):
            runs.start(mode, options)
    except Exception:
        return


@pytest.fixture(scope="session")
def appinspect_runs(
    request: pytest.FixtureRequest,
    example_builds: Builds,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AppInspectRuns]:
    """The splunk-appinspect runs. Under xdist, the worker that runs the appinspect tests (one
    group, handed out first: ``tests/scheduling.py``) starts them all as it reaches the first."""
    from .appinspect_runs import AppInspectRuns

    runs = AppInspectRuns(example_builds, tmp_path_factory.mktemp("appinspect"))
    if "PYTEST_XDIST_WORKER" in os.environ:
        start_appinspect_runs(runs, request.session)
    try:
        yield runs
    finally:
        runs.close()


@pytest.fixture(scope="session", autouse=True)
def appinspect_in_background(request: pytest.FixtureRequest) -> None:
    """Without xdist, start every selected splunk-appinspect run when the session begins, so
    that the runs go on beside the other tests (under xdist, each worker would start them all:
    the ``appinspect_runs`` fixture starts them in the one worker that needs them)."""
    if "PYTEST_XDIST_WORKER" in os.environ or not selected_appinspect_runs(request.session):
        return
    runs: AppInspectRuns = request.getfixturevalue("appinspect_runs")
    start_appinspect_runs(runs, request.session)
