"""The progress bar ``hunt`` draws on stderr: only on a terminal, only for a long run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

Progress = Callable[[float], None]
"""Called with the percentage done (0 to 100), 100 last."""

LONG_RUN_BYTES = 64 << 20
"""A file this size or more makes a run long enough for a bar."""

_WIDTH = 30


def stderr_progress(path: Path) -> Progress | None:
    """A progress bar on stderr for a long run on a terminal, else None (stdout is untouched)."""
    if not sys.stderr.isatty() or path.stat().st_size < LONG_RUN_BYTES:
        return None
    return lambda percent: _draw(path, percent)


def _draw(path: Path, percent: float) -> None:
    filled = int(percent / 100 * _WIDTH)
    end = "\n" if percent >= 100 else ""
    bar = "#" * filled + "." * (_WIDTH - filled)
    sys.stderr.write(f"\r{path.name} [{bar}] {percent:5.1f}%{end}")
    sys.stderr.flush()
