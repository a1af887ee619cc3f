"""Where content comes from (a repository, a tree, the shipped content) and how a content
repository lays its own rules, mappings and profile over the shipped ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sigma_ext.cli.main import main
from sigma_ext.content.corpus import Corpus, corpus_at
from sigma_ext.content.locate import CONFIG_NAME, locate, shipped_root
from sigma_ext.content.rules import THEMES
from sigma_ext.problems import ProblemsFound
from sigma_ext.sources.catalogue import SOURCES
from sigma_ext.targets import MAPPING_DIRS

from .conftest import ROOT

SAMPLE = "kubernetes_audit_pod_or_workload_created_by_system_masters"
SHIPPED_RULES = sorted((ROOT / "rules").rglob("*.yml"))
POD_CREATED = ROOT / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A content repository as `sigma-ext init` writes it."""
    assert run(capsys, "init", str(tmp_path / "myrules"))[0] == 0
    return tmp_path / "myrules"


def configure(repo: Path, text: str) -> Path:
    config = repo / CONFIG_NAME
    config.write_text(text)
    return config


def content(repo: Path) -> Corpus:
    return corpus_at(locate(cwd=repo))


def problems(repo: Path) -> list[str]:
    with pytest.raises(ProblemsFound) as caught:
        content(repo)
    return [str(p) for p in caught.value.problems]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# --- where the content comes from ---------------------------------------------------------


def test_an_empty_folder_uses_the_shipped_content(tmp_path: Path) -> None:
    location = locate(cwd=tmp_path)
    assert location.kind == "shipped"
    assert location.rule_roots == (shipped_root() / "rules",)
    assert location.profile == shipped_root() / "profiles" / "example.yml"
    assert location.out == tmp_path / "out"
    assert location.build_out == tmp_path / "out" / "siem"


def test_the_shipped_content_is_this_checkout_in_an_editable_install() -> None:
    assert shipped_root() == ROOT


def test_a_subfolder_of_a_content_tree_finds_the_tree() -> None:
    location = locate(cwd=ROOT / "docs")
    assert (location.kind, location.root, location.out) == ("tree", ROOT, ROOT / "out")


def test_found_content_is_given_relative_to_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "rules")
    location = locate()
    assert (location.config, location.out) == (Path("..", CONFIG_NAME), Path("..", "out"))
    assert location.rule_roots == (Path("..", "rules"),)


def test_a_subfolder_of_a_repository_finds_its_config(repo: Path) -> None:
    location = locate(cwd=repo / "rules" / "kubernetes")
    assert (location.kind, location.config) == ("repository", repo / CONFIG_NAME)
    assert location.out == repo / "out"
    assert location.profile == repo / "profiles" / "profile.yml"


def test_root_without_content_is_one_line_saying_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "check", "--root", str(tmp_path))
    assert code == 1
    assert out == ""
    first, count = err.strip().splitlines()
    assert first.startswith(f"{tmp_path}: neither {CONFIG_NAME} nor rules/ and mappings/ here")
    assert f"sigma-ext init {tmp_path}" in first
    assert count == "1 problem(s) found"


def test_hunt_from_an_empty_folder_uses_the_shipped_rules(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fixture = ROOT / "fixtures" / "kubernetes_audit" / "malicious_creators.jsonl"
    code, out, _ = run(capsys, "hunt", str(fixture))
    assert code == 0
    rules = {json.loads(line)["rule"] for line in out.splitlines()}
    assert "kubernetes_audit_pod_or_workload_created_by_anonymous_user" in rules


# --- a content repository -----------------------------------------------------------------


def test_init_then_check_test_build_pass_in_the_repository(
    capsys: pytest.CaptureFixture[str], repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    code, out, _ = run(capsys, "check")
    assert code == 0, out
    assert out.startswith(
        f"ok: {len(SHIPPED_RULES) + 1} rules ({len(SHIPPED_RULES)} shipped, 1 own), "
        f"{len(MAPPING_DIRS) * len(SOURCES)} mappings (0 overridden)"
    )
    code, out, _ = run(capsys, "test")
    assert (code, out.splitlines()[-1]) == (0, "4 passed, 0 failed")
    code, out, _ = run(capsys, "build")
    assert code == 0
    assert f"built {len(SHIPPED_RULES) + 1} rules into {Path('out', 'siem')}:" in out
    spl = repo / "out" / "siem" / "splunk" / "spl"
    assert (spl / f"{SAMPLE}.spl").is_file()
    assert (spl / "kubernetes_audit_pod_created.spl").is_file()
    kibana = (repo / "out" / "siem" / "elastic" / "detection-rules.ndjson").read_text()
    assert "Member Of system:masters" in kibana


def test_init_writes_every_scaffold_file(repo: Path) -> None:
    written = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
    assert written == [
        ".github/workflows/sigma-ext.yml",
        ".gitignore",
        ".gitlab-ci.yml",
        ".pre-commit-config.yaml",
        "README.md",
        "fixtures/kubernetes_audit/sample.expect.yml",
        "fixtures/kubernetes_audit/sample.jsonl",
        "mappings/README.md",
        "profiles/profile.yml",
        f"rules/kubernetes/audit/{SAMPLE}.yml",
        CONFIG_NAME,
    ]
    rule = (repo / "rules" / "kubernetes" / "audit" / f"{SAMPLE}.yml").read_text()
    assert "__" not in rule  # every template token is filled


def test_init_dot_fills_the_empty_working_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "init", ".")[0] == 0
    assert (tmp_path / CONFIG_NAME).is_file()
    rule = next((tmp_path / "rules").rglob("*.yml")).read_text()
    assert f"author: {tmp_path.name} maintainers" in rule


def test_init_never_overwrites(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    code, out, err = run(capsys, "init", str(tmp_path))
    assert (code, out) == (3, "")
    assert "not an empty folder" in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_shipped_rule_sets_ids_and_names_choose_shipped_rules(repo: Path) -> None:
    configure(
        repo,
        "shipped_rules:\n"
        "  include: [kubernetes, docker/events]\n"
        "  exclude: [kubernetes_audit_workload_created, d8084b10-c467-4247-82c4-29548b0de399]\n",
    )
    stems = {rule.stem for rule in content(repo).rules}
    expected = {
        p.stem for p in SHIPPED_RULES if p.parent.parent.name in ("kubernetes", "docker")
    } - {"kubernetes_audit_workload_created", "kubernetes_audit_pod_created"} | {SAMPLE}
    assert stems == expected


def test_a_selector_that_names_nothing_points_at_its_line_and_lists_the_rule_sets(
    repo: Path,
) -> None:
    config = configure(repo, "shipped_rules:\n  exclude:\n    - kubernetes/audits\n")
    sets = sorted(
        p.relative_to(ROOT / "rules").as_posix() for p in (ROOT / "rules").rglob("*") if p.is_dir()
    )
    assert "kubernetes/audit" in sets
    assert problems(repo) == [
        f"{config}:3: shipped_rules/exclude: 'kubernetes/audits' names no shipped rule set, rule "
        f"id or rule name; the rule sets are {', '.join(sets)}"
    ]


def test_an_own_rule_with_a_shipped_id_replaces_the_shipped_rule(repo: Path) -> None:
    own = repo / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_started.yml"
    own.write_text(POD_CREATED.read_text().replace("title: Pod Created", "title: Pod Started"))
    corpus = content(repo)
    assert len(corpus.rules) == len(SHIPPED_RULES) + 1  # the shipped rule is gone, both own stay
    replaced = [r for r in corpus.rules if r.id == "d8084b10-c467-4247-82c4-29548b0de399"]
    assert [(r.path, r.title) for r in replaced] == [(own, "Pod Started")]


def test_an_own_rule_taking_a_shipped_name_or_title_says_both_ways_out(repo: Path) -> None:
    own = repo / "rules" / "kubernetes" / "audit" / POD_CREATED.name
    own.write_text(
        POD_CREATED.read_text().replace(
            "id: d8084b10-c467-4247-82c4-29548b0de399", "id: 0b6d1a52-6c3e-4d8f-9a17-3e5b2c8d4f10"
        )
    )
    shipped = shipped_root() / "rules" / "kubernetes" / "audit" / POD_CREATED.name
    fix = "the shipped rule's id d8084b10-c467-4247-82c4-29548b0de399 to replace it"
    assert problems(repo) == [
        f"{own}:1: the shipped rule {shipped} has this file name: rename this file, or give "
        f"this rule {fix}",
        f"{own}:1: the shipped rule {shipped} has this title: retitle this rule, or give it {fix}",
    ]


def test_a_mapping_override_replaces_one_shipped_mapping(repo: Path) -> None:
    override = repo / "mappings" / "splunk" / "docker_events.yml"
    override.parent.mkdir()
    shutil.copy(ROOT / "mappings" / "splunk" / "docker_events.yml", override)
    corpus = content(repo)
    assert corpus.mappings[("splunk", "docker_events")].path == override
    assert corpus.mappings[("elastic", "docker_events")].path == (
        shipped_root() / "mappings" / "elastic" / "docker_events.yml"
    )


def test_an_override_that_replaces_nothing_says_how_to_name_one(repo: Path) -> None:
    stray = repo / "mappings" / "splunk" / "docker.yml"
    stray.parent.mkdir()
    shutil.copy(ROOT / "mappings" / "splunk" / "docker_events.yml", stray)
    (found,) = problems(repo)
    assert found.startswith(
        f"{stray}: replaces no mapping: name an override <target>/<source>.yml with target one "
        "of native, splunk, elastic and source one of kubernetes_audit, "
    )


def test_config_problems_name_their_line_and_the_allowed_keys(repo: Path) -> None:
    config = configure(repo, "profile: profiles/profile.yml\nrule: [more-rules]\nout: 3\n")
    assert problems(repo) == [
        f"{config}:2: unknown key 'rule': use one of fixtures, mappings, out, profile, rules, "
        "shipped_rules",
        f"{config}:3: out: 3 is not of type 'string'",
    ]


def test_a_missing_own_rule_folder_is_reported(repo: Path) -> None:
    config = configure(repo, "rules: [rules, team-b/rules]\n")
    assert problems(repo) == [
        f"{config}:1: rules: 'team-b/rules' does not exist (paths are relative to {repo})"
    ]


def test_own_rule_problems_say_how_to_fix_them(repo: Path) -> None:
    rule = repo / "rules" / "kubernetes" / "audit" / f"{SAMPLE}.yml"
    text = rule.read_text().replace("theme: unauthorized-creator", "theme: privileged")
    rule.write_text(text.replace("service: audit", "service: audit_log"))
    served = sorted({f"product: {s.product}, service: {s.service}" for s in SOURCES})
    assert "product: kubernetes, service: audit" in served
    assert problems(repo) == [
        f"{rule}:{line_of(rule, 'logsource:')}: no source of this project serves this "
        f"logsource: use one of {', '.join(served)}",
        f"{rule}:{line_of(rule, 'theme:')}: theme must be one of {', '.join(THEMES)}",
    ]


def test_a_missing_theme_names_the_themes(repo: Path) -> None:
    rule = repo / "rules" / "kubernetes" / "audit" / f"{SAMPLE}.yml"
    rule.write_text(rule.read_text().replace("theme: unauthorized-creator\n", ""))
    assert problems(repo) == [
        f"{rule}:1: missing required attribute 'theme' (one of {', '.join(THEMES)})"
    ]


def test_a_placeholder_no_profile_can_fill_lists_the_ones_that_exist(repo: Path) -> None:
    rule = repo / "rules" / "kubernetes" / "audit" / f"{SAMPLE}.yml"
    rule.write_text(
        rule.read_text().replace(
            "        user.groups: 'system:masters'\n",
            "        user.groups: 'system:masters'\n"
            "    filter_main_admins:\n"
            "        user.username|expand: '%team_admins%'\n",
        )
    )
    (found,) = problems(repo)
    assert found.startswith(
        f"{rule}:{line_of(rule, 'detection:')}: placeholder %team_admins% is no list a tuning "
        "profile can hold: use one of %approved_registries%, "
    )
