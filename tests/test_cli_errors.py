"""One error path: whatever goes wrong ends in one line on stderr and a documented exit code."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sigma_ext.cli import exits
from sigma_ext.cli.main import main

from .conftest import ROOT


def one_line(err: str) -> str:
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err.strip()


def test_ctrl_c_during_build_is_one_line_and_leaves_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sigma_ext.build import folder

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(folder, "render_counted", interrupted)
    code = main(["build", "--root", str(ROOT), "--out", str(tmp_path / "build")])
    assert code == exits.EXIT_INTERRUPTED == 130
    assert one_line(capsys.readouterr().err) == "sigma-ext: interrupted"
    assert list(tmp_path.iterdir()) == []


def test_a_broken_pipe_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sigma_ext.cli import check

    def closed(args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(check, "run", closed)
    code = main(["check", "--root", str(ROOT)])
    assert code == exits.EXIT_BROKEN_PIPE == 141
    assert "broken pipe" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "command",
    [["check"], ["build", "--out", "OUT"], ["hunt", "LOG"]],
    ids=["check", "build", "hunt"],
)
def test_stdout_closed_by_the_reader_is_one_line(command: list[str], tmp_path: Path) -> None:
    """``sigma-ext check | head -0``: the reader is gone before anything is written."""
    log = tmp_path / "pods.jsonl"
    log.write_text(
        sorted((ROOT / "fixtures" / "kubernetes_audit").glob("malicious*.jsonl"))[0].read_text()
    )
    argv = [a.replace("OUT", str(tmp_path / "build")).replace("LOG", str(log)) for a in command]
    process = subprocess.Popen(
        [sys.executable, "-m", "sigma_ext", *argv, "--root", str(ROOT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait() == 141
    assert one_line(err) == (
        "sigma-ext: stdout was closed before the output was complete (broken pipe)"
    )


def test_an_unexpected_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sigma_ext.cli import check

    def bug(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(check, "run", bug)
    monkeypatch.delenv("SIGMA_EXT_DEBUG", raising=False)
    assert main(["check", "--root", str(ROOT)]) == exits.EXIT_INTERNAL
    assert one_line(capsys.readouterr().err).startswith(
        "sigma-ext: internal error: ZeroDivisionError: division by zero"
    )


@pytest.fixture
def project_with_unknown_field(tmp_path: Path) -> Path:
    for name in ("rules", "mappings", "profiles", "fixtures"):
        shutil.copytree(ROOT / name, tmp_path / name)
    rule = tmp_path / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"
    rule.write_text(
        rule.read_text().replace("objectRef.resource: pods", "objectRef.resourcee: pods")
    )
    return tmp_path


@pytest.mark.parametrize("command", ["check", "test", "hunt"])
def test_a_field_the_native_mapping_lacks_is_reported_by_every_command(
    command: str,
    project_with_unknown_field: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = project_with_unknown_field
    rule = project / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"
    lines = rule.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "objectRef.resourcee:" in text)
    argv = [command, "--root", str(project)]
    if command == "hunt":
        log = project / "empty.jsonl"
        log.write_text("")
        argv.append(str(log))
    code = main(argv)
    err = capsys.readouterr().err
    assert code == exits.EXIT_PROBLEMS
    assert "Traceback" not in err
    assert "internal error" not in err
    assert (
        f"{rule}:{line}: native/kubernetes_audit: field 'objectRef.resourcee' is not mapped" in err
    ), err
    assert re.search(r"^\d+ problem\(s\) found$", err, re.MULTILINE), err


def test_the_readme_documents_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in dir(exits):
        if name.startswith("EXIT_"):
            assert f"| `{getattr(exits, name)}` |" in readme, name


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_a_real_ctrl_c_at_any_moment_is_one_line(delay: float, tmp_path: Path) -> None:
    """SIGINT while the commands load, while the content loads, or while the build compiles."""
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "sigma_ext", "build", "--root", str(ROOT)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate()
    assert "Traceback" not in err
    if process.returncode == 0:
        return  # the build was done before the signal came
    if process.returncode == -signal.SIGINT:
        # Before Python's own handler was in place, nothing is printed. And CPython 3.11 ends a
        # process by SIGINT once a KeyboardInterrupt went through a string exec() (dataclasses
        # makes its methods so), even a handled one; a shell shows either as 130.
        assert err in ("", "sigma-ext: interrupted\n")
        return
    assert (process.returncode, err) == (130, "sigma-ext: interrupted\n")
    assert not (tmp_path / "build").exists()
    assert list(tmp_path.iterdir()) == []


def _interrupted_while_a_class_is_made(monkeypatch: pytest.MonkeyPatch) -> int:
    """A SIGINT while a dataclass is made: at that moment of any import (every dataclass field
    made with field(), every cached_property, every Enum member), Python 3.11 wraps the
    KeyboardInterrupt that ``__set_name__`` raised in a RuntimeError."""
    import dataclasses
    import signal

    made = dataclasses.Field.__set_name__

    def signalled(self: dataclasses.Field[object], owner: type, name: str) -> None:
        signal.raise_signal(signal.SIGINT)
        made(self, owner, name)

    with monkeypatch.context() as patched:
        patched.setattr(dataclasses.Field, "__set_name__", signalled)

        @dataclasses.dataclass
        class Made:
            values: list[str] = dataclasses.field(default_factory=list)

    return 0


def _interrupt_swallowed(monkeypatch: pytest.MonkeyPatch) -> int:
    """A library that catches the KeyboardInterrupt and goes on (a C extension may)."""
    import contextlib
    import signal

    with contextlib.suppress(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    return 0


def _cleanup_failed_after_the_interrupt(monkeypatch: pytest.MonkeyPatch) -> int:
    """A ``finally`` that fails while the KeyboardInterrupt unwinds."""
    import signal

    try:
        signal.raise_signal(signal.SIGINT)
    finally:
        raise OSError(5, "Input/output error")


def _interrupted_in_a_finalizer(monkeypatch: pytest.MonkeyPatch) -> int:
    """A SIGINT while a ``__del__`` runs: Python cannot pass its KeyboardInterrupt on, and
    prints it with a traceback ("Exception ignored in ...")."""
    import signal

    class Finalized:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)

    Finalized()
    return 0


def _interrupted_in_a_duckdb_query(monkeypatch: pytest.MonkeyPatch) -> int:
    """A SIGINT while DuckDB runs a query (``hunt``'s scans): DuckDB calls the handler, then
    raises RuntimeError("Query interrupted") in place of its KeyboardInterrupt."""
    import os
    import signal
    import threading

    import duckdb

    con = duckdb.connect(config={"threads": 1})
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
    # seconds of work: only the signal ends it this soon
    con.execute("SELECT sum(i) FROM range(5000000000) t(i)").fetchall()
    return 0


@pytest.mark.parametrize(
    "run",
    [
        _interrupted_in_a_duckdb_query,
        _interrupted_while_a_class_is_made,
        _interrupt_swallowed,
        _cleanup_failed_after_the_interrupt,
        _interrupted_in_a_finalizer,
    ],
    ids=[
        "wrapped-by-duckdb",
        "wrapped-by-set-name",
        "swallowed",
        "replaced-in-finally",
        "lost-in-a-finalizer",
    ],
)
def test_a_sigint_at_any_moment_is_interrupted_whatever_it_became(
    run: Callable[[pytest.MonkeyPatch], int],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The moments the real-signal test above hits by chance, made deterministic: a SIGINT
    that ended in another exception, or in none, still ends the run as interrupted."""
    import signal

    from sigma_ext.cli import check

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        # a test worker may run with SIGINT ignored; the command runs with Python's own handler
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    monkeypatch.setattr(check, "run", lambda args: run(monkeypatch))
    # Python's own, which prints to stderr (pytest's turns what it is given into a warning)
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    before = signal.getsignal(signal.SIGINT), sys.unraisablehook
    assert main(["check", "--root", str(ROOT)]) == exits.EXIT_INTERRUPTED
    assert one_line(capsys.readouterr().err) == "sigma-ext: interrupted"
    assert (signal.getsignal(signal.SIGINT), sys.unraisablehook) == before
