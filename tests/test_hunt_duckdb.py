"""The fast hunt gives the reference engine's verdicts, rule by rule, line by line."""

from __future__ import annotations

import bisect
import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.fast.running import coded_rows, run_with_progress
from sigma_ext.hunt.reference import BadLine, Hit, grouper_of_file, hunt_file
from sigma_ext.reference.engine import ReferenceEngine

from .conftest import ROOT, examples

FIXTURES = sorted(p for p in (ROOT / "fixtures").rglob("*") if p.suffix in (".jsonl", ".log"))


def outcome(items: list[Hit | BadLine]) -> list[tuple[int, str]]:
    return [
        (item.line, item.rule if isinstance(item, Hit) else f"bad: {item.reason}") for item in items
    ]


class Together:
    """Files' lines one after another in one log, each file ending with a line end, to be
    scanned once: a scan costs DuckDB far more than a line does, and both engines judge a line
    by itself alone (neither the lines around it nor its file count; files whose events span
    lines are left to the reference engine whole, and are never put together)."""

    def __init__(self, paths: list[Path], log: Path) -> None:
        self.paths = paths
        self.log = log
        self.starts: list[int] = []  # lines before each file
        with log.open("wb") as out:
            before = 0
            for path in paths:
                data = path.read_bytes()
                assert not data.startswith(b"\x1f\x8b"), f"{path}: gzip is scanned alone"
                if data and not data.endswith(b"\n"):
                    data += b"\n"
                self.starts.append(before)
                out.write(data)
                before += data.count(b"\n")
        assert grouper_of_file(log) is None

    def place(self, line: int) -> tuple[Path, int]:
        """The file a line of the log comes from, and its number there."""
        index = bisect.bisect_left(self.starts, line) - 1  # an empty file holds no line
        return self.paths[index], line - self.starts[index]


def hunt_together(
    fast: FastHunt, paths: list[Path], log: Path
) -> dict[Path, list[tuple[int, str]]]:
    """The fast hunt's outcome on each file, from one scan of them all (``Together``)."""
    together = Together(paths, log)
    got: dict[Path, list[tuple[int, str]]] = {path: [] for path in paths}
    for line, verdict in outcome(list(fast.hunt_file(log))):
        path, number = together.place(line)
        got[path].append((number, verdict))
    return got


def test_every_fixture_gives_the_reference_verdicts(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    # the fixtures whose lines are events, in one scan; those whose events span lines each alone
    grouped = [path for path in FIXTURES if grouper_of_file(path) is not None]
    together = hunt_together(
        fast, [path for path in FIXTURES if path not in grouped], tmp_path / "fixtures.jsonl"
    )
    alone = {path: outcome(list(fast.hunt_file(path))) for path in grouped}
    offenders = []
    for path in FIXTURES:
        expected = outcome(list(hunt_file(engine, path)))
        got = together[path] if path in together else alone[path]
        if got != expected:
            offenders.append(f"{path}: fast {got} != reference {expected}")
    assert FIXTURES
    assert grouped
    assert len(together) > len(FIXTURES) / 2
    assert not offenders, "\n".join(offenders)


def _fixture_events() -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in FIXTURES
        if path.suffix == ".jsonl"
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


BASE = _fixture_events()
# events as the API server writes them (kind and apiVersion first), which the SQL recognises;
# an event without them (a webhook batch item, a shipper's copy) is judged by the reference
TYPED = [e for e in BASE if e.get("kind") == "Event"]
ODD_TEXT = st.sampled_from(
    [
        "create",
        "CREATE",
        "Create",
        "patch",
        "pods",
        "PODS",
        "deployments",
        "ResponseComplete",
        "system:anonymous",
        "system:unauthenticated",
        "system:node:ip-10-0-1-23",
        "system:serviceaccount:argocd:argocd-application-controller",
        "breakglass-admin@corp.example",
        "oidc:platform-admins",
        "/api/v1/pods?dryRun=All",
        "dryrun=all",
        "201",
        "200",
        " 201",
        "2_01",
        "201.0",
        "2e2",
        "nan",
        "Infinity",
        "[x",
        "{x",
        "straße",
        "STRASSE",
        "\u212a",
        "\u017fystem:anonymous",
        "Re\u017fponseComplete",
        "\ufb06atefulsets",
        "pod\u017f",
        "café",
        'quo"te',
        "back\\slash",
        "per%cent_under",
        "wild*card?",
        "line\nbreak",
        "tab\there",
        "",
        "nginx",
        "nginx:1.27",
        "library/nginx",
        "docker.io/nginx",
        "Nginx",
        "registry.corp.example/a:1",
        "REGISTRY.corp.example/a",
        "registry.corp.example:5000/a",
        "registry.corp.example.evil.io/x",
        "evil.io/registry.corp.example/x",
        "quay.io/argoproj/argocd:v2",
        "quay.io/argoproj-evil/x",
        "localhost/miner",
        "attacker/miner",
        "index.docker.io/library/redis:7",
    ]
)
SCALAR = st.one_of(
    ODD_TEXT,
    st.text(max_size=6),
    st.integers(min_value=-5, max_value=300),
    st.sampled_from([201, 200, 201.0, 1e400, True, False, None]),
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["image", "kind", "x"]), inner)
    ),
    max_leaves=4,
)
PATHS = [
    ("verb",),
    ("stage",),
    ("requestURI",),
    ("responseStatus", "code"),
    ("responseStatus",),
    ("objectRef", "resource"),
    ("objectRef", "subresource"),
    ("objectRef",),
    ("user", "username"),
    ("user", "groups"),
    ("user",),
    ("requestObject", "metadata", "ownerReferences"),
    ("requestObject", "spec", "containers"),
    ("requestObject", "spec", "template", "spec", "containers"),
    ("requestObject", "spec", "initContainers"),
    ("requestObject", "spec"),
    ("objectRef.resource",),
    ("requestObject", "spec.containers"),
    ("user.username",),
]


@st.composite
def mutated_event(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(BASE)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path = draw(st.sampled_from(PATHS))
        node: Any = event
        for key in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(key, {})
        if not isinstance(node, dict):
            continue
        if draw(st.booleans()) and path[-1] in ("containers", "initContainers"):
            images = draw(st.lists(ODD_TEXT, min_size=0, max_size=3))
            node[path[-1]] = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
        elif draw(st.integers(min_value=0, max_value=5)) == 0:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = draw(VALUE)
    return event


# Each example is one log of many events, hunted in one scan: a scan costs DuckDB far more than
# a line does, so few long logs check as many events as many short ones, for far less.
GENERATED = settings(
    max_examples=examples(4),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# How a line may be written: Python's default, the API server's compact form with Go's escapes
# of & < >, escaped slashes, and non-ASCII text unescaped.
STYLES = {
    "python": lambda e: json.dumps(e),
    "go": lambda e: (
        json.dumps(e, separators=(",", ":"), ensure_ascii=False)
        .replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
    ),
    "slashes": lambda e: json.dumps(e, separators=(",", ":")).replace("/", "\\/"),
    "utf-8": lambda e: json.dumps(e, separators=(", ", ": "), ensure_ascii=False),
}


def _generated_log(
    tmp_path: Path, events: list[dict[str, Any]], styles: list[str] | None = None
) -> Path:
    log = tmp_path / "generated.jsonl"
    chosen = styles or ["python"] * len(events)
    lines = [STYLES[style](e) + "\n" for e, style in zip(events, chosen, strict=False)]
    log.write_text("".join(lines), encoding="utf-8")
    return log


# One style per line of a generated log (at most 180 events).
LINE_STYLES = st.lists(st.sampled_from(sorted(STYLES)), min_size=180, max_size=180)


def _assert_reference_verdicts(fast: FastHunt, engine: ReferenceEngine, log: Path) -> None:
    assert outcome(list(fast.hunt_file(log))) == outcome(list(hunt_file(engine, log)))


@GENERATED
@given(events=st.lists(mutated_event(), min_size=60, max_size=180), styles=LINE_STYLES)
def test_generated_events_get_the_reference_verdicts(
    events: list[dict[str, Any]],
    styles: list[str],
    fast: FastHunt,
    engine: ReferenceEngine,
    tmp_path: Path,
) -> None:
    _assert_reference_verdicts(fast, engine, _generated_log(tmp_path, events, styles))


# Values that keep the shape the typed scan reads (objects stay objects, arrays stay arrays;
# a scalar leaf may hold anything): such files must be judged by the typed scan itself.
LEAF_PATHS = [
    ("verb",),
    ("stage",),
    ("requestURI",),
    ("responseStatus", "code"),
    ("objectRef", "resource"),
    ("objectRef", "subresource"),
    ("user", "username"),
    ("objectRef.resource",),
    ("user.username",),
    ("requestObject", "spec", "containers"),
    ("requestObject", "metadata", "ownerReferences"),
    ("requestObject", "spec.containers"),
]


@st.composite
def shape_keeping_event(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(BASE)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path = draw(st.sampled_from([*LEAF_PATHS, ("user", "groups")]))
        node: Any = event
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        if not isinstance(node, dict):
            continue
        if path == ("user", "groups"):
            node["groups"] = draw(st.lists(VALUE, max_size=3))
        elif path[-1] == "containers" and draw(st.booleans()):
            images = draw(st.lists(ODD_TEXT, min_size=0, max_size=3))
            node[path[-1]] = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
        else:
            node[path[-1]] = draw(VALUE)
    return event


def _typed_codes(fast: FastHunt, log: Path, tmp_path: Path) -> dict[int, str] | None:
    """The typed scan's code of each line that has one, or None when DuckDB fails on it."""
    con = fast.connect()
    try:
        if fast._scan_typed(con, log, tmp_path / "codes.parquet", None) is None:
            return None
        return dict(coded_rows(con, tmp_path / "codes.parquet"))
    finally:
        con.close()


def _typed_scan_runs(fast: FastHunt, log: Path, tmp_path: Path) -> bool:
    return _typed_codes(fast, log, tmp_path) is not None


@GENERATED
@given(events=st.lists(shape_keeping_event(), min_size=60, max_size=180), styles=LINE_STYLES)
def test_the_typed_scan_gets_the_reference_verdicts(
    events: list[dict[str, Any]],
    styles: list[str],
    fast: FastHunt,
    engine: ReferenceEngine,
    tmp_path: Path,
) -> None:
    log = _generated_log(tmp_path, events, styles)
    assert _typed_scan_runs(fast, log, tmp_path), "typed scan failed"
    _assert_reference_verdicts(fast, engine, log)


def test_a_value_spelled_with_a_folding_character_is_never_dismissed_from_its_text(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    # RE2's (?i) does not match "ﬆ" to "st", as Python's case folding does
    events = []
    for event in BASE:
        if event.get("kind") != "Event" or not isinstance(event.get("objectRef"), dict):
            continue
        changed = copy.deepcopy(event)
        changed["objectRef"]["resource"] = "\ufb06atefulsets"
        events.append(changed)
    log = _generated_log(tmp_path, events, ["utf-8"] * len(events))
    assert _typed_scan_runs(fast, log, tmp_path)
    assert [i for i in hunt_file(engine, log) if isinstance(i, Hit)], "nothing fires"
    _assert_reference_verdicts(fast, engine, log)


def test_a_line_off_the_shape_is_judged_by_the_reference_engine_alone(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    log = tmp_path / "mixed.jsonl"
    created = next(e for e in TYPED if e.get("verb") == "create")
    odd = copy.deepcopy(created)
    odd["objectRef"] = [odd["objectRef"]]  # an array where the typed scan reads an object
    log.write_text(
        "".join(STYLES["go"](e) + "\n" for e in (created, odd, created)), encoding="utf-8"
    )
    assert _typed_scan_runs(fast, log, tmp_path)
    expected = outcome(list(hunt_file(engine, log)))
    assert outcome(list(fast.hunt_file(log))) == expected
    assert {line for line, _ in expected} >= {1, 3}


def test_the_whole_shape_is_looked_for_only_where_the_gate_lets_a_line_through(
    fast: FastHunt, tmp_path: Path
) -> None:
    created = next(e for e in TYPED if e.get("verb") == "create")
    # the text tests keep a status patch (its verb and resource are in the rules), the gate not
    status = {**copy.deepcopy(created), "verb": "patch", "stage": "ResponseComplete"}
    status["objectRef"] = {**created["objectRef"], "resource": "pods", "subresource": "status"}
    odd_spec = {"containers": {"image": "attacker/miner"}}  # an object where an array is read
    lines = [
        {**copy.deepcopy(created), "objectRef": [created["objectRef"]]},  # a field the gate reads
        {**status, "requestObject": {"spec": odd_spec}},  # the gate: no rule can fire
        {**copy.deepcopy(created), "requestObject": {"spec": odd_spec}},  # the gate: one may
    ]
    log = tmp_path / "shapes.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in lines))
    assert _typed_codes(fast, log, tmp_path) == {1: "R", 3: "R"}


ODD_LINES = [
    "",
    "   ",
    "\t\r",
    "\x0b",
    "\x1c",
    "{not json",
    "[1, 2]",
    '"a string"',
    "null",
    "42",
    '{"kind": "Event"}',
    "{}",
    "containerd: some text log line",
]


def test_bad_lines_blank_lines_and_json_dialects_agree(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    pod = json.dumps(BASE[0])
    creation = next(e for e in TYPED if e.get("verb") == "create")
    text = json.dumps(creation)
    lines = [pod, *ODD_LINES, text]
    lines += [
        text[:-1] + ",}",  # trailing comma
        "\x0c" + text + "\x0b",  # DuckDB's extra whitespace
        text.replace('"create"', "NaN", 1),
        text.replace('"verb": "create"', '"verb": "get", "verb": "create"'),  # first key wins
        text.replace('"verb": "create"', '"verb": "create", "verb": "get"'),
        "\ufeff" + text,
        text[: len(text) // 2],  # truncated, as log rotation leaves it
        text,
    ]
    log = tmp_path / "mixed.jsonl"
    log.write_bytes(("\n".join(lines) + "\n\n").encode() + b'{"kind":"Event","bad":"\xff"}')
    expected = outcome(list(hunt_file(engine, log)))
    assert any(reason.startswith("bad:") for _, reason in expected)
    assert outcome(list(fast.hunt_file(log))) == expected


def test_lines_duckdb_cannot_decode_are_judged_by_the_reference_engine(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    creation = json.dumps(next(e for e in TYPED if e.get("verb") == "create")).encode()
    log = tmp_path / "audit.jsonl"
    # bytes that are not UTF-8, and an escaped lone surrogate
    odd = (
        b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"\\udcf3"}\n'
        + b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","objectRef":["\xf3\xa0"]}'
    )
    log.write_bytes(creation + b"\n" + odd + b"\n" + creation + b"\n")
    assert _typed_scan_runs(fast, log, tmp_path)
    assert outcome(list(fast.hunt_file(log))) == outcome(list(hunt_file(engine, log)))


def test_gzip_and_lines_after_blank_lines_keep_their_numbers(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path
) -> None:
    creation = json.dumps(next(e for e in TYPED if e.get("verb") == "create"))
    log = tmp_path / "audit.log"  # gzip by content, not by name
    with gzip.open(log, "wt") as handle:
        handle.write(f"{creation}\n\n  \n{creation}\n\n{creation}")
    expected = outcome(list(hunt_file(engine, log)))
    assert {line for line, _ in expected} == {1, 4, 6}
    assert outcome(list(fast.hunt_file(log))) == expected


def test_progress_rises_while_a_long_scan_runs(fast: FastHunt, tmp_path: Path) -> None:
    # DuckDB reports no progress unless its progress bar is on: query_progress() stays at -1
    con = fast.connect()
    seen: list[tuple[str, float]] = []
    slow = (
        "COPY (SELECT regexp_matches(i::VARCHAR, '9[0-9]*7') AS m FROM range(6000000) t(i)) "
        f"TO '{tmp_path / 'out.parquet'}' (FORMAT parquet)"
    )
    try:
        run_with_progress(con, slow, lambda *report: seen.append(report), every=0.002)
    finally:
        con.close()
    assert seen[-1] == ("scan", 100.0)
    assert {phase for phase, _ in seen} == {"scan"}
    assert any(0.0 < value < 100.0 for _, value in seen), seen


def test_a_hunt_with_progress_gives_the_same_hits_and_ends_at_100(
    fast: FastHunt, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    creation = json.dumps(next(e for e in TYPED if e.get("verb") == "create"))
    log.write_text(f"{creation}\n" * 30)
    seen: list[tuple[str, float]] = []
    with_progress = list(fast.hunt_file(log, lambda *report: seen.append(report)))
    assert with_progress
    assert outcome(with_progress) == outcome(list(fast.hunt_file(log)))
    assert seen[-1] == ("scan", 100.0)  # every line judged in SQL: no judge phase
    # DuckDB's own bar never reaches stdout, which carries the hits
    assert capsys.readouterr().out == ""


def test_lines_left_to_the_reference_engine_have_a_judge_phase_of_their_own(
    fast: FastHunt, engine: ReferenceEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Azure has no SQL: after the scan, every one of its lines is judged one by one, which
    # takes far longer than the scan, so the bar must not sit at 100% meanwhile
    monkeypatch.setattr("sigma_ext.hunt.fast.running.PROGRESS_LINES", 10)
    azure = ROOT / "fixtures" / "azure_activitylogs" / "malicious_creators.jsonl"
    events = [line for line in azure.read_text().splitlines() if line.strip()]
    audit = json.dumps(next(e for e in TYPED if e.get("verb") == "create"))
    log = tmp_path / "mixed.jsonl"
    log.write_text("".join(f"{events[i % len(events)]}\n{audit}\n" for i in range(45)))
    seen: list[tuple[str, float]] = []
    with_progress = list(fast.hunt_file(log, lambda *report: seen.append(report)))
    assert outcome(with_progress) == outcome(list(hunt_file(engine, log)))
    phases = [phase for phase, _ in seen]
    scan_end = phases.index("judge") - 1
    assert seen[scan_end] == ("scan", 100.0)
    assert set(phases[scan_end + 1 :]) == {"judge"}
    judge = [value for phase, value in seen if phase == "judge"]
    assert judge == [100 * n / 45 for n in (10, 20, 30, 40)] + [100.0]
