"""Container runtime and kubelet log lines, parsed into the fields the node rules read.

A line is recognised by its shape: an optional syslog/journald prefix (``Nov 23 03:20:01 node-1
containerd[812]: ``, with any timestamp of ``sigma_ext.sources.syslog``), then containerd's or
CRI-O's logrus line (``time="..." level=info msg="..." key=value...``) or a kubelet klog line
(``I1123 03:20:01.123456 1234 file.go:42] msg``). Every line of those shapes becomes an event:
``runtime``, ``host``, ``level``, ``message``, ``log`` (the line without its syslog prefix: what
journald keeps as the message and collectors ship) and, for the messages in ``MESSAGES``,
``action`` with what the message names (``image``, ``pod``, ``namespace``, ``container``, and for
kubelet's ``SyncLoop ADD`` the ``pod_source`` the pod came from: ``file`` for a static pod
manifest, ``http`` for a manifest URL, ``api`` for the API server); lines of other shapes are not
this source's. The table, one row per message the runtimes write at their default level
(containerd's CRI plugin, CRI-O's server, kubelet's SyncLoop), is in ``docs/runtime-logs.md`` with
an example of each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigma_ext.sources.syslog import SYSLOG_STAMP

Event = Mapping[str, Any]

PREFIX = re.compile(
    rf"^(?:(?P<stamp>{SYSLOG_STAMP}) (?P<host>\S+) "
    r"(?P<process>containerd|crio|kubelet)\[\d+\]: )?(?P<body>.*)$"
)
LOGRUS = re.compile(
    # the quoted message: runs of plain characters and escapes (a loop unrolled for speed)
    r'^time="(?P<time>[^"]*)" level=(?P<level>[a-z]+) '
    r'msg="(?P<msg>[^"\\]*(?:\\.[^"\\]*)*)"(?P<rest>.*)$'
)
KLOG = re.compile(
    r"^(?P<severity>[IWEF])(?P<day>\d{4}) (?P<time>\d\d:\d\d:\d\d\.\d+)\s+\d+ "
    r"(?P<file>[\w.-]+:\d+)\] (?P<msg>.*)$"
)
LEVELS = {"I": "info", "W": "warning", "E": "error", "F": "fatal"}


@dataclass(frozen=True)
class Message:
    """A message a runtime writes, the action it stands for, and the fields it names."""

    runtime: str
    action: str
    pattern: re.Pattern[str]


MESSAGES: tuple[Message, ...] = (
    Message("containerd", "pull", re.compile(r'^PullImage "(?P<image>[^"]+)"$')),
    Message("containerd", "pulled", re.compile(r'^Pulled image "(?P<image>[^"]+)"')),
    Message(
        "containerd",
        "sandbox",
        re.compile(
            r"^RunPodSandbox for &PodSandboxMetadata\{Name:(?P<pod>[^,]*),Uid:[^,]*,"
            r"Namespace:(?P<namespace>[^,]*),"
        ),
    ),
    Message(
        "containerd",
        "create",
        re.compile(
            r'^CreateContainer within sandbox "[0-9a-f]+" for container '
            r"&ContainerMetadata\{Name:(?P<container>[^,]*),"
        ),
    ),
    Message("containerd", "start", re.compile(r'^StartContainer for "[0-9a-f]+"')),
    Message("crio", "pull", re.compile(r"^Pulling image: (?P<image>\S+)$")),
    Message("crio", "pulled", re.compile(r"^Pulled image: (?P<image>\S+)$")),
    Message(
        "crio",
        "sandbox",
        re.compile(r"^Running pod sandbox: (?P<namespace>[^/\s]+)/(?P<pod>[^/\s]+)/POD$"),
    ),
    Message(
        "crio",
        "create",
        re.compile(
            r"^Creating container: (?P<namespace>[^/\s]+)/(?P<pod>[^/\s]+)/(?P<container>\S+)$"
        ),
    ),
    Message(
        "kubelet",
        "pod_add",
        re.compile(
            r'^"SyncLoop ADD" source="(?P<pod_source>[^"]*)" '
            r'pods=\["(?P<namespace>[^/"]+)/(?P<pod>[^"]+)"'
        ),
    ),
)


UNQUOTE = re.compile(r"\\(.)")
"""An escape in a logrus ``msg="..."`` value: its character stands for itself."""


def _unquote(text: str) -> str:
    # (a template, not a function: the substitution stays in C)
    return UNQUOTE.sub(r"\1", text) if "\\" in text else text


def parse_runtime_line(line: str) -> Event | None:
    """The event of one containerd, CRI-O or kubelet log line, or None for other lines."""
    prefixed = PREFIX.match(line)
    if prefixed is None:  # pragma: no cover - the prefix is optional, the body any text
        return None
    return _parsed(prefixed.group("body"), prefixed.group("process"), prefixed.group("host"))


def _parsed(body: str, process: str | None, host: str | None) -> Event | None:
    """The event of a message ``process`` (None: not known) logged on ``host``."""
    event: dict[str, Any] = {"log": body}
    if host:
        event["host"] = host
    if (logrus := LOGRUS.match(body)) is not None:
        message = _unquote(logrus.group("msg"))
        event.update(time=logrus.group("time"), level=logrus.group("level"), message=message)
        runtimes = {process} if process in ("containerd", "crio") else {"containerd", "crio"}
        if process is None and "name=/runtime.v1" in logrus.group("rest"):
            runtimes = {"crio"}  # CRI-O adds the CRI method it serves
    elif (klog := KLOG.match(body)) is not None and process in (None, "kubelet"):
        message = klog.group("msg")
        event.update(
            time=f"{klog.group('day')} {klog.group('time')}",
            level=LEVELS[klog.group("severity")],
            message=message,
        )
        runtimes = {"kubelet"}
    else:
        return None
    for known in _TRIED.get(message[:1], _ANY_START):
        if known.runtime in runtimes and (found := known.pattern.match(message)):
            event.update(runtime=known.runtime, action=known.action, **found.groupdict())
            return event
    event["runtime"] = process or (next(iter(runtimes)) if len(runtimes) == 1 else "containerd")
    return event


def _first_character(pattern: re.Pattern[str]) -> str | None:
    """The character every message the pattern matches starts with, or None (not read)."""
    text = pattern.pattern.removeprefix("^")
    if pattern.flags & re.IGNORECASE or "|" in text or len(text) < 2:
        return None
    if text[0] in "\\[(.?*+{^$)" or text[1] in "?*{":
        return None
    return text[0]


_FIRST = {known: _first_character(known.pattern) for known in MESSAGES}
_ANY_START = tuple(known for known in MESSAGES if _FIRST[known] is None)
_TRIED = {
    first: tuple(known for known in MESSAGES if _FIRST[known] in (None, first))
    for first in {f for f in _FIRST.values() if f is not None}
}
"""The messages worth trying on a message by its first character, in ``MESSAGES`` order (a
pattern that starts with another character cannot match it)."""


def is_runtime_event(event: Event) -> bool:
    """An event ``parse_runtime_line`` made (what hunt and the fixtures read), or a journal entry
    of one of the runtimes' messages (``journal_event``)."""
    if event.get("runtime") in RUNTIMES and "message" in event:
        return True
    return journal_event(event) is not None


RUNTIMES = ("containerd", "crio", "kubelet")
"""The processes whose messages this source reads (their syslog identifiers)."""


def journal_event(entry: Event) -> Event | None:
    """The event of a journal entry as ``journalctl -o json`` writes it, when one of
    ``RUNTIMES`` wrote its ``MESSAGE`` (``SYSLOG_IDENTIFIER``; the host is ``_HOSTNAME``): the
    event its line in a syslog file gives. A ``MESSAGE`` journalctl wrote as bytes (an array of
    numbers: not UTF-8, or control characters) is read as UTF-8; one it left out (``null``:
    over 4,096 bytes, without ``--all``) gives none, and the entry is not recognised."""
    process = entry.get("SYSLOG_IDENTIFIER")
    if process not in RUNTIMES or "__REALTIME_TIMESTAMP" not in entry:
        return None
    message = entry.get("MESSAGE")
    if isinstance(message, list) and all(isinstance(b, int) and 0 <= b < 256 for b in message):
        message = bytes(message).decode("utf-8", "replace")
    if not isinstance(message, str):
        return None
    host = entry.get("_HOSTNAME")
    return _parsed(message, str(process), host if isinstance(host, str) else None)


def decode_runtime_event(event: Event) -> Event:
    """The event the rules read: a journal entry's (``journal_event``), else the event itself."""
    if "__REALTIME_TIMESTAMP" in event:
        return journal_event(event) or event
    return event
