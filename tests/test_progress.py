"""The progress bar: drawn on stderr only, and both engines report their progress."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sigma_ext.hunt.progress import stderr_progress
from sigma_ext.hunt.reference import PROGRESS_LINES, hunt_file, read_events
from sigma_ext.reference.engine import ReferenceEngine

from .conftest import ROOT


def test_the_progress_bar_is_drawn_on_stderr_only_for_a_long_run_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_text("{}\n")
    with large.open("wb") as handle:
        handle.truncate(64 << 20)  # sparse: the size is what counts
    assert stderr_progress(large) is None  # stderr is not a terminal under pytest
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert stderr_progress(small) is None
    draw = stderr_progress(large)
    assert draw is not None
    draw("scan", 40.0)
    draw("scan", 100.0)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "large.jsonl scan  [############..................]  40.0%" in captured.err
    assert captured.err.endswith("100.0%\n")


def _repeated_fixture(lines: int) -> str:
    fixture = ROOT / "fixtures" / "kubernetes_audit" / "malicious_creators.jsonl"
    events = [line for line in fixture.read_text().splitlines() if line.strip()]
    return "".join(events[i % len(events)] + "\n" for i in range(lines))


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_reading_reports_progress_through_the_file(tmp_path: Path, compressed: bool) -> None:
    text = _repeated_fixture(5 * PROGRESS_LINES)
    log = tmp_path / "audit.jsonl"
    if compressed:
        with gzip.open(log, "wt") as handle:
            handle.write(text)
    else:
        log.write_text(text)
    seen: list[float] = []
    events = read_events(log, lambda _, value: seen.append(value))
    assert sum(1 for _ in events) == 5 * PROGRESS_LINES
    assert len(seen) == 6  # every PROGRESS_LINES lines, then 100
    assert seen == sorted(seen)
    assert 0 < seen[0] < seen[-2] < 100
    assert seen[-1] == 100.0


def test_the_reference_engine_gives_the_same_hits_with_progress(
    engine: ReferenceEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sigma_ext.hunt.reference.PROGRESS_LINES", 10)
    log = tmp_path / "audit.jsonl"
    log.write_text(_repeated_fixture(45))
    seen: list[tuple[str, float]] = []
    reported = list(hunt_file(engine, log, None, lambda *report: seen.append(report)))
    assert reported == list(hunt_file(engine, log))
    assert len(seen) == 5
    assert {phase for phase, _ in seen} == {"judge"}
    assert seen[-1] == ("judge", 100.0)
