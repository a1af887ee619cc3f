"""The sigma-ext command, end to end: check, build, test and hunt."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from sigma_ext.build.splunk.tuning_modes import DEFAULT_TUNING
from sigma_ext.cli.main import main

from .conftest import ROOT, Builds

POD = {
    "kind": "Event",
    "apiVersion": "audit.k8s.io/v1",
    "level": "RequestResponse",
    "auditID": "6f0f3c36-2a8e-4b0e-9d6f-0c1a2b3c4d5e",
    "stage": "ResponseComplete",
    "requestURI": "/api/v1/namespaces/shop/pods?fieldManager=kubectl-run",
    "verb": "create",
    "user": {"username": "breakglass-admin@corp.example", "groups": ["system:authenticated"]},
    "sourceIPs": ["192.0.2.15"],
    "userAgent": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
    "objectRef": {"resource": "pods", "namespace": "shop", "name": "debug", "apiVersion": "v1"},
    "responseStatus": {"metadata": {}, "code": 201},
    "requestObject": {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "debug", "namespace": "shop"},
        "spec": {
            "containers": [
                {"name": "app", "image": "registry.corp.example/shop/app:1.4.2"},
                {"name": "sidecar", "image": "evil.io/tools/backdoor:1"},
            ]
        },
    },
    "requestReceivedTimestamp": "2026-11-20T09:14:03.412344Z",
    "stageTimestamp": "2026-11-20T09:14:03.512344Z",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_passes_on_the_shipped_content(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--root", str(ROOT))
    assert code == 0
    shipped = len(list((ROOT / "rules").rglob("*.yml")))
    assert out.startswith(f"ok: {shipped} rules")


def test_check_fails_with_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    profile = tmp_path / "profile.yml"
    profile.write_text("approved_registries: [evil.io/*]\nunknown: 1\n")
    code, _, err = run(capsys, "check", "--root", str(ROOT), "--profile", str(profile))
    assert code == 1
    assert f"{profile}:2: unknown key in tuning profile: 'unknown'" in err
    assert f"{profile}:1: approved_registries/0" in err
    assert "is a required property" in err


def test_test_command_ends_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test", "--root", str(ROOT))
    last = out.strip().splitlines()[-1]
    assert last.endswith(" passed, 0 failed"), out
    assert code == 0


def test_hunt_reports_hits_bad_lines_and_reads_gzip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "audit.log.gz"
    lines = [json.dumps(POD), "{not json", json.dumps({"kind": "Event"}), json.dumps(POD)]
    with gzip.open(log, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    code, out, err = run(capsys, "hunt", "--root", str(ROOT), str(log))
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    assert {(h["line"], h["rule"]) for h in hits} == {
        (line, rule)
        for line in (1, 4)
        for rule in (
            "kubernetes_audit_bare_pod_created_by_person",
            "kubernetes_audit_pod_created",
            "kubernetes_audit_pod_or_workload_image_from_unapproved_registry",
        )
    }
    hit = next(h for h in hits if h["rule"].endswith("unapproved_registry"))
    assert hit == {
        "file": str(log),
        "level": "high",
        "line": 1,
        "rule": "kubernetes_audit_pod_or_workload_image_from_unapproved_registry",
        "rule_id": "a909bd04-3071-43d9-8bd4-e5ab6c161a6c",
        "theme": "unusual-registry",
        "title": "Pod Or Workload Image From Unapproved Registry",
    }
    assert f"{log}:2: skipped: not JSON" in err


def test_hunt_unreadable_file_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "hunt", "--root", str(ROOT), str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1


def test_build_command_writes_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "build", "--root", str(ROOT), "--out", str(tmp_path / "out"))
    assert code == 0
    assert "impossible" in out
    app = tmp_path / "out" / "splunk" / "sigma_ext_container_creation"
    assert (app / "default" / "savedsearches.conf").exists()
    assert (tmp_path / "out" / "elastic" / "detection-rules.ndjson").exists()


def test_build_with_broken_profile_keeps_previous_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, example_builds: Builds
) -> None:
    """The previous output: a copy of the run's shared build of the example profile in the
    default tuning mode (what ``sigma-ext build --root <checkout>`` writes)."""
    out = tmp_path / "out"
    shutil.copytree(example_builds[DEFAULT_TUNING], out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.yml"
    shutil.copy(ROOT / "profiles" / "example.yml", bad)
    bad.write_text(bad.read_text() + "\nsurprise: true\n")
    code, _, err = run(
        capsys, "build", "--root", str(ROOT), "--profile", str(bad), "--out", str(out)
    )
    assert code == 1
    assert "surprise" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
