"""The prefilters of the sources after the first (``sigma_ext.hunt.fast.native_recognizers``):
a line the extension sets aside as a CloudTrail record, an Azure Activity Log record, a Google
Cloud audit entry, a Docker event or a Falco alert is one ``recognize`` claims for that source, and gets the
rules the reference engine fires on it; look-alikes of every source before it are passed on,
and so is a line whose keys split a field's name another way than the prefilter reads it."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_ext.cli.hunt import hunt_inputs
from sigma_ext.hunt.fast import prefilter
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.native_recognizers import RECOGNIZERS, guard_program
from sigma_ext.hunt.fast.plan import SourcePlan
from sigma_ext.hunt.fast.recognizers import FastPath
from sigma_ext.hunt.inputs import open_inputs
from sigma_ext.hunt.reference import read_line
from sigma_ext.hunt.spool import SMALL
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import SOURCES, recognize, source_named

from .conftest import examples

ROOT = Path(__file__).resolve().parent.parent
LATER = ("aws_cloudtrail", "azure_activitylogs", "gcp_audit", "docker_events", "falco")
"""The sources after the first that a prefilter of their own sets aside (Azure's with no SQL
behind it: what it passes on goes to the reference engine)."""


def later(fast: FastHunt, name: str) -> prefilter.Prefilter:
    found = [p for p in fast.prefilters if p.sources == (name,)]
    assert found, f"no prefilter of {name}"
    return found[0]


def set_aside(one: prefilter.Prefilter, line: str) -> list[int] | None:
    """The rules (indices among all rules) the prefilter finds firing on the line alone in its
    chunk when it sets the line aside as its source's event; None when it passes it on."""
    kept, _, _, gone, _at, bits, _, _, _ = one.native.scan(line.encode("utf-8") + b"\n")
    if kept:
        return None
    assert gone == (1,)
    if not bits:
        return []
    (mask,) = memoryview(bits).cast("Q")
    return [one.first_rule + i for i in range(mask.bit_length()) if mask >> i & 1]


def reference_rules(engine: ReferenceEngine, fast: FastHunt, event: Any) -> list[int]:
    source = recognize(event)
    assert source is not None
    fired = {id(rule_file) for rule_file in engine.match(event, source)}
    return [i for i, rule_file in enumerate(fast.rule_files) if id(rule_file) in fired]


def fixture_lines(name: str) -> list[str]:
    lines = []
    for path in sorted((ROOT / "fixtures" / name).glob("*.jsonl")):
        lines += [line for line in path.read_text().splitlines() if line.strip()]
    return lines


def test_every_source_before_a_later_one_has_its_recogniser_written() -> None:
    """A later source's guard needs the recogniser of each source before it: a source added to
    ``SOURCES`` ahead of them without one would silently turn their prefilters off."""
    for name in LATER:
        before = SOURCES[: SOURCES.index(source_named(name))]
        assert [s.name for s in before if s.name not in RECOGNIZERS] == []


@pytest.mark.parametrize("name", LATER)
def test_the_fixtures_of_a_later_source_are_set_aside_with_the_reference_rules(
    name: str, fast: FastHunt, engine: ReferenceEngine
) -> None:
    one = later(fast, name)
    lines = fixture_lines(name)
    decided = 0
    for line in lines:
        got = set_aside(one, line)
        if got is None:
            continue
        decided += 1
        event = json.loads(line)
        assert recognize(event) is source_named(name), line
        assert got == reference_rules(engine, fast, event), line
    # most of them: not a guard that never holds
    assert decided >= 0.8 * len(lines), f"{decided} of {len(lines)}"


_AUDIT = '{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","stage":"ResponseComplete"}'
EVENTS: dict[str, dict[str, Any]] = {
    # the smallest event each JSON source up to Docker's claims
    "kubernetes_audit": {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "verb": "create",
        "objectRef": {"resource": "pods", "namespace": "default"},
        "auditID": "6e3e5c1a-1c2d-4c8e-9a43-5b1f1b8d2f11",
        "stage": "ResponseComplete",
    },
    "kubernetes_audit_typeless": {
        "verb": "create",
        "requestURI": "/api/v1/namespaces/default/pods",
        "stage": "ResponseComplete",
    },
    "kubernetes_audit_eks": {"message": _AUDIT, "timestamp": 1763868001086},
    "kubernetes_audit_aks": {"category": "kube-audit", "properties": {"log": _AUDIT}},
    "kubernetes_audit_gke": {
        "protoPayload": {"serviceName": "k8s.io", "methodName": "io.k8s.core.v1.pods.create"},
        "resource": {"type": "k8s_cluster"},
    },
    "aws_cloudtrail": {"eventSource": "ecs.amazonaws.com", "eventName": "RunTask"},
    "azure_activitylogs": {
        "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/X",
        "operationName": "MICROSOFT.CONTAINERINSTANCE/CONTAINERGROUPS/WRITE",
        "category": "Administrative",
    },
    "gcp_audit": {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "run.googleapis.com",
            "methodName": "google.cloud.run.v1.Services.CreateService",
            "status": {"code": 7},
        },
        "resource": {"type": "cloud_run_revision"},
    },
    "docker_events": {
        "Type": "container",
        "Action": "create",
        "Actor": {"ID": "4f1c2d", "Attributes": {"image": "nginx:1.27"}},
        "time": 1763868001,
        "timeNano": 1763868001086775000,
    },
}
EVENTS.update(
    {
        # the JSON objects the sources between Docker's and Falco's claim
        "container_runtime": {"runtime": "containerd", "message": "starting containerd"},
        "container_runtime_journal": {
            "SYSLOG_IDENTIFIER": "containerd",
            "__REALTIME_TIMESTAMP": "1763868001086775",
            "_HOSTNAME": "node-1",
            "MESSAGE": 'time="2026-11-23T03:20:01Z" level=info msg="starting containerd"',
        },
        "kubernetes_events": {
            "kind": "Event",
            "apiVersion": "v1",
            "reason": "Pulled",
            "metadata": {"name": "web.1", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "message": 'Successfully pulled image "nginx:1.27"',
        },
        "kubernetes_events_watch": {
            "type": "ADDED",
            "object": {
                "reason": "Pulled",
                "metadata": {"name": "web.1"},
                "involvedObject": {"kind": "Pod", "name": "web"},
            },
        },
        "sysmon_linux": {"Provider": "Linux-Sysmon", "EventID": "1", "Image": "/usr/bin/runc"},
        "tetragon": {
            "process_exec": {"process": {"binary": "/usr/bin/runc", "arguments": "run"}},
            "node_name": "node-1",
            "time": "2026-12-06T09:14:05.212Z",
        },
        "falco": {
            "rule": "Launch Privileged Container",
            "priority": "Notice",
            "output": "Privileged container started",
            "output_fields": {
                "container.image.repository": "docker.io/evilcorp/xmrig",
                "container.image.tag": "6.21.0",
            },
        },
    }
)
NEAR_MISSES: dict[str, list[Any]] = {
    # values a key of one of them may take instead: case, empty, another type, null, a suffix
    "kind": ["event", "EventList", None, 1],
    "apiVersion": ["Audit.k8s.io/v1", "audit.k8s.io", None],
    "verb": ["", None, 5],
    "objectRef": ["pods", None],
    "requestURI": [None, 3],
    "stage": [None, 1],
    "auditID": [None],
    "category": ["kube-audit-admin", "administrative", "Policy", "", "kube-audit "],
    "properties": [{}, None, "log"],
    "eventSource": [
        "ECS.AMAZONAWS.COM",
        "ecs.amazonaws.com.attacker.example",
        "amazonaws.com",
        ".amazonaws.com",
        "",
        3,
    ],
    "eventName": ["", None, 1],
    "resourceId": ["", None],
    "operationName": ["", None],
    "protoPayload": ["payload", None, {}],
    "serviceName": ["K8S.io", "k8s.io", "run.googleapis.com", "", 7, None],
    "methodName": ["", None, 1],
    "@type": ["type.googleapis.com/x", None, "TYPE.googleapis.com/google.cloud.audit.AuditLog"],
    "status": [{"code": "7"}, {"code": 7.0}, {"code": 0}, {}],
    "resource": [{"type": "k8s_cluster"}, {"type": None}, {}, "k8s_cluster"],
    "Type": ["", 1, None],
    "Action": ["exec_create: /bin/sh -c true && curl -f localhost", "", None],
    "Actor": [{"ID": None}, {}, "4f1c"],
    "time": [None],
    "timeNano": [None],
    "message": ["{}", None],
    "runtime": ["runc", "", None, 1],
    "SYSLOG_IDENTIFIER": ["dockerd", None],
    "__REALTIME_TIMESTAMP": [None],
    "reason": ["", None, 1],
    "metadata": ["web.1", None],
    "type": ["BOOKMARK", "added", None],
    "object": ["web", None],
    "Provider": ["linux-sysmon", None],
    "EventID": [1, None],
    "process_exec": ["run", None, {}],
    "node_name": [None, 1],
    "rule": ["", None, 1],
    "priority": [None, 3],
    "output": [None],
    "output_fields": ["container.image.repository=x", None, {}, []],
    "timestamp": [None, "2026-11-23T03:20:01Z"],
}


@st.composite
def mixed_event(draw: st.DrawFn) -> str:
    """One JSON line: the events of one to three sources merged (a payload's keys merged too),
    a few keys given a near miss or dropped, perhaps a key spelt with an escape, repeated, or a
    value with a character outside ASCII."""
    names = draw(st.lists(st.sampled_from(sorted(EVENTS)), min_size=1, max_size=3, unique=True))
    event: dict[str, Any] = {}
    for name in names:
        for key, value in copy.deepcopy(EVENTS[name]).items():
            if isinstance(value, dict) and isinstance(event.get(key), dict):
                event[key] = {**event[key], **value}
            else:
                event[key] = value
    for _ in range(draw(st.integers(0, 3))):
        payload = event.get("protoPayload")
        inner = isinstance(payload, dict) and payload and draw(st.booleans())
        held = payload if inner and isinstance(payload, dict) else event
        key = draw(st.sampled_from(sorted(held)))
        if key in NEAR_MISSES and draw(st.integers(0, 3)):
            held[key] = copy.deepcopy(draw(st.sampled_from(NEAR_MISSES[key])))
        else:
            del held[key]
        if not event:
            event["kind"] = "Event"
    line = json.dumps(event, ensure_ascii=draw(st.booleans()))
    tampering = draw(st.sampled_from(["none", "escaped key", "repeated key", "non-ASCII"]))
    key = draw(st.sampled_from(sorted(event)))
    if tampering == "escaped key":
        line = line.replace(f'"{key}"', f'"\\u{ord(key[0]):04x}{key[1:]}"', 1)
    elif tampering == "repeated key":
        line = line[:-1] + f', "{key}": "other"}}'
    elif tampering == "non-ASCII":
        line = line.replace('"create"', '"cr\u00e9ate"').replace('"Event"', '"\u00c9vent"')
    return line


@settings(
    max_examples=examples(600),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(line=mixed_event())
def test_a_line_set_aside_as_a_later_source_is_that_sources_with_the_reference_rules(
    line: str, fast: FastHunt, engine: ReferenceEngine
) -> None:
    event = read_line(line.encode("utf-8"))  # as the reference reads it (a repeated key's first)
    assert isinstance(event, dict)
    for name in LATER:
        got = set_aside(later(fast, name), line)
        if got is None:
            continue
        assert recognize(event) is source_named(name), line
        assert got == reference_rules(engine, fast, event), line


def _gcp_creation() -> dict[str, Any]:
    for line in fixture_lines("gcp_audit"):
        event = json.loads(line)
        if event["protoPayload"].get("methodName", "").endswith("CreateService"):
            return dict(event)
    raise AssertionError("no Cloud Run creation among the fixtures")


@pytest.mark.parametrize(
    ("code", "decided"),
    [(7, True), (0, True), (-3, True), ("7", False), (7.0, False), (True, False), (None, True)],
)
def test_a_comparison_is_judged_on_an_integer_and_left_to_the_scan_otherwise(
    code: Any, decided: bool, fast: FastHunt, engine: ReferenceEngine
) -> None:
    """``protoPayload.status.code|gt: 0`` (a refused call) is compared by the judge itself on an
    integer, as the reference compares it; a string, a float or a boolean is left to the scan
    (the reference reads ``"7"`` as a number)."""
    event = _gcp_creation()
    event["protoPayload"] = {**event["protoPayload"], "status": {"code": code}}
    line = json.dumps(event)
    got = set_aside(later(fast, "gcp_audit"), line)
    assert (got is not None) == decided
    if got is not None:
        assert got == reference_rules(engine, fast, event)


def _read(line: str) -> dict[str, Any]:
    """The line as the reference reads it (a repeated key's first value)."""
    event = read_line(line.encode("utf-8"))
    assert isinstance(event, dict)
    return event


def _with(name: str, changes: dict[str, Any], payload: dict[str, Any] | None = None) -> str:
    event = copy.deepcopy(EVENTS[name])
    event.update(changes)
    if payload is not None:
        event["protoPayload"] = {**event["protoPayload"], **payload}
    return json.dumps({k: v for k, v in event.items() if v is not _DROP})


_DROP = object()

LOOK_ALIKES = [
    # (the source whose prefilter is asked, a line it must pass on, what the line is)
    (
        "aws_cloudtrail",
        _with("aws_cloudtrail", {"eventSource": "ecs.amazonaws.com.evil.example"}),
        "an event source on a look-alike domain",
    ),
    (
        "aws_cloudtrail",
        _with("aws_cloudtrail", {"eventSource": "ECS.AMAZONAWS.COM"}),
        "an event source in capitals (recognize compares case)",
    ),
    ("aws_cloudtrail", _with("aws_cloudtrail", {"eventName": ""}), "an empty event name"),
    ("aws_cloudtrail", _with("aws_cloudtrail", {"eventName": 7}), "an event name that is a number"),
    (
        "aws_cloudtrail",
        _with("aws_cloudtrail", {"kind": "Event", "apiVersion": "audit.k8s.io/v1"}),
        "an audit event's type beside the record's keys: the audit log claims it first",
    ),
    (
        "aws_cloudtrail",
        _with("aws_cloudtrail", {"message": _AUDIT, "timestamp": 1}),
        "a CloudWatch record carrying an audit event beside them: EKS claims it first",
    ),
    ("gcp_audit", _with("gcp_audit", {}, {"serviceName": "k8s.io"}), "GKE's Kubernetes API"),
    ("gcp_audit", _with("gcp_audit", {"resource": {"type": "k8s_cluster"}}), "a GKE cluster"),
    (
        "gcp_audit",
        _with("gcp_audit", {}, {"@type": "type.googleapis.com/x"}),
        "another payload type",
    ),
    ("gcp_audit", _with("gcp_audit", {}, {"@type": None}), "a null payload type"),
    ("gcp_audit", _with("gcp_audit", {}, {"methodName": ""}), "no method"),
    (
        "gcp_audit",
        _with("gcp_audit", {"eventSource": "run.amazonaws.com", "eventName": "X"}),
        "a CloudTrail record's keys beside the entry's: CloudTrail claims it first",
    ),
    (
        "azure_activitylogs",
        _with("azure_activitylogs", {"category": "administrative"}),
        "a category in lower case (recognize compares case)",
    ),
    ("azure_activitylogs", _with("azure_activitylogs", {"resourceId": ""}), "no resource"),
    (
        "azure_activitylogs",
        _with("azure_activitylogs", {"eventSource": "aci.amazonaws.com", "eventName": "X"}),
        "a CloudTrail record's keys beside the record's: CloudTrail claims it first",
    ),
    ("falco", _with("falco", {"output_fields": "image=evil"}), "output fields that are no object"),
    ("falco", _with("falco", {"output_fields": None}), "null output fields"),
    ("falco", _with("falco", {"rule": 7}), "a rule that is a number"),
    (
        "falco",
        _with("falco", dict(EVENTS["tetragon"])),
        "a Tetragon event's keys beside the alert's: Tetragon claims it first",
    ),
    (
        "falco",
        _with("falco", dict(EVENTS["kubernetes_events"])),
        "an Event object's keys beside the alert's: Kubernetes Events claim it first",
    ),
    (
        "falco",
        _with("falco", {"runtime": "crio", "message": "x"}),
        "a runtime event's keys beside the alert's: the runtime logs claim it first",
    ),
    ("docker_events", _with("docker_events", {"Actor": {"Attributes": {}}}), "an actor with no ID"),
    ("docker_events", _with("docker_events", {"time": _DROP, "timeNano": _DROP}), "no time"),
    ("docker_events", _with("docker_events", {"Actor": "4f1c2d"}), "an actor that is no object"),
    ("docker_events", _with("docker_events", {"Type": 1}), "a type that is a number"),
    (
        "docker_events",
        _with("docker_events", dict(EVENTS["azure_activitylogs"])),
        "an Activity Log record's keys beside the event's: Azure claims it first",
    ),
]


@pytest.mark.parametrize(
    ("name", "line"),
    [(name, line) for name, line, _ in LOOK_ALIKES],
    ids=[what for _, _, what in LOOK_ALIKES],
)
def test_a_look_alike_is_not_set_aside_as_the_source(name: str, line: str, fast: FastHunt) -> None:
    assert recognize(_read(line)) is not source_named(name)
    assert set_aside(later(fast, name), line) is None


QUIET = {
    # an event of each later source that no rule is about: set aside, no rule judged unknown
    "aws_cloudtrail": {"eventSource": "s3.amazonaws.com", "eventName": "GetObject"},
    "gcp_audit": {
        "protoPayload": {
            "serviceName": "storage.googleapis.com",
            "methodName": "storage.objects.get",
        },
        "resource": {"type": "gcs_bucket"},
    },
    "docker_events": {**EVENTS["docker_events"], "Action": "start"},
    "azure_activitylogs": {
        **EVENTS["azure_activitylogs"],
        "operationName": "MICROSOFT.STORAGE/STORAGEACCOUNTS/WRITE",
    },
    "falco": {**EVENTS["falco"], "rule": "Terminal shell in container"},
}


@pytest.mark.parametrize("name", LATER)
def test_an_event_no_rule_is_about_is_set_aside_as_its_source(name: str, fast: FastHunt) -> None:
    line = json.dumps(QUIET[name])
    assert recognize(_read(line)) is source_named(name)
    assert set_aside(later(fast, name), line) == []


def test_a_key_spelt_with_an_escape_is_left_to_the_scan(fast: FastHunt) -> None:
    """The reference reads ``\\u0041ction`` as ``Action``; the extension does not decode keys."""
    line = '{"Type":"container","\\u0041ction":"start","Actor":{"ID":"1"},"time":1}'
    assert recognize(_read(line)) is source_named("docker_events")
    assert set_aside(later(fast, "docker_events"), line) is None


OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
PIPELINE = "3f2b8c1d-5e6a-4b7c-9d8e-0f1a2b3c4d5e"
"""An identity of ``azure_pipeline_identities`` in profiles/example.yml."""


def _azure_creation(claims: dict[str, Any]) -> dict[str, Any]:
    return {
        **EVENTS["azure_activitylogs"],
        "resultType": "Success",
        "identity": {"claims": {"name": "Alice Martin", **claims}},
    }


def test_a_claim_keyed_by_its_uri_is_read_as_the_reference_reads_it(
    fast: FastHunt, engine: ReferenceEngine
) -> None:
    """``identity.claims.http://schemas.microsoft.com/identity/claims/objectidentifier``: the
    claim's key holds dots (``Source.keys_with_dots``); the pipeline's is quiet, a person's
    fires, both decided by the extension."""
    one = later(fast, "azure_activitylogs")
    verdicts = []
    for who in (PIPELINE, "a1a2a3a4-b5b6-4c7c-8d9d-0e1e2f3f4a5a"):
        event = _azure_creation({OBJECT_ID: who})
        got = set_aside(one, json.dumps(event))
        assert got is not None
        assert got == reference_rules(engine, fast, event)
        verdicts.append(got)
    assert len(verdicts[0]) < len(verdicts[1]), "the pipeline's filter made no difference"


_SPLIT_ELSEWHERE = {
    "split-at-every-dot": _azure_creation(
        {"http://schemas": {"microsoft": {"com/identity/claims/objectidentifier": PIPELINE}}}
    ),
    "split-at-one-dot": _azure_creation(
        {"http://schemas.microsoft": {"com/identity/claims/objectidentifier": PIPELINE}}
    ),
    "dotted-parent-key": {**_azure_creation({}), "identity.claims": {OBJECT_ID: PIPELINE}},
    "whole-name-as-key": {**_azure_creation({}), f"identity.claims.{OBJECT_ID}": PIPELINE},
}


@pytest.mark.parametrize("what", sorted(_SPLIT_ELSEWHERE))
def test_a_claim_under_keys_that_split_its_name_another_way_is_left_to_the_scan(
    what: str, fast: FastHunt, engine: ReferenceEngine
) -> None:
    """The reference reads a field's name split at any of its dots: here it finds the
    pipeline's identity, so the filter holds; the extension reads one way, and passes on."""
    line = json.dumps(_SPLIT_ELSEWHERE[what])
    someone = _azure_creation({OBJECT_ID: "someone-else"})
    assert reference_rules(engine, fast, _read(line)) != reference_rules(engine, fast, someone)
    assert set_aside(later(fast, "azure_activitylogs"), line) is None


def test_azure_forced_with_source_is_set_aside_by_its_prefilter_with_the_reference_output(
    engine: ReferenceEngine, tmp_path: Path
) -> None:
    """``--source azure_activitylogs``: every JSON object is taken as an Activity Log record,
    by the prefilter as by the reference engine (a Docker event too, a malformed line still
    reported)."""
    source = source_named("azure_activitylogs")
    forced = FastHunt(engine, source, threads=1)
    assert forced.prefilter is not None
    assert forced.prefilter.sources == (source.name,)
    lines = fixture_lines("azure_activitylogs")
    text = "\n".join(lines) + "\n"
    log = tmp_path / "big.jsonl"
    repeats = SMALL // len(text.encode()) + 1
    log.write_text(text * repeats + json.dumps(EVENTS["docker_events"]) + "\n{oops\n")
    outputs = []
    for fast in (forced, None):
        folder = tmp_path / ("fast" if fast else "reference")
        folder.mkdir()
        inputs, errors = open_inputs([str(log)], folder)
        assert not errors
        out, err = io.StringIO(), io.StringIO()
        hunt_inputs(inputs, engine, fast, source, False, folder, out, err)
        outputs.append((out.getvalue(), err.getvalue()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].count("\n") > repeats  # hits on every copy


def test_a_fixture_event_of_any_source_is_set_aside_only_as_its_own(fast: FastHunt) -> None:
    """Every JSON fixture of every source (audit events, EKS and AKS records, GKE entries,
    Kubernetes Events, Falco alerts, Tetragon events, ...) given to each later source's
    prefilter: set aside only as the source ``recognize`` gives it."""
    lines = [
        line
        for folder in sorted((ROOT / "fixtures").iterdir())
        if folder.is_dir() and folder.name != "shapes"
        for line in fixture_lines(folder.name)
    ]
    assert len(lines) > 300
    for name in LATER:
        one = later(fast, name)
        for line in lines:
            if set_aside(one, line) is not None:
                assert recognize(_read(line)) is source_named(name), (name, line)


@pytest.mark.parametrize(
    ("arrays", "refused"), [((), False), (("Actor",), True), (("Actor.ID",), True)]
)
def test_a_guard_reading_below_or_at_an_array_is_refused(
    arrays: tuple[str, ...], refused: bool
) -> None:
    """``Actor.ID`` read below an array the source documents would be read as the rules read
    it (each element), not as one key: no guard then, and no prefilter."""
    source = source_named("docker_events")
    plan = SourcePlan(source, FastPath("FALSE", frozenset(arrays)), "t_", [])
    assert (guard_program(source, plan) is None) == refused
