"""The spool judges the events the SQL would hand back as it reads them (or, for a batch document
split in C, a prefilter sets them aside): the same output as the reference engine, and DuckDB
scans only what is left for it (nothing, for a file of Azure records or a text log)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.spool import SMALL
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.json_text import parse_json_line

from .conftest import ROOT
from .test_hunt_shapes import both

FIXTURES = ROOT / "fixtures"


def _lines(source: str) -> str:
    return "".join(p.read_text() for p in sorted((FIXTURES / source).glob("*.jsonl")))


class Scan:
    """A file DuckDB was asked to scan: whether it was a link to the input, and its text."""

    def __init__(self, path: Path) -> None:
        self.in_place = path.is_symlink()
        self.text = "" if self.in_place else path.read_text()


def _scans(fast: FastHunt, monkeypatch: pytest.MonkeyPatch) -> list[Scan]:
    """The files DuckDB is asked to scan, from now on."""
    scanned: list[Scan] = []
    real = fast.hunt_file

    def counted(path: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        scanned.append(Scan(Path(path)))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fast, "hunt_file", counted)
    return scanned


def test_the_sql_judges_the_sources_with_a_fast_path_and_only_them(fast: FastHunt) -> None:
    assert {"kubernetes_audit", "aws_cloudtrail", "gcp_audit", "docker_events"} <= fast.sql_sources
    assert not {"azure_activitylogs", "kubernetes_audit_gke", "container_runtime"} & (
        fast.sql_sources
    )


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_file_of_azure_records_is_judged_without_a_scan(
    gzipped: bool,
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [json.loads(line) for line in _lines("azure_activitylogs").splitlines()]
    body = json.dumps({"records": records}).encode()
    log = tmp_path / ("activity.json.gz" if gzipped else "activity.json")
    log.write_bytes(gzip.compress(body) if gzipped else body)
    # its records are split in C and set aside by Azure's prefilter (sigma_ext.hunt
    # .batch_split), or, without the extensions, judged as the spool reads them
    scanned: list[Path] = []
    real = fast._hunt_scanned

    def counted(path: Path, scanned_path: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        scanned.append(scanned_path)
        return real(path, scanned_path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fast, "_hunt_scanned", counted)
    _, out, _ = both([str(log)], engine, fast, tmp_path)
    assert out.count("\n") > 0  # the malicious fixtures fire
    assert scanned == []


def test_a_mixed_spool_scans_only_the_audit_lines(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit, azure = _lines("kubernetes_audit"), _lines("azure_activitylogs")
    log = tmp_path / "mixed.jsonl"
    log.write_text(azure + audit + azure)
    scanned = _scans(fast, monkeypatch)
    _, out, _ = both([str(log)], engine, fast, tmp_path)
    hit_lines = {json.loads(h)["line"] for h in out.splitlines()}
    azure_count = azure.count("\n")
    assert min(hit_lines) <= azure_count < max(hit_lines)  # hits on both sources, in order
    assert len(scanned) == 1
    kept = [line for line in scanned[0].text.splitlines() if line.strip()]
    assert kept == audit.splitlines()


@pytest.mark.parametrize(
    ("source", "scans"),
    [
        ("kubernetes_audit", [True]),
        ("docker_events", [True]),
        ("azure_activitylogs", [True]),
        ("falco", [True]),
        ("kubernetes_audit_gke", []),
    ],
    ids=[
        "audit-scanned-in-place",
        "docker-scanned-in-place",
        "azure-prefiltered-in-place",
        "falco-prefiltered-in-place",
        "gke-judged-as-spooled",
    ],
)
def test_a_large_file_is_scanned_in_place_when_its_first_event_is_the_sqls_or_a_prefilters(
    source: str,
    scans: list[bool],
    engine: ReferenceEngine,
    fast: FastHunt,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _lines(source)
    log = tmp_path / "big.jsonl"
    log.write_text(text * (SMALL // len(text.encode()) + 1))
    scanned = _scans(fast, monkeypatch)
    both([str(log)], engine, fast, tmp_path)
    assert [scan.in_place for scan in scanned] == scans


@pytest.mark.parametrize(
    "text",
    ['{"a":1,}', "[1,2,]", "nan", "-Infinity", "\v{}\f", "{}\v", "\vtrue", '{"a":NAN}'],
)
def test_what_the_relaxed_reading_accepts_is_still_accepted(text: str) -> None:
    assert parse_json_line(text)[1] is None


@pytest.mark.parametrize(
    "text",
    [
        "Nov 23 03:20:03 node containerd[812]: x",
        "I1123 03:20:03.5 812 kubelet.go:1] x",
        "2026-11-23T03:20:03Z stdout F x",
        '{"a":1} x',
        "True",
    ],
)
def test_a_text_line_is_not_json(text: str) -> None:
    assert parse_json_line(text)[0] is None


def test_a_spool_of_records_the_sql_hands_back_streams_its_hits(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first hit of a large Azure document the Python reader reads is out before the
    document is read through (memory does not grow with its hits). A document C splits is held
    whole (at most ``batch_split.UNPACKED`` bytes), its hits streamed by the scan."""
    from sigma_ext.hunt import spool
    from sigma_ext.hunt.inputs import open_inputs
    from sigma_ext.hunt.spool import FastInputs

    monkeypatch.setattr(spool, "split_input", lambda *_: None)

    records = [json.loads(line) for line in _lines("azure_activitylogs").splitlines()] * 50
    log = tmp_path / "activity.json"
    log.write_text(json.dumps({"records": records}))
    inputs, errors = open_inputs([str(log)], tmp_path)
    assert errors == []
    items = FastInputs(fast, engine, tmp_path, None).hunt(inputs)
    next(items)
    assert 0 < sum(inputs[0].summary.sources.values()) < len(records)
