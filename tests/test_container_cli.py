"""The container CLI grammar: which command lines create a container, which image they name, and
that the Splunk and Elastic searches carry exactly the expressions the native parser runs."""

from __future__ import annotations

import pytest

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import state_value
from sigma_ext.sources.catalogue import source_named
from sigma_ext.sources.container_cli import Creation, esql_grok, parse_command_line, splunk_rex
from sigma_ext.sources.process import parse_sysmon_line


@pytest.mark.parametrize(
    ("command_line", "expected"),
    [
        (
            "docker run --rm -e A=1 -v /a:/b --name n reg/img:tag cmd",
            Creation("docker", "run", "reg/img:tag"),
        ),
        ("docker run -e quay.io/x/y:1 nginx", Creation("docker", "run", "nginx")),
        ("docker run --env=quay.io/x/y:1 nginx", Creation("docker", "run", "nginx")),
        ("docker run -itp 8080:80 nginx", Creation("docker", "run", "nginx")),
        ("docker run -it -p8080:80 nginx", Creation("docker", "run", "nginx")),
        (
            "/usr/bin/docker --context prod -l debug container create --network host alpine",
            Creation("docker", "create", "alpine"),
        ),
        ("podman create --pod p -u 1000 quay.io/a/b", Creation("podman", "create", "quay.io/a/b")),
        ("nerdctl -n k8s.io run -d x/y", Creation("nerdctl", "run", "x/y")),
        (
            "ctr -n k8s.io run --rm --mount type=bind,src=/,dst=/h a/b:1 id",
            Creation("ctr", "run", "a/b:1"),
        ),
        ("ctr run --cap-add CAP_SYS_ADMIN -privileged a/b:1 id", Creation("ctr", "run", "a/b:1")),
        ("ctr containers create a/b:1 id", Creation("ctr", "create", "a/b:1")),
        (
            "kubectl -n prod run x --image=busybox --restart=Never",
            Creation("kubectl", "run", "busybox"),
        ),
        ("kubectl run x --image busybox", Creation("kubectl", "run", "busybox")),
        ("kubectl apply -f k8s/", Creation("kubectl", "apply", None)),
        ("crictl runp pod.json", Creation("crictl", "runp", None)),
        (
            "runc --root /r --log /l.json --log-format json create --bundle /b id",
            Creation("runc", "create", None),
        ),
        # not creations
        ("docker exec -it web sh", None),
        ("docker run --help", None),
        ("docker runner", None),
        ("dockerd -H fd://", None),
        ("kubectl get pods", None),
        ("runc --root /r --log /l.json exec --process /tmp/p --detach id", None),
        ("bash -c docker run nginx", None),
        (["docker", "run", "nginx"], None),
    ],
)
def test_parse_command_line(command_line: object, expected: Creation | None) -> None:
    found = parse_command_line(command_line)
    assert (found and (found.cli, found.action, found.image)) == (
        expected and (expected.cli, expected.action, expected.image)
    )


@pytest.mark.parametrize(
    ("command_line", "flags"),
    [
        # the section ends at the image: the image's own arguments are never in it
        ("docker run --rm --privileged alpine sh -c x", " --rm --privileged "),
        ("docker run alpine echo --privileged", " "),
        ("docker run -itv /:/host alpine", " -itv /:/host "),
        (
            "docker -H tcp://h:2376 container create --cap-add SYS_ADMIN a/b",
            " --cap-add SYS_ADMIN ",
        ),
        ("podman run -e A=1 --pid=host reg/x:1 --pid=host", " -e A=1 --pid=host "),
        # ctr: Go's flag package reads -mount as --mount; --cap-add takes a value
        (
            "ctr -n k8s.io run -mount type=bind,src=/,dst=/h --cap-add CAP_SYS_ADMIN a/b:1 id",
            " -mount type=bind,src=/,dst=/h --cap-add CAP_SYS_ADMIN ",
        ),
        # kubectl reads flags up to --, anywhere after the subcommand
        ("kubectl run x --image=a --privileged", " x --image=a --privileged"),
        ("kubectl run x --image=a -- sh -c --privileged", " x --image=a "),
        ("kubectl apply -f k8s/", " -f k8s/"),
        ("crictl runp pod.json", None),
    ],
)
def test_the_flag_section_is_what_the_subcommand_reads(command_line: str, flags: str) -> None:
    found = parse_command_line(command_line)
    assert found is not None
    assert found.flags == flags


def test_the_siem_searches_carry_the_parser_expressions(corpus: Corpus) -> None:
    """Regenerate the preludes with splunk_rex / esql_grok when this fails."""
    source = source_named("sysmon_linux")
    # the Splunk prelude is the pipeline's postprocessing embed, so plain sigma-cli writes it too
    (splunk,) = [
        item["prefix"]
        for item in corpus.mapping("splunk", source).data.get("postprocessing", [])
        if item.get("type") == "embed"
    ]
    elastic = state_value(corpus.mapping("elastic", source), "esql_prelude")
    assert splunk == 'sourcetype="sysmon:linux" | ' + splunk_rex("CommandLine") + " | search "
    assert elastic == esql_grok("process.command_line")


def test_sysmon_lines_are_read_and_others_left_alone() -> None:
    line = (
        'Dec  6 22:41:07 web-01 sysmon: <Event><System><Provider Name="Linux-Sysmon" Guid="{x}"/>'
        "<EventID>1</EventID><Computer>web-01</Computer></System><EventData>"
        '<Data Name="CommandLine">docker run -e &quot;A=&lt;b&gt;&quot; x/y</Data>'
        '<Data Name="User">www-data</Data><Data Name="Hashes"/></EventData></Event>'
    )
    event = parse_sysmon_line(line)
    assert event is not None
    assert event["EventID"] == "1"
    assert event["CommandLine"] == 'docker run -e "A=<b>" x/y'
    assert event["Hashes"] == ""
    assert event["host"] == "web-01"
    decoded = source_named("sysmon_linux").decode(event)
    assert (decoded["sx_cli"], decoded["sx_action"], decoded["sx_image"]) == (
        "docker",
        "run",
        "x/y",
    )
    assert decoded["sx_flags"] == ' -e "A=<b>" '
    other = line.replace("Linux-Sysmon", "Microsoft-Windows-Sysmon")
    assert parse_sysmon_line(other) is None
    assert parse_sysmon_line("Dec  6 22:41:07 web-01 sshd[1]: Accepted publickey") is None


def test_the_tetragon_searches_carry_the_parser_expressions_without_the_image(
    corpus: Corpus,
) -> None:
    """Tetragon's sx_image is the running container's image: its searches parse the binary and
    arguments, joined with a space, for the tool, subcommand and flags only."""
    source = source_named("tetragon")
    (splunk,) = [
        item["prefix"]
        for item in corpus.mapping("splunk", source).data.get("postprocessing", [])
        if item.get("type") == "embed"
    ]
    elastic = state_value(corpus.mapping("elastic", source), "esql_prelude")
    assert splunk.endswith(" | " + splunk_rex("sx_cmd", image=False) + " | search ")
    assert elastic is not None
    assert elastic.endswith(" | " + esql_grok("sx_cmd", image=False))
    assert "sx_image" not in splunk_rex("sx_cmd", image=False)
    assert "sx_image" not in esql_grok("sx_cmd", image=False)


def test_a_tetragon_exec_of_a_client_is_read_from_binary_and_arguments() -> None:
    event = {
        "process_exec": {
            "process": {
                "binary": "/usr/bin/docker",
                "arguments": "run --privileged registry.corp.example/x:1 sh",
                "pod": {"container": {"image": {"name": "registry.corp.example/ci:1"}}},
            }
        },
        "node_name": "n",
        "time": "2026-12-06T14:00:00Z",
    }
    decoded = source_named("tetragon").decode(event)
    assert (decoded["sx_cli"], decoded["sx_action"], decoded["sx_flags"]) == (
        "docker",
        "run",
        " --privileged ",
    )
    assert decoded["sx_image"] == ["registry.corp.example/ci:1"]


RISKY_CLI_RULES = (
    "sysmon_linux_risky_container_created_from_host_cli",
    "auditd_risky_container_created_from_host_cli",
    "tetragon_risky_container_created_from_host_cli",
)


def test_the_risky_cli_rules_read_the_same_flags_on_every_source(corpus: Corpus) -> None:
    """The three risky host-CLI rules are one list of flags written out per source: a spelling
    added to one and not the others would leave a hiding place on those sources. Only the
    selection of the process event and the allowlist (which Tetragon cannot apply) differ."""
    by_stem = {rule.path.stem: rule for rule in corpus.rules}
    detections = {}
    for stem in RISKY_CLI_RULES:
        detection = dict(by_stem[stem].data["detection"])
        detection.pop("selection_request")
        detection.pop("filter_main_allowed_host_containers", None)
        detections[stem] = detection
    first, *others = RISKY_CLI_RULES
    assert any(key.startswith("selection_flag_") for key in detections[first])
    for stem in others:
        assert detections[stem] == detections[first], stem
