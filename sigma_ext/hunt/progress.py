"""The progress bar ``hunt`` draws on stderr: only on a terminal, only for a long run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

Progress = Callable[[str, float], None]
"""Called with a phase and the percentage of it done (0 to 100), 100 last in each phase.

The phases: ``scan``, the fast engine's DuckDB scan of the file; ``judge``, the lines the
reference engine judges one at a time (every line with ``--engine reference``; with the fast
engine, the lines of sources it has no SQL for, and the lines it sends there)."""

LONG_RUN_BYTES = 64 << 20
"""A file this size or more makes a run long enough for a bar."""

_WIDTH = 30


def stderr_progress(path: Path) -> Progress | None:
    """A progress bar on stderr for a long run on a terminal, else None (stdout is untouched)."""
    if not sys.stderr.isatty() or path.stat().st_size < LONG_RUN_BYTES:
        return None
    return lambda phase, percent: _draw(path, phase, percent)


def _draw(path: Path, phase: str, percent: float) -> None:
    filled = int(percent / 100 * _WIDTH)
    end = "\n" if percent >= 100 else ""
    bar = "#" * filled + "." * (_WIDTH - filled)
    sys.stderr.write(f"\r{path.name} {phase:5} [{bar}] {percent:5.1f}%{end}")
    sys.stderr.flush()
