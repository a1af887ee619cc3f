"""Benign background events for the benchmark's corpora: what each source writes in volume.

The project's fixtures are the events the rules are about (creations, pulls, their near
misses); a real export holds far more of everything else. Each function here returns, seeded,
the ``count`` background lines of one source, written from its documented format:

* Docker events (``docker system events``, Engine API ``/events``): a container's health check
  runs ``exec_create``/``exec_start``/``exec_die`` and reports ``health_status``; ``attach``,
  ``resize``, ``top``, ``kill``/``stop``/``die``/``destroy``, ``network connect``/
  ``disconnect``, ``volume mount``/``unmount`` and image ``tag``/``untag``/``delete`` go with
  every container's life.
* GCP Cloud Audit Logs: Data Access entries (``cloudaudit.googleapis.com%2Fdata_access``) of
  reads and lists (Cloud Run ``GetService``/``ListServices``/``ListRevisions``, IAM
  ``GetIamPolicy``, Cloud Storage ``storage.objects.get``/``list``, Compute ``instances.list``),
  and Admin Activity entries of other services (Compute ``instances.start``, IAM
  ``SetIamPolicy``...).
* Azure Activity Log: ``Administrative`` records of writes, deletes and actions on other
  resource types (storage accounts, network security groups, virtual machines, key vaults,
  deployments, role assignments), in their Start/Accept/Success phases.
* containerd, CRI-O and kubelet logs: the lines a node writes all day besides CRI creations and
  pulls (task exits, image events, shim clean-ups, sandbox stops, PLEG events, probes, volume
  mounts, SyncLoop UPDATE/DELETE/RECONCILE).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# -- Docker ---------------------------------------------------------------------------------

_DOCKER_CONTAINER = (
    ["exec_create: /bin/sh -c curl -fs http://localhost:8080/healthz || exit 1"] * 3
    + ["exec_start: /bin/sh -c curl -fs http://localhost:8080/healthz || exit 1"] * 3
    + ["exec_die"] * 3
    + ["health_status: healthy"] * 3
    + ["attach", "resize", "top", "kill", "stop", "die", "destroy", "rename", "pause", "unpause"]
)


def docker(benign: list[dict[str, Any]], rng: random.Random, count: int) -> list[str]:
    containers = [e for e in benign if e.get("Type") == "container"]
    out = []
    for number in range(count):
        kind = rng.random()
        base = copy.deepcopy(rng.choice(containers))
        base["time"] = 1795766400 + number
        base["timeNano"] = base["time"] * 1_000_000_000 + rng.getrandbits(29)
        if kind < 0.8:
            base["Action"] = rng.choice(_DOCKER_CONTAINER)
            if base["Action"].startswith("exec_"):
                base["Actor"]["Attributes"]["execID"] = _hex(rng, 64)
            if base["Action"] == "die":
                base["Actor"]["Attributes"]["exitCode"] = rng.choice(["0", "137", "143"])
            base["Actor"]["ID"] = _hex(rng, 64)
        elif kind < 0.92:
            name = base["Actor"]["Attributes"].get("name", "app")
            base = {
                "Type": "network",
                "Action": rng.choice(["connect", "disconnect"]),
                "Actor": {
                    "ID": _hex(rng, 64),
                    "Attributes": {"container": _hex(rng, 64), "name": f"{name}_default"},
                },
                "scope": "local",
                "time": base["time"],
                "timeNano": base["timeNano"],
            }
            base["Actor"]["Attributes"]["type"] = "bridge"
        elif kind < 0.97:
            base = {
                "Type": "volume",
                "Action": rng.choice(["mount", "unmount"]),
                "Actor": {
                    "ID": _hex(rng, 64),
                    "Attributes": {
                        "container": _hex(rng, 64),
                        "destination": "/var/lib/app",
                        "driver": "local",
                        "propagation": "",
                        "read/write": "true",
                    },
                },
                "scope": "local",
                "time": base["time"],
                "timeNano": base["timeNano"],
            }
        else:
            image = base["Actor"]["Attributes"].get("image", "registry.corp.example/app:1")
            base = {
                "Type": "image",
                "Action": rng.choice(["tag", "untag", "delete"]),
                "Actor": {"ID": "sha256:" + _hex(rng, 64), "Attributes": {"name": image}},
                "scope": "local",
                "time": base["time"],
                "timeNano": base["timeNano"],
            }
        out.append(DUMPS(base))
    return out


# -- GCP ------------------------------------------------------------------------------------

_GCP_READS = [
    ("run.googleapis.com", "google.cloud.run.v1.Services.GetService", "run.services.get"),
    ("run.googleapis.com", "google.cloud.run.v1.Services.ListServices", "run.services.list"),
    ("run.googleapis.com", "google.cloud.run.v2.Revisions.ListRevisions", "run.revisions.list"),
    (
        "run.googleapis.com",
        "google.cloud.run.v2.Services.GetIamPolicy",
        "run.services.getIamPolicy",
    ),
    ("storage.googleapis.com", "storage.objects.get", "storage.objects.get"),
    ("storage.googleapis.com", "storage.objects.list", "storage.objects.list"),
    ("compute.googleapis.com", "v1.compute.instances.list", "compute.instances.list"),
    ("iam.googleapis.com", "google.iam.admin.v1.GetServiceAccount", "iam.serviceAccounts.get"),
    (
        "secretmanager.googleapis.com",
        "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion",
        "secretmanager.versions.access",
    ),
]
_GCP_WRITES = [
    ("compute.googleapis.com", "v1.compute.instances.start", "compute.instances.start"),
    ("compute.googleapis.com", "v1.compute.instances.setMetadata", "compute.instances.setMetadata"),
    (
        "cloudresourcemanager.googleapis.com",
        "SetIamPolicy",
        "resourcemanager.projects.setIamPolicy",
    ),
    ("storage.googleapis.com", "storage.buckets.update", "storage.buckets.update"),
]


_GCP_TYPES = {
    "run.googleapis.com": "cloud_run_revision",
    "storage.googleapis.com": "gcs_bucket",
    "compute.googleapis.com": "gce_instance",
    "iam.googleapis.com": "service_account",
    "secretmanager.googleapis.com": "audited_resource",
    "cloudresourcemanager.googleapis.com": "project",
}


def gcp(benign: list[dict[str, Any]], rng: random.Random, count: int) -> list[str]:
    out = []
    for number in range(count):
        entry = copy.deepcopy(rng.choice(benign))
        read = rng.random() < 0.85
        service, method, permission = rng.choice(_GCP_READS if read else _GCP_WRITES)
        payload = entry["protoPayload"]
        payload["serviceName"], payload["methodName"] = service, method
        for key in ("request", "response", "metadata"):
            payload.pop(key, None)
        name = f"projects/corp-prod/resources/r{rng.randrange(500)}"
        payload["resourceName"] = name
        payload["authorizationInfo"] = [
            {
                "resource": name,
                "permission": permission,
                "granted": True,
                "permissionType": "DATA_READ" if read else "ADMIN_WRITE",
            }
        ]
        log = "data_access" if read else "activity"
        entry["logName"] = f"projects/corp-prod/logs/cloudaudit.googleapis.com%2F{log}"
        entry["resource"] = {"type": _GCP_TYPES[service], "labels": {"project_id": "corp-prod"}}
        entry.pop("operation", None)
        entry["insertId"] = f"{_hex(rng, 12)}-{number}"
        entry["severity"] = "INFO" if read else "NOTICE"
        out.append(DUMPS(entry))
    return out


# -- Azure ----------------------------------------------------------------------------------

_AZURE_OPERATIONS = [
    ("Microsoft.Storage", "storageAccounts", "listKeys/action"),
    ("Microsoft.Storage", "storageAccounts", "write"),
    ("Microsoft.Network", "networkSecurityGroups", "write"),
    ("Microsoft.Network", "networkInterfaces", "join/action"),
    ("Microsoft.Compute", "virtualMachines", "start/action"),
    ("Microsoft.Compute", "virtualMachines", "deallocate/action"),
    ("Microsoft.KeyVault", "vaults", "write"),
    ("Microsoft.Resources", "deployments", "write"),
    ("Microsoft.Resources", "deployments", "validate/action"),
    ("Microsoft.Authorization", "roleAssignments", "write"),
    ("Microsoft.Web", "sites", "restart/action"),
    ("Microsoft.Sql", "servers/databases", "write"),
]


def azure(benign: list[dict[str, Any]], rng: random.Random, count: int) -> list[str]:
    out = []
    for number in range(count):
        record = copy.deepcopy(rng.choice(benign))
        provider, kind, verb = rng.choice(_AZURE_OPERATIONS)
        action = f"{provider}/{kind}/{verb}"
        group = f"rg-{rng.choice(['data', 'web', 'shared', 'net'])}-prod"
        resource = (
            f"/subscriptions/6d1f1b2e-3c4a-4b5e-8f70-91a2b3c4d5e6/resourceGroups/{group}"
            f"/providers/{provider}/{kind}/res{rng.randrange(300)}"
        )
        record["operationName"] = action.upper()
        record["resourceId"] = resource.upper()
        record["resultType"] = rng.choice(["Start", "Accept", "Success", "Success"])
        record["correlationId"] = _uuid(rng)
        record["time"] = f"2026-11-20T{number % 24:02d}:{number % 60:02d}:02.1843902Z"
        authorization = record.get("identity", {}).get("authorization")
        if isinstance(authorization, dict):
            authorization["action"] = action
            authorization["scope"] = resource
        properties = record.get("properties")
        if isinstance(properties, dict):
            properties["entity"] = resource
            properties["message"] = action
        out.append(DUMPS(record))
    return out


# -- container runtime text logs ------------------------------------------------------------

_RUNTIME: list[Callable[[random.Random], str]] = [
    lambda r: (
        f'containerd[812]: time="2026-11-23T03:{r.randrange(60):02d}:01.5Z" level=info '
        f'msg="TaskExit event container_id:\\"{_hex(r, 64)}\\" id:\\"{_hex(r, 64)}\\" '
        f"pid:{r.randrange(1, 99999)} exit_status:{r.choice([0, 137, 143])} "
        'exited_at:{seconds:1795766409 nanos:906555891}"'
    ),
    lambda r: (
        f'containerd[812]: time="2026-11-23T03:{r.randrange(60):02d}:01.5Z" level=info '
        f'msg="ImageUpdate event name:\\"registry.corp.example/shop/api:1.4.{r.randrange(9)}\\" '
        'labels:{key:\\"io.cri-containerd.image\\" value:\\"managed\\"}"'
    ),
    lambda r: (
        f'containerd[812]: time="2026-11-23T03:{r.randrange(60):02d}:01.5Z" level=info '
        f'msg="shim disconnected" id={_hex(r, 64)} namespace=k8s.io'
    ),
    lambda r: (
        f'containerd[812]: time="2026-11-23T03:{r.randrange(60):02d}:01.5Z" level=info '
        f'msg="StopPodSandbox for \\"{_hex(r, 64)}\\" returns successfully"'
    ),
    lambda r: (
        f'containerd[812]: time="2026-11-23T03:{r.randrange(60):02d}:01.5Z" level=info '
        f'msg="RemoveContainer for \\"{_hex(r, 64)}\\""'
    ),
    lambda r: (
        f'containerd[812]: time="2026-11-23T03:{r.randrange(60):02d}:01.5Z" level=info '
        f'msg="TearDown network for sandbox \\"{_hex(r, 64)}\\" successfully"'
    ),
    lambda r: (
        f"kubelet[1120]: I1123 03:{r.randrange(60):02d}:05.001122    1120 kubelet.go:2453] "
        f'"SyncLoop (PLEG): event for pod" pod="shop/api-{_hex(r, 9)}-x2kqp" '
        f'event={{"ID":"{_uuid(r)}","Type":"ContainerStarted","Data":"{_hex(r, 64)}"}}'
    ),
    lambda r: (
        f"kubelet[1120]: I1123 03:{r.randrange(60):02d}:05.001122    1120 prober.go:107] "
        f'"Probe failed" probeType="Readiness" pod="shop/api-{_hex(r, 9)}-x2kqp" '
        f'podUID="{_uuid(r)}" containerName="api" probeResult="failure" '
        'output="Get \\"http://10.0.1.7:8080/healthz\\": context deadline exceeded"'
    ),
    lambda r: (
        f"kubelet[1120]: I1123 03:{r.randrange(60):02d}:05.001122    1120 "
        'reconciler_common.go:258] "operationExecutor.VerifyControllerAttachedVolume started '
        f'for volume \\"kube-api-access-{_hex(r, 5)}\\"" pod="shop/api-{_hex(r, 9)}-x2kqp"'
    ),
    lambda r: (
        f"kubelet[1120]: I1123 03:{r.randrange(60):02d}:05.001122    1120 kubelet.go:2421] "
        f'"SyncLoop {r.choice(["UPDATE", "DELETE", "RECONCILE", "REMOVE"])}" source="api" '
        f'pods=["shop/api-{_hex(r, 9)}-x2kqp"]'
    ),
    lambda r: (
        f"kubelet[1120]: I1123 03:{r.randrange(60):02d}:05.001122    1120 "
        f'kubelet_volumes.go:163] "Cleaned up orphaned pod volumes dir" podUID="{_uuid(r)}"'
    ),
]


def runtime(rng: random.Random, count: int) -> list[str]:
    host = [f"ip-10-0-{n}-{n * 7 % 250}" for n in range(1, 9)]
    return [
        f"Nov 23 03:{rng.randrange(60):02d}:01 {rng.choice(host)} {rng.choice(_RUNTIME)(rng)}"
        for _ in range(count)
    ]


Background = Callable[[list[dict[str, Any]], random.Random, int], list[str]]
BACKGROUNDS: dict[str, tuple[float, Background]] = {
    "docker_events": (0.9, docker),
    "gcp_audit": (0.9, gcp),
    "azure_activitylogs": (0.85, azure),
    "container_runtime": (0.9, lambda _benign, rng, count: runtime(rng, count)),
}
"""Per source, the share of background events in its corpus and how they are written.

Docker: 90%. One container with a health check every 30 s writes four events a check (about
11,500 a day) against a handful for its creation; on a host running a few dozen long-lived
containers, creations and pulls are well under 1% of the events, so 90% background keeps the
corpus far denser in rule-relevant events than a real host (a conservative figure for the hunt).
GCP: 90%. Data Access logs (reads, lists, secret accesses) outnumber Admin Activity entries by
one to two orders of magnitude where they are enabled; Cloud Run creations are a small share of
the Admin Activity entries themselves.
Azure: 85%. The Activity Log has no reads; its volume is writes and actions on every resource
type of a subscription, of which container groups and AKS run commands are a small share.
Runtime logs: 90%. A node's containerd and kubelet write task exits, image events, probe
failures, PLEG events and volume mounts for every pod all day; CRI creations and pulls happen
only when pods start.
"""
