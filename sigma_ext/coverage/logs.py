"""The telemetry check on log files, read the way ``hunt`` reads them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sigma_ext.content.corpus import Corpus
from sigma_ext.coverage.telemetry import TelemetryReport, check_telemetry
from sigma_ext.hunt.reference import BadLine, read_events


def _events(paths: list[Path]) -> Iterator[tuple[str, Any | None]]:
    for path in paths:
        for number, item in read_events(path):
            yield f"{path}:{number}", None if isinstance(item, BadLine) else item


def telemetry_of(corpus: Corpus, paths: list[Path]) -> TelemetryReport:
    return check_telemetry(corpus, _events(paths), tuple(str(p) for p in paths))
