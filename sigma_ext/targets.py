"""The one table of targets: which mappings, backend and output make up each target.

``build``, the summary table, ``hunt`` and the tests all read this table. A target's
``mapping_dir`` names the folder of ``mappings/`` holding its pipeline per source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    mapping_dir: str
    description: str


NATIVE = Target(
    "native", "native", "the events as the source writes them (reference evaluator, hunt)"
)
SPLUNK = Target("splunk", "splunk", "Splunk SPL searches and savedsearches.conf")
ELASTIC = Target("elastic", "elastic", "Elastic Security detection rules (Kibana NDJSON)")

TARGETS: tuple[Target, ...] = (NATIVE, SPLUNK, ELASTIC)
SIEM_TARGETS: tuple[Target, ...] = (SPLUNK, ELASTIC)
MAPPING_DIRS: tuple[str, ...] = tuple(t.mapping_dir for t in TARGETS)
