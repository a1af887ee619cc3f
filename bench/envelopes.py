"""Wrap each line of an audit corpus as a managed Kubernetes service delivers it.

* ``eks``: a CloudWatch Logs event as ``aws logs filter-log-events`` prints it (``timestamp``,
  ``message``: the audit event as a JSON string, ``logStreamName``, ``ingestionTime``,
  ``eventId``);
* ``aks``: a resource-log record of the ``kube-audit`` category as a diagnostic setting writes
  it (the audit event as a JSON string in ``properties.log``, beside ``pod`` and ``stream``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

START_MS = 1795766400000  # 2026-11-27T00:00:00Z
CLUSTER = (
    "/SUBSCRIPTIONS/3F2B9C1E-7D4A-4E6B-9A0C-5B1D2E3F4A5B/RESOURCEGROUPS/RG-SHOP-PROD/PROVIDERS/"
    "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-SHOP-PROD"
)


def _eks(number: int, line: str) -> dict[str, object]:
    at = START_MS + number * 86  # about a million events a day
    return {
        "timestamp": at,
        "message": line,
        "logStreamName": "kube-apiserver-audit-2d4f0b1e5c7a9e3f8b6d4c2a0e1f3b5d",
        "ingestionTime": at + 1200,
        "eventId": f"{39287745817652019384717238469875631286746123487612 + number:056d}",
    }


def _aks(number: int, line: str) -> dict[str, object]:
    return {
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "category": "kube-audit",
        "ccpNamespace": "6a6ae768f2ed66ffdcc99396",
        "resourceId": CLUSTER,
        "properties": {
            "log": line,
            "pod": "kube-apiserver-6c9b8d7f5-x2x9k",
            "stream": "stdout",
        },
        "time": _iso(START_MS + number * 86),
        "Cloud": "AzureCloud",
        "Environment": "prod",
    }


def _iso(milliseconds: int) -> str:
    at = datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # Azure writes 7 fractional digits


WRAPPERS = {"eks": _eks, "aks": _aks}


def wrap_corpus(source: Path, target: Path, envelope: str) -> None:
    """Write every line of ``source`` to ``target`` wrapped in ``envelope`` (eks or aks)."""
    wrap = WRAPPERS[envelope]
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            out.write(dumps(wrap(number, line.rstrip("\n"))) + "\n")
