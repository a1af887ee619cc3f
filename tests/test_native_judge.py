"""The native judge (``sigma_ext.hunt.fast.judge``): a line the extension judges itself gets
exactly the rules the reference engine fires on it, and a hunt with it gives the reference's
hits in line order."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_ext.cli.hunt import hunt_engine_or_report
from sigma_ext.content.corpus import Corpus
from sigma_ext.hunt.fast import prefilter, prefilter_run, running
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.reference import BadLine, BaseRuleHit, Hit, hunt_file
from sigma_ext.reference.correlation_engine import (
    BaseRuleFile,
    HuntEngine,
    carried,
    carried_strings,
)
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources.catalogue import recognize

from .conftest import ROOT, examples
from .test_cli import POD
from .test_prefilter import GET_POD, STATUS_PATCH, aks, eks, hunted, reference, reference_quiet

CONTROLLER_POD = {
    **POD,
    "user": {
        "username": "system:serviceaccount:kube-system:replicaset-controller",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system"],
    },
}
"""A pod a ReplicaSet's controller creates: the visibility rule alone fires on it."""


def judged(fast: FastHunt, line: str) -> list[int] | None:
    """The rules (indices in ``fast.rule_files``) the judge finds firing on the line alone in
    its chunk; None when it passes the line on."""
    assert fast.prefilter is not None
    kept, _, _, gone, at, bits, _, _, _ = fast.prefilter.native.scan(line.encode("utf-8") + b"\n")
    if kept:
        return None
    assert sum(gone) == 1
    if not at:
        return []
    (mask,) = memoryview(bits).cast("Q")
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def reference_rules(engine: ReferenceEngine, fast: FastHunt, line: str) -> list[int]:
    event = json.loads(line)
    source = recognize(event)
    assert source is not None
    fired = {id(rule_file) for rule_file in engine.match(event, source)}
    return [i for i, rule_file in enumerate(fast.rule_files) if id(rule_file) in fired]


def test_a_pod_a_controller_creates_is_judged_without_duckdb(
    fast: FastHunt, engine: ReferenceEngine
) -> None:
    line = json.dumps(CONTROLLER_POD, separators=(",", ":"))
    got = judged(fast, line)
    assert got, "the judge passed on a line every rule is known on"
    assert got == reference_rules(engine, fast, line)


@pytest.mark.parametrize(
    "image",
    ["nginx:1.27", "library/redis:7", "docker.io/library/busybox", "evil/backdoor:1", "NGINX"],
)
def test_a_docker_hub_image_is_judged_without_duckdb(
    image: str, fast: FastHunt, engine: ReferenceEngine
) -> None:
    """Docker Hub's implicit forms are approved by the profile's regular expressions, which the
    judge searches itself (``sigma_ext.hunt.fast.posix_regex``)."""
    event: dict[str, Any] = copy.deepcopy(POD)
    event["requestObject"]["spec"]["containers"][0]["image"] = image
    line = json.dumps(event, separators=(",", ":"))
    got = judged(fast, line)
    assert got is not None, "the judge passed on a line every rule is known on"
    assert got == reference_rules(engine, fast, line)


def test_a_long_image_is_left_to_the_scan_not_searched(
    fast: FastHunt, engine: ReferenceEngine
) -> None:
    """glibc's regexec costs some 40 ns a byte: a value past ``REGEX_LONGEST`` (512 bytes) is
    unknown to the judge (a 1 MB image cost 0.1 s a line), and its line goes on to the scan."""
    event: dict[str, Any] = copy.deepcopy(POD)
    for image in ("a" * 512, "a" * 513):
        # its only image: the approved registries' expressions alone decide the registry rule
        event["requestObject"]["spec"]["containers"] = [{"name": "app", "image": image}]
        line = json.dumps(event, separators=(",", ":"))
        got = judged(fast, line)
        if len(image) > 512:
            assert got is None, "a value past the bound was searched"
        else:
            assert got == reference_rules(engine, fast, line)


def test_a_read_is_judged_quiet_whatever_its_escaped_verb(
    fast: FastHunt, engine: ReferenceEngine
) -> None:
    """The verb, spelled with an escape, may be anything to the extension; no rule fires on a
    pod read with code 200 and no request object whatever it is (the image rule's approved
    registries hold vacuously), and the judge proves it."""
    line = eks(GET_POD).replace('\\"verb\\":\\"get\\"', '\\"verb\\":\\"\\\\u0067et\\"')
    assert "u0067et" in line
    assert judged(fast, line) == []
    assert reference_quiet(engine, line, "eks")


GROUPS: st.SearchStrategy[Any] = st.one_of(
    st.lists(
        st.sampled_from(
            [
                "system:authenticated",
                "system:unauthenticated",
                "SYSTEM:UNAUTHENTICATED",
                "system:serviceaccounts",
                "platform-admins",
                None,
                7,
                True,
                [],
                ["system:unauthenticated"],
                {},
                "system:\u0075nauthenticated",
                "syst\u00e9m:masters",
            ]
        ),
        max_size=4,
    ),
    st.sampled_from([None, "system:unauthenticated", 3, {}]),
)
USERS = st.sampled_from(
    [
        "system:anonymous",
        "System:Anonymous",
        "system:serviceaccount:kube-system:replicaset-controller",
        "system:serviceaccount:kube-system:job-controller",
        "system:node:ip-10-0-1-7",
        "gitlab-ci@corp.example",
        "breakglass-admin@corp.example",
        "",
        None,
        42,
    ]
)


@st.composite
def creation(draw: st.DrawFn) -> str:
    event: dict[str, Any] = copy.deepcopy(
        draw(st.sampled_from([POD, CONTROLLER_POD, STATUS_PATCH]))
    )
    user: dict[str, Any] = {}
    if draw(st.booleans()):
        user["username"] = draw(USERS)
    if draw(st.booleans()):
        user["groups"] = draw(GROUPS)
    empty_user = draw(st.booleans())
    if user or empty_user:
        event["user"] = user
    event["verb"] = draw(st.sampled_from(["create", "patch", "update", "delete", "CREATE"]))
    event["stage"] = draw(st.sampled_from(["ResponseComplete", "RequestReceived", "Panic"]))
    event["objectRef"]["resource"] = draw(
        st.sampled_from(["pods", "deployments", "jobs", "secrets", "Pods"])
    )
    event["objectRef"]["namespace"] = draw(st.sampled_from(["shop", "kube-system", "kube-public"]))
    event["requestURI"] = draw(
        st.sampled_from(["/api/v1/namespaces/shop/pods", "/api/v1/pods?dryRun=All&x=1"])
    )
    spaced = draw(st.booleans())
    return json.dumps(event, separators=(", ", ": ") if spaced else (",", ":"))


IMAGES: st.SearchStrategy[Any] = st.sampled_from(
    [
        "registry.corp.example/shop/app:1.4.2",
        "REGISTRY.CORP.EXAMPLE/shop/app:1",
        "registry.corp.example.evil.io/x:1",
        "evil.io/tools/backdoor:1",
        "nginx:1.27",
        "nginx",
        "NGINX:1",
        "library/redis:7",
        "library",
        "docker.io/nginx:1",
        "DOCKER.IO/library/redis",
        "index.docker.io/evil/x:1",
        "docker.io/evil/x",
        "evil/x:1",
        "my__app-x.y:v1.0_rc",
        "a..b",
        "ubuntu:",
        "nginx@sha256:" + "ab" * 32,
        "quay.io/argoproj/argocd:v2",
        "quay.io/other/x",
        "registry.corp.example/\u0073hop:1",
        "r\u00e9gistry.corp.example/x",
        None,
        7,
        True,
        [],
        ["evil.io/x"],
        {},
    ]
)
FLAGS: st.SearchStrategy[Any] = st.sampled_from(
    [True, False, "true", "TRUE", None, 1, 0, [], {}, [True]]
)
CAPABILITIES: st.SearchStrategy[Any] = st.one_of(
    st.lists(
        st.sampled_from(["SYS_ADMIN", "sys_admin", "NET_RAW", "CAP_BPF", None, 3, []]), max_size=3
    ),
    st.sampled_from([None, "SYS_ADMIN", {}]),
)


@st.composite
def container(draw: st.DrawFn) -> Any:
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(st.sampled_from([None, "app", 3, [], [{"image": "evil.io/x"}]]))
    made: dict[str, Any] = {"name": "c"}
    if draw(st.integers(0, 5)):
        made["image"] = draw(IMAGES)
    context: dict[str, Any] = {}
    if draw(st.booleans()):
        context["privileged"] = draw(FLAGS)
    if draw(st.booleans()):
        context["allowPrivilegeEscalation"] = draw(FLAGS)
    if draw(st.booleans()):
        context["capabilities"] = {"add": draw(CAPABILITIES)}
    empty_context = draw(st.booleans())
    if context or empty_context:
        made["securityContext"] = context
    return made


@st.composite
def workload(draw: st.DrawFn) -> str:
    """A pod or workload creation with containers in every shape the rules read."""
    event: dict[str, Any] = json.loads(draw(creation()))
    spec: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(["containers", "initContainers"]), max_size=2)):
        spec[key] = draw(st.one_of(st.lists(container(), max_size=3), container()))
    if draw(st.booleans()):
        spec["volumes"] = [
            {"name": "v", "hostPath": {"path": draw(st.sampled_from(["/", "/data"]))}}
        ]
    template = draw(st.booleans())
    if template:
        event["objectRef"]["resource"] = "deployments"
    event["requestObject"] = (
        {"kind": "Deployment", "spec": {"template": {"spec": spec}}}
        if template
        else {"kind": "Pod", "spec": spec}
    )
    return json.dumps(event, separators=(",", ":"))


@settings(
    max_examples=examples(400),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(line=workload())
def test_containers_the_judge_decides_get_the_reference_rules(
    line: str, fast: FastHunt, engine: ReferenceEngine
) -> None:
    got = judged(fast, line)
    if got is not None:
        assert got == reference_rules(engine, fast, line), line


@settings(
    max_examples=examples(400),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(line=creation())
def test_a_line_the_judge_decides_gets_the_reference_rules(
    line: str, fast: FastHunt, engine: ReferenceEngine
) -> None:
    got = judged(fast, line)
    if got is not None:
        assert got == reference_rules(engine, fast, line), line


@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(st.one_of(creation(), workload()), min_size=3, max_size=30))
def test_files_of_judged_and_passed_lines_get_the_reference_hits_in_order(
    lines: list[str],
    fast: FastHunt,
    engine: ReferenceEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    log: Path = tmp_path_factory.mktemp("judged") / "audit.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert hunted(fast.hunt_file, log) == reference(engine, log)


@pytest.fixture(scope="module")
def hunting(corpus: Corpus, engine: ReferenceEngine) -> HuntEngine:
    found = hunt_engine_or_report(corpus, engine)
    assert found is not None
    return found


@pytest.mark.parametrize("held", [False, True], ids=["codes-file", "held-codes"])
@pytest.mark.parametrize("native", [False, True])
def test_hits_after_the_first_batch_of_codes_survive_a_base_rule_hit(
    native: bool,
    held: bool,
    hunting: HuntEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A correlation base rule's hit reads its row's offset with a query of its own while the
    codes are still being fetched, a batch at a time: every later batch must still come."""
    monkeypatch.setattr(running, "_BATCH", 2)
    if not held:  # the codes go to a Parquet file and are read back a batch at a time
        monkeypatch.setattr(running, "SMALL_SCAN", 0)
    fast = FastHunt(hunting, native=native)
    person = json.dumps(POD, separators=(",", ":"))  # a base rule fires: its values are read
    controller = json.dumps(CONTROLLER_POD, separators=(",", ":"))
    log = tmp_path / "audit.jsonl"
    log.write_text("\n".join([person, *[controller] * 4, person, controller]) + "\n")
    got = hunted(fast.hunt_file, log)
    assert got == reference(hunting, log)
    assert max(line for line, _ in got[0]) == 7


# A condition as the judge takes it: a leaf "T" (a test that holds on the line), "F" (one that
# does not) or "U" (unknown), or (operation, parts)
KLEENE_LEAVES = st.sampled_from(["T", "F", "U"])
KLEENE: st.SearchStrategy[Any] = st.recursive(
    KLEENE_LEAVES,
    lambda parts: st.one_of(
        st.tuples(st.just("not"), st.lists(parts, min_size=1, max_size=1)),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(parts, min_size=1, max_size=5)),
    ),
    max_leaves=24,
)
_OPS = {"and": 2, "or": 3, "not": 4}


def kleene(condition: Any) -> bool | None:
    """The condition's value in three-valued logic (None: unknown), as the reference would
    judge a value the judge may not know."""
    if isinstance(condition, str):
        return {"T": True, "F": False, "U": None}[condition]
    op, parts = condition
    values = [kleene(part) for part in parts]
    if op == "not":
        return None if values[0] is None else not values[0]
    absorbing: bool = op == "or"
    if absorbing in values:
        return absorbing
    return None if None in values else not absorbing


def postfix(condition: Any) -> list[int]:
    """The condition as the extension's postfix (op, arg) pairs: test 0 holds on the line,
    test 1 does not, op 1 is unknown."""
    if isinstance(condition, str):
        return {"T": [0, 0], "F": [0, 1], "U": [1, 0]}[condition]
    op, parts = condition
    return [n for part in parts for n in postfix(part)] + [_OPS[op], len(parts)]


@settings(max_examples=examples(500), deadline=None)
@given(condition=KLEENE)
def test_the_judge_evaluates_a_condition_in_kleene_logic(condition: Any) -> None:
    """A rule's program is known exactly when its known tests decide it, whatever the unknown
    ones hold (an AND with a false part, an OR with a true one, at any depth): then the line is
    judged with the rule's verdict, else it is passed on."""
    native = prefilter._load()
    if native is None:
        pytest.skip("the extension is not built")
    glob_x = [(prefilter.GLOB, 0, b"x")]
    made = native(
        [(-1, b"", False), (0, b"a", True), (0, b"b", True)],
        [[(1, glob_x)]],  # the necessary condition: a is "x"
        [],
        [],
        [],
        [(0, False, postfix(condition), [(1, glob_x), (2, glob_x)], [0], [])],
    )
    kept, _, _, gone, at, bits, _, _, _ = made.scan(b'{"a":"x","b":"y"}\n')
    verdict = kleene(condition)
    if verdict is None:
        assert kept, condition
        assert not sum(gone)
    else:
        assert not kept, condition
        assert sum(gone) == 1
        assert bool(at) is verdict
        assert bytes(bits) == ((1).to_bytes(8, "little") if verdict else b"")


def _person_pod(**changes: Any) -> dict[str, Any]:
    """A person's pod creation (the correlations' base rules fire on it), changed at dotted
    paths (None: the key left out; ``...``: null)."""
    event: dict[str, Any] = copy.deepcopy(POD)
    for name, value in changes.items():
        *parents, key = name.split("__")
        at = event
        for parent in parents:
            at = at[parent]
        if value is None:
            del at[key]
        else:
            at[key] = None if value is ... else value
    return event


CARRIED_LINES = [
    # (the line, whether the extension hands back its time and group-by values itself)
    (json.dumps(_person_pod()), True),
    (json.dumps(_person_pod(stageTimestamp=...)), True),
    (json.dumps(_person_pod(stageTimestamp=None)), True),
    (json.dumps(_person_pod(objectRef__namespace="")), True),
    (json.dumps(_person_pod(stageTimestamp="2026-11-20T09:14:03.5\u00b5Z")), False),
    (
        json.dumps(_person_pod()).replace('"2026-11-20T09:14:03.5', '"\\u0032026-11-20T09:14:03.5'),
        False,
    ),
    (json.dumps(_person_pod(stageTimestamp=1795766400)), False),
    (json.dumps(_person_pod(objectRef__name={"x": 1})), False),
    # an envelope's event: its values read in the carried string, as the line's own
    (eks(_person_pod()), True),
    (aks(_person_pod(stageTimestamp=...)), True),
    (aks(_person_pod(objectRef__namespace="")), True),
    (eks(_person_pod(stageTimestamp="2026-11-20T09:14:03.5\u00b5Z")), False),
    (eks(_person_pod(stageTimestamp=1795766400)), False),
    (aks(_person_pod()).replace("2026-11-20T09:14:03.5", "\\\\u0032026-11-20T09:14:03.5"), False),
]


def test_a_base_rule_hit_keeps_the_values_the_reference_reads(
    hunting: HuntEngine, tmp_path: Path
) -> None:
    """The time and group-by values a correlation base rule's hit keeps come from the extension
    when it read them exactly (strings with no escape, nulls, absent keys), else from the line's
    text; either way they are the reference's, hit for hit."""
    fast = FastHunt(hunting)
    assert fast.prefilter is not None
    assert fast.prefilter.value_fields
    log = tmp_path / "audit.jsonl"
    log.write_text("".join(line + "\n" for line, _ in CARRIED_LINES), encoding="utf-8")
    passed = prefilter_run.run(fast.prefilter, log, tmp_path, 1)
    assert passed is not None
    assert passed.values is not None
    assert passed.judged == len(CARRIED_LINES)
    exact = [document is not None for document in passed.values.documents()]
    assert exact == [handed for _, handed in CARRIED_LINES]
    got = list(fast.hunt_file(log))
    assert any(isinstance(hit, BaseRuleHit) and hit.time is not None for hit in got)
    assert got == list(hunt_file(hunting, log))


def test_a_repeated_time_key_leaves_the_line_to_the_scan(hunting: HuntEngine) -> None:
    """The first of a repeated key counts: the extension does not hand back a value it may
    read as another (the line is passed on)."""
    fast = FastHunt(hunting)
    line = json.dumps(_person_pod())[:-1] + ', "stageTimestamp": "2026-11-20T10:00:00Z"}'
    assert judged(fast, line) is None
    assert judged(fast, json.dumps(_person_pod())) is not None


@pytest.mark.parametrize("malformed", [False, True], ids=["all-judged", "a-line-passed-on"])
def test_chunks_judged_before_a_line_is_passed_on_are_handed_on_as_they_are_scanned(
    malformed: bool, hunting: HuntEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each chunk's judged lines are handed on as soon as it is scanned (their hits made while
    the next chunks are), until a chunk holds a line passed on: from there they wait for the
    scan of the lines passed on, to come at their place. Either way the hits, base rules' values
    included, are the reference's, in line order."""
    monkeypatch.setattr(prefilter_run, "CHUNK", 64)  # a line a chunk (each is longer)
    monkeypatch.setattr(prefilter_run, "GIVE_UP", 1.0)
    fast = FastHunt(hunting)
    assert fast.prefilter is not None
    lines = [line for line, _ in CARRIED_LINES[:8]]
    lines[5:5] = ["{not json" + " " * 100 if malformed else json.dumps(GET_POD)]
    log = tmp_path / "audit.jsonl"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    chunks = prefilter_run.scanning(fast.prefilter, log, tmp_path, 1)
    handed: list[int] = []
    while True:
        try:
            judged = next(chunks)
        except StopIteration as stop:
            passed = stop.value
            break
        handed.extend(judged.pairs[::2])
        assert [hit.line for hit in judged.hits(fast.rule_files, log)]  # every one fires
    assert passed is not None
    assert handed == ([1, 2, 3, 4, 5] if malformed else [1, 2, 3, 4, 5, 7, 8, 9])
    assert passed.lines == (1 if malformed else 0)
    assert passed.judged == 8
    got = list(fast.hunt_file(log))
    assert {item.line for item in got if isinstance(item, Hit)} == {1, 2, 3, 4, 5, 7, 8, 9}
    assert [item.line for item in got if isinstance(item, BadLine)] == ([6] if malformed else [])
    assert any(isinstance(hit, BaseRuleHit) and hit.time is not None for hit in got)
    assert got == list(hunt_file(hunting, log))
    assert hunted(fast.hunt_file, log) == reference(hunting, log)


TIMES = st.one_of(
    st.just("2026-11-20T09:14:03.518923Z"),
    st.just("2026-11-20T09:14:03Z"),
    st.just("2026-11-20T09:14:03.5+01:00"),
    st.just(""),
    st.text(alphabet="0123456789-:.TZ+", max_size=30),
)


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data())
def test_values_handed_back_give_the_hits_the_document_gives(
    data: st.DataObject, hunting: HuntEngine
) -> None:
    """A base rule's hit made from the strings the extension hands back
    (``carried_strings``) keeps the time and group the native document holding those strings
    gives (``carried``): empty strings, absent fields and unreadable times alike."""
    fast = FastHunt(hunting)
    assert fast.prefilter is not None
    fields = fast.prefilter.value_fields
    assert "stageTimestamp" in fields
    strings = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                name: TIMES if name == "stageTimestamp" else st.sampled_from(["", "a", "x.y"])
                for name in fields
            },
        )
    )
    document: dict[str, Any] = {}
    for name, value in strings.items():
        *parents, key = name.split(".")
        at = document
        for parent in parents:
            at = at.setdefault(parent, {})
        at[key] = value
    source = recognize(json.loads(json.dumps(POD)))
    assert source is not None
    rules = [loaded.rule_file for loaded in hunting.rules_for(source)]
    assert any(isinstance(rule, BaseRuleFile) for rule in rules)
    assert carried_strings(rules, strings, source) == carried(rules, document, source)


def _cloudtrail_judged(fast: FastHunt, line: str) -> list[int] | None:
    """As ``judged``, by CloudTrail's prefilter (its rules' indices in ``fast.rule_files``)."""
    chosen = next(one for one in fast.prefilters if "aws_cloudtrail" in one.sources)
    kept, _, _, _, at, bits, _, _, _ = chosen.native.scan(line.encode("utf-8") + b"\n")
    if kept:
        return None
    if not at:
        return []
    (mask,) = memoryview(bits).cast("Q")
    return [chosen.first_rule + i for i in range(mask.bit_length()) if mask >> i & 1]


RUN_TASK = json.loads(
    next(
        line
        for path in sorted((ROOT / "fixtures" / "aws_cloudtrail").glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if '"eventName":"RunTask"' in line and '"errorCode"' not in line
    )
)
"""A RunTask call that succeeded, from the fixtures."""

# what an ECS response may list under a key the rules test with |exists or null: nothing, an
# empty list, elements with and without the key, null values, a null list
_ELEMENTS: st.SearchStrategy[Any] = st.sampled_from(
    [None, [], [{}], [{"reason": None}], [{"reason": "RESOURCE:MEMORY"}], [{}, {"reason": "AGENT"}]]
)
_TASKS: st.SearchStrategy[Any] = st.sampled_from(
    [None, [], [{}], [{"taskArn": None}], [{"taskArn": "arn:aws:ecs:eu-west-1:1:task/a/b"}]]
)


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(failures=_ELEMENTS, tasks=_TASKS, name=st.sampled_from(["RunTask", "StartTask"]))
def test_exists_and_null_on_fields_below_arrays_are_the_references(
    failures: Any, tasks: Any, name: str, fast: FastHunt, engine: ReferenceEngine
) -> None:
    """``|exists`` is judged as ``null`` negated (``judge.exact_program``): a placement that
    failed (failures listed with a reason, no task) is quiet for the visibility rules, as the
    reference says, and every other shape gets the reference's rules."""
    event = copy.deepcopy(RUN_TASK)
    event["eventName"] = name
    response: dict[str, Any] = {}
    if failures is not None:
        response["failures"] = failures
    if tasks is not None:
        response["tasks"] = tasks
    event["responseElements"] = response
    line = json.dumps(event, separators=(",", ":"))
    got = _cloudtrail_judged(fast, line)
    assert got is not None, line  # (every shape here is one the judge reads)
    assert got == reference_rules(engine, fast, line), line
