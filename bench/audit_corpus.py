# ruff: noqa: E501  (scenario tables read best one event per line)
"""A seeded, realistic day of Kubernetes API server audit events (audit.k8s.io/v1, JSON Lines).

    .venv/bin/python bench/audit_corpus.py OUT.jsonl [--events 1000000] [--seed 7]

What a busy production cluster writes under a typical audit policy (reads at Metadata level,
writes to workloads at Request or RequestResponse level, RequestReceived omitted):

* about 97% background: kubelet node-lease heartbeats, pod status patches and secret/configmap
  reads; controller-manager and scheduler leader election, endpoint slices, events; CoreDNS,
  kube-proxy, metrics-server and Prometheus watches; Argo CD and Flux reads and server-side
  dry-run applies; the GitLab deployer's reads; people running kubectl get/logs/exec; anonymous
  probes of /version and refused requests;
* about 3% pod and workload creations and changes: ReplicaSet, Job, DaemonSet and StatefulSet
  controllers creating pods, the Deployment and CronJob controllers creating ReplicaSets and
  Jobs, Argo CD, Flux and the CI deployer applying workloads, kubelet mirror pods, people with
  kubectl run / create deployment / set image / debug, dry runs, refused creations, and a few
  unapproved registries and anonymous creations; images from an assorted set of registries.

The same seed and event count always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

Event = dict[str, Any]

NODES = [f"ip-10-0-{1 + i // 40}-{10 + i % 200}.eu-west-1.compute.internal" for i in range(48)]
NAMESPACES = ["shop", "payments", "analytics", "search", "identity", "ops", "data", "web"]
APPS = ["checkout", "cart", "api", "worker", "frontend", "ledger", "indexer", "auth", "reports"]
KUBE_VERSION = "v1.31.2"
KUBE_COMMIT = "5864a46"

APPROVED_IMAGES = [
    "registry.corp.example/{ns}/{app}:{v}",
    "registry.corp.example/{ns}/{app}@sha256:{digest}",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/{app}:{v}",
    "registry.k8s.io/pause:3.10",
    "registry.k8s.io/coredns/coredns:v1.11.3",
    "quay.io/argoproj/argocd:v2.13.1",
    "ghcr.io/fluxcd/kustomize-controller:v1.4.0",
    "nginx:1.27",
    "redis:7.4",
    "docker.io/library/postgres:16.4",
    "library/busybox:1.36",
]
UNAPPROVED_IMAGES = [
    "docker.io/bitnami/redis:7.4.1",
    "gcr.io/distroless/static:nonroot",
    "mcr.microsoft.com/dotnet/aspnet:8.0",
    "public.ecr.aws/docker/library/alpine:3.20",
    "quay.io/prometheus/node-exporter:v1.8.2",
    "ghcr.io/some-user/tools:latest",
    "registry.corp.example.evil.io/shop/api:1.0",
    "198.51.100.23:5000/miner:latest",
    "evil.io/tools/backdoor:1",
]

CONTROLLER_SA = "system:serviceaccount:kube-system:{}"
CONTROLLER_GROUPS = [
    "system:serviceaccounts",
    "system:serviceaccounts:kube-system",
    "system:authenticated",
]
PEOPLE = [
    ("alice@corp.example", ["oidc:developers", "system:authenticated"]),
    ("bob@corp.example", ["oidc:developers", "system:authenticated"]),
    ("carol@corp.example", ["oidc:platform-admins", "system:authenticated"]),
    ("dave@corp.example", ["oidc:sre", "system:authenticated"]),
    ("breakglass-admin@corp.example", ["system:masters", "system:authenticated"]),
    ("erin@corp.example", ["oidc:data", "system:authenticated"]),
]
KUBECTL_AGENTS = [
    "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
    "kubectl/v1.31.2 (darwin/arm64) kubernetes/5864a46",
    "kubectl/v1.30.5 (linux/amd64) kubernetes/74e84a9",
]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock_us = 1_795_600_800_000_000  # 2026-11-25T08:00:00Z
        self.scenarios: list[tuple[float, Callable[[], Event]]] = [
            (16.0, self.node_lease),
            (9.0, self.kubelet_reads),
            (6.0, self.kubelet_status),
            (10.0, self.leader_election),
            (6.0, self.endpoint_slices),
            (8.0, self.core_events),
            (12.0, self.system_watches),
            (9.0, self.gitops_reads),
            (1.0, self.gitops_dry_run),
            (2.5, self.ci_reads),
            (5.0, self.people_reads),
            (1.0, self.people_exec),
            (1.5, self.anonymous_and_refused),
            (5.0, self.controller_reads),
            # pod and workload creations and changes: about 3% together
            (1.55, self.replicaset_creates_pod),
            (0.25, self.deployment_creates_replicaset),
            (0.2, self.job_pods),
            (0.12, self.daemonset_or_statefulset_pod),
            (0.35, self.gitops_applies_workload),
            (0.12, self.ci_deploys),
            (0.02, self.mirror_pod),
            (0.18, self.person_creates),
            (0.06, self.dry_run_or_refused_create),
            (0.05, self.unapproved_or_anonymous),
        ]
        total = sum(weight for weight, _ in self.scenarios)
        self.cumulative: list[float] = []
        running = 0.0
        for weight, _ in self.scenarios:
            running += weight / total
            self.cumulative.append(running)

    # -- helpers ---------------------------------------------------------------------------

    def pick(self, items: list[Any]) -> Any:
        return items[int(self.rng.random() * len(items))]

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def stamp(self) -> tuple[str, str]:
        self.clock_us += self.rng.randint(20_000, 150_000)
        received = self.clock_us
        done = received + self.rng.randint(900, 60_000)
        return _iso(received), _iso(done)

    def suffix(self, length: int = 5) -> str:
        return "".join(self.pick(list("bcdfghjklmnpqrstvwxz2456789")) for _ in range(length))

    def image(self, app: str, ns: str, approved: bool = True) -> str:
        template = self.pick(APPROVED_IMAGES if approved else UNAPPROVED_IMAGES)
        version = f"{self.rng.randint(1, 4)}.{self.rng.randint(0, 20)}.{self.rng.randint(0, 9)}"
        digest = f"{self.rng.getrandbits(256):064x}"
        return str(template.format(ns=ns, app=app, v=version, digest=digest))

    def controller(self, name: str) -> dict[str, Any]:
        return {
            "username": CONTROLLER_SA.format(name),
            "uid": self.uid(),
            "groups": CONTROLLER_GROUPS,
        }

    def service_account(self, ns: str, name: str, pod: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {
            "username": f"system:serviceaccount:{ns}:{name}",
            "uid": self.uid(),
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{ns}",
                "system:authenticated",
            ],
        }
        if pod:
            user["extra"] = {
                "authentication.kubernetes.io/credential-id": [f"JTI={self.uid()}"],
                "authentication.kubernetes.io/node-name": [self.pick(NODES)],
                "authentication.kubernetes.io/pod-name": [pod],
                "authentication.kubernetes.io/pod-uid": [self.uid()],
            }
        return user

    def node_user(self, node: str) -> dict[str, Any]:
        return {
            "username": f"system:node:{node}",
            "groups": ["system:nodes", "system:authenticated"],
        }

    def person(self) -> tuple[dict[str, Any], str]:
        name, groups = self.pick(PEOPLE)
        user = {
            "username": name,
            "groups": groups,
            "extra": {"oidc/issuer": ["https://sso.corp.example"]},
        }
        return user, self.pick(KUBECTL_AGENTS)

    def event(
        self,
        *,
        verb: str,
        uri: str,
        user: dict[str, Any],
        agent: str,
        ref: dict[str, Any],
        code: int = 200,
        level: str = "Metadata",
        stage: str = "ResponseComplete",
        ip: str | None = None,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> Event:
        received, done = self.stamp()
        event: Event = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": self.uid(),
            "stage": stage,
            "requestURI": uri,
            "verb": verb,
            "user": user,
            "sourceIPs": [ip or f"10.0.{self.rng.randint(1, 3)}.{self.rng.randint(10, 250)}"],
            "userAgent": agent,
            "objectRef": ref,
            "responseStatus": {"metadata": {}, "code": code},
        }
        if code >= 400:
            event["responseStatus"] = {
                "metadata": {},
                "status": "Failure",
                "message": reason or "forbidden",
                "reason": "Forbidden" if code == 403 else "NotFound",
                "code": code,
            }
        if request is not None:
            event["requestObject"] = request
        if response is not None:
            event["responseObject"] = response
        event["requestReceivedTimestamp"] = received
        event["stageTimestamp"] = done
        decision = "forbid" if code == 403 else "allow"
        event["annotations"] = {
            "authorization.k8s.io/decision": decision,
            "authorization.k8s.io/reason": ""
            if decision == "forbid"
            else f'RBAC: allowed by ClusterRoleBinding "{user["username"].split(":")[-1]}"',
        }
        return event

    def container(self, app: str, ns: str, approved: bool = True) -> dict[str, Any]:
        return {
            "name": app,
            "image": self.image(app, ns, approved),
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": self.pick(["info", "debug", "warn"])}],
            "resources": {
                "limits": {"memory": f"{self.pick([256, 384, 512, 1024])}Mi"},
                "requests": {"cpu": f"{self.pick([50, 100, 250, 500])}m", "memory": "128Mi"},
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
        }

    def pod_spec(self, app: str, ns: str, unapproved: int = 0) -> dict[str, Any]:
        count = 1 + (self.rng.random() < 0.35)
        containers = [self.container(app, ns) for _ in range(count)]
        for index in range(unapproved):
            containers[index % len(containers)]["image"] = self.image(app, ns, approved=False)
        spec: dict[str, Any] = {
            "volumes": [
                {
                    "name": "kube-api-access",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
                        ],
                        "defaultMode": 420,
                    },
                }
            ],
            "containers": containers,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": app,
            "securityContext": {},
            "schedulerName": "default-scheduler",
        }
        if self.rng.random() < 0.2:
            spec["initContainers"] = [self.container(f"{app}-init", ns)]
        return spec

    def metadata(
        self, name: str, ns: str, app: str, owner: tuple[str, str] | None
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": name,
            "namespace": ns,
            "creationTimestamp": None,
            "labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": ns},
        }
        if owner is not None:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "apps/v1" if owner[0] != "Node" else "v1",
                    "kind": owner[0],
                    "name": owner[1],
                    "uid": self.uid(),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        return meta

    def pod_object(
        self, name: str, ns: str, app: str, owner: tuple[str, str] | None, unapproved: int = 0
    ) -> dict[str, Any]:
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": self.metadata(name, ns, app, owner),
            "spec": self.pod_spec(app, ns, unapproved),
            "status": {},
        }

    def workload_object(
        self,
        kind: str,
        name: str,
        ns: str,
        app: str,
        owner: tuple[str, str] | None = None,
        unapproved: int = 0,
    ) -> dict[str, Any]:
        template = {
            "metadata": {"creationTimestamp": None, "labels": {"app.kubernetes.io/name": app}},
            "spec": self.pod_spec(app, ns, unapproved),
        }
        spec: dict[str, Any]
        if kind == "CronJob":
            spec = {"schedule": "*/15 * * * *", "jobTemplate": {"spec": {"template": template}}}
        elif kind == "Job":
            template["spec"]["restartPolicy"] = "Never"
            spec = {"backoffLimit": 3, "template": template}
        else:
            spec = {
                "replicas": self.rng.randint(1, 6),
                "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                "template": template,
            }
        api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
        return {
            "kind": kind,
            "apiVersion": api,
            "metadata": self.metadata(name, ns, app, owner),
            "spec": spec,
        }

    # -- background ------------------------------------------------------------------------

    def node_lease(self) -> Event:
        node = self.pick(NODES)
        verb = "update" if self.rng.random() < 0.9 else "get"
        return self.event(
            verb=verb,
            uri=f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s",
            user=self.node_user(node),
            agent=f"kubelet/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}",
            ref={
                "resource": "leases",
                "namespace": "kube-node-lease",
                "name": node,
                "apiGroup": "coordination.k8s.io",
                "apiVersion": "v1",
            },
        )

    def kubelet_reads(self) -> Event:
        node, ns = self.pick(NODES), self.pick(NAMESPACES)
        resource = self.pick(["secrets", "configmaps", "pods", "nodes", "services"])
        verb = self.pick(["get", "list", "watch"])
        name = f"{self.pick(APPS)}-{self.suffix()}"
        uri = (
            f"/api/v1/namespaces/{ns}/{resource}?fieldSelector=metadata.name%3D{name}&resourceVersion=0&watch=true"
            if verb == "watch"
            else f"/api/v1/namespaces/{ns}/{resource}/{name}"
        )
        return self.event(
            verb=verb,
            uri=uri,
            user=self.node_user(node),
            agent=f"kubelet/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}",
            ref={"resource": resource, "namespace": ns, "name": name, "apiVersion": "v1"},
            stage="ResponseStarted"
            if verb == "watch" and self.rng.random() < 0.5
            else "ResponseComplete",
        )

    def kubelet_status(self) -> Event:
        node, ns, app = self.pick(NODES), self.pick(NAMESPACES), self.pick(APPS)
        name = f"{app}-{self.suffix(9)}-{self.suffix()}"
        return self.event(
            verb="patch",
            uri=f"/api/v1/namespaces/{ns}/pods/{name}/status",
            user=self.node_user(node),
            agent=f"kubelet/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}",
            ref={
                "resource": "pods",
                "namespace": ns,
                "name": name,
                "apiVersion": "v1",
                "subresource": "status",
            },
            level="Request",
            request={
                "metadata": {"uid": self.uid()},
                "status": {
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "lastTransitionTime": "2026-11-25T08:00:00Z",
                        }
                    ]
                },
            },
        )

    def leader_election(self) -> Event:
        component = self.pick(
            [
                "kube-controller-manager",
                "kube-scheduler",
                "cert-manager-controller",
                "cluster-autoscaler",
            ]
        )
        user = (
            {"username": f"system:{component}", "groups": ["system:authenticated"]}
            if component.startswith("kube-")
            else self.service_account("kube-system", component)
        )
        return self.event(
            verb=self.pick(["get", "update", "update"]),
            uri=f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{component}?timeout=5s",
            user=user,
            agent=f"{component}/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/leader-election",
            ref={
                "resource": "leases",
                "namespace": "kube-system",
                "name": component,
                "apiGroup": "coordination.k8s.io",
                "apiVersion": "v1",
            },
        )

    def endpoint_slices(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        name = f"{app}-{self.suffix()}"
        return self.event(
            verb=self.pick(["update", "create", "delete"]),
            uri=f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}",
            user=self.controller("endpointslice-controller"),
            agent=f"kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/system:serviceaccount:kube-system:endpointslice-controller",
            ref={
                "resource": "endpointslices",
                "namespace": ns,
                "name": name,
                "apiGroup": "discovery.k8s.io",
                "apiVersion": "v1",
            },
            code=self.pick([200, 201]),
        )

    def core_events(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        who = self.rng.random()
        if who < 0.5:
            node = self.pick(NODES)
            user, agent = (
                self.node_user(node),
                f"kubelet/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}",
            )
        else:
            controller = self.pick(
                ["replicaset-controller", "deployment-controller", "job-controller"]
            )
            user = self.controller(controller)
            agent = f"kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/system:serviceaccount:kube-system:{controller}"
        name = f"{app}-{self.suffix(9)}.{self.rng.getrandbits(64):x}"
        return self.event(
            verb=self.pick(["create", "create", "patch"]),
            uri=f"/api/v1/namespaces/{ns}/events",
            user=user,
            agent=agent,
            ref={"resource": "events", "namespace": ns, "name": name, "apiVersion": "v1"},
            code=201,
        )

    def system_watches(self) -> Event:
        who = self.pick(
            [
                (
                    "coredns",
                    "kube-system",
                    "coredns/v1.11.3 (linux/amd64) kubernetes/unknown",
                    ["services", "endpointslices", "namespaces"],
                ),
                (
                    "kube-proxy",
                    "kube-system",
                    f"kube-proxy/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}",
                    ["services", "endpointslices", "nodes"],
                ),
                (
                    "metrics-server",
                    "kube-system",
                    "metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format",
                    ["nodes", "pods"],
                ),
                (
                    "prometheus-k8s",
                    "monitoring",
                    "Prometheus/2.55.1",
                    ["pods", "services", "endpoints", "nodes"],
                ),
                (
                    "cert-manager",
                    "cert-manager",
                    "cert-manager-controller/v1.16.1 (linux/amd64) cert-manager/abc",
                    ["secrets", "certificates", "ingresses"],
                ),
            ]
        )
        name, ns, agent, resources = who
        resource = self.pick(resources)
        verb = self.pick(["watch", "list", "watch"])
        return self.event(
            verb=verb,
            uri=f"/api/v1/{resource}?allowWatchBookmarks=true&resourceVersion={self.rng.randint(10**6, 10**8)}&timeout=7m21s&timeoutSeconds=441&watch=true"
            if verb == "watch"
            else f"/api/v1/{resource}?limit=500&resourceVersion=0",
            user=self.service_account(ns, name, f"{name}-{self.suffix(9)}-{self.suffix()}"),
            agent=agent,
            ref={"resource": resource, "apiVersion": "v1"},
            stage=self.pick(["ResponseComplete", "ResponseStarted"])
            if verb == "watch"
            else "ResponseComplete",
        )

    def gitops_reads(self) -> Event:
        ns = self.pick(NAMESPACES)
        argo = self.rng.random() < 0.6
        user = (
            self.service_account(
                "argocd", "argocd-application-controller", "argocd-application-controller-0"
            )
            if argo
            else self.service_account(
                "flux-system",
                "kustomize-controller",
                f"kustomize-controller-{self.suffix(9)}-{self.suffix()}",
            )
        )
        agent = (
            "argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format"
            if argo
            else "kustomize-controller/v1.4.0 (linux/amd64) kubernetes/$Format"
        )
        resource = self.pick(
            [
                "deployments",
                "services",
                "configmaps",
                "statefulsets",
                "ingresses",
                "cronjobs",
                "pods",
            ]
        )
        group = (
            "apps"
            if resource in ("deployments", "statefulsets")
            else "batch"
            if resource == "cronjobs"
            else ""
        )
        base = f"/apis/{group}/v1" if group else "/api/v1"
        verb = self.pick(["get", "list", "watch"])
        return self.event(
            verb=verb,
            uri=f"{base}/namespaces/{ns}/{resource}" + ("?watch=true" if verb == "watch" else ""),
            user=user,
            agent=agent,
            ref={"resource": resource, "namespace": ns, "apiGroup": group, "apiVersion": "v1"}
            if group
            else {"resource": resource, "namespace": ns, "apiVersion": "v1"},
        )

    def gitops_dry_run(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        user = self.service_account(
            "flux-system",
            "kustomize-controller",
            f"kustomize-controller-{self.suffix(9)}-{self.suffix()}",
        )
        return self.event(
            verb="patch",
            uri=f"/apis/apps/v1/namespaces/{ns}/deployments/{app}?dryRun=All&fieldManager=kustomize-controller&force=true",
            user=user,
            agent="kustomize-controller/v1.4.0 (linux/amd64) kubernetes/$Format",
            ref={
                "resource": "deployments",
                "namespace": ns,
                "name": app,
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
            level="Request",
            request=self.workload_object("Deployment", app, ns, app),
        )

    def ci_reads(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        return self.event(
            verb=self.pick(["get", "list"]),
            uri=f"/apis/apps/v1/namespaces/{ns}/deployments/{app}",
            user=self.service_account(
                "gitlab-runner",
                "deployer",
                f"runner-{self.suffix(8)}-project-{self.rng.randint(100, 999)}-concurrent-0",
            ),
            agent="kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
            ref={
                "resource": "deployments",
                "namespace": ns,
                "name": app,
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
        )

    def people_reads(self) -> Event:
        user, agent = self.person()
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        resource, sub = self.pick(
            [
                ("pods", None),
                ("pods", "log"),
                ("deployments", None),
                ("events", None),
                ("services", None),
                ("nodes", None),
            ]
        )
        name = f"{app}-{self.suffix(9)}-{self.suffix()}"
        ref: dict[str, Any] = {"resource": resource, "namespace": ns, "apiVersion": "v1"}
        if sub:
            ref.update(name=name, subresource=sub)
        return self.event(
            verb=self.pick(["get", "list"]),
            uri=f"/api/v1/namespaces/{ns}/{resource}"
            + (f"/{name}/{sub}?container={app}&follow=true" if sub else "?limit=500"),
            user=user,
            agent=agent,
            ref=ref,
            ip=f"192.0.2.{self.rng.randint(10, 99)}",
        )

    def people_exec(self) -> Event:
        user, agent = self.person()
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        name = f"{app}-{self.suffix(9)}-{self.suffix()}"
        sub = self.pick(["exec", "portforward", "exec"])
        return self.event(
            verb="create" if sub == "exec" else "get",
            uri=f"/api/v1/namespaces/{ns}/pods/{name}/{sub}?command=sh&container={app}&stdin=true&stdout=true&tty=true",
            user=user,
            agent=agent,
            ref={
                "resource": "pods",
                "namespace": ns,
                "name": name,
                "apiVersion": "v1",
                "subresource": sub,
            },
            code=101 if sub == "exec" else 200,
            ip=f"192.0.2.{self.rng.randint(10, 99)}",
        )

    def anonymous_and_refused(self) -> Event:
        if self.rng.random() < 0.5:
            return self.event(
                verb="get",
                uri=self.pick(
                    ["/version", "/healthz", "/api", "/.well-known/openid-configuration"]
                ),
                user={"username": "system:anonymous", "groups": ["system:unauthenticated"]},
                agent=self.pick(["Go-http-client/1.1", "curl/8.5.0", "python-requests/2.32.3"]),
                ref={"resource": "", "apiVersion": ""},
                ip=f"203.0.113.{self.rng.randint(1, 254)}",
                code=self.pick([200, 403]),
            )
        user, agent = self.person()
        ns = self.pick(NAMESPACES)
        return self.event(
            verb=self.pick(["get", "list", "delete"]),
            uri=f"/api/v1/namespaces/{ns}/secrets",
            user=user,
            agent=agent,
            ref={"resource": "secrets", "namespace": ns, "apiVersion": "v1"},
            code=403,
            ip=f"192.0.2.{self.rng.randint(10, 99)}",
            reason=f'secrets is forbidden: User "{user["username"]}" cannot list resource "secrets"',
        )

    def controller_reads(self) -> Event:
        controller = self.pick(
            [
                "replicaset-controller",
                "deployment-controller",
                "job-controller",
                "cronjob-controller",
                "generic-garbage-collector",
                "horizontal-pod-autoscaler",
                "namespace-controller",
            ]
        )
        resource = self.pick(
            ["pods", "replicasets", "deployments", "jobs", "cronjobs", "namespaces"]
        )
        return self.event(
            verb=self.pick(["list", "watch", "get"]),
            uri=f"/apis/apps/v1/{resource}?allowWatchBookmarks=true&watch=true",
            user=self.controller(controller),
            agent=f"kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/system:serviceaccount:kube-system:{controller}",
            ref={"resource": resource, "apiVersion": "v1"},
        )

    # -- creations -------------------------------------------------------------------------

    def _create(
        self,
        resource: str,
        kind: str,
        ns: str,
        name: str,
        user: dict[str, Any],
        agent: str,
        obj: dict[str, Any],
        *,
        verb: str = "create",
        code: int = 201,
        query: str = "",
        level: str = "RequestResponse",
        ip: str | None = None,
        reason: str | None = None,
    ) -> Event:
        group = (
            "" if resource == "pods" else "batch" if resource in ("jobs", "cronjobs") else "apps"
        )
        base = "/api/v1" if not group else f"/apis/{group}/v1"
        path = f"{base}/namespaces/{ns}/{resource}" + (f"/{name}" if verb != "create" else "")
        ref: dict[str, Any] = {
            "resource": resource,
            "namespace": ns,
            "name": name,
            "apiVersion": "v1",
        }
        if group:
            ref["apiGroup"] = group
        response = None
        if level == "RequestResponse" and code < 400:
            response = {
                "kind": kind,
                "apiVersion": obj.get("apiVersion", "v1"),
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": self.uid(),
                    "resourceVersion": str(self.rng.randint(10**6, 10**8)),
                    "generation": 1,
                },
            }
        return self.event(
            verb=verb,
            uri=path + query,
            user=user,
            agent=agent,
            ref=ref,
            code=code,
            level=level,
            request=obj,
            response=response,
            ip=ip,
            reason=reason,
        )

    def replicaset_creates_pod(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        rs = f"{app}-{self.suffix(9)}"
        name = f"{rs}-{self.suffix()}"
        return self._create(
            "pods",
            "Pod",
            ns,
            name,
            self.controller("replicaset-controller"),
            f"kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/system:serviceaccount:kube-system:replicaset-controller",
            self.pod_object(name, ns, app, ("ReplicaSet", rs)),
            level="Request",
        )

    def deployment_creates_replicaset(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        name = f"{app}-{self.suffix(9)}"
        return self._create(
            "replicasets",
            "ReplicaSet",
            ns,
            name,
            self.controller("deployment-controller"),
            f"kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/system:serviceaccount:kube-system:deployment-controller",
            self.workload_object("ReplicaSet", name, ns, app, ("Deployment", app)),
            level="Request",
        )

    def job_pods(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(["reports", "indexer", "ledger"])
        job = f"{app}-{self.rng.randint(29_000_000, 29_999_999)}"
        if self.rng.random() < 0.4:
            return self._create(
                "jobs",
                "Job",
                ns,
                job,
                self.controller("cronjob-controller"),
                f"kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/system:serviceaccount:kube-system:cronjob-controller",
                self.workload_object("Job", job, ns, app, ("CronJob", app)),
                level="Request",
            )
        name = f"{job}-{self.suffix()}"
        return self._create(
            "pods",
            "Pod",
            ns,
            name,
            self.controller("job-controller"),
            f"kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/system:serviceaccount:kube-system:job-controller",
            self.pod_object(name, ns, app, ("Job", job)),
            level="Request",
        )

    def daemonset_or_statefulset_pod(self) -> Event:
        kind, controller = self.pick(
            [("DaemonSet", "daemon-set-controller"), ("StatefulSet", "statefulset-controller")]
        )
        ns = "kube-system" if kind == "DaemonSet" else self.pick(NAMESPACES)
        app = (
            self.pick(["node-exporter", "fluent-bit", "kube-proxy"])
            if kind == "DaemonSet"
            else self.pick(["postgres", "redis", "kafka"])
        )
        name = (
            f"{app}-{self.suffix()}" if kind == "DaemonSet" else f"{app}-{self.rng.randint(0, 2)}"
        )
        return self._create(
            "pods",
            "Pod",
            ns,
            name,
            self.controller(controller),
            f"kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}/system:serviceaccount:kube-system:{controller}",
            self.pod_object(name, ns, app, (kind, app)),
            level="Request",
        )

    def gitops_applies_workload(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        kind, resource = self.pick(
            [
                ("Deployment", "deployments"),
                ("Deployment", "deployments"),
                ("StatefulSet", "statefulsets"),
                ("CronJob", "cronjobs"),
            ]
        )
        if self.rng.random() < 0.55:
            user = self.service_account(
                "argocd", "argocd-application-controller", "argocd-application-controller-0"
            )
            agent, manager = (
                "argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format",
                "argocd-controller",
            )
        else:
            controller = self.pick(["kustomize-controller", "helm-controller"])
            user = self.service_account(
                "flux-system", controller, f"{controller}-{self.suffix(9)}-{self.suffix()}"
            )
            agent, manager = f"{controller}/v1.4.0 (linux/amd64) kubernetes/$Format", controller
        verb, code = self.pick(
            [("create", 201), ("patch", 200), ("patch", 200), ("update", 200), ("patch", 201)]
        )
        return self._create(
            resource,
            kind,
            ns,
            app,
            user,
            agent,
            self.workload_object(kind, app, ns, app),
            verb=verb,
            code=code,
            query=f"?fieldManager={manager}" + ("&force=true" if verb == "patch" else ""),
        )

    def ci_deploys(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        user = self.service_account(
            "gitlab-runner",
            "deployer",
            f"runner-{self.suffix(8)}-project-{self.rng.randint(100, 999)}-concurrent-0",
        )
        verb, code = self.pick([("patch", 200), ("create", 201), ("update", 200)])
        return self._create(
            "deployments",
            "Deployment",
            ns,
            app,
            user,
            "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
            self.workload_object("Deployment", app, ns, app),
            verb=verb,
            code=code,
            query="?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        )

    def mirror_pod(self) -> Event:
        node = self.pick(NODES)
        component = self.pick(["etcd", "kube-apiserver", "kube-scheduler"])
        name = f"{component}-{node}"
        return self._create(
            "pods",
            "Pod",
            "kube-system",
            name,
            self.node_user(node),
            f"kubelet/{KUBE_VERSION} (linux/amd64) kubernetes/{KUBE_COMMIT}",
            self.pod_object(name, "kube-system", component, ("Node", node)),
            level="Request",
        )

    def person_creates(self) -> Event:
        user, agent = self.person()
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        ip = f"192.0.2.{self.rng.randint(10, 99)}"
        action = self.rng.random()
        if action < 0.45:
            name = f"debug-{self.suffix()}"
            return self._create(
                "pods",
                "Pod",
                ns,
                name,
                user,
                agent,
                self.pod_object(name, ns, app, None),
                query="?fieldManager=kubectl-run",
                ip=ip,
            )
        if action < 0.65:
            return self._create(
                "deployments",
                "Deployment",
                ns,
                app,
                user,
                agent,
                self.workload_object("Deployment", app, ns, app),
                query="?fieldManager=kubectl-create&fieldValidation=Strict",
                ip=ip,
            )
        if action < 0.9:
            return self._create(
                "deployments",
                "Deployment",
                ns,
                app,
                user,
                agent,
                {
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": app, "image": self.image(app, ns)}]}
                        }
                    }
                },
                verb="patch",
                code=200,
                query="?fieldManager=kubectl-set",
                ip=ip,
            )
        name = f"{app}-{self.suffix(9)}-{self.suffix()}"
        event = self._create(
            "pods",
            "Pod",
            ns,
            name,
            user,
            agent,
            self.pod_object(name, ns, app, ("ReplicaSet", app)),
            verb="patch",
            code=200,
            query="?fieldManager=kubectl-debug",
            ip=ip,
        )
        event["objectRef"]["subresource"] = "ephemeralcontainers"
        event["requestObject"]["spec"]["ephemeralContainers"] = [
            {
                "name": f"debugger-{self.suffix()}",
                "image": self.pick(["busybox:1.36", "nicolaka/netshoot:v0.13"]),
                "targetContainerName": app,
            }
        ]
        return event

    def dry_run_or_refused_create(self) -> Event:
        user, agent = self.person()
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        name = f"test-{self.suffix()}"
        if self.rng.random() < 0.5:
            return self._create(
                "pods",
                "Pod",
                ns,
                name,
                user,
                agent,
                self.pod_object(name, ns, app, None, unapproved=1),
                query="?dryRun=All&fieldManager=kubectl-run",
            )
        return self._create(
            "pods",
            "Pod",
            ns,
            name,
            user,
            agent,
            self.pod_object(name, ns, app, None),
            code=403,
            level="Request",
            reason=f'pods is forbidden: User "{user["username"]}" cannot create resource "pods"',
        )

    def unapproved_or_anonymous(self) -> Event:
        ns, app = self.pick(NAMESPACES), self.pick(APPS)
        roll = self.rng.random()
        if roll < 0.15:
            name = f"x-{self.suffix()}"
            return self._create(
                "pods",
                "Pod",
                ns,
                name,
                {"username": "system:anonymous", "groups": ["system:unauthenticated"]},
                "curl/8.5.0",
                self.pod_object(name, ns, app, None, unapproved=1),
                ip=f"203.0.113.{self.rng.randint(1, 254)}",
            )
        if roll < 0.6:
            user = self.service_account(
                "argocd", "argocd-application-controller", "argocd-application-controller-0"
            )
            return self._create(
                "deployments",
                "Deployment",
                ns,
                app,
                user,
                "argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format",
                self.workload_object("Deployment", app, ns, app, unapproved=1),
                verb="patch",
                code=200,
                query="?fieldManager=argocd-controller",
            )
        user, agent = self.person()
        name = f"{app}-{self.suffix()}"
        return self._create(
            "pods",
            "Pod",
            ns,
            name,
            user,
            agent,
            self.pod_object(name, ns, app, None, unapproved=1 + (self.rng.random() < 0.3)),
            query="?fieldManager=kubectl-run",
            ip=f"192.0.2.{self.rng.randint(10, 99)}",
        )

    def next_event(self) -> Event:
        roll = self.rng.random()
        for cumulative, (_, scenario) in zip(self.cumulative, self.scenarios, strict=True):
            if roll < cumulative:
                return scenario()
        return self.scenarios[-1][1]()


def _iso(epoch_us: int) -> str:
    seconds, micros = divmod(epoch_us, 1_000_000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    # days since 1970-01-01 to a calendar date (civil-from-days, Howard Hinnant)
    z = days + 719_468
    era, doe = divmod(z, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    return f"{year:04d}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{secs:02d}.{micros:06d}Z"


def write_corpus(path: Path, events: int, seed: int) -> int:
    """Write ``events`` events to ``path``; the number of bytes written."""
    generator = Generator(seed)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        batch: list[str] = []
        for _ in range(events):
            batch.append(dumps(generator.next_event()))
            if len(batch) == 10_000:
                handle.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            handle.write("\n".join(batch) + "\n")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    size = write_corpus(args.out, args.events, args.seed)
    print(f"{args.out}: {args.events:,} events, {size:,} bytes")


if __name__ == "__main__":
    main()
