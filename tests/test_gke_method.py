"""GKE method names: the source's decode, the Splunk ``rex`` and the Elastic regular expressions
(``sigma_ext_gke_method``) must read verb, resource and subresource out of
``protoPayload.methodName`` the same way, including API groups of several components."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import (
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaType,
)

from sigma_ext.content.gke_method import GkeMethodNameTransformation
from sigma_ext.emulate.lucene_regexp import full_match
from sigma_ext.emulate.splunk_search import COMMANDS
from sigma_ext.sources.kubernetes import decode_gke_audit_entry

from .conftest import ROOT

# (methodName, resourceName): method names as GKE writes them, with one- and several-component
# groups, subresources, non-resource requests and an aggregated API's own "pods".
METHODS = [
    ("io.k8s.core.v1.pods.create", "core/v1/namespaces/shop/pods"),
    ("io.k8s.core.v1.pods.patch", "core/v1/namespaces/shop/pods/web-0"),
    ("io.k8s.core.v1.pods.exec.create", "core/v1/namespaces/shop/pods/web-0/exec"),
    ("io.k8s.core.v1.pods.binding.create", "core/v1/namespaces/shop/pods/web-0/binding"),
    ("io.k8s.core.v1.pods.status.patch", "core/v1/namespaces/shop/pods/web-0/status"),
    (
        "io.k8s.core.v1.pods.ephemeralcontainers.patch",
        "core/v1/namespaces/shop/pods/web-0/ephemeralcontainers",
    ),
    ("io.k8s.apps.v1.deployments.patch", "apps/v1/namespaces/shop/deployments/web"),
    ("io.k8s.apps.v1.daemonsets.update", "apps/v1/namespaces/kube-system/daemonsets/kube-proxy"),
    ("io.k8s.batch.v1.cronjobs.create", "batch/v1/namespaces/shop/cronjobs"),
    ("io.k8s.batch.v1.jobs.status.update", "batch/v1/namespaces/shop/jobs/j/status"),
    (
        "io.k8s.authorization.rbac.v1.clusterrolebindings.create",
        "rbac.authorization.k8s.io/v1/clusterrolebindings",
    ),
    (
        "io.k8s.apiserver.flowcontrol.v1beta3.flowschemas.status.patch",
        "flowcontrol.apiserver.k8s.io/v1beta3/flowschemas/global-default/status",
    ),
    ("io.k8s.metrics.v1beta1.pods.list", "metrics.k8s.io/v1beta1/namespaces/shop/pods"),
    ("io.k8s.get", "readyz"),
]

# (field, values) as the Kubernetes rules write them
ITEMS: list[tuple[str, list[Any]]] = [
    ("verb", ["create"]),
    ("verb", ["create", "patch"]),
    ("verb", ["update", "patch"]),
    ("objectRef.resource", ["pods"]),
    ("objectRef.resource", ["deployments", "daemonsets", "cronjobs"]),
    ("objectRef.resource", ["clusterrolebindings"]),
    ("objectRef.resource", ["Pods"]),
    ("objectRef.subresource", [None]),
    ("objectRef.subresource", ["ephemeralcontainers"]),
    ("objectRef.subresource", ["exec", "status"]),
]


def entry(method: str, resource_name: str) -> dict[str, Any]:
    return {"protoPayload": {"methodName": method, "resourceName": resource_name, "status": {}}}


def decoded(method: str, resource_name: str, field: str) -> Any:
    event: Any = decode_gke_audit_entry(entry(method, resource_name))
    for part in field.split("."):
        event = event.get(part) if isinstance(event, dict) else None
    return event


def decode_matches(method: str, resource_name: str, field: str, values: list[Any]) -> bool:
    value = decoded(method, resource_name, field)
    if value is None and decoded(method, resource_name, "objectRef") is None:
        # a non-resource request (io.k8s.get of /readyz) has no object: the regexes match none of
        # its items, the decode only its missing subresource, and every rule that tests the
        # subresource also tests the resource, which it lacks on both sides
        return False
    if value is None:
        return None in values
    return any(isinstance(v, str) and v.lower() == str(value).lower() for v in values)


def item(field: str, values: list[Any]) -> SigmaDetectionItem:
    sigma_values: list[SigmaType] = [SigmaNull() if v is None else SigmaString(v) for v in values]
    return SigmaDetectionItem(field, [], sigma_values)


def elastic_regex(field: str, values: list[Any]) -> str:
    rewritten = GkeMethodNameTransformation().apply_detection_item(item(field, values))
    assert isinstance(rewritten, SigmaDetectionItem)
    assert rewritten.field == "event.action"
    (value,) = rewritten.value
    assert isinstance(value, SigmaRegularExpression)
    return str(value.regexp)


@pytest.mark.parametrize(("field", "values"), ITEMS)
def test_elastic_regexes_read_the_method_name_as_the_decode_does(
    field: str, values: list[Any]
) -> None:
    regex = elastic_regex(field, values)
    differs = [
        method
        for method, resource_name in METHODS
        if full_match(regex, method) != decode_matches(method, resource_name, field, values)
    ]
    assert not differs, f"/{regex}/ disagrees with the decode on {differs}"


def test_splunk_rex_reads_the_method_name_as_the_decode_does() -> None:
    mapping = yaml.safe_load((ROOT / "mappings/splunk/kubernetes_audit_gke.yml").read_text())
    prelude = next(t["prefix"] for t in mapping["postprocessing"] if t.get("type") == "embed")
    (rex_text,) = [
        part.strip()[4:]
        for part in prelude.split(" | ")
        if part.startswith("rex field=data.protoPayload.methodName ")
    ]
    rex = COMMANDS["rex"](rex_text)
    differs = []
    for method, resource_name in METHODS:
        row = rex({"data.protoPayload.methodName": (method,)})
        assert row is not None
        got = {
            field: row[column][0] if column in row else None
            for field, column in [
                ("verb", "sx_verb"),
                ("objectRef.resource", "sx_resource"),
                ("objectRef.subresource", "sx_subresource"),
            ]
        }
        want = {field: decoded(method, resource_name, field) for field in got}
        if got != want:
            differs.append((method, got, want))
    assert not differs


def test_dotted_api_groups_are_rebuilt_from_the_resource_name() -> None:
    event: Any = decode_gke_audit_entry(
        entry(
            "io.k8s.authorization.rbac.v1.clusterrolebindings.patch",
            "rbac.authorization.k8s.io/v1/clusterrolebindings/system:controller:glbc",
        )
    )
    assert (event["verb"], event["objectRef"]) == (
        "patch",
        {
            "resource": "clusterrolebindings",
            "apiVersion": "v1",
            "apiGroup": "rbac.authorization.k8s.io",
        },
    )
    without_name: Any = decode_gke_audit_entry(
        entry("io.k8s.apiserver.flowcontrol.v1beta3.flowschemas.status.patch", "")
    )
    assert without_name["objectRef"]["apiGroup"] == "flowcontrol.apiserver.k8s.io"
    assert without_name["objectRef"]["subresource"] == "status"
    core: Any = decode_gke_audit_entry(entry("io.k8s.core.v1.pods.create", "core/v1/pods"))
    assert "apiGroup" not in core["objectRef"]
    non_resource: Any = decode_gke_audit_entry(entry("io.k8s.get", "readyz"))
    assert "verb" not in non_resource
    assert "objectRef" not in non_resource


def test_status_201_is_a_success_whose_method_the_decode_reads_as_a_create() -> None:
    rewritten = GkeMethodNameTransformation().apply_detection_item(
        SigmaDetectionItem("responseStatus.code", [], [SigmaNumber(201)])
    )
    assert isinstance(rewritten, SigmaDetection)
    success, method = rewritten.detection_items
    assert isinstance(success, SigmaDetectionItem)
    assert isinstance(method, SigmaDetectionItem)
    assert success.field == "gcp.audit.status.code"
    assert [type(v) for v in success.value] == [SigmaNull, SigmaNumber]
    (regex,) = method.value
    assert isinstance(regex, SigmaRegularExpression)
    differs = [
        name
        for name, resource_name in METHODS
        if full_match(str(regex.regexp), name)
        != (decoded(name, resource_name, "responseStatus.code") == 201)
    ]
    assert not differs
    assert GkeMethodNameTransformation().apply_detection_item(
        SigmaDetectionItem("responseStatus.code", [], [SigmaNumber(200), SigmaNumber(201)])
    ) == SigmaDetectionItem("gcp.audit.status.code", [], [SigmaNull(), SigmaNumber(0)])


def test_values_the_method_name_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="only plain strings"):
        GkeMethodNameTransformation().apply_detection_item(
            SigmaDetectionItem("verb", [], [SigmaString("cre*")])
        )
    with pytest.raises(ValueError, match="cannot be read"):
        GkeMethodNameTransformation().apply_detection_item(
            SigmaDetectionItem("responseStatus.code", [], [SigmaNumber(403)])
        )


def test_splunk_rex_reads_namespace_and_name_from_the_resource_name() -> None:
    mapping = yaml.safe_load((ROOT / "mappings/splunk/kubernetes_audit_gke.yml").read_text())
    prelude = next(t["prefix"] for t in mapping["postprocessing"] if t.get("type") == "embed")
    (rex_text,) = [
        part.strip()[4:]
        for part in prelude.split(" | ")
        if part.startswith("rex field=data.protoPayload.resourceName ")
    ]
    rex = COMMANDS["rex"](rex_text)
    row = rex({"data.protoPayload.resourceName": ("core/v1/namespaces/kube-system/pods/etcd-0",)})
    assert row is not None
    assert (row["sx_namespace"][0], row["sx_name"][0]) == ("kube-system", "etcd-0")
    row = rex({"data.protoPayload.resourceName": ("apps/v1/namespaces/shop/deployments",)})
    assert row is not None
    assert row["sx_namespace"][0] == "shop"
    assert "sx_name" not in row
