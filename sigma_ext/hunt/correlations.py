"""The correlation pass of ``hunt``: the same for both engines, after their per-event hits.

Each input (standard input and FIFOs are already copied to a file) is read once more with the
reference reader; every recognised event is decoded and handed to the one correlation evaluator
(``sigma_ext.reference.correlation``), which keeps only the base rules' hits, so memory grows
with the hits, not with the file. A correlation hit is one JSON line naming the correlation,
its window, its group and the ``file:line`` of every base event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sigma_ext.content.correlations import CorrelationFile
from sigma_ext.hunt.inputs import Input, Trouble, read_units
from sigma_ext.hunt.reference import unit_item, unit_place
from sigma_ext.reference.correlation import CorrelationHit
from sigma_ext.reference.correlation_engine import CorrelationEngine, Item
from sigma_ext.sources.catalogue import Source, recognize


def _items(inputs: list[Input], source: Source | None) -> Iterator[Item]:
    for found in inputs:
        kept = list(found.problems)  # read_units starts the list afresh: the hunt's stays
        for unit in read_units(found):
            if isinstance(unit, Trouble):
                continue
            event = unit_item(unit)
            if not isinstance(event, dict):
                continue
            recognised = source or recognize(event)
            if recognised is None:
                continue
            line, _ = unit_place(unit)
            yield recognised, recognised.decode(event), (found.name, line)
        found.problems[:] = kept


def correlation_hits(
    engine: CorrelationEngine, inputs: list[Input], source: Source | None
) -> list[CorrelationHit]:
    """Every correlation hit over all inputs together (a window may span files)."""
    return engine.correlate(_items(inputs, source))


def hit_json(hit: CorrelationHit, files: dict[str, CorrelationFile]) -> str:
    """One correlation hit as hunt prints it."""
    correlation = files[hit.correlation].correlation()
    data: dict[str, Any] = {
        "correlation_id": str(correlation.id),
        "title": correlation.title,
        "level": correlation.level.name.lower() if correlation.level else None,
        "theme": files[hit.correlation].theme,
        **hit.to_json_dict(),
    }
    return json.dumps(data, ensure_ascii=False)
