"""auditd: records joined by serial in the reading layer, the event the rules read, and both
hunt engines over audit.log files of every shape."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import state_value
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.inputs import Line, open_inputs, read_units
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.sources import auditd
from sigma_ext.sources.auditd import (
    RECORD_SEPARATOR,
    decode_audit_event,
    group_records,
    parse_audit_text,
)
from sigma_ext.sources.catalogue import grouper_for, recognize, source_named
from sigma_ext.sources.container_cli import esql_grok, splunk_rex

from .conftest import ROOT
from .test_hunt_shapes import both

GS = "\x1d"


def syscall(stamp: str, auid: str = "1004", uid: str = "0", names: str = "") -> str:
    enriched = names or f'{GS}AUID="dev-bob" UID="root"'
    return (
        f"type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=59 success=yes exit=0 "
        f"a0=55d0c1e2a0b0 a1=55d0c1e2a1c0 a2=55d0c1e29f10 a3=8 items=2 ppid=1 pid=2 "
        f'auid={auid} uid={uid} tty=pts0 ses=3 comm="docker" exe="/usr/bin/docker" '
        f'key="cli"{enriched}'
    )


def hexed(text: str) -> str:
    return text.encode().hex().upper()


def execution(stamp: str, *args: str) -> list[str]:
    argv = " ".join(f"a{i}={value}" for i, value in enumerate(args))
    return [
        syscall(stamp),
        f"type=EXECVE msg=audit({stamp}): argc={len(args)} {argv}",
        f'type=CWD msg=audit({stamp}): cwd="/home/dev-bob"',
        f"type=PROCTITLE msg=audit({stamp}): proctitle={hexed(chr(0).join(['docker', 'run']))}",
        f"type=EOE msg=audit({stamp}): ",
    ]


def test_the_grammar_in_both_siem_searches_is_the_parser(corpus: Corpus) -> None:
    """Regenerate the preludes with splunk_rex / esql_grok when this fails."""
    source = source_named("auditd")
    (splunk,) = [
        item["prefix"]
        for item in corpus.mapping("splunk", source).data.get("postprocessing", [])
        if item.get("type") == "embed"
    ]
    elastic = state_value(corpus.mapping("elastic", source), "esql_prelude")
    assert splunk.endswith(" | " + splunk_rex("CommandLine") + " | search ")
    assert elastic is not None
    assert elastic.endswith(" | " + esql_grok("process.title"))


def test_an_execution_is_read_from_its_records() -> None:
    stamp = "1765100000.123:501"
    lines = execution(
        stamp, '"docker"', '"run"', '"-e"', hexed("MSG=a b"), '"--rm"', '"reg.example/x:1"'
    )
    (number, text), *rest = group_records(enumerate(lines, 1))
    assert (number, rest) == (1, [])
    event = parse_audit_text(text)
    assert event is not None
    assert event["records"] == ["SYSCALL", "EXECVE", "CWD", "PROCTITLE", "EOE"]
    assert event["type"] == "EXECVE"
    assert event["msg"] == f"audit({stamp})"
    # the SYSCALL record's a0..a3 are registers, not arguments
    assert event["argv"] == ["docker", "run", "-e", "MSG=a b", "--rm", "reg.example/x:1"]
    assert (event["a0"], event["a3"]) == ("docker", hexed("MSG=a b"))  # as written
    assert (event["auid"], event["AUID"], event["cwd"]) == ("1004", "dev-bob", "/home/dev-bob")
    assert event["proctitle"] == "docker run"
    decoded = decode_audit_event(event)
    assert recognize(event) == source_named("auditd")
    assert decoded["User"] == decoded["LoginUser"] == "dev-bob"  # the login user, not root
    assert decoded["CommandLine"] == "docker run -e MSG=a b --rm reg.example/x:1"
    # the argument holding a space stays one word for the grammar
    assert (decoded["sx_cli"], decoded["sx_action"], decoded["sx_image"]) == (
        "docker",
        "run",
        "reg.example/x:1",
    )


def test_a_split_argument_is_joined_across_records() -> None:
    stamp = "1765100000.200:502"
    long = "L=" + "y" * 50
    data = hexed(long)
    lines = [
        syscall(stamp),
        f'type=EXECVE msg=audit({stamp}): argc=5 a0="docker" a1="create" a2="--label" '
        f"a3_len={len(data)} a3[0]={data[:40]}",
        f"type=EXECVE msg=audit({stamp}): a3[1]={data[40:]}",
        f'type=EXECVE msg=audit({stamp}): a4="img:1"',
        f"type=EOE msg=audit({stamp}): ",
    ]
    [(_, text)] = list(group_records(enumerate(lines, 1)))
    event = decode_audit_event(parse_audit_text(text) or {})
    assert event["argv"] == ["docker", "create", "--label", long, "img:1"]
    assert event["sx_image"] == "img:1"


def test_a_service_without_login_user_is_its_process_user() -> None:
    stamp = "1765100000.300:503"
    record = syscall(stamp, auid="4294967295", uid="998", names=f'{GS}AUID="unset" UID="ci"')
    event = decode_audit_event(parse_audit_text(record) or {})
    assert event["User"] == "ci"
    assert "LoginUser" not in event
    plain = syscall(stamp, auid="4294967295", uid="998", names=" ")  # not enriched
    assert decode_audit_event(parse_audit_text(plain) or {})["User"] == "998"


def test_interleaved_events_and_other_lines() -> None:
    a = execution("1.000:1", '"docker"', '"ps"')
    b = execution("1.000:2", '"docker"', '"run"', '"x"')
    standalone = "type=USER_LOGIN msg=audit(1.000:3): pid=1 uid=0 auid=4294967295 msg='op=login'"
    lines = [a[0], b[0], standalone, "not an audit record", *b[1:], *a[1:]]
    grouped = list(group_records(enumerate(lines, 1)))
    # a record of a type without EOE and a foreign line leave at once; events when complete
    assert [n for n, _ in grouped] == [3, 4, 2, 1]
    assert grouped[0][1] == standalone
    assert grouped[1][1] == "not an audit record"
    assert grouped[2][1].split(RECORD_SEPARATOR) == [b[0], *b[1:]]
    assert grouped[3][1].split(RECORD_SEPARATOR) == [a[0], *a[1:]]


def test_same_serial_on_another_node_is_another_event() -> None:
    one = "node=n1 " + syscall("1.000:9")
    two = "node=n2 " + syscall("1.000:9")
    grouped = list(group_records(enumerate([one, two], 1)))
    assert [n for n, _ in grouped] == [1, 2]  # both left at the end of the file, apart
    assert parse_audit_text(grouped[0][1]) == {**(parse_audit_text(one) or {})}
    assert (parse_audit_text(grouped[1][1]) or {})["node"] == "n2"


def test_memory_is_bounded_by_the_open_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auditd, "MAX_OPEN", 2)
    lines = [syscall(f"1.000:{serial}") for serial in range(1, 6)]
    seen = []
    for number, _ in group_records(enumerate(lines, 1)):
        seen.append(number)
    # the oldest open event leaves when a third opens; the rest at the end of the file
    assert seen == [1, 2, 3, 4, 5]
    monkeypatch.setattr(auditd, "MAX_OPEN", 256)
    monkeypatch.setattr(auditd, "MAX_HELD", len(lines[0]) * 2)
    early = []
    stream = group_records(enumerate(lines, 1))
    early.append(next(stream)[0])  # leaves as soon as the third record exceeds the bytes held
    assert early == [1]


def test_a_file_is_grouped_by_its_first_line(tmp_path: Path) -> None:
    records = execution("1.000:7", '"docker"', '"run"', '"x"')
    assert grouper_for(records[0]) is group_records
    assert grouper_for(json.dumps({"kind": "Event"})) is None
    audit = tmp_path / "audit.log"
    audit.write_text("\n".join(records) + "\n")
    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_text('{"a": 1}\n' + "\n".join(records) + "\n")
    inputs, errors = open_inputs([str(audit), str(jsonl)], tmp_path)
    assert errors == []
    grouped = [u for u in read_units(inputs[0]) if isinstance(u, Line)]
    assert [u.number for u in grouped] == [1]
    kept = [u for u in read_units(inputs[1]) if isinstance(u, Line)]
    assert [u.number for u in kept] == [1, 2, 3, 4, 5, 6]  # a JSON file's lines stay lines


def test_both_engines_agree_on_audit_logs_of_every_shape(
    engine: ReferenceEngine, fast: FastHunt, tmp_path: Path
) -> None:
    fixtures = ROOT / "fixtures" / "auditd"
    malicious = (fixtures / "malicious_hosts.log").read_bytes()
    packed = tmp_path / "audit.log.1.gz"
    packed.write_bytes(gzip.compress(malicious))
    crlf = tmp_path / "crlf.log"
    crlf.write_bytes(malicious.replace(b"\n", b"\r\n"))
    names = [str(fixtures / "benign_hosts.log"), str(packed), str(crlf)]
    code, out, err = both(names, engine, fast, tmp_path)
    hits = [json.loads(line) for line in out.splitlines()]
    per_file = {name: sorted({h["line"] for h in hits if h["file"] == name}) for name in names}
    assert per_file[names[1]] == per_file[names[2]] == [1, 8, 20, 27, 38, 45, 52]
    assert per_file[names[0]] == [1, 16, 42, 63]
    assert code == 0, err
