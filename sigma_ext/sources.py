"""One notion of a telemetry source, shared by ``hunt``, the fixture harness and the build.

A source names the Sigma log source its rules declare, the mapping file each target uses for it
(``mappings/<target>/<source>.yml``), and how to recognise one of its events in a log file.
Adding a source means one row here, its mapping files and its fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Event = Mapping[str, Any]


@dataclass(frozen=True)
class Source:
    """A telemetry source and the Sigma log source of its rules."""

    name: str
    product: str
    service: str
    recognize: Callable[[Event], bool]

    def serves(self, product: str | None, service: str | None) -> bool:
        return (product, service) == (self.product, self.service)


def _is_kubernetes_audit(event: Event) -> bool:
    return event.get("kind") == "Event" and str(event.get("apiVersion", "")).startswith(
        "audit.k8s.io/"
    )


SOURCES: tuple[Source, ...] = (
    Source("kubernetes_audit", "kubernetes", "audit", _is_kubernetes_audit),
)


def source_named(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in SOURCES)
    raise KeyError(f"unknown source {name!r} (known: {known})")


def source_for_logsource(product: str | None, service: str | None) -> Source | None:
    for source in SOURCES:
        if source.serves(product, service):
            return source
    return None


def recognize(event: Event) -> Source | None:
    """The source an event comes from, or None when no source claims it."""
    for source in SOURCES:
        if source.recognize(event):
            return source
    return None
