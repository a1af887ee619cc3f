"""How the tuning lists reach the Splunk app (kept apart so that the CLI can offer the choices
without importing the Splunk compiler)."""

from __future__ import annotations

from typing import Literal

TuningMode = Literal["inline", "macros", "lookups"]
TUNING_MODES: tuple[TuningMode, ...] = ("inline", "macros", "lookups")
DEFAULT_TUNING: TuningMode = "macros"
