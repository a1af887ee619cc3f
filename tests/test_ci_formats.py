"""What CI reads: check's workflow annotations and SARIF log, test's JUnit XML, the exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sigma_ext.cli.formats import github_annotations
from sigma_ext.cli.main import main
from sigma_ext.content.rules import THEMES
from sigma_ext.problems import Problem

from .test_content_repository import SAMPLE, line_of, run


@pytest.fixture
def repo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A fresh content repository, as the working directory."""
    assert run(capsys, "init", str(tmp_path / "myrules"))[0] == 0
    monkeypatch.chdir(tmp_path / "myrules")
    return tmp_path / "myrules"


@pytest.fixture
def broken_rule(repo: Path) -> Path:
    rule = repo / "rules" / "kubernetes" / "audit" / f"{SAMPLE}.yml"
    rule.write_text(rule.read_text().replace("theme: unauthorized-creator", "theme: privileged"))
    return rule


def test_github_annotations_escape_what_workflow_commands_reserve() -> None:
    text = github_annotations([Problem("a,b:c.yml", 3, "50% done\r\nnext")], "sigma-ext check")
    assert text == "::error file=a%2Cb%3Ac.yml,line=3,title=sigma-ext check::50%25 done%0D%0Anext\n"


def test_check_format_github_annotates_the_file_and_line(
    capsys: pytest.CaptureFixture[str], broken_rule: Path
) -> None:
    code, out, err = run(capsys, "check", "--format", "github")
    assert code == 1
    line = line_of(broken_rule, "theme:")
    assert out == (
        f"::error file=rules/kubernetes/audit/{SAMPLE}.yml,line={line},title=sigma-ext check"
        f"::theme must be one of {', '.join(THEMES)}\n"
    )
    assert err == "1 problem(s) found\n"


def test_check_format_sarif_locates_each_problem(
    capsys: pytest.CaptureFixture[str], broken_rule: Path
) -> None:
    code, out, _ = run(capsys, "check", "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    (sarif_run,) = log["runs"]
    assert sarif_run["tool"]["driver"]["name"] == "sigma-ext"
    rule_ids = {rule["id"] for rule in sarif_run["tool"]["driver"]["rules"]}
    (result,) = sarif_run["results"]
    assert result["ruleId"] in rule_ids
    assert result["level"] == "error"
    assert result["message"]["text"].startswith("theme must be one of")
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": f"rules/kubernetes/audit/{SAMPLE}.yml"},
                "region": {"startLine": line_of(broken_rule, "theme:")},
            }
        }
    ]


def test_check_format_sarif_of_clean_content_is_an_empty_log(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    code, out, err = run(capsys, "check", "--format", "sarif")
    assert code == 0
    assert json.loads(out)["runs"][0]["results"] == []
    assert err.startswith("ok: ")  # stdout stays a SARIF log


def test_junit_xml_has_one_case_per_event_and_the_failure_explained(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    expect = repo / "fixtures" / "kubernetes_audit" / "sample.expect.yml"
    expect.write_text(expect.read_text().replace(f"      - {SAMPLE}\n", ""))
    report = repo / "reports" / "test.xml"
    code, out, _ = run(capsys, "test", "--junit-xml", str(report))
    assert code == 1
    assert out.splitlines()[-1] == "3 passed, 1 failed"
    suites = ET.parse(report).getroot()
    assert (suites.tag, suites.get("tests"), suites.get("failures")) == ("testsuites", "4", "1")
    (suite,) = suites
    assert suite.get("name") == "fixtures/kubernetes_audit/sample.jsonl"
    cases = list(suite)
    assert [case.get("line") for case in cases] == ["1", "2", "3", "4"]
    failed = [case for case in cases if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == [
        "line 2: kubectl run with kubeadm's super-admin.conf (system:masters)"
    ]
    failure = failed[0].find("failure")
    assert failure is not None
    assert failure.get("message") == f"fired unexpectedly: {SAMPLE}"


def test_junit_xml_reports_content_problems_as_errors(
    capsys: pytest.CaptureFixture[str], broken_rule: Path, repo: Path
) -> None:
    report = repo / "test.xml"
    assert run(capsys, "test", "--junit-xml", str(report))[0] == 1
    suites = ET.parse(report).getroot()
    assert (suites.get("errors"), suites.get("failures")) == ("1", "0")
    error = suites.find("testsuite/testcase/error")
    assert error is not None
    assert error.get("message", "").startswith("theme must be one of")


def test_junit_xml_of_the_same_outcomes_is_the_same_bytes(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    for name in ("a.xml", "b.xml"):
        assert run(capsys, "test", "--junit-xml", name)[0] == 0
    assert (repo / "a.xml").read_bytes() == (repo / "b.xml").read_bytes()


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "--format", "xml"])
    assert caught.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err
