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

# The fields that hold arrays in the documented formats, among those the rules read (the fast
# hunt's shape; a line where one is not an array is left to the reference engine): ECS's
# RegisterTaskDefinition, RunTask and CreateService requests and responses
# (``containerDefinitions``, ``volumes``, ``linuxParameters.capabilities.add``, ``tasks``,
# ``containers``, ``failures``).
CLOUDTRAIL_ARRAY_FIELDS = frozenset(
    {
        "requestParameters.containerDefinitions",
        "requestParameters.containerDefinitions.linuxParameters.capabilities.add",
        "requestParameters.volumes",
        "responseElements.failures",
        "responseElements.tasks",
        "responseElements.tasks.containers",
    }
)
# Cloud Run Admin API v1 (``service.spec.template.spec.containers``, ``job.spec.template.spec
# .template.spec.containers``) and v2 (``service.template.containers``,
# ``job.template.template.containers``) requests.
GCP_AUDIT_ARRAY_FIELDS = frozenset(
    {
        "protoPayload.request.service.spec.template.spec.containers",
        "protoPayload.request.service.template.containers",
        "protoPayload.request.job.spec.template.spec.template.spec.containers",
        "protoPayload.request.job.template.template.containers",
    }
)


def _strings(event: Event, *keys: str) -> bool:
    return all(isinstance(event.get(key), str) and event.get(key) for key in keys)


def is_aws_cloudtrail(event: Event) -> bool:
    """A CloudTrail record: the AWS service called (``eventSource``, ``*.amazonaws.com``) and
    the call (``eventName``). ``eventVersion`` and ``eventTime`` are not needed."""
    return _strings(event, "eventSource", "eventName") and str(event["eventSource"]).endswith(
        ".amazonaws.com"
    )


def is_azure_activity_log(event: Event) -> bool:
    """An Azure Activity Log record: the operation, the resource it acted on, and an Activity
    Log category (other resource logs share the envelope with other categories)."""
    return (
        _strings(event, "resourceId", "operationName", "category")
        and event["category"] in AZURE_ACTIVITY_CATEGORIES
    )


def is_gcp_audit_log(event: Event) -> bool:
    """A Cloud Audit Logs entry of any Google Cloud API but the GKE Kubernetes API: an audit
    payload naming the service and the method called."""
    payload = event.get("protoPayload")
    if not isinstance(payload, Mapping):
        return False
    resource = event.get("resource")
    resource_type = resource.get("type") if isinstance(resource, Mapping) else None
    return (
        _strings(payload, "serviceName", "methodName")
        and payload.get("serviceName") != GCP_KUBERNETES_SERVICE
        and resource_type != GCP_KUBERNETES_RESOURCE
        and payload.get("@type", GCP_AUDIT_LOG_TYPE) == GCP_AUDIT_LOG_TYPE
    )
