"""The closing stages of every Splunk search: one row per event, with the fields an analyst
triages by, named after the Common Information Model (CIM) where CIM has the concept.

A search ends ``| eval <triage fields> | table <columns>``. The columns, per source:

``_time``; ``rule_id`` (the Kibana/Sigma id of the search); ``user`` (who created it: CIM
Change's actor); ``src`` (the caller's address); ``http_user_agent`` (CIM Web); ``action`` (the
source's own verb or API call, as written: ``create``, ``RunTask``); ``namespace`` (Kubernetes
namespace, ECS cluster, Azure resource group; no CIM field); ``object_category`` and ``object``
(CIM Change: the kind and the name of what was created); ``image`` (for a registry rule, only the
images that no approved registry covers; otherwise every image of the request); ``process``
(CIM Endpoint: the command line, on the process sources); ``dest`` (the cluster or host: CIM
Change's "resource where the change occurred"); ``vendor_account`` and ``vendor_region`` (CIM:
the cloud account, subscription or project, and region).

A field a source does not carry is left out of its table rather than written empty. The
throttling fields (``alert.suppress.fields``) are the creator and the object (with its
namespace on Kubernetes, where names repeat across namespaces), or where a source names no
creator (Docker, the node runtimes, Kubernetes Events, Tetragon, Falco) the host or cluster and
the object. Sysmon names the host user who ran the command: it is throttled by the user, the host
and the command line.

Where a column is part of another field (the subscription and resource group of an Azure
resource id), a ``rex`` stage extracts it first. Everything here is a declarative table;
``triage_stages`` only renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_K8S_IMAGES = (
    "requestObject.spec.containers{}.image",
    "requestObject.spec.initContainers{}.image",
    "requestObject.spec.ephemeralContainers{}.image",
    "requestObject.spec.template.spec.containers{}.image",
    "requestObject.spec.template.spec.initContainers{}.image",
    "requestObject.spec.template.spec.ephemeralContainers{}.image",
    "requestObject.spec.jobTemplate.spec.template.spec.containers{}.image",
    "requestObject.spec.jobTemplate.spec.template.spec.initContainers{}.image",
    "requestObject.spec.jobTemplate.spec.template.spec.ephemeralContainers{}.image",
)
_K8S: dict[str, tuple[str, ...]] = {
    "user": ("user.username",),
    "src": ("sourceIPs{}",),
    "http_user_agent": ("userAgent",),
    "action": ("verb",),
    "namespace": ("objectRef.namespace",),
    "object_category": ("objectRef.resource",),
    # the created object's name; a pod made from generateName has no name in the request
    # (objectRef.name empty), so the response's name, else the generateName prefix
    "object": (
        "responseObject.metadata.name",
        "requestObject.metadata.name",
        "requestObject.metadata.generateName",
        "objectRef.name",
    ),
}
_K8S_SUPPRESS = ("user", "namespace", "object")
# sources that name no creator: the cluster or host, and the object in its namespace
_EVENT_SUPPRESS = ("dest", "namespace", "object")
_GCP = "data.protoPayload."
# the subscription id and the resource group out of an Azure resource id
_AZURE_SUBSCRIPTION = (
    "(?i)^/subscriptions/(?<vendor_account>[^/]+)/resourcegroups/(?<namespace>[^/]+)"
)


@dataclass(frozen=True)
class Triage:
    """The triage columns of one source: CIM name -> the source fields, first non-null wins."""

    columns: dict[str, tuple[str, ...]]
    images: tuple[str, ...] = ()
    suppress_by: tuple[str, ...] = ("user", "object")
    # (field, regular expression): rex stages whose named groups are further columns
    extract: tuple[tuple[str, str], ...] = ()

    def extracted(self) -> set[str]:
        return {name for _, regex in self.extract for name in re.findall(r"\(\?<(\w+)>", regex)}


TRIAGE: dict[str, Triage] = {
    # the Splunk OpenTelemetry Collector adds the cluster name it is configured with
    "kubernetes_audit": Triage({**_K8S, "dest": ("k8s.cluster.name",)}, _K8S_IMAGES, _K8S_SUPPRESS),
    "kubernetes_audit_eks": Triage(_K8S, _K8S_IMAGES, _K8S_SUPPRESS),
    "kubernetes_audit_aks": Triage(
        {**_K8S, "dest": ("resourceId",)},
        _K8S_IMAGES,
        _K8S_SUPPRESS,
        (("resourceId", "(?i)^/subscriptions/(?<vendor_account>[^/]+)/"),),
    ),
    "kubernetes_audit_gke": Triage(
        {
            "user": (f"{_GCP}authenticationInfo.principalEmail",),
            "src": (f"{_GCP}requestMetadata.callerIp",),
            "http_user_agent": (f"{_GCP}requestMetadata.callerSuppliedUserAgent",),
            "action": ("sx_verb",),
            "namespace": (
                f"{_GCP}request.metadata.namespace",
                f"{_GCP}response.metadata.namespace",
            ),
            "object_category": ("sx_resource",),
            "object": (f"{_GCP}resourceName",),
            "dest": ("data.resource.labels.cluster_name",),
            "vendor_account": ("data.resource.labels.project_id",),
            "vendor_region": ("data.resource.labels.location",),
        },
        tuple(f"{_GCP}request.{path.removeprefix('requestObject.')}" for path in _K8S_IMAGES),
        _K8S_SUPPRESS,
    ),
    "aws_cloudtrail": Triage(
        {
            "user": ("userIdentity.arn",),
            "src": ("sourceIPAddress",),
            "http_user_agent": ("userAgent",),
            "action": ("eventName",),
            "namespace": ("requestParameters.cluster",),
            "object_category": ("eventSource",),
            "object": (
                "requestParameters.serviceName",
                "requestParameters.service",
                "requestParameters.family",
                "requestParameters.taskDefinition",
            ),
            "vendor_account": ("recipientAccountId",),
            "vendor_region": ("awsRegion",),
        },
        (
            "requestParameters.containerDefinitions{}.image",
            "responseElements.tasks{}.containers{}.image",
        ),
    ),
    "azure_activitylogs": Triage(
        {
            "user": (
                "body.identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
                "body.identity.claims.http://schemas.microsoft.com/identity/claims/objectidentifier",
                "body.identity.claims.appid",
            ),
            "src": ("body.callerIpAddress",),
            "action": ("body.operationName",),
            "object": ("body.resourceId",),
        },
        extract=(("body.resourceId", _AZURE_SUBSCRIPTION),),
    ),
    "gcp_audit": Triage(
        {
            "user": (f"{_GCP}authenticationInfo.principalEmail",),
            "src": (f"{_GCP}requestMetadata.callerIp",),
            "http_user_agent": (f"{_GCP}requestMetadata.callerSuppliedUserAgent",),
            "action": (f"{_GCP}methodName",),
            "object_category": (f"{_GCP}serviceName",),
            "object": (f"{_GCP}resourceName",),
            "vendor_account": ("data.resource.labels.project_id",),
            "vendor_region": ("data.resource.labels.location",),
        },
        (
            f"{_GCP}request.service.spec.template.spec.containers{{}}.image",
            f"{_GCP}request.service.template.containers{{}}.image",
            f"{_GCP}request.job.spec.template.spec.template.spec.containers{{}}.image",
            f"{_GCP}request.job.template.template.containers{{}}.image",
        ),
    ),
    "docker_events": Triage(
        {
            "action": ("Action",),
            "object_category": ("Type",),
            "object": ("Actor.Attributes.name",),
            "dest": ("host",),
        },
        ("Actor.Attributes.image",),
        ("dest", "object"),
    ),
    "container_runtime": Triage(
        {"action": ("sx_action",), "dest": ("host",)},
        ("sx_image",),
        ("dest", "image"),
    ),
    # Events name no creator; the reason is the action, the involved object (the controller of
    # a SuccessfulCreate, the pod of a Scheduled or Pulling) the object, and the cluster name
    # the chart's resource processor adds to every record of the cluster receiver the place
    "kubernetes_events": Triage(
        {
            "action": ("k8s.event.reason",),
            "namespace": ("k8s.namespace.name",),
            "object_category": ("k8s.object.kind",),
            "object": ("k8s.object.name",),
            "dest": ("k8s.cluster.name",),
        },
        ("sx_image",),
        _EVENT_SUPPRESS,
    ),
    # watch bodies: core/v1 names (involvedObject) or events.k8s.io/v1 names (regarding); the
    # chart's k8sobjects pipeline adds k8s.cluster.name as for kube:events
    "kubernetes_events_watch": Triage(
        {
            "action": ("object.reason",),
            "namespace": ("object.involvedObject.namespace", "object.regarding.namespace"),
            "object_category": ("object.involvedObject.kind", "object.regarding.kind"),
            "object": ("object.involvedObject.name", "object.regarding.name"),
            "dest": ("k8s.cluster.name",),
        },
        ("sx_image",),
        _EVENT_SUPPRESS,
    ),
    # the host user who ran the container CLI, its subcommand and command line, the host
    "sysmon_linux": Triage(
        {
            "user": ("User",),
            "action": ("sx_action",),
            "process": ("CommandLine",),
            "dest": ("Computer",),
        },
        ("sx_image",),
        ("user", "dest", "process"),
    ),
    # the container's first process: no creator; the pod (namespace, name) on the node
    "tetragon": Triage(
        {
            "namespace": ("process_exec.process.pod.namespace",),
            "object": ("process_exec.process.pod.name",),
            "dest": ("node_name",),
        },
        ("sx_image",),
        _EVENT_SUPPRESS,
    ),
    # the Falco rule is the action; the pod, or the container outside Kubernetes, the object
    "falco": Triage(
        {
            "action": ("rule",),
            "namespace": ("output_fields.k8s.ns.name",),
            "object": ("output_fields.k8s.pod.name", "output_fields.container.name"),
            "process": ("output_fields.proc.cmdline",),
            "dest": ("hostname",),
        },
        ("output_fields.container.image.repository",),
        _EVENT_SUPPRESS,
    ),
}

# The order of the closing table.
COLUMNS = (
    "_time",
    "rule_id",
    "user",
    "src",
    "http_user_agent",
    "action",
    "namespace",
    "object_category",
    "object",
    "image",
    "process",
    "dest",
    "vendor_account",
    "vendor_region",
)


def _quoted(field: str) -> str:
    return "'" + field.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _spl_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _first(fields: tuple[str, ...]) -> str:
    names = [_quoted(f) for f in fields]
    return names[0] if len(names) == 1 else f"coalesce({', '.join(names)})"


def triage_stages(source: str, rule_id: str, unmatched: tuple[str, ...] = ()) -> str:
    """``eval ... | table ...`` for a search on ``source``; ``unmatched`` names the fields
    holding a registry rule's unapproved images (``sigma_ext_unmatched_<n>``)."""
    triage = TRIAGE[source]
    stages = [f"rex field={field} {_spl_string(regex)}" for field, regex in triage.extract]
    assignments = [f"rule_id={_spl_string(rule_id)}"]
    for name, fields in triage.columns.items():
        if fields != (name,):
            assignments.append(f"{name}={_first(fields)}")
    images = unmatched or triage.images
    if images:
        assignments.append(f"image=mvappend({', '.join(_quoted(f) for f in images)})")
    present = {"_time", "rule_id", *triage.columns, *triage.extracted()}
    present |= {"image"} if images else set()
    columns = [c for c in COLUMNS if c in present]
    stages += [f"eval {', '.join(assignments)}", f"table {', '.join(columns)}"]
    return " | ".join(stages)


def suppress_fields(source: str) -> tuple[str, ...]:
    """The fields a Splunk alert is throttled by: the creator and the object."""
    return TRIAGE[source].suppress_by
