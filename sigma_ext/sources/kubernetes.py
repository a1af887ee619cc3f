"""The Kubernetes audit log as managed Kubernetes services deliver it.

The API server writes one ``audit.k8s.io/v1`` ``Event`` per line (``kubernetes_audit``). Managed
services wrap the same event in their own envelope; each wrapper here claims one envelope and
``decode`` returns the audit event inside it, so the Kubernetes rules and the native mapping read
it unchanged:

* EKS sends the audit log to CloudWatch Logs (log group ``/aws/eks/<cluster>/cluster``, streams
  ``kube-apiserver-audit-*``). Read back with ``aws logs filter-log-events`` (``jq -c
  '.events[]'``) or exported, one CloudWatch log event per line: ``timestamp``, ``message`` (the
  audit event as a JSON string), ``logStreamName``, ``ingestionTime``, ``eventId``; a
  subscription-filter batch (``logEvents[]``) holds many events and must be split first
  (``jq -c '.logEvents[]'``: ``id``, ``timestamp``, ``message``, no stream name).
* AKS sends it through a diagnostic setting (categories ``kube-audit`` and ``kube-audit-admin``,
  the latter without get/list/watch) to Event Hubs or a storage account: one Azure resource-log
  record per event, the audit event as a JSON string in ``properties.log``, beside ``time``,
  ``resourceId`` (the managed cluster), ``category``, ``operationName``, ``properties.pod`` and
  ``properties.stream``. An Event Hubs message batches records in ``records[]``, which must be
  split first (``jq -c '.records[]'``).
* GKE writes it as Cloud Audit Logs entries (``protoPayload.serviceName`` ``k8s.io``, resource
  type ``k8s_cluster``): the verb, resource and subresource only as ``protoPayload.methodName``
  (``io.k8s.core.v1.pods.create``, ``io.k8s.core.v1.pods.exec.create``), the caller as
  ``authenticationInfo.principalEmail`` (no groups), the object as ``request``, success as an
  empty ``status`` (no HTTP code), one entry per request. ``decode_gke_audit_entry`` rebuilds
  the audit event from those; ``docs/gke-audit.md`` lists every choice it makes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sigma_ext.sources.json_text import parse_json_line

Event = Mapping[str, Any]

EKS_AUDIT_STREAM_PREFIX = "kube-apiserver-audit"


def is_audit_event(event: Any) -> bool:
    """A Kubernetes audit event, recognised from the fields that carry its meaning: a ``verb``,
    the object (``objectRef``) or URI (``requestURI``) it acts on, and an ``auditID`` or
    ``stage``; or from its type (``kind`` ``Event``, ``apiVersion`` ``audit.k8s.io/...``), as the
    API server's log backend writes it. Webhook batches' items and shippers drop the type."""
    if not isinstance(event, Mapping):
        return False
    if event.get("kind") == "Event" and str(event.get("apiVersion", "")).startswith(
        "audit.k8s.io/"
    ):
        return True
    return (
        isinstance(event.get("verb"), str)
        and (
            isinstance(event.get("objectRef"), Mapping) or isinstance(event.get("requestURI"), str)
        )
        and (isinstance(event.get("auditID"), str) or isinstance(event.get("stage"), str))
    )


def _embedded_event(text: Any) -> Event | None:
    """The audit event a JSON string carries, read as a log line is
    (``sigma_ext.sources.json_text``),
    so that an envelope's event means the same to both hunt engines."""
    # an object starts with "{" after whitespace: other messages (log text) are not parsed
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    event, error = parse_json_line(text)
    return event if error is None and is_audit_event(event) else None


# The keys of a CloudWatch Logs event as filter-log-events / get-log-events print it, and as a
# subscription batch's logEvents[] holds it (id instead of eventId, no stream name).
CLOUDWATCH_EVENT_KEYS = frozenset(
    {"timestamp", "message", "logStreamName", "ingestionTime", "eventId", "id"}
)


def is_eks_cloudwatch_record(event: Event) -> bool:
    """A CloudWatch Logs event carrying an audit event as its ``message`` (with its
    ``timestamp``), from an EKS audit stream when it names its stream (get-log-events output and
    split subscription batches do not). Other keys a shipper adds do not matter."""
    stream = event.get("logStreamName")
    return (
        "message" in event
        and "timestamp" in event
        and (stream is None or str(stream).startswith(EKS_AUDIT_STREAM_PREFIX))
        and _embedded_event(event.get("message")) is not None
    )


def decode_eks_cloudwatch_record(event: Event) -> Event:
    """The audit event a CloudWatch log event carries in ``message``."""
    return _embedded_event(event.get("message")) or {}


AKS_AUDIT_CATEGORIES = frozenset({"kube-audit", "kube-audit-admin"})


def is_aks_diagnostic_record(event: Event) -> bool:
    """An AKS resource-log record of the kube-audit categories."""
    properties, category = event.get("properties"), event.get("category")
    return (
        isinstance(category, str)
        and category in AKS_AUDIT_CATEGORIES
        and isinstance(properties, Mapping)
        and _embedded_event(properties.get("log")) is not None
    )


def decode_aks_diagnostic_record(event: Event) -> Event:
    """The audit event an AKS record carries in ``properties.log``."""
    properties = event.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    return _embedded_event(properties.get("log")) or {}


# io.k8s.<group>.<version>.<resource>[.<subresource>].<verb>. The group is ``core`` for the core
# group, one component for ``apps``, ``batch`` or ``networking.k8s.io``, and the reversed prefix of
# a longer ``*.k8s.io`` group (``io.k8s.authorization.rbac.v1.clusterrolebindings.patch``), so the
# version (v1, v1beta1, v2alpha1) is what anchors the parse.
GKE_VERSION = r"v[0-9]+(?:(?:alpha|beta)[0-9]+)?"
GKE_METHOD = re.compile(
    rf"^io\.k8s\.(?:(?P<group>[^.]+(?:\.[^.]+)*?)\.)?(?P<version>{GKE_VERSION})\.(?P<resource>[^.]+)"
    r"(?:\.(?P<subresource>[^.]+))?\.(?P<verb>[^.]+)$"
)
# resourceName names the group as the API does: core/v1/..., apps/v1/...,
# rbac.authorization.k8s.io/v1/clusterrolebindings/<name>
GKE_RESOURCE_GROUP = re.compile(rf"^(?P<group>[^/]+)/(?P<version>{GKE_VERSION})/")
GKE_RESOURCE_NAME = re.compile(r"(?:^|/)namespaces/(?P<namespace>[^/]+)/[^/]+(?:/(?P<name>[^/]+))?")
# gRPC status codes (google.rpc.Code) as the HTTP status the API server would have answered
GRPC_TO_HTTP = {3: 400, 5: 404, 6: 409, 7: 403, 9: 422, 10: 409, 16: 401}


def is_gke_audit_entry(event: Event) -> bool:
    """A Cloud Audit Logs entry of a GKE cluster's Kubernetes API: its payload's service is
    ``k8s.io`` and it names a method (the resource type, ``k8s_cluster``, may be dropped)."""
    payload, resource = event.get("protoPayload"), event.get("resource")
    return (
        isinstance(payload, Mapping)
        and payload.get("serviceName") == "k8s.io"
        and isinstance(payload.get("methodName"), str)
        and (not isinstance(resource, Mapping) or resource.get("type") in (None, "k8s_cluster"))
    )


def _gke_api_group(method: re.Match[str]) -> str | None:
    """The API group of a method name whose resourceName does not name it."""
    group = method.group("group")
    if not group or "." not in group:
        return group
    return ".".join(reversed(group.split("."))) + ".k8s.io"


def _gke_status_code(verb: str | None, status: Any) -> int:
    code = status.get("code") if isinstance(status, Mapping) else None
    if not code:
        return 201 if verb == "create" else 200
    return GRPC_TO_HTTP.get(code, 500) if isinstance(code, int) else 500


def decode_gke_audit_entry(event: Event) -> Event:
    """The Kubernetes audit event a GKE Cloud Audit Logs entry stands for.

    ``stage`` is ResponseComplete (GKE writes an entry when the request completes); a success is
    201 for a create and 200 otherwise (GKE logs no HTTP code, so an object created by a
    server-side-apply patch reads as changed, 200); there are no groups and no request URI.
    """
    payload = event.get("protoPayload")
    if not isinstance(payload, Mapping):
        return {}
    method = GKE_METHOD.match(str(payload.get("methodName", "")))
    verb = method.group("verb") if method else None
    audit: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "stage": "ResponseComplete",
        "stageTimestamp": event.get("timestamp"),
    }
    if method:
        reference = {
            "resource": method.group("resource"),
            "apiVersion": method.group("version"),
            **({"subresource": method.group("subresource")} if method.group("subresource") else {}),
        }
        resource_name = str(payload.get("resourceName", ""))
        named_group = GKE_RESOURCE_GROUP.match(resource_name)
        api_group = named_group.group("group") if named_group else _gke_api_group(method)
        if api_group and api_group != "core":
            reference["apiGroup"] = api_group
        named = GKE_RESOURCE_NAME.search(resource_name)
        if named:
            reference["namespace"] = named.group("namespace")
            if named.group("name"):
                reference["name"] = named.group("name")
        audit.update(verb=verb, objectRef=reference)
    authentication = payload.get("authenticationInfo")
    if isinstance(authentication, Mapping) and "principalEmail" in authentication:
        audit["user"] = {"username": authentication["principalEmail"]}
    metadata = payload.get("requestMetadata")
    if isinstance(metadata, Mapping):
        if "callerIp" in metadata:
            audit["sourceIPs"] = [metadata["callerIp"]]
        if "callerSuppliedUserAgent" in metadata:
            audit["userAgent"] = metadata["callerSuppliedUserAgent"]
    audit["responseStatus"] = {"code": _gke_status_code(verb, payload.get("status"))}
    request = payload.get("request")
    if isinstance(request, Mapping):
        audit["requestObject"] = {k: v for k, v in request.items() if k != "@type"}
    return audit


# The fields of an audit event that hold arrays (``audit.k8s.io/v1`` ``Event``, and the pod
# specs of the objects the creation rules read: pods, workloads' pod templates, CronJobs' job
# templates: their container lists, each container's added capabilities, their volumes).
AUDIT_ARRAY_FIELDS = frozenset(
    {
        "user.groups",
        "sourceIPs",
        "requestObject.metadata.ownerReferences",
        *(
            f"requestObject.spec.{prefix}{kind}"
            for prefix in ("", "template.spec.", "jobTemplate.spec.template.spec.")
            for kind in ("containers", "initContainers", "ephemeralContainers")
        ),
        *(
            f"requestObject.spec.{prefix}{kind}.securityContext.capabilities.add"
            for prefix in ("", "template.spec.", "jobTemplate.spec.template.spec.")
            for kind in ("containers", "initContainers", "ephemeralContainers")
        ),
        *(
            f"requestObject.spec.{prefix}volumes"
            for prefix in ("", "template.spec.", "jobTemplate.spec.template.spec.")
        ),
    }
)
# The top-level keys of an audit event whose subtrees are large (whole objects).
AUDIT_LARGE_SUBTREES = frozenset({"requestObject", "responseObject"})
