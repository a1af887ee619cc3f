"""Kubernetes Event objects: recognition of both API versions and the watch body, what decode
makes of them, and the ES|QL DISSECT that reads the image out of an Elastic message."""

from __future__ import annotations

import re

import pytest

from sigma_ext.build.compile import compile_all
from sigma_ext.build.folder import render
from sigma_ext.build.splunk.app import APP_ID
from sigma_ext.content.corpus import Corpus
from sigma_ext.emulate.documents import Document
from sigma_ext.emulate.esql import matches
from sigma_ext.sources.catalogue import recognize, source_named
from sigma_ext.sources.k8s_events import as_core_v1, image_in_message

CORE = {
    "metadata": {"name": "web-1.18a2", "namespace": "shop"},
    "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
    "reason": "Pulling",
    "message": 'Pulling image "registry.corp.example/shop/web:2"',
    "source": {"component": "kubelet", "host": "node-1"},
    "type": "Normal",
}
EVENTS_V1 = {
    "kind": "Event",
    "apiVersion": "events.k8s.io/v1",
    "metadata": {"name": "web-1.18a3", "namespace": "shop"},
    "regarding": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
    "reason": "Scheduled",
    "note": "Successfully assigned shop/web-1 to node-1",
    "reportingController": "default-scheduler",
    "action": "Binding",
    "type": "Normal",
}


@pytest.mark.parametrize(
    ("reason", "message", "image"),
    [
        ("Pulling", 'Pulling image "nginx:1.27"', "nginx:1.27"),
        (
            "Pulled",
            'Successfully pulled image "evilcorp/x:1" in 1.2s (1.2s including waiting). '
            "Image size: 123 bytes.",
            "evilcorp/x:1",
        ),
        (
            "Pulled",
            'Successfully pulled image "quay.io/a/b@sha256:ab12" in 900ms',
            "quay.io/a/b@sha256:ab12",
        ),
        (
            "Pulled",
            'Container image "registry.k8s.io/pause:3.10" already present on machine',
            "registry.k8s.io/pause:3.10",
        ),
        ("Created", 'Pulling image "nginx:1.27"', None),  # only Pulling and Pulled name images
        ("Failed", 'Failed to pull image "evil.io/x": not found', None),
        ("Pulling", "Pulling image", None),
        ("Pulling", ["Pulling image"], None),
    ],
)
def test_image_in_message(reason: str, message: object, image: str | None) -> None:
    assert image_in_message(reason, message) == image


def test_both_api_versions_decode_to_core_v1_names() -> None:
    assert recognize(CORE) == source_named("kubernetes_events")
    assert recognize(EVENTS_V1) == source_named("kubernetes_events")
    decoded = as_core_v1(EVENTS_V1)
    assert decoded["involvedObject"] == EVENTS_V1["regarding"]
    assert decoded["message"] == EVENTS_V1["note"]
    assert decoded["reportingComponent"] == "default-scheduler"
    assert "regarding" not in decoded
    assert "image" not in decoded
    assert as_core_v1(CORE)["image"] == "registry.corp.example/shop/web:2"


def test_watch_bodies_keep_their_type_and_only_event_objects_are_claimed() -> None:
    watch = source_named("kubernetes_events_watch")
    for kind in ("ADDED", "MODIFIED", "DELETED"):
        body = {"type": kind, "object": CORE}
        assert recognize(body) == watch
        assert watch.decode(body)["watchEventType"] == kind
    pod_watch = {"type": "ADDED", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {}}}
    audit = {**CORE, "kind": "Event", "apiVersion": "audit.k8s.io/v1"}
    no_reason = {k: v for k, v in CORE.items() if k != "reason"}
    assert recognize(pod_watch) is None
    assert recognize(no_reason) is None
    assert recognize(audit) == source_named("kubernetes_audit")


def _doc(message: str | None) -> Document:
    values = {"kubernetes.event.reason": ("Pulling",)}
    if message is not None:
        values["kubernetes.event.message"] = (message,)
    types = {"kubernetes.event.reason": "keyword", "kubernetes.event.message": "text"}
    return Document("elastic", "kubernetes_events", "metrics-kubernetes.event-x", values, types)


DISSECT = (
    "FROM metrics-kubernetes.event-* | DISSECT kubernetes.event.message "
    '"""%{?said} image "%{sx_image}"%{?rest}""" | WHERE sx_image == "{image}"'
)


@pytest.mark.parametrize(
    ("message", "image", "found"),
    [
        ('Pulling image "nginx:1.27"', "nginx:1.27", True),
        ('Successfully pulled image "a/b:1" in 2s (2s including waiting)', "a/b:1", True),
        ('Container image "a/b:1" already present on machine', "a/b:1", True),
        ("Created pod: web-1", "", False),  # no delimiter: the column is null, WHERE drops it
        (None, "", False),
    ],
)
def test_esql_dissect_extracts_the_quoted_image(
    message: str | None, image: str, found: bool
) -> None:
    assert matches(DISSECT.replace("{image}", image), _doc(message)) is found


def test_the_splunk_app_declares_every_indexed_field_the_event_searches_compare(
    corpus: Corpus,
) -> None:
    """kube:events keeps the Event's fields as HEC indexed fields, not in _raw: a search compares
    them only if fields.conf says INDEXED = true."""
    results = compile_all(corpus)
    files = render(corpus, results)
    conf = files[f"splunk/{APP_ID}/default/fields.conf"]
    assert isinstance(conf, str)
    declared = set(re.findall(r"^\[([^\]]+)\]\nINDEXED = true$", conf, re.MULTILINE))
    compared = {
        name
        for c in results
        if c.target.name == "splunk" and c.source.name == "kubernetes_events" and c.query
        for name in re.findall(r"\b(k8s\.[\w.]+)\s*(?:=|IN\b)", c.query)
    }
    assert compared
    assert compared <= declared
