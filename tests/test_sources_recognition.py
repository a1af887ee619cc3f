"""Recognition on meaning, unambiguous: every fixture event of every source, and every record of
every input shape, goes to every recogniser, and exactly its own source claims it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sigma_ext.content.fixtures import load_cases
from sigma_ext.hunt.batches import Record
from sigma_ext.hunt.inputs import Line, open_inputs, read_units
from sigma_ext.hunt.reference import unit_item
from sigma_ext.sources.catalogue import SOURCES

from .conftest import ROOT

RULE_STEMS = sorted(p.stem for p in (ROOT / "rules").rglob("*.yml"))
CASES = load_cases(ROOT / "fixtures", RULE_STEMS)
SHAPES = ROOT / "fixtures" / "shapes"
SOURCE_OF = {c.where.removeprefix(str(ROOT / "fixtures") + "/"): c.source for c in CASES}


def claimed_by(event: Any) -> list[str]:
    return [source.name for source in SOURCES if source.recognize(event)]


def test_every_source_has_fixture_events() -> None:
    assert {case.source for case in CASES} == {source.name for source in SOURCES}


def test_every_fixture_event_is_claimed_by_its_source_alone() -> None:
    wrong = [
        f"{case.where} ({case.source}): claimed by {claimed_by(case.event)}"
        for case in CASES
        if claimed_by(case.event) != [case.source]
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "shape",
    sorted(p for p in SHAPES.iterdir() if not p.name.endswith(".hits.yml")),
    ids=lambda p: p.name,
)
def test_every_record_of_every_shape_is_claimed_by_its_source_alone(
    shape: Path, tmp_path: Path
) -> None:
    """A batch shape's records, and a container log's lines (``noise``: read as a source's
    events though no fixture's)."""
    expect = yaml.safe_load((SHAPES / (shape.name.split(".")[0] + ".hits.yml")).read_text())
    origin = {(r["line"], r.get("record")): SOURCE_OF[r["from"]] for r in expect["records"]}
    origin |= {(n["line"], None): n["source"] for n in expect.get("noise", [])}
    (found,), _ = open_inputs([str(shape)], tmp_path)
    assert found.batch == any("record" in r for r in expect["records"])
    seen = 0
    for unit in read_units(found):
        assert isinstance(unit, Record | Line), unit
        event = unit_item(unit)
        assert isinstance(event, dict), event
        place = (unit.line, unit.record) if isinstance(unit, Record) else (unit.number, None)
        assert claimed_by(event) == [origin[place]]
        seen += 1
    assert seen == len(origin)


AUDIT_MEANING = {
    "auditID": "7c1f9d2e-3a4b-4c5d-8e6f-0a1b2c3d4e5f",
    "verb": "create",
    "objectRef": {"resource": "pods", "namespace": "shop"},
    "user": {"username": "dave@corp.example"},
}


@pytest.mark.parametrize(
    ("name", "event", "source"),
    [
        ("audit event without kind or apiVersion", AUDIT_MEANING, "kubernetes_audit"),
        (
            "audit event with stage but no auditID",
            {**{k: v for k, v in AUDIT_MEANING.items() if k != "auditID"}, "stage": "Panic"},
            "kubernetes_audit",
        ),
        (
            "non-resource request (requestURI, no objectRef)",
            {"auditID": "1", "verb": "get", "requestURI": "/healthz"},
            "kubernetes_audit",
        ),
        ("no verb: not an audit event", {"auditID": "1", "objectRef": {}}, None),
        ("no auditID nor stage", {"verb": "create", "objectRef": {}}, None),
        ("a core v1 Event is no audit event", {"kind": "Event", "apiVersion": "v1"}, None),
        (
            "CloudTrail record without eventVersion or eventTime",
            {"eventSource": "ecs.amazonaws.com", "eventName": "RunTask"},
            "aws_cloudtrail",
        ),
        (
            "EventBridge envelope of a CloudTrail record",
            {"source": "aws.ecs", "detail": {"eventSource": "ecs.amazonaws.com"}},
            None,
        ),
        (
            "EKS CloudWatch event with a key a shipper added",
            {"timestamp": 1, "message": json.dumps(AUDIT_MEANING), "cluster": "prod-eu"},
            "kubernetes_audit_eks",
        ),
        (
            "Cloud Audit Logs entry without logName",
            {
                "protoPayload": {
                    "serviceName": "run.googleapis.com",
                    "methodName": "x.CreateService",
                }
            },
            "gcp_audit",
        ),
        (
            "GKE entry without its resource",
            {"protoPayload": {"serviceName": "k8s.io", "methodName": "io.k8s.core.v1.pods.create"}},
            "kubernetes_audit_gke",
        ),
    ],
)
def test_recognised_from_the_fields_that_carry_meaning(
    name: str, event: dict[str, Any], source: str | None
) -> None:
    assert claimed_by(event) == ([source] if source else [])
