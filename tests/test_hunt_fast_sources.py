"""CloudTrail, Google Cloud audit and Docker events judged in SQL: the reference engine's hits,
bad lines and per-file summaries, whatever the events hold.

Generated events start from the fixtures and change what the SQL recognisers and rules read
(types, absence, null, odd text and case, arrays and objects in place of scalars), mix in keys
another source claims (recognition takes the first source in the table that claims an event,
and some of those the SQL does not judge), repeat keys (the first occurrence counts) and are
written in the styles of ``test_hunt_duckdb``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigma_ext.hunt.fast import running
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.present import sources_in
from sigma_ext.hunt.reference import hunt_file
from sigma_ext.hunt.summary import FileSummary
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import SOURCES, source_named

from .conftest import ROOT
from .test_hunt_duckdb import GENERATED, ODD_TEXT, STYLES, VALUE, outcome
from .test_hunt_shapes import both

FIXTURES = ROOT / "fixtures"


def _events(source: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((FIXTURES / source).glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


JUDGED = ("aws_cloudtrail", "gcp_audit", "docker_events")
BASE = {source: _events(source) for source in JUDGED}
# sources before or between them in the table, whose keys a generated event may borrow
OTHERS = {
    source: _events(source)
    for source in (
        "kubernetes_audit",
        "kubernetes_audit_eks",
        "kubernetes_audit_aks",
        "kubernetes_audit_gke",
        "azure_activitylogs",
    )
}

# what the recognisers and the rules read, per source
PATHS = {
    "aws_cloudtrail": [
        ("eventSource",),
        ("eventName",),
        ("errorCode",),
        ("userIdentity", "arn"),
        ("userIdentity", "sessionContext", "sessionIssuer", "arn"),
        ("requestParameters", "family"),
        ("requestParameters", "networkMode"),
        ("requestParameters", "pidMode"),
        ("requestParameters", "containerDefinitions"),
        ("requestParameters", "volumes"),
        ("responseElements", "tasks"),
        ("responseElements", "failures"),
        ("responseElements",),
        ("requestParameters.family",),
    ],
    "gcp_audit": [
        ("protoPayload",),
        ("protoPayload", "serviceName"),
        ("protoPayload", "methodName"),
        ("protoPayload", "@type"),
        ("protoPayload", "status", "code"),
        ("protoPayload", "authenticationInfo", "principalEmail"),
        ("protoPayload", "request", "@type"),
        ("protoPayload", "request", "validateOnly"),
        ("protoPayload", "request", "service", "template", "containers"),
        ("protoPayload", "request", "service", "spec", "template", "spec", "containers"),
        ("protoPayload", "request", "job", "template", "template", "containers"),
        ("resource",),
        ("resource", "type"),
        ("protoPayload.methodName",),
    ],
    "docker_events": [
        ("Type",),
        ("Action",),
        ("Actor",),
        ("Actor", "ID"),
        ("Actor", "Attributes", "image"),
        ("Actor", "Attributes"),
        ("time",),
        ("timeNano",),
        ("Actor.Attributes",),
    ],
}
SOURCE_TEXT = st.sampled_from(
    [
        "ecs.amazonaws.com",
        "ECS.amazonaws.com",
        "ecs.amazonaws.com.evil",
        "amazonaws.com",
        "run.googleapis.com",
        "k8s.io",
        "K8s.io",
        "k8s_cluster",
        "cloud_run_revision",
        "type.googleapis.com/google.cloud.audit.AuditLog",
        "container",
        "create",
        "Create",
        "RunTask",
        "runtask",
        "RegisterTaskDefinition",
        "google.cloud.run.v1.Services.CreateService",
        "google.cloud.run.v2.Services.CreateService",
    ]
)
LEAF = st.one_of(VALUE, SOURCE_TEXT, ODD_TEXT)


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any, drop: bool) -> None:
    node: Any = event
    for key in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(key, {})
    if not isinstance(node, dict):
        return
    if drop:
        node.pop(path[-1], None)
    elif path[-1] in ("containers", "containerDefinitions", "tasks") and isinstance(value, str):
        node[path[-1]] = [{"name": "c", "image": value}]
    else:
        node[path[-1]] = value


@st.composite
def generated_line(draw: st.DrawFn) -> str:
    """One line: an event of a judged source, changed, maybe with keys of another source, maybe
    with a key repeated first, in one of the styles."""
    source = draw(st.sampled_from(JUDGED))
    event: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(BASE[source])))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path = draw(st.sampled_from(PATHS[draw(st.sampled_from(JUDGED))]))
        _set(event, path, draw(LEAF), drop=draw(st.integers(min_value=0, max_value=4)) == 0)
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        other = draw(st.sampled_from(sorted(OTHERS)))
        borrowed = draw(st.sampled_from(OTHERS[other]))
        keys = draw(st.lists(st.sampled_from(sorted(borrowed)), max_size=4, unique=True))
        event.update({key: copy.deepcopy(borrowed[key]) for key in keys})
    text = STYLES[draw(st.sampled_from(sorted(STYLES)))](event)
    if draw(st.integers(min_value=0, max_value=4)) == 0 and text.startswith("{"):
        key = draw(st.sampled_from([p[0] for p in PATHS[source]]))
        text = "{" + json.dumps(key) + ":" + json.dumps(draw(LEAF)) + "," + text[1:]
    return text


@GENERATED
@given(lines=st.lists(generated_line(), min_size=20, max_size=60))
def test_generated_events_of_the_sql_sources_get_the_reference_output(
    lines: list[str], fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    log = tmp_path / "generated.jsonl"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    both([str(log)], engine, fast, tmp_path)  # as hunt reads a small file (the spool)
    _scanned_as_the_reference(log, fast, engine)  # as it reads a large one (in place)


def _scanned_as_the_reference(log: Path, fast: FastHunt, engine: ReferenceEngine) -> None:
    """The file scanned in place gives the reference hits, bad lines and summary."""
    got, expected = FileSummary(str(log)), FileSummary(str(log))
    assert outcome(list(fast.hunt_file(log, summary=got))) == outcome(
        list(hunt_file(engine, log, summary=expected))
    )
    assert str(got) == str(expected)


def test_the_sql_judges_the_fixtures_of_its_sources_in_the_scan(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    # every fixture event of these sources is judged in SQL (no line left to the reference
    # engine), with the reference engine's hits
    for source in JUDGED:
        log = tmp_path / f"{source}.jsonl"
        log.write_text("".join(json.dumps(e) + "\n" for e in BASE[source]), encoding="utf-8")
        scanned = running.scan_typed(
            fast.connect(), fast.typed_select, log, tmp_path / "codes.parquet", None
        )
        assert scanned is not None
        assert scanned.reference == 0, source
        assert scanned.sources == {SOURCES.index(source_named(source)): len(BASE[source])}
        both([str(log)], engine, fast, tmp_path)
        _scanned_as_the_reference(log, fast, engine)


def test_an_event_another_source_may_claim_is_left_to_the_reference_engine(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    # a CloudTrail record that also holds a GKE audit payload is GKE's (it comes first in the
    # table, and the SQL does not judge it); one that holds an Azure record's keys is CloudTrail's
    # (Azure comes after it)
    trail = BASE["aws_cloudtrail"][0]
    gke = OTHERS["kubernetes_audit_gke"][0]
    azure = OTHERS["azure_activitylogs"][0]
    lines = [
        {**trail, "protoPayload": gke["protoPayload"]},
        {**trail, **{k: azure[k] for k in ("resourceId", "operationName", "category")}},
        {**BASE["docker_events"][0], **{k: azure[k] for k in ("resourceId", "operationName")}},
        {**BASE["docker_events"][0], **{k: azure[k] for k in azure}},
    ]
    log = tmp_path / "hybrids.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in lines * 3), encoding="utf-8")
    _, _, err = both([str(log)], engine, fast, tmp_path)
    for counted in ("aws_cloudtrail", "kubernetes_audit_gke", "azure_activitylogs", "docker"):
        assert f"{counted}_events 3" in err or f"{counted} 3" in err
    _scanned_as_the_reference(log, fast, engine)


def test_a_source_the_sample_missed_is_left_to_the_reference_engine(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the scan judges the sources of a file's first lines; a later line of another fast
    # source gets the reference verdict all the same, and so does a line of a source after it
    # that it may claim (a Docker event with CloudTrail's keys, CloudTrail coming first)
    monkeypatch.setattr("sigma_ext.hunt.fast.present.SAMPLE_LINES", 1)
    docker = BASE["docker_events"]
    trail = BASE["aws_cloudtrail"][0]
    hybrid = {**docker[0], **{k: trail[k] for k in ("eventSource", "eventName")}}
    lines = docker + [trail, hybrid] * 3 + BASE["gcp_audit"]
    log = tmp_path / "late.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    assert sources_in(log) == {"docker_events"}
    select = fast.typed_select_for(sources_in(log))
    assert select != fast.typed_select  # a smaller query: the sources of the file only
    scanned = running.scan_typed(fast.connect(), select, log, tmp_path / "codes.parquet", None)
    assert scanned is not None
    assert scanned.reference == 6 + len(BASE["gcp_audit"])
    _scanned_as_the_reference(log, fast, engine)
    both([str(log)], engine, fast, tmp_path)


def test_the_sample_reads_no_more_than_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a line longer than the sample's bytes is cut, read as no event, and the sample ends
    monkeypatch.setattr("sigma_ext.hunt.fast.present.SAMPLE_BYTES", 1000)
    docker = json.dumps(BASE["docker_events"][0]) + "\n"
    trail = json.dumps(BASE["aws_cloudtrail"][0]) + "\n"
    log = tmp_path / "long.jsonl"
    log.write_text(docker + '{"pad": "' + "x" * 5000 + '"}\n' + trail, encoding="utf-8")
    assert len(docker) < 1000
    assert sources_in(log) == {"docker_events"}


def test_a_file_without_audit_events_is_scanned_without_the_audit_sql(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    # the query judges Docker events alone; an audit event (typed or not), a GKE entry and a
    # Docker event with an Azure record's keys in the same file get the reference verdicts
    docker = BASE["docker_events"]
    azure = OTHERS["azure_activitylogs"][0]
    audit = OTHERS["kubernetes_audit"]
    untyped = {k: v for k, v in audit[0].items() if k not in ("kind", "apiVersion")}
    lines = [
        *docker,
        {**docker[0], **untyped},
        {**docker[1], **audit[0]},
        {**docker[0], **azure},
        {**docker[0], "protoPayload": OTHERS["kubernetes_audit_gke"][0]["protoPayload"]},
    ]
    log = tmp_path / "docker.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    assert fast.typed_select_for(frozenset({"docker_events"})).count("json_transform") == 1
    scanned = running.scan_typed(
        fast.connect(),
        fast.typed_select_for(frozenset({"docker_events"})),
        log,
        tmp_path / "codes.parquet",
        None,
    )
    assert scanned is not None
    assert scanned.reference == 4
    _scanned_as_the_reference(log, fast, engine)
