"""The rules follow SigmaHQ's documented conventions (its rule-creation guide and the checks
its ``sigma check`` configuration runs), written here as this project's own tests.

Departures, each justified in docs/extensions.md: the three custom attributes ``theme``,
``match_every_element`` and ``needed_fields``, and the log sources that SigmaHQ's taxonomy does
not have (``docker/events``, ``linux/container_runtime``, ``kubernetes/events``, ``linux/sysmon``,
``linux/tetragon``, ``linux/falco``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
import yaml

from sigma_ext.content.attack import attack_data, split_tags

from .conftest import ROOT

RULES = sorted((ROOT / "rules").rglob("*.yml"))
# Sigma rule specification v2: the top-level keys of a detection rule.
SPEC_KEYS = {
    "title",
    "id",
    "related",
    "name",
    "taxonomy",
    "status",
    "description",
    "license",
    "references",
    "author",
    "date",
    "modified",
    "tags",
    "logsource",
    "detection",
    "fields",
    "falsepositives",
    "level",
    "scope",
}
CUSTOM_ATTRIBUTES = {"theme", "match_every_element", "needed_fields"}
# Small words a title may keep in lower case (SigmaHQ's title-case convention).
SMALL_WORDS = {
    *[
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "new",
        "of",
        "on",
        "or",
        "over",
        "the",
        "through",
        "to",
        "via",
        "with",
        "without",
    ]
}
# SigmaHQ's file-name prefix per log source; from docker/events on, this project's own log
# sources, named <product or service>_<service>_ as SigmaHQ names its own.
PREFIXES = {
    ("kubernetes", "audit"): "kubernetes_audit_",
    ("aws", "cloudtrail"): "aws_cloudtrail_",
    ("azure", "activitylogs"): "azure_activitylogs_",
    ("gcp", "gcp.audit"): "gcp_audit_",
    ("docker", "events"): "docker_events_",
    ("linux", "container_runtime"): "container_runtime_",
    ("kubernetes", "events"): "kubernetes_events_",
    ("linux", "sysmon"): "sysmon_linux_",
    ("linux", "tetragon"): "tetragon_",
    ("linux", "falco"): "falco_",
}
SIGMAHQ_TAXONOMY = {("kubernetes", "audit"), ("aws", "cloudtrail"), ("azure", "activitylogs")}
SIGMAHQ_TAXONOMY |= {("gcp", "gcp.audit")}
OWN_LOG_SOURCES = {("docker", "events"), ("linux", "container_runtime"), ("kubernetes", "events")}
OWN_LOG_SOURCES |= {("linux", "sysmon"), ("linux", "tetragon"), ("linux", "falco")}


def _load(path: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module", params=RULES, ids=[p.stem for p in RULES])
def rule(request: pytest.FixtureRequest) -> tuple[Any, dict[str, Any]]:
    return request.param, _load(request.param)


def test_only_spec_keys_and_the_documented_custom_attributes(
    rule: tuple[Any, dict[str, Any]],
) -> None:
    _, data = rule
    assert set(data) - SPEC_KEYS <= CUSTOM_ATTRIBUTES
    extensions = (ROOT / "docs" / "extensions.md").read_text()
    for attribute in set(data) & CUSTOM_ATTRIBUTES:
        assert f"`{attribute}`" in extensions


def test_references_link_no_attack_page_and_pin_github_files(
    rule: tuple[Any, dict[str, Any]],
) -> None:
    """ATT&CK belongs in tags; a GitHub file link names a commit, not a branch."""
    _, data = rule
    for link in data.get("references", []):
        assert not link.startswith("https://attack.mitre.org/"), link
        if re.match(r"https://github.com/.*\.\w{1,3}$", link):
            assert re.match(r"https://github.com/[^/]+/[^/]+/blob/[0-9a-f]{40}/", link), link


def test_every_technique_comes_with_all_its_tactics(rule: tuple[Any, dict[str, Any]]) -> None:
    _, data = rule
    tags = [str(t) for t in data.get("tags", [])]
    tactics, techniques = split_tags(tags)
    assert techniques, "at least one ATT&CK technique"
    known = attack_data()["techniques"]
    for technique in techniques:
        missing = set(known[technique]["tactics"]) - set(tactics)
        assert not missing, f"{technique} without attack.{', attack.'.join(sorted(missing))}"
    assert len(tags) == len(set(tags)), "no tag twice"
    assert all(re.fullmatch(r"[a-z0-9_-]+\.[a-z0-9._-]+", t) for t in tags), "lower-case tags"


def test_title_is_title_cased_without_a_final_dot(rule: tuple[Any, dict[str, Any]]) -> None:
    _, data = rule
    title = str(data["title"])
    assert len(title) <= 120
    assert not title.endswith(".")
    assert not title.startswith(("Detect ", "Detects "))
    lower = [
        w
        for w in title.split(" ")
        if w.islower()
        and w not in SMALL_WORDS
        and not any(c in w for c in "./_")
        and not w[0].isdigit()
    ]
    assert lower == []


def test_description_status_dates_and_false_positives(rule: tuple[Any, dict[str, Any]]) -> None:
    _, data = rule
    description = str(data["description"])
    assert len(description) >= 16
    assert "http://" not in description
    assert "https://" not in description
    assert data["status"] in {"stable", "test", "experimental"}
    assert data["level"] in {"informational", "low", "medium", "high", "critical"}
    created = data["date"]
    assert isinstance(created, date)
    if "modified" in data:
        assert isinstance(data["modified"], date)
        assert data["modified"] >= created
    for entry in data.get("falsepositives", []):
        text = str(entry)
        assert text[:1].isupper(), text
        # SigmaHQ's banned words: "none" (say nothing instead), "pentest", "penetration"
        assert text.strip().lower() != "none", text
        assert not re.search(r"pentest|penetration", text, re.IGNORECASE), text


def test_file_name_follows_the_log_source(rule: tuple[Any, dict[str, Any]]) -> None:
    path, data = rule
    assert re.fullmatch(r"[a-z0-9_]{10,90}\.yml", path.name)
    logsource = data["logsource"]
    key = (logsource.get("product"), logsource.get("service"))
    assert path.name.startswith(PREFIXES[key])
    # SigmaHQ's taxonomy knows the log source, or docs/extensions.md says why it is our own
    if key not in SIGMAHQ_TAXONOMY:
        assert key in OWN_LOG_SOURCES
        extensions = (ROOT / "docs" / "extensions.md").read_text()
        assert f"`{key[0]}` / `{key[1]}`" in extensions


def test_every_rule_is_checked() -> None:
    assert len(RULES) >= 20
