"""What a Kibana rule tells the analyst and the rule engine about its source, per source.

* ``investigation``: the fields Kibana shows first on an alert (``investigation_fields``), and
  the columns an ES|QL rule keeps (``KEEP``): who, from where, with what client, what verb,
  which namespace, kind and name, and the cluster or account where the integration has it;
* ``suppress_by``: the creator and the object (alert suppression, at most three fields); where a
  source names no creator (Docker, the node runtimes, Kubernetes Events, Tetragon, Falco) the host
  and the object; keyword fields only (a ``text`` field cannot group alerts);
* ``integration``: the Fleet package and data stream (``related_integrations``); the version
  range is ``*`` (any): the lowest version that maps every field read was not verified, and a
  wrong range would make Kibana report a mismatch where there is none;
* ``tags``: Elastic's tag convention (``Domain:``, ``Data Source:``).

Every field named here must be declared in the source's document spec
(``sigma_ext/data/documents/elastic/<source>.yml``), which also gives ``required_fields`` their
types; ``tests/test_packages_kibana.py`` checks both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import yaml


@dataclass(frozen=True)
class ElasticSource:
    investigation: tuple[str, ...]
    suppress_by: tuple[str, ...]
    package: str
    integration: str
    version: str
    tags: tuple[str, ...]


def _k8s(prefix: str) -> tuple[str, ...]:
    return (
        f"{prefix}.verb",
        f"{prefix}.objectRef.namespace",
        f"{prefix}.objectRef.resource",
        f"{prefix}.objectRef.name",
    )


_K8S_TAGS = ("Domain: Kubernetes", "Domain: Container", "Data Source: Kubernetes")
_K8S_ECS = ("user.name", "source.ip", "user_agent.original")
_EKS = "aws.eks.audit"
_EVENT = "kubernetes.event"
# the Kubernetes integration's event metricset: no creator; the reason, the involved object
# (kind, name, namespace) and the node of a kubelet Event
_K8S_EVENTS = ElasticSource(
    (
        f"{_EVENT}.reason",
        f"{_EVENT}.metadata.namespace",
        f"{_EVENT}.involved_object.kind",
        f"{_EVENT}.involved_object.name",
        f"{_EVENT}.source.host",
        f"{_EVENT}.message",
    ),
    (f"{_EVENT}.source.host", f"{_EVENT}.metadata.namespace", f"{_EVENT}.involved_object.name"),
    "kubernetes",
    "event",
    "*",
    _K8S_TAGS,
)

SOURCES: dict[str, ElasticSource] = {
    "kubernetes_audit": ElasticSource(
        (*_K8S_ECS, *_k8s("kubernetes.audit")),
        ("user.name", "kubernetes.audit.objectRef.namespace", "kubernetes.audit.objectRef.name"),
        "kubernetes",
        "audit_logs",
        "*",
        _K8S_TAGS,
    ),
    "kubernetes_audit_eks": ElasticSource(
        (
            f"{_EKS}.user.username",
            f"{_EKS}.sourceIPs",
            f"{_EKS}.userAgent",
            *_k8s(_EKS),
            "aws.cloudwatch.log_group",
        ),
        (f"{_EKS}.user.username", f"{_EKS}.objectRef.namespace", f"{_EKS}.objectRef.name"),
        "aws",
        "eks_audit",
        "*",
        (*_K8S_TAGS, "Domain: Cloud", "Data Source: Amazon EKS"),
    ),
    "kubernetes_audit_gke": ElasticSource(
        (
            "client.user.email",
            "source.ip",
            "user_agent.original",
            "event.action",
            "gcp.audit.resource_name",
            "orchestrator.cluster.name",
            "cloud.project.id",
        ),
        ("client.user.email", "gcp.audit.resource_name"),
        "gcp",
        "audit",
        "*",
        (*_K8S_TAGS, "Domain: Cloud", "Data Source: Google Cloud Platform", "Data Source: GKE"),
    ),
    "aws_cloudtrail": ElasticSource(
        (
            "aws.cloudtrail.user_identity.arn",
            "source.address",
            "user_agent.original",
            "event.action",
            "cloud.account.id",
            "cloud.region",
        ),
        ("aws.cloudtrail.user_identity.arn", "event.action"),
        "aws",
        "cloudtrail",
        "*",
        ("Domain: Cloud", "Domain: Container", "Data Source: AWS", "Data Source: Amazon ECS"),
    ),
    "azure_activitylogs": ElasticSource(
        (
            "source.ip",
            "azure.activitylogs.operation_name",
            "azure.activitylogs.result_type",
            "azure.resource.id",
        ),
        ("source.ip", "azure.resource.id"),
        "azure",
        "activitylogs",
        "*",
        ("Domain: Cloud", "Domain: Container", "Data Source: Azure"),
    ),
    "gcp_audit": ElasticSource(
        (
            "client.user.email",
            "source.ip",
            "user_agent.original",
            "event.action",
            "gcp.audit.resource_name",
        ),
        ("client.user.email", "gcp.audit.resource_name"),
        "gcp",
        "audit",
        "*",
        (
            "Domain: Cloud",
            "Domain: Container",
            "Data Source: Google Cloud Platform",
            "Data Source: Cloud Run",
        ),
    ),
    "docker_events": ElasticSource(
        ("docker.event.action", "docker.event.type", "docker.event.from", "docker.event.id"),
        ("docker.event.from", "docker.event.id"),
        "docker",
        "event",
        "*",
        ("Domain: Container", "Data Source: Docker"),
    ),
    "container_runtime": ElasticSource(
        ("message",),
        ("message",),
        "journald",
        "journald",
        "*",
        ("Domain: Container", "Domain: Endpoint", "Data Source: journald"),
    ),
    "kubernetes_events": _K8S_EVENTS,
    # watch bodies have no Elastic ingestion of their own: the integration's Event document
    "kubernetes_events_watch": _K8S_EVENTS,
    "sysmon_linux": ElasticSource(
        (
            "user.name",
            "host.name",
            "process.executable",
            "process.command_line",
            "process.parent.executable",
        ),
        ("user.name", "host.name", "process.command_line"),
        "sysmon_linux",
        "log",
        "*",
        ("Domain: Endpoint", "Domain: Container", "OS: Linux", "Data Source: Sysmon"),
    ),
    "tetragon": ElasticSource(
        (
            "host.name",
            "orchestrator.namespace",
            "orchestrator.resource.name",
            "container.name",
            "container.image.name",
            "process.executable",
        ),
        ("host.name", "orchestrator.namespace", "orchestrator.resource.name"),
        "cilium_tetragon",
        "log",
        "*",
        (
            "Domain: Endpoint",
            "Domain: Container",
            "Domain: Kubernetes",
            "OS: Linux",
            "Data Source: Cilium Tetragon",
        ),
    ),
    # the pod and namespace are text in the integration: the container name groups alerts
    "falco": ElasticSource(
        (
            "rule.name",
            "falco.hostname",
            "falco.output_fields.k8s.ns.name",
            "falco.output_fields.k8s.pod.name",
            "container.name",
            "falco.output_fields.container.image.repository",
            "falco.output_fields.proc.cmdline",
        ),
        ("falco.hostname", "container.name"),
        "falco",
        "alerts",
        "*",
        ("Domain: Endpoint", "Domain: Container", "OS: Linux", "Data Source: Falco"),
    ),
}


# ES|QL metadata a non-aggregating rule keeps, by which Kibana deduplicates its alerts.
ESQL_METADATA = ("_id", "_index", "_version")


def esql_keep(source: str, element_columns: list[str]) -> str:
    """``KEEP`` closing an ES|QL rule: the time, the source's investigation fields, the element
    that matched no approved value, and the metadata by which Kibana deduplicates alerts."""
    columns = ["@timestamp", *SOURCES[source].investigation, *element_columns, *ESQL_METADATA]
    return "KEEP " + ", ".join(columns)


@cache
def field_types(source: str) -> dict[str, str]:
    """The fields the SIEM maps for a source, with their types (document spec, no wildcards)."""
    text = (files("sigma_ext") / "data" / "documents" / "elastic" / f"{source}.yml").read_text(
        encoding="utf-8"
    )
    spec = yaml.safe_load(text)
    # constants are set by the integration: data_stream.* are constant_keyword, the rest keyword
    types = {
        str(k): "constant_keyword" if str(k).startswith("data_stream.") else "keyword"
        for k in spec.get("constants", {})
    }
    types.update({str(k): str(v) for k, v in spec.get("fields", {}).items() if "*" not in str(k)})
    return types
