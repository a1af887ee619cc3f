"""Broken rules, mappings and profiles fail with their path and line, all at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sigma_ext.build.result import Compiled
from sigma_ext.content.corpus import Corpus, load_corpus
from sigma_ext.content.profile import load_profile
from sigma_ext.problems import ProblemsFound

from .conftest import ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for folder in ("rules", "mappings", "profiles"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def problems_of(project: Path, profile: Path | None = None) -> list[str]:
    with pytest.raises(ProblemsFound) as caught:
        load_corpus(project, profile or project / "profiles" / "example.yml")
    return [str(p) for p in caught.value.problems]


def test_clean_corpus_loads(corpus: object) -> None:
    assert corpus is not None


def test_unknown_profile_key_names_file_and_line(project: Path) -> None:
    profile = project / "profiles" / "example.yml"
    profile.write_text(profile.read_text() + "\napproved_registrys:\n  - evil.io\n")
    line = profile.read_text().splitlines().index("approved_registrys:") + 1
    with pytest.raises(ProblemsFound) as caught:
        load_profile(profile)
    assert [str(p) for p in caught.value.problems] == [
        f"{profile}:{line}: unknown key in tuning profile: 'approved_registrys'"
    ]


def test_wrong_type_in_profile_points_at_the_entry(project: Path) -> None:
    profile = project / "profiles" / "example.yml"
    text = profile.read_text().replace("  - breakglass-admin@corp.example", "  - 42")
    profile.write_text(text)
    line = text.splitlines().index("  - 42") + 1
    found = problems_of(project)
    assert any(p.startswith(f"{profile}:{line}: k8s_authorized_creators/0") for p in found), found


def test_registry_entry_with_wildcard_is_rejected(project: Path) -> None:
    profile = project / "profiles" / "example.yml"
    text = profile.read_text().replace("  - registry.k8s.io ", "  - registry.k8s.io* ")
    profile.write_text(text)
    assert any("approved_registries/2" in p for p in problems_of(project))


def test_missing_placeholder_list_names_the_profile(project: Path) -> None:
    profile = project / "profiles" / "example.yml"
    text = profile.read_text()
    start = text.index("k8s_authorized_groups:")
    profile.write_text(text[:start])
    found = problems_of(project)
    assert any(str(profile) in p and "k8s_authorized_groups" in p for p in found), found


def test_every_broken_rule_is_reported_in_one_run(project: Path) -> None:
    rules = project / "rules" / "kubernetes" / "audit"
    (rules / "kubernetes_audit_broken_yaml.yml").write_text("title: x\ndetection: [unclosed\n")
    bad_condition = (
        (rules / "kubernetes_audit_pod_created.yml")
        .read_text()
        .replace(
            "condition: selection and not 1 of filter_main_*",
            "condition: selection and not filter_main_missing",
        )
    )
    (rules / "kubernetes_audit_pod_created.yml").write_text(bad_condition)
    bad_theme = (
        (rules / "kubernetes_audit_workload_created.yml")
        .read_text()
        .replace("theme: visibility", "theme: vibes")
    )
    (rules / "kubernetes_audit_workload_created.yml").write_text(bad_theme)
    found = problems_of(project)
    assert any("kubernetes_audit_broken_yaml.yml:3: invalid YAML" in p for p in found), found
    assert any(
        "kubernetes_audit_pod_created.yml" in p and "filter_main_missing" in p for p in found
    ), found
    theme_line = bad_theme.splitlines().index("theme: vibes") + 1
    assert any(
        f"kubernetes_audit_workload_created.yml:{theme_line}: theme must be" in p for p in found
    ), found


def test_every_element_detection_must_be_a_top_level_negation(project: Path) -> None:
    path = (
        project
        / "rules"
        / "kubernetes"
        / "audit"
        / "kubernetes_audit_pod_or_workload_image_from_unapproved_registry.yml"
    )
    path.write_text(
        path.read_text().replace(
            "and not filter_main_approved_registry",
            "and not (filter_main_approved_registry or filter_main_dry_run)",
        )
    )
    assert any(
        "top-level 'and not filter_main_approved_registry'" in p for p in problems_of(project)
    )


def test_every_element_detection_selected_by_a_quantifier_too_is_refused(project: Path) -> None:
    path = (
        project
        / "rules"
        / "kubernetes"
        / "audit"
        / "kubernetes_audit_pod_or_workload_image_from_unapproved_registry.yml"
    )
    path.write_text(
        path.read_text().replace(
            "and not filter_main_dry_run and not filter_main_controller_pods",
            "and not 1 of filter_main_d* and not 1 of filter_main_*",
        )
    )
    found = problems_of(project)
    assert any(
        "'filter_main_approved_registry' must appear exactly once in the condition" in p
        for p in found
    ), found


def test_unmapped_field_is_an_error_for_every_target(project: Path) -> None:
    from sigma_ext.build.compile import check_compilation

    path = project / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"
    path.write_text(
        path.read_text().replace("objectRef.resource: pods", "objectRef.resourcee: pods")
    )
    corpus = load_corpus(project, project / "profiles" / "example.yml")
    found = [str(p) for p in check_compilation(corpus)]
    targets = {p.split(": ")[1].split("/")[0] for p in found if "kubernetes_audit_pod_created" in p}
    assert sorted(targets) == [
        "elastic",
        "native",
        "splunk",
    ], found
    assert all("field 'objectRef.resourcee' is not mapped" in p for p in found), found
    # a typo, not a field to map: the known field it is close to is named
    assert all(p.endswith("; did you mean 'objectRef.resource'?") for p in found), found


def test_a_field_close_to_no_known_field_gets_no_suggestion(project: Path) -> None:
    from sigma_ext.build.compile import check_compilation

    path = project / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"
    path.write_text(path.read_text().replace("objectRef.resource: pods", "tenant.tier: pods"))
    corpus = load_corpus(project, project / "profiles" / "example.yml")
    found = [str(p) for p in check_compilation(corpus)]
    assert found
    assert all("field 'tenant.tier' is not mapped" in p for p in found), found
    assert not any("did you mean" in p for p in found), found


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_rule_errors_point_at_the_line_at_fault_all_in_one_run(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown modifier at its key, a condition that does not parse at the condition, a
    condition naming a missing detection at the condition, a field no mapping knows at the
    field (named): every one in one run of ``check``, with the load errors of other rules."""
    from sigma_ext.cli.main import main

    audit = project / "rules" / "kubernetes" / "audit"
    modifier = audit / "kubernetes_audit_pod_created.yml"
    text = modifier.read_text().replace("requestURI|contains:", "requestURI|contans:")
    text = text.replace(
        "condition: selection and not 1 of filter_main_*",
        "condition: selection and not (1 of filter_main_*",
    )
    modifier.write_text(text)
    missing = audit / "kubernetes_audit_workload_created.yml"
    missing_text = missing.read_text()
    condition = next(line for line in missing_text.splitlines() if "condition:" in line)
    missing_text = missing_text.replace(condition, condition + " and not filter_main_nowhere")
    missing.write_text(missing_text)
    unmapped = audit / "kubernetes_audit_workload_changed_outside_pipeline.yml"
    unmapped_text = unmapped.read_text().replace("objectRef.resource:", "objectRef.resourcee:")
    unmapped.write_text(unmapped_text)

    code = main(["check", "--root", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        f"{modifier}:{_line_of(text, 'requestURI|contans')}: filter_main_dry_run: "
        "requestURI|contans: Unknown modifier 'contans'; did you mean 'contains'?"
    ) in err
    assert f"{modifier}:{_line_of(text, 'condition:')}: condition: " in err
    assert f"{missing}:{_line_of(missing_text, 'condition:')}: condition: " in err
    assert "filter_main_nowhere" in err
    line = _line_of(unmapped_text, "objectRef.resourcee:")
    for where in ("native/kubernetes_audit", "splunk/kubernetes_audit", "elastic/kubernetes_audit"):
        assert f"{unmapped}:{line}: {where}: field 'objectRef.resourcee' is not mapped" in err, err


def test_every_refused_key_of_a_rule_is_reported(project: Path) -> None:
    path = project / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"
    text = path.read_text().replace("requestURI|contains:", "requestURI|contains|re:")
    text = text.replace("        verb:\n", "        verb|nosuch:\n", 1)
    path.write_text(text)
    found = problems_of(project)
    assert any(p.startswith(f"{path}:{_line_of(text, 'verb|nosuch')}: selection: ") for p in found)
    assert any(
        p.startswith(f"{path}:{_line_of(text, 'requestURI|contains|re')}: filter_main_dry_run: ")
        for p in found
    ), found


def test_broken_native_compile_is_reported_by_test_and_hunt(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reference engine reports what the native compile found, with the rule's path."""
    from sigma_ext.cli.main import main

    path = project / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"
    path.write_text(
        path.read_text().replace("objectRef.resource: pods", "objectRef.resourcee: pods")
    )
    log = project / "empty.jsonl"
    log.write_text("")
    for argv in (["test"], ["hunt", "--engine", "reference", str(log)]):
        assert main([*argv, "--root", str(project)]) == 1
        err = capsys.readouterr().err
        assert f"{path}:" in err, err
        assert "native/kubernetes_audit: field 'objectRef.resourcee' is not mapped" in err


def test_check_reuses_the_native_compile_it_is_given(
    corpus: Corpus, compiled: list[Compiled]
) -> None:
    from sigma_ext.build.compile import check_compilation
    from sigma_ext.problems import Problem
    from sigma_ext.reference.engine import NativeCompilation, ReferenceEngine, compile_native

    native = compile_native(corpus)
    assert native.problems == []
    engine = ReferenceEngine(corpus, native)
    assert engine.rules_for(corpus.sources_of(corpus.rules[0])[0])
    marked = Problem("rules/marked.yml", None, "native/x: found by the one native compile")
    given = NativeCompilation(native.by_source, [marked])
    assert check_compilation(corpus, compiled, given) == [marked]


def test_a_bug_in_a_compiler_propagates_instead_of_reading_as_broken_content(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigma_ext.build.result import Unconvertible
    from sigma_ext.build.splunk.compiler import SplunkCompiler

    rule = corpus.rules[0]
    source = corpus.sources_of(rule)[0]

    def buggy(*args: object, **kwargs: object) -> str:
        raise TypeError("'NoneType' object is not subscriptable")  # as a bug would

    monkeypatch.setattr(SplunkCompiler, "_convert", buggy)
    with pytest.raises(TypeError):
        SplunkCompiler(corpus).compile(rule, source)

    def unconvertible(*args: object, **kwargs: object) -> str:
        raise Unconvertible("the target cannot say this")

    monkeypatch.setattr(SplunkCompiler, "_convert", unconvertible)
    compiled = SplunkCompiler(corpus).compile(rule, source)
    assert (compiled.status, compiled.why) == ("error", ("the target cannot say this",))
    assert [r.kind for r in compiled.reasons] == ["content_error"]
