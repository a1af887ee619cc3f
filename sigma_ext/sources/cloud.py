"""Recognising the cloud control-plane audit records this project reads.

Each predicate claims one record format and nothing else, so that
``sigma_ext.sources.catalogue.recognize``
never has to guess between sources:

* AWS CloudTrail records, one per line as CloudWatch Logs, CloudTrail Lake and the S3 files'
  ``Records`` entries carry them (``eventVersion``, ``eventSource``, ``eventName``);
* Azure Activity Log records as a diagnostic setting streams them to Event Hubs or a storage
  account (``time``, ``resourceId``, ``operationName``, ``category`` one of the Activity Log
  categories). Resource logs that share the envelope, such as AKS ``kube-audit`` records, have
  other categories and are left to the sources that read them;
* Google Cloud audit log entries (``LogEntry`` with an ``AuditLog`` payload) of every service
  except the Kubernetes API of GKE clusters (``protoPayload.serviceName`` ``k8s.io``, resource
  type ``k8s_cluster``), which the Kubernetes audit sources read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Event = Mapping[str, Any]

# The categories of the Azure Activity Log as a diagnostic setting exports them.
AZURE_ACTIVITY_CATEGORIES = frozenset(
    {
        "Administrative",
        "Alert",
        "Autoscale",
        "Policy",
        "Recommendation",
        "ResourceHealth",
        "Security",
        "ServiceHealth",
    }
)
GCP_AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
GCP_KUBERNETES_SERVICE = "k8s.io"
GCP_KUBERNETES_RESOURCE = "k8s_cluster"


def _strings(event: Event, *keys: str) -> bool:
    return all(isinstance(event.get(key), str) and event.get(key) for key in keys)


def is_aws_cloudtrail(event: Event) -> bool:
    """A CloudTrail record: an AWS API call, console sign-in or service event."""
    return _strings(event, "eventVersion", "eventSource", "eventName", "eventTime") and str(
        event["eventSource"]
    ).endswith(".amazonaws.com")


def is_azure_activity_log(event: Event) -> bool:
    """An Azure Activity Log record as Event Hubs and storage accounts receive it."""
    return (
        _strings(event, "time", "resourceId", "operationName", "category")
        and event["category"] in AZURE_ACTIVITY_CATEGORIES
    )


def is_gcp_audit_log(event: Event) -> bool:
    """A Cloud Audit Logs entry of any Google Cloud API but the GKE Kubernetes API."""
    payload = event.get("protoPayload")
    resource = event.get("resource")
    if not isinstance(payload, Mapping) or not isinstance(resource, Mapping):
        return False
    return (
        payload.get("@type") == GCP_AUDIT_LOG_TYPE
        and _strings(event, "logName")
        and "/logs/cloudaudit.googleapis.com%2F" in str(event["logName"])
        and isinstance(resource.get("type"), str)
        and resource.get("type") != GCP_KUBERNETES_RESOURCE
        and payload.get("serviceName") != GCP_KUBERNETES_SERVICE
    )
