"""The timestamps a syslog file or a journal export puts before ``host process[pid]: message``.

* ``Nov 23 03:30:02``: the traditional syslog format (rsyslog's ``RSYSLOG_TraditionalFileFormat``,
  ``journalctl`` by default), and ``Nov 23 03:30:02.086775`` (``journalctl -o short-precise``);
* ``2026-11-23T03:30:02.086775+00:00``: RFC 3339, rsyslog's default file format on Debian 12
  and later and on Fedora (``RSYSLOG_FileFormat``), with ``Z`` or an offset;
* ``2026-11-23T03:30:02+0000``: ``journalctl -o short-iso`` and ``short-iso-precise``, whose
  offset has no colon (systemd/systemd#26639).

The text sources read the message after the prefix and keep the host; the time is the message's
own (``time="..."``, a klog header, an event's ``UtcTime``).
"""

from __future__ import annotations

SYSLOG_STAMP = (
    r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)"
)
"""A regular expression (no groups) for any of those timestamps."""
