"""The Kubernetes audit log as managed Kubernetes services deliver it.

The API server writes one ``audit.k8s.io/v1`` ``Event`` per line (``kubernetes_audit``). Managed
services wrap the same event in their own envelope; each wrapper here claims one envelope and
``decode`` returns the audit event inside it, so the Kubernetes rules and the native mapping read
it unchanged:

* EKS sends the audit log to CloudWatch Logs (log group ``/aws/eks/<cluster>/cluster``, streams
  ``kube-apiserver-audit-*``). Read back with ``aws logs filter-log-events`` (``jq -c
  '.events[]'``) or exported, one CloudWatch log event per line: ``timestamp``, ``message`` (the
  audit event as a JSON string), ``logStreamName``, ``ingestionTime``, ``eventId``. A
  subscription-filter batch (``logEvents[]``) holds many events and must be split first.
* AKS sends it through a diagnostic setting (categories ``kube-audit`` and ``kube-audit-admin``,
  the latter without get/list/watch) to Event Hubs or a storage account: one Azure resource-log
  record per event, the audit event as a JSON string in ``properties.log``, beside ``time``,
  ``resourceId`` (the managed cluster), ``category``, ``operationName``, ``properties.pod`` and
  ``properties.stream``. An Event Hubs message batches records in ``records[]``, which must be
  split first (``jq -c '.records[]'``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Event = Mapping[str, Any]

EKS_AUDIT_STREAM_PREFIX = "kube-apiserver-audit"


def is_audit_event(event: Any) -> bool:
    """An ``audit.k8s.io`` ``Event`` as the API server writes it."""
    return (
        isinstance(event, Mapping)
        and event.get("kind") == "Event"
        and str(event.get("apiVersion", "")).startswith("audit.k8s.io/")
    )


def _embedded_event(text: Any) -> Event | None:
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        event = json.loads(text)
    except json.JSONDecodeError:
        return None
    return event if is_audit_event(event) else None


def is_eks_cloudwatch_record(event: Event) -> bool:
    """A CloudWatch Logs event of an EKS cluster's audit stream."""
    return (
        str(event.get("logStreamName", "")).startswith(EKS_AUDIT_STREAM_PREFIX)
        and _embedded_event(event.get("message")) is not None
    )


def decode_eks_cloudwatch_record(event: Event) -> Event:
    """The audit event a CloudWatch log event carries in ``message``."""
    return _embedded_event(event.get("message")) or {}


AKS_AUDIT_CATEGORIES = frozenset({"kube-audit", "kube-audit-admin"})


def is_aks_diagnostic_record(event: Event) -> bool:
    """An AKS resource-log record of the kube-audit categories."""
    properties = event.get("properties")
    return (
        event.get("category") in AKS_AUDIT_CATEGORIES
        and isinstance(properties, Mapping)
        and _embedded_event(properties.get("log")) is not None
    )


def decode_aks_diagnostic_record(event: Event) -> Event:
    """The audit event an AKS record carries in ``properties.log``."""
    properties = event.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    return _embedded_event(properties.get("log")) or {}
