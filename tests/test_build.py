"""The build: complete, honest per target, deterministic, offline and atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma_ext.build.folder import BUILD_MARKER, build, write_atomically
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.tuning_modes import DEFAULT_TUNING
from sigma_ext.build.summary import summary_table
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import state_value
from sigma_ext.problems import ProblemsFound

from .conftest import Builds


@pytest.fixture(scope="module")
def built(example_builds: Builds) -> Path:
    """``build(corpus, out)`` in the default tuning mode (made once per run, in conftest)."""
    return example_builds[DEFAULT_TUNING]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file a build wrote, but its marker."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != BUILD_MARKER
    }


def test_rebuild_is_byte_identical(built: Path, corpus: Corpus, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build(corpus, again)
    assert tree(again) == tree(built)


def test_every_rule_has_a_verdict_for_every_siem(built: Path, corpus: Corpus) -> None:
    rows = json.loads((built / "summary.json").read_text())
    pairs = {(r["rule"], r["target"]) for r in rows}
    assert pairs == {(r.stem, t) for r in corpus.rules for t in ("splunk", "elastic")}
    assert {r["status"] for r in rows} <= {"ok", "degraded", "shared", "impossible"}


def test_statuses_say_what_elastic_cannot_see(built: Path) -> None:
    rows = {
        (r["rule"], r["target"]): r
        for r in json.loads((built / "summary.json").read_text())
        if r["source"] in ("kubernetes_audit", "docker_events") or not r["rule"].startswith("kub")
    }
    aks = [
        r
        for r in json.loads((built / "summary.json").read_text())
        if (r["source"], r["target"]) == ("kubernetes_audit_aks", "elastic")
    ]
    assert aks
    assert all(r["reasons"][0].startswith("kubernetes_audit: ") for r in aks)
    assert {r["status"] for r in aks} == {"shared"}
    # the person rule reads no ownerReferences (a forged owner proves nothing), so the
    # integration dropping requestObject.metadata no longer makes it impossible on Elastic
    person = rows[("kubernetes_audit_bare_pod_created_by_person", "elastic")]
    assert person["status"] == "ok"
    registry = rows[("kubernetes_audit_pod_or_workload_image_from_unapproved_registry", "elastic")]
    assert registry["status"] == "degraded"
    assert registry["language"] == "esql"
    assert [r.split(":")[0] for r in registry["reasons"]] == ["container_image"]
    assert (
        rows[("kubernetes_audit_pod_or_workload_image_from_unapproved_registry", "splunk")][
            "status"
        ]
        == "ok"
    )


def test_verdicts_carry_typed_reasons(compiled: list[Compiled]) -> None:
    """The build writes reasons as text; the verdict keeps what each one is and is about."""
    results = {(c.rule.stem, c.target.name, c.source.name): c for c in compiled}
    aks = [c for c in results.values() if c.source.name == "kubernetes_audit_aks"]
    for c in aks:
        if c.target.name == "elastic":
            assert c.shared_with is not None
            assert c.shared_with.source == "kubernetes_audit"
            partner = results[(c.rule.stem, "elastic", "kubernetes_audit")]
            assert c.reasons == partner.reasons
            assert c.why == (str(c.shared_with), *partner.why)
        else:
            assert c.shared_with is None
    unparsed = results[("container_runtime_container_created", "elastic", "container_runtime")]
    assert [r.kind for r in unparsed.reasons] == ["not_visible"]
    assert not unparsed.reasons[0].text.startswith("not visible")
    registry = results[
        (
            "kubernetes_audit_pod_or_workload_image_from_unapproved_registry",
            "elastic",
            "kubernetes_audit",
        )
    ]
    assert [(r.kind, r.subject) for r in registry.reasons] == [("degraded", "container_image")]
    assert registry.why == (f"container_image: {registry.reasons[0].text}",)
    assert all(r.kind == "degraded" for c in results.values() for r in c.reasons if c.query)


def test_kibana_ndjson_uses_sigma_ids_and_local_attack_data(
    built: Path, corpus: Corpus, compiled: list[Compiled]
) -> None:
    rules = [
        json.loads(line)
        for line in (built / "elastic" / "detection-rules.ndjson").read_text().splitlines()
    ]
    # the correlations' lines: tests/test_packages_correlations.py
    rules = [r for r in rules if "Sigma: correlation" not in r["tags"]]
    emitted = {r["rule_id"] for r in rules}
    elastic = [c for c in compiled if c.target.name == "elastic"]
    # the Sigma id on a rule's primary source, an id derived from it on the others
    assert emitted == {c.output_id for c in elastic if c.query is not None}
    assert {c.rule.id for c in elastic if c.primary} & emitted <= {r.id for r in corpus.rules}
    # impossible on Elastic: a runtime log line is unparsed message text there
    assert "9e4b7c2a-1d3f-4a5b-8c6d-7e8f9a0b1c2d" not in emitted
    index_of = {
        c.output_id: state_value(corpus.mapping("elastic", c.source), "index") for c in elastic
    }
    for rule in rules:
        assert rule["enabled"] is False
        index = index_of[rule["rule_id"]]
        if rule["type"] == "esql":
            assert "index" not in rule
            assert rule["query"].startswith(f"from {index} metadata _id")
        else:
            assert rule["index"] == [index]
        assert rule["threat"], rule["name"]
        assert {t["tactic"]["id"] for t in rule["threat"]} <= {
            "TA0001",
            "TA0002",
            "TA0003",
            "TA0004",
            "TA0005",
        }


def test_summary_table_has_one_row_per_rule_and_source(
    corpus: Corpus, compiled: list[Compiled]
) -> None:
    results = compiled
    lines = summary_table(results).splitlines()
    assert lines[0].split() == ["rule", "source", "splunk", "elastic"]
    rows = [line.split() for line in lines[1:] if not line.startswith("[")]
    notes = {
        line.partition("] ")[2]: line.partition("]")[0] + "]"
        for line in lines
        if line.startswith("[")
    }
    assert len(notes) == len({r for c in results for r in c.why})
    pairs = {(r.stem, s.name) for r in corpus.rules for s in corpus.sources_of(r)}
    assert {(row[0], row[1]) for row in rows} == pairs
    assert len(rows) == len(pairs)
    cells = {
        (row[0], row[1], target): cell
        for row in rows
        for target, cell in zip(["splunk", "elastic"], row[2:], strict=True)
    }
    for c in results:
        cell = cells[(c.rule.stem, c.source.name, c.target.name)]
        assert cell == c.status + "".join(notes[r] for r in c.why)


def test_build_command_prints_the_table_and_the_packages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sigma_ext.cli.main import main

    from .conftest import ROOT

    code = main(
        ["build", "--root", str(ROOT), "--out", str(tmp_path / "out"), "--splunk-tuning", "lookups"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("rule ")
    assert "impossible[" in out
    assert "(tuning: lookups)" in out
    assert (
        tmp_path / "out" / "splunk" / "sigma_ext_container_creation" / "default" / "transforms.conf"
    ).exists()
    # the correlation line counts what correlations.md says each package holds
    placed = (tmp_path / "out" / "correlations.md").read_text(encoding="utf-8")
    searches = placed.count("| saved search |")
    kibana = placed.count("| ES\\|QL detection rule |")
    files = len(list((ROOT / "correlations").rglob("*.yml")))
    assert searches > 0
    assert kibana > 0
    assert files > 0
    assert (
        f"  {files} correlations: {searches} Splunk saved searches, {kibana} Kibana ES|QL rules"
        in out
    )


def test_failed_build_leaves_previous_output(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    write_atomically(out, {"keep.txt": "previous\n"})

    bad = {"a.txt": "new\n", "b.txt": None}
    with pytest.raises(TypeError):
        write_atomically(out, bad)  # type: ignore[arg-type]
    assert tree(out) == {"keep.txt": b"previous\n"}
    assert [p.name for p in tmp_path.iterdir()] == ["build"]


def test_broken_content_fails_without_touching_output(
    corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigma_ext.build import folder as build_module
    from sigma_ext.problems import Problem

    out = tmp_path / "build"
    write_atomically(out, {"keep.txt": "previous\n"})
    monkeypatch.setattr(
        build_module,
        "check_compilation",
        lambda c, results=None: [Problem("rules/x.yml", 3, "splunk: broken")],
    )
    with pytest.raises(ProblemsFound):
        build(corpus, out)
    assert tree(out) == {"keep.txt": b"previous\n"}
