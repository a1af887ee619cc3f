"""A spool of one source's events is scanned as that source's (the spool recognised each event to
count it, and blanks every event the SQL does not judge): the same output as the usual scan,
which recognises each line again, and as the reference engine."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sigma_ext.hunt import spool
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import SOURCES

from .conftest import fixture_lines
from .test_hunt_shapes import both

# the sources the SQL judges with a recogniser of ``recognize``'s meaning
JUDGED = ["aws_cloudtrail", "gcp_audit", "docker_events"]

# the claim strings of GKE's entries, which the SQL does not judge: a line holding them all is
# left to the reference engine by the usual scan, whatever source it is
GKE_CLAIMS = {"protoPayload": {"serviceName": "k8s.io", "methodName": "io.k8s.core.v1.pods.get"}}


def _variants(line: str) -> list[str]:
    """The event, the event holding GKE's claim strings in a key no rule reads, and the event
    spelt with a key repeated (the first counts) and with a character escaped."""
    event = json.loads(line)
    claims = json.dumps({**event, "additionalEventData": GKE_CLAIMS}, separators=(",", ":"))
    repeated = line[:-1] + ',"' + next(iter(event)) + '":"repeated"}'
    escaped = line.replace('"', '"\\u0041', 1) if line.startswith('{"') else line
    return [line, claims, repeated, escaped]


def _hunt_both_ways(
    names: list[str],
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[tuple[int, str, str], list[frozenset[str]]]:
    """The output (the same in both engines) with the spool scanned as its one source, after
    checking that it is also the output of the usual scan; and the sources of the spools that
    were scanned as their one source's."""
    used: list[frozenset[str]] = []
    real = fast.recognised_select

    def spied(sources: frozenset[str]) -> str | None:
        select = real(sources)
        if select is not None:
            used.append(sources)
        return select

    monkeypatch.setattr(fast, "recognised_select", spied)
    recognised = both(names, engine, fast, tmp_path)
    monkeypatch.setattr(fast, "recognised_select", lambda sources: None)
    assert both(names, engine, fast, tmp_path) == recognised
    return recognised, used


@pytest.mark.parametrize("source", JUDGED)
def test_a_spool_of_one_source_gives_the_usual_scans_output(
    source: str,
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = [variant for line in fixture_lines(source) for variant in _variants(line)]
    log = tmp_path / f"{source}.jsonl"
    log.write_text("\n".join(lines) + "\n")
    (code, out, err), used = _hunt_both_ways([str(log)], engine, fast, tmp_path, monkeypatch)
    assert code == 0
    assert used == [frozenset({source})]
    assert out.count("\n") > 0  # the fixtures' malicious events fire
    assert f"{log}: {len(lines)} record(s) read ({source} " in err


def test_gzip_files_of_cloudtrail_documents_give_the_usual_scans_output(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # documents the Python reader reads (those C splits are not recognised as they are spooled,
    # and tests/test_batch_split.py hunts these same files that way)
    monkeypatch.setattr(spool, "split_input", lambda *_: None)
    records = [variant for line in fixture_lines("aws_cloudtrail") for variant in _variants(line)]
    names = []
    for number in range(0, len(records), 7):
        path = tmp_path / f"123456789012_CloudTrail_eu-west-1_{number:05d}.json.gz"
        document = '{"Records":[' + ",".join(records[number : number + 7]) + "]}"
        path.write_bytes(gzip.compress(document.encode(), mtime=0))
        names.append(str(path))
    # a record of no source, one that is not JSON and a Docker event among them: the spool is
    # then of two sources (scanned the usual way) or of one (blanked, reported, judged aside)
    odd = tmp_path / "odd.json.gz"
    docker = fixture_lines("docker_events")[0]
    odd.write_bytes(
        gzip.compress(('{"Records":[' + records[0] + ',{"a":1},{"b" 2}]}').encode(), mtime=0)
    )
    mixed = tmp_path / "mixed.json.gz"
    mixed.write_bytes(gzip.compress(('{"Records":[' + records[0] + "," + docker + "]}").encode()))
    (code, out, err), used = _hunt_both_ways(
        [*names, str(odd)], engine, fast, tmp_path, monkeypatch
    )
    assert code == 0
    assert used == [frozenset({"aws_cloudtrail"})]
    assert '"record": ' in out  # the malicious records fire, named by their place
    assert "odd.json.gz:1: record 3: skipped:" in err
    assert "odd.json.gz: 3 record(s) read (aws_cloudtrail 1); 1 not recognised" in err
    (_, _, err), used = _hunt_both_ways([*names, str(mixed)], engine, fast, tmp_path, monkeypatch)
    assert used == []
    assert "mixed.json.gz: 2 record(s) read (aws_cloudtrail 1, docker_events 1)" in err


def test_only_one_source_recognised_as_reference_does_is_scanned_as_its_own(
    engine: ReferenceEngine, fast: FastHunt
) -> None:
    assert fast.recognised_select(frozenset({"aws_cloudtrail"})) is not None
    # its SQL recogniser leaves audit events without their type to the reference engine
    assert fast.recognised_select(frozenset({"kubernetes_audit"})) is None
    assert fast.recognised_select(frozenset({"aws_cloudtrail", "gcp_audit"})) is None
    assert fast.recognised_select(frozenset({"azure_activitylogs"})) is None  # no SQL
    assert fast.recognised_select(frozenset({"kubernetes_audit_eks"})) is None  # an envelope
    cloudtrail = next(s for s in SOURCES if s.name == "aws_cloudtrail")
    forced = FastHunt(engine, cloudtrail, threads=1)
    assert forced.recognised_select(frozenset({"aws_cloudtrail"})) is None
