"""auditd process telemetry: raw ``audit.log`` records joined into one event per execution.

auditd writes one record per line, ``[node=<host> ]type=<TYPE> msg=audit(<epoch>.<ms>:<serial>):
key=value ...``; with ``log_format = ENRICHED`` a record ends with ``\\x1d`` and the resolved
names in upper case (``AUID="alice" UID="root"``). One kernel event (a system call) is several
records sharing the ``msg=audit(...)`` stamp, ended by an ``EOE`` record; an ``execve`` gives
``SYSCALL`` (``auid``, ``uid``, ``exe``, ``comm``, ``success``), ``EXECVE`` (``argc``, ``a0`` ..
``aN``), ``CWD``, ``PATH`` (one per item), ``PROCTITLE``, ``EOE``. Records of other events may
come between them. Values that an attacker controls are quoted when plain and hex-encoded when
they hold a space, a quote or a control character (``a1=2D652041...``, ``proctitle`` with NUL
between arguments); an argument too long for one record is split: ``a2_len=<n>`` then
``a2[0]=<hex>`` ``a2[1]=<hex>`` ..., possibly over several ``EXECVE`` records.

Reading (``group_records``, used by ``hunt`` for both engines and by the fixture harness): a
line that is an audit record joins the open event with its node and stamp; a record of a kernel
event type (``HELD_TYPES``) with no open event opens one; any other record (user-space messages
such as ``USER_START``, which have no ``EOE``) is an event by itself. ``EOE`` closes an event.
An event leaves as one text, its records joined by ``RECORD_SEPARATOR``, at its first line's
number. Memory: at most ``MAX_OPEN`` open events and ``MAX_HELD`` bytes of held records (plus the
line being read); past either bound the oldest open event leaves as it is, and events whose
``EOE`` never came leave at the end of the file. Lines that are not audit records pass through
at once, so the output is in the order events complete, not the order they began.

``parse_audit_text`` reads such a text (or one record) into the event the rules read:
``msg``, ``serial``, ``records`` (the record types, in order), ``type`` (``EXECVE`` when the
event has one, else its first record's type), the ``SYSCALL`` fields (``auid``, ``uid``,
``euid``, ``pid``, ``ppid``, ``exe``, ``comm``, ``success``, ``syscall``, ``key``, ``tty``, ``ses``)
and the enriched names (``AUID``, ``UID``, ...), ``argc``, ``argv`` (the arguments decoded, split
ones joined), ``a0``..``aN`` as written (unquoted, hex kept: what a SIEM indexing the ``EXECVE``
record alone has), ``cwd``, ``proctitle`` (arguments joined with spaces), ``node``.
``decode_audit_event`` adds ``CommandLine`` (``argv`` joined with spaces), ``LoginUser`` (``AUID``
unless unset), ``User`` (the login user unless unset, else the process's user, ``UID``; the
numeric id when the log is not enriched), ``event_action`` (``executed`` for an execution) and
what the command line asks for (``sx_cli``, ``sx_action``, ``sx_image``, ``sx_flags``:
``sigma_ext.sources.container_cli``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sigma_ext.sources.container_cli import parse_command_line

Event = Mapping[str, Any]

RECORD_SEPARATOR = "\x1e"
"""Between the records of one event in the text ``group_records`` emits (ASCII RS: auditd
hex-encodes any value holding a control character, so no record contains it)."""

MAX_OPEN = 256
"""Open events held at most while reading (auditd interleaves few: one per CPU in flight)."""

MAX_HELD = 8 << 20
"""Bytes of held records at most (an ``execve`` of the largest argument vector Linux allows,
2 MiB hex-encoded, fits)."""

HELD_TYPES = frozenset(
    {
        "SYSCALL",
        "EXECVE",
        "CWD",
        "PATH",
        "PROCTITLE",
        "SOCKADDR",
        "FD_PAIR",
        "OBJ_PID",
        "IPC",
        "MMAP",
        "BPRM_FCAPS",
        "CAPSET",
        "KERN_MODULE",
        "AVC",
        "SELINUX_ERR",
        "NETFILTER_CFG",
        "CONFIG_CHANGE",
        "MQ_OPEN",
        "MQ_SENDRECV",
        "TIME_INJOFFSET",
        "TIME_ADJNTPVAL",
    }
)
"""Record types of kernel events, which auditd ends with ``EOE``."""

_RECORD = re.compile(
    r"^(?:node=(?P<node>\S+) )?type=(?P<type>[A-Z_0-9]+) "
    r"msg=audit\((?P<stamp>\d+\.\d+):(?P<serial>\d+)\):(?P<body>.*)$",
    re.DOTALL,
)
_PAIR = re.compile(r'([A-Za-z_][\w\[\]-]*)=("[^"]*"|\'[^\']*\'|\S*)')
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
_ARG = re.compile(r"^a(\d+)(?:\[(\d+)\])?$")
HEX_FIELDS = frozenset({"exe", "comm", "cwd", "name", "proctitle", "key", "data", "cmd"})
"""Fields auditd writes as untrusted strings (quoted, or hex when unsafe), besides ``aN``."""
UNSET_ID = "4294967295"
EXECUTION_SYSCALLS = frozenset({"59", "322", "execve", "execveat"})


def is_audit_line(text: str) -> bool:
    """Whether a line (without its end) is an auditd record."""
    return (text.startswith("type=") or text.startswith("node=")) and (
        _RECORD.match(text) is not None
    )


@dataclass
class _Open:
    first: int
    records: list[str] = field(default_factory=list)
    size: int = 0


def group_records(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """(first line number, text) per event: the records of one audit event joined by
    ``RECORD_SEPARATOR``, every other line as it came (see the module's description).
    ``lines`` are (number, text without its line end)."""
    open_events: dict[tuple[str, str, str], _Open] = {}
    held = 0
    for number, text in lines:
        found = _RECORD.match(text) if text[:5] in ("type=", "node=") else None
        if found is None:
            yield number, text
            continue
        key = (found.group("node") or "", found.group("stamp"), found.group("serial"))
        kind = found.group("type")
        event = open_events.get(key)
        if event is None:
            if kind not in HELD_TYPES:
                yield number, text
                continue
            event = open_events[key] = _Open(number)
        if kind == "EOE":
            del open_events[key]
            held -= event.size
            yield event.first, RECORD_SEPARATOR.join([*event.records, text])
            continue
        event.records.append(text)
        event.size += len(text)
        held += len(text)
        while open_events and (len(open_events) > MAX_OPEN or held > MAX_HELD):
            oldest = next(iter(open_events))
            gone = open_events.pop(oldest)
            held -= gone.size
            yield gone.first, RECORD_SEPARATOR.join(gone.records)
    for event in open_events.values():
        yield event.first, RECORD_SEPARATOR.join(event.records)


def _value(name: str, raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    if (name in HEX_FIELDS or _ARG.match(name)) and _HEX.match(raw):
        return bytes.fromhex(raw).decode("utf-8", errors="replace")
    return raw


def _pairs(body: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The record's own fields and its enriched (resolved) fields."""
    raw, _, enriched = body.partition("\x1d")
    return _PAIR.findall(raw), _PAIR.findall(enriched)


def parse_audit_text(text: str) -> Event | None:
    """The event of one audit record or of the records ``group_records`` joined; None when
    the text is not audit records."""
    records = [_RECORD.match(part) for part in text.split(RECORD_SEPARATOR)]
    if not records or any(found is None for found in records):
        return None
    first = records[0]
    assert first is not None
    event: dict[str, Any] = {
        "msg": f"audit({first.group('stamp')}:{first.group('serial')})",
        "serial": first.group("serial"),
        "records": [],
    }
    if first.group("node"):
        event["node"] = first.group("node")
    args: dict[int, str] = {}
    pieces: dict[int, dict[int, str]] = {}
    for found in records:
        assert found is not None
        kind = found.group("type")
        event["records"].append(kind)
        own, enriched = _pairs(found.group("body"))
        if kind == "SYSCALL":
            for name, raw in own:
                if _ARG.match(name) is None:  # a0..a3 here are the system call's registers
                    event.setdefault(name, _value(name, raw))
            for name, raw in enriched:
                event.setdefault(name, _value(name, raw))
        elif kind == "EXECVE":
            for name, raw in own:
                arg = _ARG.match(name)
                if name == "argc":
                    event.setdefault("argc", raw)
                elif arg is not None and arg.group(2) is None:
                    args.setdefault(int(arg.group(1)), _value(name, raw))
                    event.setdefault(name, raw.strip('"'))
                elif arg is not None:
                    part = pieces.setdefault(int(arg.group(1)), {})
                    part.setdefault(int(arg.group(2)), _value(name, raw))
        elif kind == "CWD":
            for name, raw in own:
                if name == "cwd":
                    event.setdefault("cwd", _value(name, raw))
        elif kind == "PROCTITLE":
            for name, raw in own:
                if name == "proctitle":
                    event.setdefault("proctitle", _value(name, raw).replace("\0", " "))
    for index, part in pieces.items():
        args.setdefault(index, "".join(part[k] for k in sorted(part)))
    if args:
        event["argv"] = [args[i] for i in sorted(args)]
    kinds = event["records"]
    event["type"] = "EXECVE" if "EXECVE" in kinds else kinds[0]
    return event


def is_auditd_event(event: Event) -> bool:
    """An event ``parse_audit_text`` made."""
    records = event.get("records")
    return (
        isinstance(records, list)
        and bool(records)
        and isinstance(event.get("serial"), str)
        and str(event.get("msg", "")).startswith("audit(")
    )


def _name(event: Event, name: str, number: str) -> Any:
    value = event.get(name)
    return value if isinstance(value, str) and value else event.get(number)


_SPACE = re.compile(r"\s")


def _grammar_line(argv: list[Any]) -> str:
    """The arguments joined with spaces for the command-line grammar, with the whitespace inside
    an argument made a NUL: ``-e "A=1 2"`` stays one word (auditd keeps the argument vector, so
    the limit of a joined command line does not apply; an image never holds whitespace)."""
    return " ".join(_SPACE.sub("\0", str(a)) for a in argv)


def decode_audit_event(event: Event) -> Event:
    """The event with ``CommandLine``, ``LoginUser``, ``User``, ``event_action`` and, for an
    execution of a container client, ``sx_cli``, ``sx_action``, ``sx_image`` and ``sx_flags``."""
    derived: dict[str, Any] = {}
    argv = event.get("argv")
    executed = event.get("type") == "EXECVE" or event.get("syscall") in EXECUTION_SYSCALLS
    if executed:
        derived["event_action"] = "executed"
    if isinstance(argv, list) and argv:
        derived["CommandLine"] = " ".join(str(a) for a in argv)
    if event.get("auid") not in (None, "", UNSET_ID):
        user = derived["LoginUser"] = _name(event, "AUID", "auid")
    else:
        user = _name(event, "UID", "uid")
    if user is not None:
        derived["User"] = user
    if not derived:
        return event
    decoded = {**event, **derived}
    creation = parse_command_line(_grammar_line(argv)) if isinstance(argv, list) else None
    if creation is not None and executed:
        decoded["sx_cli"] = creation.cli
        decoded["sx_action"] = creation.action
        if creation.image is not None:
            decoded["sx_image"] = creation.image
        if creation.flags is not None:
            # the words as the command line joins them: whitespace inside an argument is a space
            decoded["sx_flags"] = creation.flags.replace("\0", " ")
    return decoded
