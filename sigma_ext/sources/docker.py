"""Recognising what container hosts log about container creation.

* Docker daemon events, one JSON object per line as ``docker events --format '{{json .}}'``
  prints them (Engine API ``/events``): ``Type`` (container, image, network, volume, ...),
  ``Action`` (create, start, die, pull, ...), ``Actor`` with ``ID`` and ``Attributes`` (for a
  container: ``image``, ``name`` and its labels), ``scope``, ``time`` and ``timeNano``. Daemons
  before Engine 25 also repeat the deprecated ``status``, ``id`` and ``from``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Event = Mapping[str, Any]


def is_docker_event(event: Event) -> bool:
    """A Docker Engine event as the daemon's event stream writes it."""
    actor = event.get("Actor")
    return (
        isinstance(event.get("Type"), str)
        and isinstance(event.get("Action"), str)
        and isinstance(actor, Mapping)
        and "ID" in actor
        and ("timeNano" in event or "time" in event)
    )
