"""EDR process telemetry of container creation.

* Sysmon for Linux (``sysmon_linux``): Sysmon writes each event as Windows-style XML to syslog,
  one line per event (``Dec  6 22:41:07 build-01 sysmon: <Event><System><Provider
  Name="Linux-Sysmon" .../><EventID>1</EventID>...<Computer>build-01</Computer>...</System>
  <EventData><Data Name="Image">/usr/bin/docker</Data><Data Name="CommandLine">docker run
  ...</Data>...</EventData></Event>``). ``parse_sysmon_line`` reads the line into ``Provider``,
  ``EventID``, ``Channel``, ``Computer``, every ``Data`` element by its ``Name`` (``Image``,
  ``CommandLine``, ``User``, ``ParentImage``, ``ParentCommandLine``, ``CurrentDirectory``, ...),
  ``host`` (the syslog host) and ``log`` (the XML, as a collector ships it). Values are XML text:
  entities are decoded, ``EventID`` stays a string. The XML is read with regular expressions,
  not an XML parser: a log line is never trusted to be well-formed, and no entity is expanded
  beyond the five predefined ones and character references.

* Tetragon (``tetragon``): one JSON object per line as ``tetra getevents -o json`` and the export
  file write them: a single key naming the event (``process_exec``, ``process_exit``,
  ``process_kprobe``, ...) beside ``node_name`` and ``time``. A ``process_exec`` carries
  ``process`` (``binary``, ``arguments``, ``uid``, ``auid``, ``pod`` with ``namespace``, ``name``,
  ``container{id, name, image{id, name}, start_time, pid}``, ``workload``, ``workload_kind``) and
  ``parent``. The first process of a container is ``pod.container.pid`` 1 with the runtime's shim
  as parent. A digest-pinned image has ``image.name`` ``sha256:<id>`` and the reference in
  ``image.id``; otherwise ``image.name`` is the reference and ``image.id`` the repository digest.

* Falco (``falco``): one alert per line with ``json_output: true`` (and
  ``json_include_output_property``): ``hostname``, ``output`` (the formatted text),
  ``output_fields`` (every ``%field`` of the rule's output, keys with dots such as
  ``container.image.repository``,
  ``k8s.ns.name``), ``priority``, ``rule``, ``source``, ``tags``, ``time``. Container and
  Kubernetes metadata may read ``<NA>`` when enrichment missed a short-lived container.

For Sysmon, ``decode`` adds what a process-creation command line asks for (``sigma_ext.sources.
container_cli``): ``sx_cli``, ``sx_action`` and, where it has them, ``sx_image`` and ``sx_flags``
(the subcommand's flag section); the Splunk and Elastic searches extract the same fields with the
same expressions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from sigma_ext.sources.container_cli import parse_command_line
from sigma_ext.sources.syslog import SYSLOG_STAMP

Event = Mapping[str, Any]

_SYSLOG = re.compile(
    rf"^(?:(?:{SYSLOG_STAMP}) "
    r"(?P<host>\S+) sysmon(?:\[\d+\])?: )?(?P<xml><Event>.*</Event>)\s*$"
)
_PROVIDER = re.compile(r'<Provider Name="([^"]*)"')
_ELEMENT = re.compile(r"<(EventID|Channel|Computer)>([^<]*)</\1>")
_DATA = re.compile(r'<Data Name="([^"]+)">([^<]*)</Data>|<Data Name="([^"]+)"\s*/>')
SYSMON_PROVIDER = "Linux-Sysmon"


def parse_sysmon_line(line: str) -> Event | None:
    """The event of one Sysmon for Linux syslog line, or None for any other line."""
    found = _SYSLOG.match(line)
    if found is None:
        return None
    xml = found.group("xml")
    provider = _PROVIDER.search(xml)
    if provider is None or provider.group(1) != SYSMON_PROVIDER:
        return None
    event: dict[str, Any] = {"Provider": SYSMON_PROVIDER, "log": xml}
    if found.group("host"):
        event["host"] = found.group("host")
    for name, value in _ELEMENT.findall(xml):
        event.setdefault(name, html.unescape(value))
    for name, value, empty in _DATA.findall(xml):
        if name:
            event.setdefault(name, html.unescape(value))
        else:
            event.setdefault(empty, "")
    return event if "EventID" in event else None


def is_sysmon_event(event: Event) -> bool:
    """An event ``parse_sysmon_line`` made."""
    return event.get("Provider") == SYSMON_PROVIDER and isinstance(event.get("EventID"), str)


def with_creation(event: Event, command_line: Any) -> Event:
    """The event with ``sx_cli``, ``sx_action``, ``sx_image`` and ``sx_flags`` of its command
    line, if any."""
    creation = parse_command_line(command_line)
    if creation is None:
        return event
    derived = {"sx_cli": creation.cli, "sx_action": creation.action}
    if creation.image is not None:
        derived["sx_image"] = creation.image
    if creation.flags is not None:
        derived["sx_flags"] = creation.flags
    return {**event, **derived}


TETRAGON_EVENTS = frozenset(
    {
        "process_exec",
        "process_exit",
        "process_kprobe",
        "process_tracepoint",
        "process_uprobe",
        "process_loader",
        "process_lsm",
    }
)


def is_tetragon_event(event: Event) -> bool:
    """A Tetragon event: one event key holding an object, beside ``node_name`` and ``time``."""
    kinds = [key for key in event if key in TETRAGON_EVENTS]
    return (
        len(kinds) == 1
        and isinstance(event[kinds[0]], Mapping)
        and isinstance(event.get("node_name"), str)
        and isinstance(event.get("time"), str)
    )


_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


def decode_tetragon_event(event: Event) -> Event:
    """The event with ``sx_image``: a ``process_exec`` container's image name and image id,
    without a name that is only an image id (a digest-pinned image's); and with ``sx_cli``,
    ``sx_action``, ``sx_flags`` of the command line (``binary`` and ``arguments`` joined with a
    space, as the Splunk and Elastic searches join them), not its image (``sx_image`` is the
    running container's)."""
    binary = _path(event, "process_exec", "process", "binary")
    if isinstance(binary, str):
        arguments = _path(event, "process_exec", "process", "arguments")
        line = f"{binary} {arguments}" if isinstance(arguments, str) else binary
        creation = parse_command_line(line)
        if creation is not None:
            derived = {"sx_cli": creation.cli, "sx_action": creation.action}
            if creation.flags is not None:
                derived["sx_flags"] = creation.flags
            event = {**event, **derived}
    container = _path(event, "process_exec", "process", "pod", "container", "image")
    if not isinstance(container, Mapping):
        return event
    images = [
        value
        for value in (container.get("name"), container.get("id"))
        if isinstance(value, str) and value and not _IMAGE_ID.match(value)
    ]
    return {**event, "sx_image": images} if images else event


def _path(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def is_falco_alert(event: Event) -> bool:
    """A Falco alert as its JSON output writes it."""
    return (
        isinstance(event.get("rule"), str)
        and isinstance(event.get("priority"), str)
        and isinstance(event.get("output"), str)
        and isinstance(event.get("output_fields"), Mapping)
    )


def decode_sysmon_event(event: Event) -> Event:
    if event.get("EventID") != "1":
        return event
    return with_creation(event, event.get("CommandLine"))
