"""Kubernetes Event objects: what controllers, the scheduler and the kubelet report about pods.

Two sources read them (``docs/k8s-events.md`` has the formats and what each shipper drops):

* ``kubernetes_events``: one Event object per line, as kubernetes-event-exporter's file and
  stdout sinks write it (the core/v1 ``Event`` inline, plus ``clusterName`` and the involved
  object's labels), or as ``kubectl get events -o json | jq -c '.items[]'`` prints it. An
  informer drops the TypeMeta, so ``kind``/``apiVersion`` may be absent: the object is known by
  ``involvedObject`` (core/v1) or ``regarding`` (events.k8s.io/v1), ``reason`` and ``metadata``.
* ``kubernetes_events_watch``: the watch body ``{"type": "ADDED", "object": {<Event>}}`` that the
  OpenTelemetry ``k8sobjects`` receiver (``mode: watch``, Splunk sourcetype
  ``kube:object:events``) and Splunk Connect for Kubernetes' objects chart (``kube:objects:events``)
  ship. ``DELETED`` bodies are Events expiring (``--event-ttl``), not new occurrences.

``decode`` returns the document the native mapping addresses: a core/v1 Event (events.k8s.io/v1
names are read as their core/v1 counterparts: ``regarding`` as ``involvedObject``, ``note`` as
``message``, ``reportingController`` as ``reportingComponent``, ``deprecatedSource`` as
``source``), plus two derived keys no Event has: ``image``, the reference a ``Pulling`` or
``Pulled`` message names (``Pulling image "<ref>"``, ``Successfully pulled image "<ref>" in ...``,
``Container image "<ref>" already present on machine``), and, for a watch body,
``watchEventType`` (``ADDED``, ``MODIFIED``, ``DELETED``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

Event = Mapping[str, Any]

WATCH_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED"})
# the kubelet's image manager (pkg/kubelet/images/image_manager.go): the reference is quoted
_IMAGE_MESSAGE = re.compile(
    r'^(?:Pulling image|Successfully pulled image|Container image) "(?P<image>[^"\s]+)"'
)
_IMAGE_REASONS = frozenset({"Pulling", "Pulled"})
# events.k8s.io/v1 name -> core/v1 name
_V1_NAMES = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)
_API_VERSIONS = frozenset({"v1", "events.k8s.io/v1", "events.k8s.io/v1beta1"})


def _is_in(value: Any, known: frozenset[str]) -> bool:
    """Membership that a list or object where a string belongs cannot make raise."""
    return isinstance(value, str) and value in known


def _is_core_v1(event: Event) -> bool:
    involved = event.get("involvedObject")
    return isinstance(involved, Mapping) and isinstance(involved.get("kind"), str)


def _is_events_v1(event: Event) -> bool:
    regarding = event.get("regarding")
    return (
        isinstance(regarding, Mapping)
        and isinstance(regarding.get("kind"), str)
        and ("note" in event or "reportingController" in event)
    )


def is_event_object(event: Any) -> bool:
    """A core/v1 or events.k8s.io/v1 Event object (with or without its TypeMeta)."""
    if not isinstance(event, Mapping):
        return False
    kind, version = event.get("kind"), event.get("apiVersion")
    if kind is not None and (kind != "Event" or not _is_in(version, _API_VERSIONS)):
        return False  # an audit event is kind Event too, with apiVersion audit.k8s.io/v1
    return (
        isinstance(event.get("reason"), str)
        and isinstance(event.get("metadata"), Mapping)
        and (_is_core_v1(event) or _is_events_v1(event))
    )


def is_watch_body(event: Event) -> bool:
    """A watch event carrying an Event object, as the k8sobjects receiver and SCK ship it:
    recognised from its ``type`` and the Event its ``object`` is (keys a shipper adds beside
    them do not matter)."""
    return _is_in(event.get("type"), WATCH_TYPES) and is_event_object(event.get("object"))


def image_in_message(reason: Any, message: Any) -> str | None:
    """The image reference a ``Pulling``/``Pulled`` message names, or None."""
    if not _is_in(reason, _IMAGE_REASONS) or not isinstance(message, str):
        return None
    found = _IMAGE_MESSAGE.match(message)
    return found.group("image") if found else None


def as_core_v1(event: Event) -> dict[str, Any]:
    """The Event with events.k8s.io/v1 names read as core/v1 ones, and its image if any."""
    out = dict(event)
    if not _is_core_v1(event):
        for new, old in _V1_NAMES:
            if new in out and old not in out:
                out[old] = out.pop(new)
    image = image_in_message(out.get("reason"), out.get("message"))
    if image is not None:
        out["image"] = image
    return out


def decode_event_object(event: Event) -> Event:
    return as_core_v1(event)


def decode_watch_body(event: Event) -> Event:
    inner = event.get("object")
    if not isinstance(inner, Mapping):  # pragma: no cover - recognised bodies carry an object
        return event
    return {**as_core_v1(inner), "watchEventType": event.get("type")}
