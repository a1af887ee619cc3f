"""The native prefilter: a line it dismisses is one the reference engine reads as an event of
the first fast source with no hit; every hunt gives the reference verdicts and summary with and
without it."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_ext.hunt.fast import prefilter, prefilter_run
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.reference import BadLine, Hit, grouper_of_file, hunt_file, read_line
from sigma_ext.hunt.summary import FileSummary
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import recognize

from .conftest import ROOT, examples
from .test_cli import POD
from .test_hunt_duckdb import Together

FIXTURES = sorted(p for p in (ROOT / "fixtures").rglob("*") if p.suffix in (".jsonl", ".log"))
STATUS_PATCH = {
    **{k: POD[k] for k in ("kind", "apiVersion", "level", "auditID", "stage", "user")},
    "requestURI": "/api/v1/namespaces/shop/pods/debug/status",
    "verb": "patch",
    "objectRef": {
        "resource": "pods",
        "namespace": "shop",
        "name": "debug",
        "subresource": "status",
    },
    "responseStatus": {"metadata": {}, "code": 200},
}
"""A kubelet's status patch: quiet, and dismissed by the prefilter."""
GET_POD = {
    **STATUS_PATCH,
    "verb": "get",
    "objectRef": {"resource": "pods", "namespace": "shop", "name": "debug"},
}
"""A read of a pod: quiet, dismissed unless its verb is written with an escape."""


@pytest.fixture(scope="module")
def slow(engine: ReferenceEngine) -> FastHunt:
    """The fast hunt without the prefilter: DuckDB reads every line."""
    return FastHunt(engine, native=False)


def outcome(items: list[Hit | BadLine]) -> list[tuple[int, str]]:
    return [
        (item.line, item.rule if isinstance(item, Hit) else f"bad: {item.reason}") for item in items
    ]


def hunted(hunt: Any, path: Path) -> tuple[list[tuple[int, str]], FileSummary]:
    summary = FileSummary(path.name)
    return outcome(list(hunt(path, summary=summary))), summary


def reference(engine: ReferenceEngine, path: Path) -> tuple[list[tuple[int, str]], FileSummary]:
    return hunted(lambda p, summary: hunt_file(engine, p, summary=summary), path)


def test_the_install_builds_the_extension_and_the_fast_hunt_uses_it(fast: FastHunt) -> None:
    assert prefilter.native_available()
    assert fast.prefilter is not None


def summed(summaries: list[FileSummary]) -> tuple[dict[str, int], int, int]:
    """What the summaries of several files count together: per source, not recognised,
    malformed (the places of the unrecognised records are each file's own)."""
    sources: dict[str, int] = {}
    for summary in summaries:
        for name, count in summary.sources.items():
            sources[name] = sources.get(name, 0) + count
    return (
        sources,
        sum(s.unrecognised for s in summaries),
        sum(s.malformed for s in summaries),
    )


@pytest.mark.parametrize("name", ["native", "DuckDB alone"])
def test_every_fixture_gives_the_reference_verdicts_and_summary_either_way(
    name: str, fast: FastHunt, slow: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    """The fixtures whose lines are events in one scan (a scan costs far more than a line, and
    both engines judge a line by itself alone: ``Together``), each file's verdicts read back
    from it; the fixtures whose events span lines each alone. The summary of the one scan is the
    reference's of the same log, and counts what the reference's of the files count together."""
    hunt = fast if name == "native" else slow
    assert (hunt.prefilter is not None) == (name == "native")
    grouped = [path for path in FIXTURES if grouper_of_file(path) is not None]
    lines = [path for path in FIXTURES if path not in grouped]
    assert grouped
    assert len(lines) > len(FIXTURES) / 2
    expected = {path: reference(engine, path) for path in FIXTURES}
    offenders = []
    together = Together(lines, tmp_path / "fixtures.jsonl")
    items, summary = hunted(hunt.hunt_file, together.log)
    got: dict[Path, list[tuple[int, str]]] = {path: [] for path in lines}
    for line, verdict in items:
        path, number = together.place(line)
        got[path].append((number, verdict))
    for path in lines:
        if got[path] != expected[path][0]:
            offenders.append(f"{path} ({name}): {got[path]} != reference {expected[path][0]}")
    whole = reference(engine, together.log)[1]
    if summary != whole:
        offenders.append(f"{together.log} of {len(lines)} fixtures ({name}): {summary} != {whole}")
    files = summed([expected[path][1] for path in lines])
    if summed([summary]) != files:
        offenders.append(f"{together.log} ({name}): counts {summed([summary])} != files' {files}")
    for path in grouped:
        got_alone = hunted(hunt.hunt_file, path)
        if got_alone != expected[path]:
            offenders.append(f"{path} ({name}): {got_alone} != reference {expected[path]}")
    assert not offenders, "\n".join(offenders)


def dismissed(fast: FastHunt, lines: list[str]) -> list[bool]:
    """Whether the prefilter dismisses each line (alone in its chunk): sets it aside as an event
    no rule fires on."""
    assert fast.prefilter is not None
    out = []
    for line in lines:
        kept, _, count, gone, judged, _, _, _, _ = fast.prefilter.native.scan(
            line.encode("utf-8") + b"\n"
        )
        assert count == 1
        assert (sum(gone) == 1) == (kept == b"")
        out.append(sum(gone) == 1 and not judged)
    return out


def reference_quiet(engine: ReferenceEngine, line: str, envelope: str = "") -> bool:
    """The reference reads the line as a Kubernetes audit event (carried by the ``envelope``,
    eks or aks) on which no rule fires."""
    event = read_line(line)
    if not isinstance(event, dict):
        return False
    source = recognize(event)
    name = "kubernetes_audit" + (f"_{envelope}" if envelope else "")
    return source is not None and source.name == name and not engine.match(event, source)


def compact(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def test_the_status_patch_is_dismissed_and_the_pod_creation_is_not(fast: FastHunt) -> None:
    lines = [compact(STATUS_PATCH), json.dumps(STATUS_PATCH), compact(POD), json.dumps(POD)]
    assert dismissed(fast, lines) == [True, True, False, False]


def _creation(edit: str) -> str:
    """POD written compactly, with one edit of its text (old -> new)."""
    old, new = edit.split(" -> ")
    text = compact(POD)
    assert old in text
    return text.replace(old, new, 1)


# Ways to write a line the rules fire on that a text test might miss: each must be passed on.
SPELLINGS = [
    '"verb":"create" -> "verb":"CREATE"',
    '"verb":"create" -> "verb":"\\u0063reate"',
    '"verb":"create" -> "v\\u0065rb":"create"',
    '"verb":"create" -> "verb" : "create"',
    '"resource":"pods" -> "resource":"pod\u017f"',
    '"resource":"pods" -> "resource":"Pods"',
    '"code":201 -> "code":"201"',
    '"code":201 -> "code":201.0',
    '"code":201 -> "code":2.01e2',
    '"code":201 -> "code":true',
    '"objectRef":{ -> "objectRef.subresource":null,"objectRef":{',
    '"verb":"create" -> "verb":"create","verb":"get"',
    '"verb":"create" -> "verb":["create"]',
    '"objectRef":{"resource":"pods" -> "objectRef":{"resource":"pods","resource":"x"',
]


@pytest.mark.parametrize("edit", SPELLINGS)
def test_every_spelling_of_a_firing_line_is_passed_on(
    edit: str, fast: FastHunt, engine: ReferenceEngine
) -> None:
    line = _creation(edit)
    assert dismissed(fast, [line]) == [False]


# Quiet lines the prefilter may not prove quiet: each is passed on, and judged there.
NOT_PROVEN = [
    # a JSON dialect DuckDB reads: the reference engine decides
    compact(STATUS_PATCH)[:-1] + ",}",
    " " + compact(STATUS_PATCH),
    compact(STATUS_PATCH).replace('"code":200', '"code":NaN'),
    # malformed
    compact(STATUS_PATCH)[:-1],
    compact(STATUS_PATCH).replace("shop", "sh\x01op"),
    # a dotted key the reference reads the field through
    compact(STATUS_PATCH).replace('"verb":', '"objectRef.subresource":"x","verb":'),
    # first keys of another source
    compact({"eventVersion": "1.08", **STATUS_PATCH}),
]


@pytest.mark.parametrize("line", NOT_PROVEN)
def test_lines_not_proven_quiet_are_passed_on(line: str, fast: FastHunt) -> None:
    assert dismissed(fast, [line]) == [False]


# Values of the fields the prefilter tests, and odd shapes around them
ODD_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [
            "create",
            "Create",
            "patch",
            "update",
            "get",
            "pods",
            "PODS",
            "deployments",
            "status",
            "ephemeralcontainers",
            "",
            "kube-system",
            "pod\u017f",
            "\u212aube-system",
            "c\u0307reate",
        ]
    ),
    st.sampled_from([None, 200, 201, 404, 201.0, "201", "200", True, [], {}, ["create"]]),
    st.text(max_size=8),
)
FIELDS = [
    ("verb",),
    ("objectRef", "resource"),
    ("objectRef", "subresource"),
    ("objectRef", "namespace"),
    ("responseStatus", "code"),
    ("objectRef",),
    ("responseStatus",),
    ("objectRef.resource",),
    ("objectRef.subresource",),
]


@st.composite
def audit_line(draw: st.DrawFn) -> str:
    event: dict[str, Any] = copy.deepcopy(draw(st.sampled_from([POD, STATUS_PATCH])))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        path = draw(st.sampled_from(FIELDS))
        node: Any = event
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = copy.deepcopy(draw(ODD_VALUES))  # ([] and {} are shared)
    style = draw(st.sampled_from(["compact", "spaced", "ascii", "slashes"]))
    if style == "spaced":
        return json.dumps(event, ensure_ascii=False)
    if style == "ascii":
        return json.dumps(event, separators=(",", ":"))
    if style == "slashes":
        return json.dumps(event, separators=(",", ":")).replace("/", "\\/")
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


@settings(
    max_examples=examples(500),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(audit_line(), min_size=1, max_size=20))
def test_a_line_the_prefilter_dismisses_is_quiet_for_the_reference(
    lines: list[str], fast: FastHunt, engine: ReferenceEngine
) -> None:
    for line, gone in zip(lines, dismissed(fast, lines), strict=True):
        if gone:
            assert reference_quiet(engine, line), line


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(audit_line(), min_size=5, max_size=40), chunk=st.integers(64, 4096))
def test_generated_files_cut_in_any_chunks_get_the_reference_verdicts(
    lines: list[str],
    chunk: int,
    fast: FastHunt,
    engine: ReferenceEngine,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prefilter_run, "CHUNK", chunk)
    monkeypatch.setattr(prefilter_run, "GIVE_UP", 1.0)
    log = tmp_path_factory.mktemp("chunks") / "audit.jsonl"
    log.write_text("\n".join(lines), encoding="utf-8")  # the last line has no line end
    assert hunted(fast.hunt_file, log) == reference(engine, log)


def test_blank_malformed_and_long_lines_keep_their_numbers_across_chunks(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prefilter_run, "CHUNK", 300)
    monkeypatch.setattr(prefilter_run, "GIVE_UP", 1.0)
    quiet, firing = compact(STATUS_PATCH), compact(POD)
    lines = [quiet, "", firing, " \t", quiet, "{not json", quiet * 1, "\x0b", firing, quiet]
    log = tmp_path / "audit.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = reference(engine, log)
    assert [line for line, _ in expected[0] if _.startswith("bad")] == [6]
    assert {line for line, _ in expected[0]} == {3, 6, 9}
    assert hunted(fast.hunt_file, log) == expected


def test_crlf_line_ends_are_whitespace_after_the_object(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    lines = [compact(STATUS_PATCH), compact(POD), compact(STATUS_PATCH) + " \t"]
    assert dismissed(fast, [line + "\r" for line in lines]) == [True, False, True]
    log = tmp_path / "windows.jsonl"
    log.write_bytes("".join(line + "\r\n" for line in lines).encode())
    got = hunted(fast.hunt_file, log)
    assert got == reference(engine, log)
    assert {line for line, _ in got[0]} == {2}


def test_a_gzip_file_is_prefiltered_as_its_lines(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    lines = [compact(STATUS_PATCH)] * 50 + [compact(POD)] + [compact(STATUS_PATCH)] * 50
    log = tmp_path / "audit.jsonl.gz"
    log.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    got = hunted(fast.hunt_file, log)
    assert got == reference(engine, log)
    assert {line for line, _ in got[0]} == {51}
    assert got[1].sources["kubernetes_audit"] == 101


def eks(event: dict[str, Any], **outer: Any) -> str:
    record = {"timestamp": 1795766400000, "message": compact(event)}
    return json.dumps({**record, "logStreamName": "kube-apiserver-audit-1", **outer})


def aks(event: dict[str, Any], **outer: Any) -> str:
    record = {"category": "kube-audit", "properties": {"log": compact(event), "pod": "p"}}
    return json.dumps({**record, **outer})


def test_eks_and_aks_records_are_dismissed_as_their_own_source(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    lines = [eks(STATUS_PATCH)] * 3 + [eks(POD)] + [aks(STATUS_PATCH)] * 2 + [aks(POD)]
    log = tmp_path / "managed.jsonl"
    log.write_text("\n".join(lines) + "\n")
    assert dismissed(fast, lines) == [True] * 3 + [False] + [True] * 2 + [False]
    got = hunted(fast.hunt_file, log)
    assert got == reference(engine, log)
    assert {line for line, _ in got[0]} == {4, 7}
    assert got[1].sources == {"kubernetes_audit_eks": 4, "kubernetes_audit_aks": 3}


# Envelopes the prefilter may not prove to be EKS or AKS records carrying a quiet event
ENVELOPES_NOT_PROVEN = [
    eks(STATUS_PATCH, logStreamName="other-stream"),
    eks(STATUS_PATCH, shipper="fluent-bit"),
    eks(STATUS_PATCH, kind="Event"),
    eks(STATUS_PATCH).replace('"timestamp": 1795766400000, ', ""),
    eks(STATUS_PATCH).replace('"message": "', '"message": "\\b'),
    eks(STATUS_PATCH).replace('"message": "', '"message": " '),
    eks(STATUS_PATCH).replace("status", "\\ud800"),
    eks(STATUS_PATCH).replace('}", "logStreamName"', ',\\"verb\\":\\"create\\"}", "logStreamName"'),
    # a verb spelled with an escape on a line whose verdicts hang on it (a read's do not: the
    # native judge proves a pod read quiet whatever its verb, tests/test_native_judge.py)
    eks(GET_POD)
    .replace('\\"verb\\":\\"get\\"', '\\"verb\\":\\"\\\\u0063reate\\"')
    .replace('\\"code\\":200', '\\"code\\":201'),
    aks(STATUS_PATCH, category="kube-apiserver"),
    aks(STATUS_PATCH, message="x"),
    aks(STATUS_PATCH).replace('"pod": "p"', '"log": "{}"'),
    aks(STATUS_PATCH).replace('"category": "kube-audit", ', '"category": "kube-audit", ' * 2),
]


@pytest.mark.parametrize("line", ENVELOPES_NOT_PROVEN)
def test_envelopes_not_proven_quiet_are_passed_on(
    line: str, fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    assert dismissed(fast, [line]) == [False]
    log = tmp_path / "odd.jsonl"
    log.write_text(line + "\n")
    assert hunted(fast.hunt_file, log) == reference(engine, log)


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(audit_line(), min_size=1, max_size=10), wrapper=st.sampled_from([eks, aks]))
def test_a_record_the_prefilter_dismisses_is_quiet_for_the_reference(
    lines: list[str], wrapper: Any, fast: FastHunt, engine: ReferenceEngine
) -> None:
    wrapped = [wrapper(json.loads(line)) for line in lines]
    for line, gone in zip(wrapped, dismissed(fast, wrapped), strict=True):
        if gone:
            assert reference_quiet(engine, line, wrapper.__name__), line


def test_a_file_of_another_source_is_left_to_the_scan_whole(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    assert fast.prefilter is not None
    cloudtrail = ROOT / "fixtures" / "aws_cloudtrail" / "malicious_creators.jsonl"
    log = tmp_path / "cloudtrail.jsonl"
    log.write_text(cloudtrail.read_text() * 3)
    assert prefilter_run.run(fast.prefilter, log, tmp_path, 1) is None
    assert hunted(fast.hunt_file, log) == reference(engine, log)
