"""Container runtime and kubelet log lines: every documented message shape, and the lines that
are none of them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_ext.sources import runtime_logs
from sigma_ext.sources.catalogue import parse_text_line, recognize, source_named
from sigma_ext.sources.runtime_logs import decode_runtime_event, parse_runtime_line

from .conftest import examples

JOURNAL = "Nov 23 03:20:01 ip-10-0-1-23 {process}[812]: "
SANDBOX = "4c" * 32


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            JOURNAL.format(process="containerd")
            + 'time="2026-11-23T03:20:01.1Z" level=info msg="PullImage \\"evil.io/x:1\\""',
            {"runtime": "containerd", "action": "pull", "image": "evil.io/x:1"},
        ),
        (  # containerd's own file, no journal prefix
            'time="2026-11-23T03:20:01.1Z" level=info msg="PullImage \\"nginx:1.27\\""',
            {"runtime": "containerd", "action": "pull", "image": "nginx:1.27"},
        ),
        (
            JOURNAL.format(process="containerd")
            + 'time="t" level=info msg="PullImage \\"a/b:1\\" returns image reference \\"sha256:00\\""',
            {"runtime": "containerd", "action": None},
        ),
        (
            JOURNAL.format(process="containerd")
            + 'time="t" level=info msg="Pulled image \\"a/b:1\\" with image id \\"sha256:0\\""',
            {"action": "pulled", "image": "a/b:1"},
        ),
        (
            JOURNAL.format(process="containerd")
            + 'time="t" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:web-0,'
            'Uid:1f0e,Namespace:shop,Attempt:0,}"',
            {"action": "sandbox", "pod": "web-0", "namespace": "shop"},
        ),
        (
            JOURNAL.format(process="containerd")
            + f'time="t" level=info msg="CreateContainer within sandbox \\"{SANDBOX}\\" '
            'for container &ContainerMetadata{Name:api,Attempt:0,}"',
            {"action": "create", "container": "api"},
        ),
        (
            JOURNAL.format(process="containerd")
            + f'time="t" level=info msg="CreateContainer within sandbox \\"{SANDBOX}\\" '
            'for &ContainerMetadata{Name:api,Attempt:0,} returns container id \\"ab\\""',
            {"action": None},
        ),
        (
            JOURNAL.format(process="crio")
            + 'time="2026-11-23 03:21:10.2Z" level=info msg="Pulling image: quay.io/a/b:1" '
            "id=2f0c name=/runtime.v1.ImageService/PullImage",
            {"runtime": "crio", "action": "pull", "image": "quay.io/a/b:1"},
        ),
        (
            'time="2026-11-23 03:21:14.8Z" level=info msg="Creating container: '
            'argocd/repo-server-6c8d/repo-server" id=9 name=/runtime.v1.RuntimeService/Create',
            {
                "runtime": "crio",
                "action": "create",
                "namespace": "argocd",
                "pod": "repo-server-6c8d",
            },
        ),
        (
            JOURNAL.format(process="crio")
            + 'time="t" level=info msg="Running pod sandbox: shop/web-0/POD" id=1',
            {"action": "sandbox", "namespace": "shop", "pod": "web-0"},
        ),
        (
            JOURNAL.format(process="kubelet")
            + 'I1123 03:20:00.912387    1120 kubelet.go:2421] "SyncLoop ADD" source="api" '
            'pods=["shop/api-7d9c6b5f4-x2kqp"]',
            {"runtime": "kubelet", "action": "pod_add", "namespace": "shop", "pod_source": "api"},
        ),
        (  # a static pod: the kubelet read it from its manifest directory
            JOURNAL.format(process="kubelet")
            + 'I1123 04:05:40.118277     988 kubelet.go:2421] "SyncLoop ADD" source="file" '
            'pods=["kube-system/etcd-cp-1","kube-system/kube-apiserver-cp-1"]',
            {
                "action": "pod_add",
                "pod_source": "file",
                "namespace": "kube-system",
                "pod": "etcd-cp-1",
            },
        ),
        (
            JOURNAL.format(process="kubelet")
            + 'W1123 03:20:05.001122    1120 reflector.go:561] "failed to list" err="timeout"',
            {"runtime": "kubelet", "level": "warning", "action": None},
        ),
        (  # a quote escaped inside msg stays part of the message
            'time="t" level=warning msg="bad \\"x\\" value" key=1',
            {"message": 'bad "x" value', "action": None},
        ),
    ],
)
def test_message_shapes(line: str, expected: dict[str, str | None]) -> None:
    event = parse_runtime_line(line)
    assert event is not None
    for key, value in expected.items():
        assert event.get(key) == value, key
    assert recognize(event) == source_named("container_runtime")
    body = line.split("]: ", 1)[1] if line.startswith("Nov") else line
    assert event["log"] == body


@pytest.mark.parametrize(
    "line",
    [
        "Nov 23 03:20:01 node-1 sshd[99]: Accepted publickey for ops",
        "Nov 23 03:20:01 node-1 kubelet[12]: plain text without klog header",
        'time="t" level=info',  # no msg
        "{not json",
        "",
    ],
)
def test_other_lines_are_not_runtime_lines(line: str) -> None:
    assert parse_runtime_line(line) is None
    assert parse_text_line(line) is None


PULL = 'containerd[812]: time="t" level=info msg="PullImage \\"evil.io/x:1\\""'


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param("Nov 23 03:20:01", id="traditional syslog"),
        pytest.param("Nov  3 03:20:01", id="traditional, a one-digit day"),
        pytest.param("Nov 23 03:20:01.086775", id="journalctl -o short-precise"),
        pytest.param(
            "2026-11-23T03:20:01.086775+00:00", id="rsyslog RFC 3339 (Debian 12 and later, Fedora)"
        ),
        pytest.param("2026-11-23T03:20:01.086775Z", id="RFC 3339 in UTC"),
        pytest.param("2026-11-23T03:20:01+0000", id="journalctl -o short-iso"),
        pytest.param("2026-11-23T03:20:01.086775-0500", id="journalctl -o short-iso-precise"),
    ],
)
def test_every_syslog_timestamp_keeps_the_host_and_reads_the_message(stamp: str) -> None:
    event = parse_runtime_line(f"{stamp} ip-10-0-1-23 {PULL}")
    assert event is not None
    assert (event["host"], event["action"], event["image"]) == (
        "ip-10-0-1-23",
        "pull",
        "evil.io/x:1",
    )
    assert event["log"] == PULL.split(": ", 1)[1]


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param("2026-11-23 03:20:01", id="a space for the T"),
        pytest.param("2026-11-23T03:20:01", id="no offset"),
        pytest.param("2026-11-23T03:20:01+0:00", id="a one-digit offset"),
        pytest.param("23 Nov 03:20:01", id="day before month"),
    ],
)
def test_a_prefix_with_another_timestamp_is_no_runtime_line(stamp: str) -> None:
    assert parse_runtime_line(f"{stamp} ip-10-0-1-23 {PULL}") is None


ENTRY = {
    "__CURSOR": "s=3c9d;i=bc78;b=5f0c;m=1cb2;t=660e;x=0517",
    "__REALTIME_TIMESTAMP": "1795404602086775",
    "_HOSTNAME": "ip-10-0-1-23",
    "SYSLOG_IDENTIFIER": "containerd",
    "_PID": "812",
    "_SYSTEMD_UNIT": "containerd.service",
    "MESSAGE": PULL.split(": ", 1)[1],
}


def test_a_journal_entry_is_the_event_of_its_syslog_line() -> None:
    """``journalctl -o json``: the event ``MESSAGE`` gives behind its identifier and host."""
    event = decode_runtime_event(ENTRY)
    assert event == parse_runtime_line(f"Nov 23 03:20:01 ip-10-0-1-23 {PULL}")
    assert recognize(ENTRY) == source_named("container_runtime")
    as_bytes = {**ENTRY, "MESSAGE": list(str(ENTRY["MESSAGE"]).encode())}  # not UTF-8 safe
    assert decode_runtime_event(as_bytes) == event


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"MESSAGE": None}, id="a message over 4,096 bytes left out (no --all)"),
        pytest.param({"SYSLOG_IDENTIFIER": "sshd"}, id="another program"),
        pytest.param({"SYSLOG_IDENTIFIER": None}, id="no identifier"),
        pytest.param({"__REALTIME_TIMESTAMP": None}, id="no journal timestamp"),
        pytest.param({"MESSAGE": "level=info plain text"}, id="a message of no known shape"),
        pytest.param({"MESSAGE": [300, 1]}, id="bytes out of range"),
    ],
)
def test_a_journal_entry_the_runtime_did_not_write_is_not_recognised(
    change: dict[str, object],
) -> None:
    entry = {k: v for k, v in {**ENTRY, **change}.items() if v is not None}
    assert recognize(entry) is None


@settings(max_examples=examples(300))
@given(
    message=st.lists(
        st.sampled_from(
            [
                "PullImage ",
                "Pulled image ",
                "Pulling image: ",
                '"',
                "evil.io/x:1",
                "Running pod sandbox: a/b/POD",
                "RunPodSandbox for &PodSandboxMetadata{Name:p,Uid:u,Namespace:n,",
                "Creating container: a/b/c",
                'CreateContainer within sandbox "0a" for container &ContainerMetadata{Name:c,',
                'StartContainer for "0a"',
                '"SyncLoop ADD" source="file" pods=["a/b"]',
                "S",
                "",
                " ",
            ]
        ),
        max_size=4,
    ).map("".join),
    runtime=st.sampled_from(["containerd", "crio", "kubelet"]),
)
def test_messages_tried_by_their_first_character_are_those_that_can_match(
    message: str, runtime: str
) -> None:
    # the parser tries only the messages whose pattern starts with the message's first
    # character: the first of them that matches is the first of all MESSAGES that does
    tried = runtime_logs._TRIED.get(message[:1], runtime_logs._ANY_START)
    first = next(
        (m for m in runtime_logs.MESSAGES if m.runtime == runtime and m.pattern.match(message)),
        None,
    )
    assert next((m for m in tried if m.runtime == runtime and m.pattern.match(message)), None) == (
        first
    )


@settings(max_examples=examples(300))
@given(text=st.text(alphabet=st.sampled_from('\\"n1g<0>é\t '), max_size=20))
def test_an_escape_stands_for_the_character_after_it(text: str) -> None:
    # the template reads its group as text: a backslash or group name in it stays
    assert runtime_logs._unquote(text) == re.sub(r"\\(.)", lambda found: found.group(1), text)
