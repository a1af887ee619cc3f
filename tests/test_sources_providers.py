"""Provider and host sources: each envelope or event stream is claimed by its own source (Kubernetes
audit as managed services deliver it, unwrapped to the plain audit event and judged by the same
rules; Docker daemon events)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sigma_ext.build.elastic.compiler import ElasticCompiler
from sigma_ext.build.splunk.compiler import SplunkCompiler
from sigma_ext.content.corpus import Corpus
from sigma_ext.emulate import splunk_search
from sigma_ext.emulate.documents import build_document
from sigma_ext.emulate.verdict import compiled_matches
from sigma_ext.hunt.reference import Hit, hunt_file
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import SOURCES, recognize, source_named

from .conftest import ROOT

AUDIT = {
    "kind": "Event",
    "apiVersion": "audit.k8s.io/v1",
    "stage": "ResponseComplete",
    "verb": "create",
    "user": {"username": "mallory@corp.example", "groups": ["system:authenticated"]},
    "objectRef": {"resource": "pods", "namespace": "default"},
    "responseStatus": {"code": 201},
    "requestURI": "/api/v1/namespaces/default/pods",
    "requestObject": {"spec": {"containers": [{"name": "x", "image": "evil.io/miner:1"}]}},
}


def cloudwatch(message: str, stream: str = "kube-apiserver-audit-6f0c3b9e") -> dict[str, object]:
    return {
        "timestamp": 1795766400000,
        "message": message,
        "logStreamName": stream,
        "ingestionTime": 1795766401200,
        "eventId": "37996186543810942836276428930938572012837912839129345678",
    }


def test_eks_cloudwatch_events_are_claimed_and_unwrapped() -> None:
    record = cloudwatch(json.dumps(AUDIT))
    source = recognize(record)
    assert source is not None
    assert source.name == "kubernetes_audit_eks"
    assert source.decode(record) == AUDIT
    assert recognize(AUDIT) == source_named("kubernetes_audit")


def test_split_subscription_batches_and_get_log_events_output_are_eks_audit() -> None:
    message = json.dumps(AUDIT)
    split = {"id": "37996186543810942836276428930938572012837912839129345678", "timestamp": 1}
    assert recognize({**split, "message": message}) == source_named("kubernetes_audit_eks")
    assert recognize({"timestamp": 1, "message": message, "ingestionTime": 2}) == source_named(
        "kubernetes_audit_eks"
    )
    # recognised on meaning: a message carrying an audit event, whatever key a shipper adds
    assert recognize({"timestamp": 1, "message": message, "level": "info"}) == source_named(
        "kubernetes_audit_eks"
    )
    # a message that is log text, or JSON but no audit event, is no EKS audit record
    assert recognize({"timestamp": 1, "message": "level=info msg=ok", "level": "info"}) is None
    assert recognize({"timestamp": 1, "message": '{"msg": "ok"}', "level": "info"}) is None


def test_other_cloudwatch_events_are_not_eks_audit() -> None:
    others: list[dict[str, Any]] = [
        cloudwatch(json.dumps(AUDIT), stream="authenticator-6f0c3b9e"),  # another EKS log
        cloudwatch("time=2026-11-23T03:20:00Z level=info msg=mapping"),  # not JSON
        cloudwatch(json.dumps({"kind": "Pod", "apiVersion": "v1"})),  # JSON, not audit
        cloudwatch("{not json"),
        {"logStreamName": "kube-apiserver-audit-1", "message": AUDIT},  # not a string
    ]
    assert [recognize(o) for o in others] == [None] * len(others)


def test_an_embedded_event_is_read_as_a_line_is() -> None:
    """The first of a repeated key counts, and DuckDB's JSON dialect is accepted, as for a line of
    the plain audit log, so that the fast hunt (which opens the envelope in SQL) agrees."""
    compact = json.dumps(AUDIT, separators=(",", ":"))
    repeated = compact.replace('{"kind":"Event",', '{"verb":"get","kind":"Event",', 1)
    assert source_named("kubernetes_audit_eks").decode(cloudwatch(repeated))["verb"] == "get"
    trailing = compact[:-1] + ",}"
    assert recognize(cloudwatch(trailing)) == source_named("kubernetes_audit_eks")
    record = {"category": "kube-audit", "properties": {"log": repeated}}
    assert source_named("kubernetes_audit_aks").decode(record)["verb"] == "get"


def test_the_same_rules_fire_on_the_plain_and_the_eks_event(
    engine: ReferenceEngine, tmp_path: Path
) -> None:
    plain, eks = tmp_path / "plain.jsonl", tmp_path / "eks.jsonl"
    plain.write_text(json.dumps(AUDIT) + "\n")
    eks.write_text(json.dumps(cloudwatch(json.dumps(AUDIT))) + "\n")

    def rules(path: Path) -> list[str]:
        return sorted(h.rule for h in hunt_file(engine, path) if isinstance(h, Hit))

    assert rules(plain) == rules(eks)
    assert "kubernetes_audit_pod_or_workload_image_from_unapproved_registry" in rules(eks)


def test_every_provider_source_has_fixtures() -> None:
    assert list((ROOT / "fixtures" / "kubernetes_audit_eks").glob("*.expect.yml"))


DOCKER_CREATE = {
    "Type": "container",
    "Action": "create",
    "Actor": {"ID": "4f1c" * 16, "Attributes": {"image": "evilcorp/xmrig:6", "name": "xmr"}},
    "scope": "local",
    "time": 1795766400,
    "timeNano": 1795766400123456789,
}


def test_docker_events_are_claimed_and_nothing_else_is() -> None:
    legacy = {"status": "create", "id": "4f1c" * 16, "from": "evilcorp/xmrig:6", **DOCKER_CREATE}
    assert recognize(DOCKER_CREATE) == source_named("docker_events")
    assert recognize(legacy) == source_named("docker_events")
    not_docker = [
        {k: v for k, v in DOCKER_CREATE.items() if k != "Actor"},
        {k: v for k, v in DOCKER_CREATE.items() if k not in ("time", "timeNano")},
        {**DOCKER_CREATE, "Actor": "4f1c"},
        {"type": "container", "action": "create", "actor": {"id": "x"}, "time": 1},
    ]
    assert [recognize(e) for e in not_docker] == [None] * len(not_docker)
    assert recognize(AUDIT) != source_named("docker_events")


def aks_record(log: str, category: str = "kube-audit-admin") -> dict[str, object]:
    return {
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "category": category,
        "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/"
        "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-1",
        "properties": {"log": log, "stream": "stdout", "pod": "kube-apiserver-6f9c8d7b5-2xk4q"},
        "time": "2026-11-23T03:20:01.1234567Z",
    }


def test_aks_kube_audit_records_are_claimed_and_unwrapped() -> None:
    for category in ("kube-audit", "kube-audit-admin"):
        record = aks_record(json.dumps(AUDIT), category)
        assert recognize(record) == source_named("kubernetes_audit_aks")
        assert source_named("kubernetes_audit_aks").decode(record) == AUDIT
    others = [
        aks_record(json.dumps(AUDIT), "kube-apiserver"),  # the API server's own log lines
        aks_record("I1123 03:20:01.123 1 controller.go:611] quota admission added"),
        {**aks_record(json.dumps(AUDIT)), "properties": json.dumps(AUDIT)},
    ]
    assert [recognize(o) for o in others] == [None] * len(others)


def test_the_aks_splunk_search_extracts_the_audit_event_first(corpus: Corpus) -> None:
    rule = next(r for r in corpus.rules if r.stem == "kubernetes_audit_pod_created")
    splunk = SplunkCompiler(corpus).compile(rule, source_named("kubernetes_audit_aks"))
    assert splunk.query is not None
    assert splunk.query.startswith(
        'sourcetype="mscs:azure:eventhub" category IN ("kube-audit", "kube-audit-admin") '
        "| spath input=properties.log | search "
    )
    record = aks_record(json.dumps(AUDIT))
    assert splunk_search.matches(
        splunk.query, build_document("splunk", "kubernetes_audit_aks", record)
    )


def gke_entry(
    method: str, resource_name: str, status: dict[str, object] | None = None
) -> dict[str, Any]:
    return {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {"principalEmail": "mallory@corp.example"},
            "methodName": method,
            "resourceName": resource_name,
            "serviceName": "k8s.io",
            "requestMetadata": {"callerIp": "198.51.100.7", "callerSuppliedUserAgent": "kubectl"},
            "request": {"@type": "core.k8s.io/v1.Pod", "spec": {"containers": [{"image": "x"}]}},
            "status": status or {},
        },
        "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "gke-1"}},
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": "2026-11-23T03:20:01.123456Z",
    }


def test_gke_entries_are_claimed_and_rebuilt_as_audit_events() -> None:
    gke = source_named("kubernetes_audit_gke")
    created = gke_entry("io.k8s.core.v1.pods.create", "core/v1/namespaces/shop/pods/web-0")
    assert recognize(created) == gke
    event = gke.decode(created)
    assert (event["verb"], event["objectRef"], event["responseStatus"]) == (
        "create",
        {"resource": "pods", "apiVersion": "v1", "namespace": "shop", "name": "web-0"},
        {"code": 201},
    )
    assert event["user"] == {"username": "mallory@corp.example"}
    assert event["requestObject"] == {"spec": {"containers": [{"image": "x"}]}}
    assert "groups" not in event["user"]
    assert "requestURI" not in event
    exec_ = gke.decode(
        gke_entry("io.k8s.core.v1.pods.exec.create", "core/v1/namespaces/s/pods/p/exec")
    )
    assert exec_["objectRef"]["subresource"] == "exec"
    patched = gke.decode(
        gke_entry("io.k8s.apps.v1.deployments.patch", "apps/v1/namespaces/s/deployments/d")
    )
    assert (patched["objectRef"]["apiGroup"], patched["responseStatus"]["code"]) == ("apps", 200)
    denied = gke_entry("io.k8s.core.v1.pods.create", "core/v1/namespaces/s/pods", {"code": 7})
    assert gke.decode(denied)["responseStatus"]["code"] == 403


def test_gke_kubernetes_entries_and_cloud_run_entries_do_not_cross() -> None:
    cloud_run = gke_entry("google.cloud.run.v2.Services.CreateService", "projects/p/services/s")
    cloud_run["protoPayload"]["serviceName"] = "run.googleapis.com"
    cloud_run["resource"] = {"type": "cloud_run_revision", "labels": {}}
    assert recognize(cloud_run) == source_named("gcp_audit")
    assert recognize(gke_entry("io.k8s.core.v1.pods.create", "core/v1/pods")) == source_named(
        "kubernetes_audit_gke"
    )


def test_elastic_reads_verb_resource_and_subresource_out_of_the_gke_method(
    corpus: Corpus,
) -> None:
    rule = next(r for r in corpus.rules if r.stem == "kubernetes_audit_pod_created")
    elastic = ElasticCompiler(corpus).compile(rule, source_named("kubernetes_audit_gke"))
    assert elastic.status == "degraded"
    assert elastic.query is not None
    assert "event.action:/io" in elastic.query

    def fires(method: str, resource_name: str, status: dict[str, object] | None = None) -> bool:
        entry = gke_entry(method, resource_name, status)
        return compiled_matches(elastic, entry)

    assert fires("io.k8s.core.v1.pods.create", "core/v1/namespaces/s/pods")
    assert not fires("io.k8s.core.v1.pods.exec.create", "core/v1/namespaces/s/pods/p/exec")
    assert not fires("io.k8s.core.v1.pods.binding.create", "core/v1/namespaces/s/pods/p/binding")
    assert not fires("io.k8s.core.v1.pods.patch", "core/v1/namespaces/s/pods/p")  # 200
    assert not fires("io.k8s.apps.v1.deployments.create", "apps/v1/namespaces/s/deployments")
    assert not fires("io.k8s.core.v1.pods.create", "core/v1/namespaces/s/pods", {"code": 7})


ODD_VALUES: list[Any] = [["kube-audit"], {"a": "b"}, 7, 1.5, None, True, ""]


def _odd_variants(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The event with one value, at the top level or one level down, replaced by an odd one."""
    variants = []
    for key, value in event.items():
        variants += [{**event, key: odd} for odd in ODD_VALUES]
        if isinstance(value, dict):
            for child in value:
                variants += [{**event, key: {**value, child: odd}} for odd in ODD_VALUES]
    return variants


def test_no_json_object_makes_a_recogniser_or_decoder_raise() -> None:
    """One line with an odd value (a list where a string is documented) must not stop a hunt: it
    did, with `"category": ["kube-audit"]`, unhashable in the AKS recogniser's set lookup."""
    offenders = set()
    for path in sorted((ROOT / "fixtures").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for event in _odd_variants(json.loads(line)):
                for source in SOURCES:
                    try:
                        if source.recognize(event):
                            source.decode(event)
                    except Exception as error:  # any exception is the finding
                        offenders.add(f"{source.name}: {type(error).__name__}: {error}")
    assert not offenders, sorted(offenders)
