"""How ``hunt`` prints a correlation hit.

The correlations' base rules are judged in the hunt's one pass with the single rules, by
whichever engine runs (``sigma_ext.reference.correlation_engine.HuntEngine``); each base-rule
match carries the event's time and group-by values and is handed, never printed, to the one
correlation evaluator (``sigma_ext.reference.correlation``). A correlation hit is one JSON line
naming the correlation, its window, its group and the ``file:line`` of every base event
(``file:line#N`` for the N-th record of a batch document).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sigma_ext.content.correlations import CorrelationFile
from sigma_ext.reference.correlation import CorrelationHit


def hit_json(hit: CorrelationHit, files: dict[str, CorrelationFile]) -> str:
    """One correlation hit as hunt prints it."""
    data: dict[str, Any] = {**_header(files[hit.correlation]), **hit.to_json_dict()}
    return json.dumps(data, ensure_ascii=False)


@cache
def _header(correlation_file: CorrelationFile) -> dict[str, Any]:
    """What every hit of a correlation says of it (parsed once, not once per hit)."""
    correlation = correlation_file.correlation()
    return {
        "correlation_id": str(correlation.id),
        "title": correlation.title,
        "level": correlation.level.name.lower() if correlation.level else None,
        "theme": correlation_file.theme,
    }
