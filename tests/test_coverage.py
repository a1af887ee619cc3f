"""sigma-ext coverage: the matrix, the creation-path claims, the README table, the Navigator layer,
the telemetry check and the recommended audit policy."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sigma_ext.build.result import Compiled
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.coverage.claims import check_claims
from sigma_ext.coverage.html import report_html
from sigma_ext.coverage.logs import telemetry_of
from sigma_ext.coverage.markdown import README_END, README_START, readme_block
from sigma_ext.coverage.matrix import Matrix, build_matrix
from sigma_ext.coverage.navigator import navigator_layer
from sigma_ext.coverage.needs import carries, needed_fields
from sigma_ext.coverage.paths import CreationPaths, load_creation_paths
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.reference.evaluator import Fields
from sigma_ext.sources.catalogue import SOURCES, source_named
from sigma_ext.targets import NATIVE

ROOT = Path(__file__).resolve().parent.parent
AUDIT = ROOT / "fixtures" / "kubernetes_audit"
METADATA_LEVEL = AUDIT / "metadata_level" / "pods_and_workloads_at_metadata_level.jsonl"
REGISTRY_RULE = "kubernetes_audit_pod_or_workload_image_from_unapproved_registry"
RISKY_SPEC_RULES = (
    "kubernetes_audit_pod_or_workload_with_privileged_or_capable_container",
    "kubernetes_audit_pod_or_workload_with_host_namespace_or_sensitive_host_path",
)
BARE_POD_RULE = "kubernetes_audit_bare_pod_created_by_person"


@pytest.fixture(scope="module")
def results(compiled: list[Compiled]) -> list[Compiled]:
    return compiled


@pytest.fixture(scope="module")
def paths() -> CreationPaths:
    loaded, problems = load_creation_paths()
    assert loaded is not None, problems
    return loaded


@pytest.fixture(scope="module")
def matrix(corpus: Corpus, results: list[Compiled], paths: CreationPaths) -> Matrix:
    return build_matrix(corpus, results, paths.themes)


def _write_paths(tmp_path: Path, edit: Any) -> CreationPaths:
    data = yaml.safe_load((ROOT / "sigma_ext" / "data" / "creation_paths.yml").read_text())
    edit(data)
    file = tmp_path / "creation_paths.yml"
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    loaded, problems = load_creation_paths(file)
    assert loaded is not None, problems
    return loaded


# --- the matrix and the claims -------------------------------------------------------------------


def test_matrix_cells_aggregate_the_build_verdicts(matrix: Matrix, results: list[Compiled]) -> None:
    for result in results:
        cell = matrix.cell(result.source.name, result.rule.theme, result.target.name)
        assert result.rule.stem in {r.stem for r in cell.rules}
    gke_visibility = matrix.cell("kubernetes_audit_gke", "visibility", "splunk")
    assert gke_visibility.status == "degraded"  # GKE logs no HTTP status nor request URI
    runtime = matrix.cell("container_runtime", "visibility", "elastic")
    assert runtime.status == "impossible"
    assert matrix.cell("docker_events", "unauthorized-creator", "splunk").status == "none"
    assert {c.status for k, c in matrix.cells.items() if k[2] == "hunt"} <= {"ok", "none"}


def test_a_shared_verdict_counts_as_the_covering_rule(
    matrix: Matrix, results: list[Compiled]
) -> None:
    shared = [r for r in results if r.status == "shared"]
    assert shared, "the AKS rules share the plain audit rules' data stream on Elastic"
    for result in shared:
        aks = {
            r.stem: r.status
            for r in matrix.cell(result.source.name, result.rule.theme, "elastic").rules
        }
        plain = {
            r.stem: r.status
            for r in matrix.cell("kubernetes_audit", result.rule.theme, "elastic").rules
        }
        assert aks[result.rule.stem] == plain[result.rule.stem]


def test_the_shipped_creation_paths_claim_nothing_the_build_does_not_show(
    paths: CreationPaths, matrix: Matrix
) -> None:
    assert check_claims(paths, matrix) == []


def test_a_claim_of_more_than_the_build_shows_is_a_problem_with_its_line(
    tmp_path: Path, matrix: Matrix
) -> None:
    def overclaim(data: dict[str, Any]) -> None:
        runtime = next(p for p in data["paths"] if p["sources"] == ["container_runtime"])
        runtime["visibility"] = "covered"  # Elastic keeps runtime lines as message text only

    doctored = _write_paths(tmp_path, overclaim)
    problems = check_claims(doctored, matrix)
    assert len(problems) == 1
    assert problems[0].line is not None
    assert "visibility is 'covered' on elastic for container_runtime" in problems[0].message
    assert "impossible" in problems[0].message


def test_a_source_without_a_creation_path_is_a_problem(tmp_path: Path, matrix: Matrix) -> None:
    def drop_docker(data: dict[str, Any]) -> None:
        data["paths"] = [p for p in data["paths"] if p["sources"] != ["docker_events"]]

    problems = check_claims(_write_paths(tmp_path, drop_docker), matrix)
    assert [p.message for p in problems] == ["no creation path names the source docker_events"]


def test_every_catalogue_source_has_a_creation_path(paths: CreationPaths) -> None:
    named = {source for path in paths.paths for source in path.sources}
    assert named == {source.name for source in SOURCES}


def test_a_broken_cell_is_reported_with_its_line(tmp_path: Path) -> None:
    file = tmp_path / "creation_paths.yml"
    file.write_text(
        "themes: {visibility: visibility}\n"
        "paths:\n"
        "  - path: p\n"
        "    sources: [docker_events]\n"
        "    label: Docker\n"
        "    visibility: seen\n"
    )
    loaded, problems = load_creation_paths(file)
    assert loaded is None
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [(6, "unknown claim 'seen'")]


# --- the README ---------------------------------------------------------------------------------


def test_the_readme_coverage_table_is_the_generated_one(paths: CreationPaths) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(README_START)
    end = readme.index(README_END) + len(README_END)
    assert readme[start:end] == readme_block(paths), (
        "README.md's coverage table differs from sigma_ext/data/creation_paths.yml: "
        "run `sigma-ext coverage --readme README.md`"
    )


# --- what a rule needs --------------------------------------------------------------------------


def _needs(corpus: Corpus, stem: str, source: str = "kubernetes_audit") -> Any:
    rule_file = corpus.rule(stem)
    rule = rule_file.fresh()
    conversion_pipeline(
        corpus.mapping(NATIVE.mapping_dir, source_named(source)), corpus.profile
    ).apply(rule)
    return needed_fields(rule, rule_file.every_element)


def test_the_registry_rule_needs_one_image_field_beside_its_selection(corpus: Corpus) -> None:
    needs = _needs(corpus, REGISTRY_RULE)
    images = {field for alternative in needs for field in alternative if field.endswith(".image")}
    assert "requestObject.spec.initContainers.image" in images
    assert "requestObject.spec.template.spec.containers.image" in images
    assert all("verb" in alternative and len(alternative & images) == 1 for alternative in needs)


def test_an_owner_null_test_needs_the_request_body(corpus: Corpus) -> None:
    # no shipped rule tests ownerReferences any more (a forged owner proves nothing), so the
    # formula is checked on a rule that does
    from sigma.rule import SigmaRule

    rule = SigmaRule.from_dict(
        {
            "title": "bare pod",
            "logsource": {"product": "kubernetes", "service": "audit"},
            "detection": {
                "selection": {
                    "verb": "create",
                    "requestObject.metadata.ownerReferences.kind": None,
                },
                "filter_main_dry_run": {"requestURI|contains": "dryRun=All"},
                "condition": "selection and not filter_main_dry_run",
            },
        }
    )
    conversion_pipeline(
        corpus.mapping(NATIVE.mapping_dir, source_named("kubernetes_audit")), corpus.profile
    ).apply(rule)
    needs = needed_fields(rule)
    assert all("requestObject" in alternative for alternative in needs)
    assert all("requestURI" not in alternative for alternative in needs)  # a filter only
    # the person rule reads no owner: a Metadata-level log leaves it working
    assert all("requestObject" not in alternative for alternative in _needs(corpus, BARE_POD_RULE))


def test_every_positive_fixture_carries_what_its_rules_need(
    corpus: Corpus, engine: ReferenceEngine
) -> None:
    """The formula never asks for more than a firing event has: each rule that fires on a fixture
    event finds what it needs there."""
    checked = 0
    for source in SOURCES:
        for jsonl in sorted((ROOT / "fixtures" / source.name).rglob("*.jsonl")):
            for line in jsonl.read_text(encoding="utf-8").splitlines():
                event = json.loads(line)
                if not source.recognize(event):
                    continue
                fields = Fields(source.decode(event))
                for rule_file in engine.match(event, source):
                    assert carries(_needs(corpus, rule_file.stem, source.name), fields.values), (
                        f"{jsonl.name}: {rule_file.stem}"
                    )
                    checked += 1
    assert checked > 100


# --- the telemetry check ------------------------------------------------------------------------


def test_a_metadata_level_audit_log_leaves_the_registry_rule_blind(corpus: Corpus) -> None:
    report = telemetry_of(corpus, [METADATA_LEVEL])
    seen = report.sources["kubernetes_audit"]
    assert seen.records == 13
    assert seen.creations == 9
    assert seen.levels == {"Metadata": 9}
    assert seen.rules[REGISTRY_RULE].carrying == 0
    assert seen.rules["kubernetes_audit_pod_created"].carrying == 9
    [finding] = report.findings()
    assert finding.field == "requestObject"
    assert finding.absent_share == 1.0
    assert finding.blind
    # the risky-spec rules read the request body too: a Metadata-level log hides every setting
    assert set(finding.rules) == {REGISTRY_RULE, *RISKY_SPEC_RULES}
    assert (
        "`requestObject` is absent from 100% of the Kubernetes audit creation events" in finding.why
    )
    assert "Metadata level" in finding.why
    assert "docs/audit-policy.yaml" in finding.why


def test_an_audit_log_with_every_field_leaves_nothing_blind(corpus: Corpus) -> None:
    logs = sorted(AUDIT.glob("*.jsonl"))
    report = telemetry_of(corpus, logs)
    seen = report.sources["kubernetes_audit"]
    assert seen.creations > 20
    assert all(share.carrying == seen.creations for share in seen.rules.values())
    assert report.findings() == []


def test_a_mixed_file_counts_each_source_and_what_it_cannot_read(
    corpus: Corpus, tmp_path: Path
) -> None:
    lines = [
        (AUDIT / "benign_controllers.jsonl").read_text().splitlines()[0],
        (ROOT / "fixtures" / "docker_events")
        .glob("*.jsonl")
        .__next__()
        .read_text()
        .splitlines()[0],
        next((ROOT / "fixtures" / "aws_cloudtrail").glob("*.jsonl")).read_text().splitlines()[0],
        '{"hello": "a record no source claims"}',
        "{not json",
    ]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(lines) + "\n")
    report = telemetry_of(corpus, [mixed])
    assert {name: seen.records for name, seen in report.sources.items()} == {
        "kubernetes_audit": 1,
        "docker_events": 1,
        "aws_cloudtrail": 1,
    }
    assert report.unrecognised == 1
    assert report.unrecognised_places == [f"{mixed}:4"]
    assert report.malformed == 1
    data = json.loads(report.to_json())
    assert data["unrecognised_records"] == 1
    assert data["malformed_records"] == 1


# --- the recommended audit policy ---------------------------------------------------------------


def _rule_applies(rule: dict[str, Any], event: dict[str, Any]) -> bool:
    user = event.get("user") or {}
    ref = event.get("objectRef")
    if "users" in rule and user.get("username") not in rule["users"]:
        return False
    if "userGroups" in rule and not set(user.get("groups") or []) & set(rule["userGroups"]):
        return False
    if "verbs" in rule and event.get("verb") not in rule["verbs"]:
        return False
    if "namespaces" in rule and (ref or {}).get("namespace") not in rule["namespaces"]:
        return False
    if "resources" in rule:
        if ref is None:
            return False
        name = ref.get("resource", "")
        if ref.get("subresource"):
            name += "/" + ref["subresource"]
        return any(
            (ref.get("apiGroup") or "") == group.get("group", "")
            and (name in group.get("resources", ["*"]) or "*" in group.get("resources", ["*"]))
            for group in rule["resources"]
        )
    return True


def apply_audit_policy(policy: dict[str, Any], event: dict[str, Any]) -> dict[str, Any] | None:
    """The event as an API server with this policy would log it (audit.k8s.io/v1 semantics),
    or None when it would not be logged."""
    if event.get("stage") in policy.get("omitStages", []):
        return None
    level = next(rule["level"] for rule in policy["rules"] if _rule_applies(rule, event))
    if level == "None":
        return None
    logged = copy.deepcopy(event)
    logged["level"] = level
    if level in ("Metadata", "Request"):
        logged.pop("responseObject", None)
    if level == "Metadata":
        logged.pop("requestObject", None)
    return logged


def test_the_recommended_audit_policy_keeps_every_verdict(engine: ReferenceEngine) -> None:
    policy = yaml.safe_load((ROOT / "docs" / "audit-policy.yaml").read_text())
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    source = source_named("kubernetes_audit")
    kept = dropped = 0
    for jsonl in sorted(AUDIT.rglob("*.jsonl")):
        if jsonl == METADATA_LEVEL:
            continue
        for number, line in enumerate(jsonl.read_text().splitlines(), start=1):
            event = json.loads(line)
            before = sorted(r.stem for r in engine.match(event, source))
            logged = apply_audit_policy(policy, event)
            if logged is None:
                assert before == [], (
                    f"{jsonl.name}:{number} dropped by the policy but fires {before}"
                )
                dropped += 1
                continue
            after = sorted(r.stem for r in engine.match(logged, source))
            assert after == before, f"{jsonl.name}:{number}"
            kept += 1
    assert kept > 50
    assert dropped > 3


def test_the_policy_applier_blinds_the_registry_rule_at_metadata_level(
    engine: ReferenceEngine,
) -> None:
    """The test above can fail: the same events at Metadata level lose the registry verdicts."""
    policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}
    source = source_named("kubernetes_audit")
    lines = (AUDIT / "malicious_registries.jsonl").read_text().splitlines()
    event = json.loads(lines[0])
    assert REGISTRY_RULE in {r.stem for r in engine.match(event, source)}
    logged = apply_audit_policy(policy, event)
    assert logged is not None
    assert REGISTRY_RULE not in {r.stem for r in engine.match(logged, source)}


# --- the Navigator layer ------------------------------------------------------------------------


def test_the_navigator_layer_scores_each_technique_by_its_detections(corpus: Corpus) -> None:
    layer = navigator_layer(corpus, "9.9.9")
    assert layer["domain"] == "enterprise-attack"
    assert layer["versions"]["layer"] == "4.5"
    by_key = {(t["techniqueID"], t["tactic"]): t for t in layer["techniques"]}
    expected = sum(
        len(corpus.sources_of(r)) for r in corpus.rules if "attack.t1610" in r.data.get("tags", [])
    )
    t1610 = by_key[("T1610", "execution")]
    assert t1610["score"] == expected
    assert "Pod Created" in t1610["comment"]
    assert "Docker daemon events" in t1610["comment"]
    assert layer["gradient"]["maxValue"] == max(t["score"] for t in layer["techniques"])
    # a technique is listed only under a tactic the rule tags and ATT&CK files it under
    assert all(
        key[1]
        in ("execution", "defense-evasion", "persistence", "privilege-escalation", "initial-access")
        for key in by_key
    )


# --- the page -----------------------------------------------------------------------------------


def _page(matrix: Matrix, paths: CreationPaths, corpus: Corpus) -> str:
    return report_html(matrix, paths, telemetry_of(corpus, [METADATA_LEVEL]), "9.9.9")


def test_the_page_loads_nothing_from_anywhere(
    matrix: Matrix, paths: CreationPaths, corpus: Corpus
) -> None:
    page = _page(matrix, paths, corpus)
    for needle in ("<script", "src=", "href=", "@import", "url(", "<link"):
        assert needle not in page


def test_the_page_escapes_content_text(
    matrix: Matrix, paths: CreationPaths, tmp_path: Path
) -> None:
    def hostile(data: dict[str, Any]) -> None:
        data["paths"][0]["path"] = "<script>alert(1)</script> `<b>`"

    page = report_html(matrix, _write_paths(tmp_path, hostile), None, "1")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <code>&lt;b&gt;</code>" in page


def _browser() -> str | None:
    return shutil.which("chromium-headless-shell") or shutil.which("chromium")


@pytest.mark.browser
def test_the_page_renders_in_a_headless_browser(
    matrix: Matrix, paths: CreationPaths, corpus: Corpus, tmp_path: Path
) -> None:
    browser = _browser()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have Chromium (.ci/run installs chromium-headless-shell)")
        pytest.skip("no Chromium on this machine (apt-get install chromium-headless-shell)")
    page = tmp_path / "coverage.html"
    page.write_text(_page(matrix, paths, corpus), encoding="utf-8")
    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--headless",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    heat = dom.split('<table class="heat">', 1)[1].split("</table>", 1)[0]
    assert heat.count("<tr>") == 2 + len(matrix.sources)
    assert heat.count('class="status') == len(matrix.sources) * len(matrix.themes) * 3
    assert "cannot judge any of them" in dom
    shot = tmp_path / "coverage.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1400,1800", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a page of coloured tables, not a blank one


# --- the command --------------------------------------------------------------------------------


def test_the_command_writes_every_output(tmp_path: Path) -> None:
    from sigma_ext.cli.main import main

    out = tmp_path / "coverage"
    assert main(["coverage", "--root", str(ROOT), "--out", str(out), str(METADATA_LEVEL)]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "attack-navigator-layer.json",
        "coverage.html",
        "coverage.json",
        "coverage.md",
        "telemetry.json",
    ]
    telemetry = json.loads((out / "telemetry.json").read_text())
    assert telemetry["findings"][0]["field"] == "requestObject"
    assert "## Telemetry check" in (out / "coverage.md").read_text()
