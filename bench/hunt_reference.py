"""Benchmark: the reference evaluator (what `sigma-ext hunt` runs) over synthetic audit events.

    .venv/bin/python bench/hunt_reference.py [--events 50000] [--seed 7]

Generates a seeded mix of Kubernetes audit events (reads, controller pod creations, GitOps and
CI workload changes, people, a few unapproved images), writes it as JSON Lines, and prints the
events per second of the bare JSON parse and of `hunt` with every rule, with the hit count.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sigma_ext.content.corpus import load_corpus  # noqa: E402
from sigma_ext.hunt.reference import Hit, hunt_file  # noqa: E402
from sigma_ext.reference.engine import ReferenceEngine  # noqa: E402

IDENTITIES = [
    "system:serviceaccount:kube-system:replicaset-controller",
    "system:serviceaccount:argocd:argocd-application-controller",
    "system:serviceaccount:flux-system:kustomize-controller",
    "system:serviceaccount:gitlab-runner:deployer",
    "alice@corp.example",
    "system:node:ip-10-0-1-23.eu-west-1.compute.internal",
]
IMAGES = [
    "registry.corp.example/shop/api:1.4",
    "nginx:1.27",
    "quay.io/argoproj/argocd:v2.13.1",
    "evil.io/x:1",
]
RESOURCES = ["pods", "deployments", "configmaps", "leases", "jobs", "secrets"]


def event(rng: random.Random) -> dict[str, object]:
    resource = rng.choice(RESOURCES)
    creating = rng.random() < 0.05
    verb = (
        rng.choice(["create", "patch"])
        if creating
        else rng.choice(["get", "list", "watch", "update"])
    )
    spec = {
        "containers": [
            {"name": f"c{i}", "image": rng.choice(IMAGES)} for i in range(rng.randint(1, 3))
        ]
    }
    body = spec if resource == "pods" else {"template": {"spec": spec}}
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": str(uuid.UUID(int=rng.getrandbits(128))),
        "stage": "ResponseComplete",
        "requestURI": f"/apis/apps/v1/namespaces/shop/{resource}",
        "verb": verb,
        "user": {"username": rng.choice(IDENTITIES), "groups": ["system:authenticated"]},
        "sourceIPs": ["192.0.2.10"],
        "userAgent": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
        "objectRef": {"resource": resource, "namespace": "shop", "name": "x"},
        "responseStatus": {"metadata": {}, "code": 201 if creating else 200},
        "requestObject": {"kind": "X", "spec": body} if creating else None,
        "requestReceivedTimestamp": "2026-11-20T09:14:03.412344Z",
        "stageTimestamp": "2026-11-20T09:14:03.512344Z",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    corpus = load_corpus(ROOT, ROOT / "profiles" / "example.yml")
    engine = ReferenceEngine(corpus)
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "audit.jsonl"
        with log.open("w") as handle:
            for _ in range(args.events):
                handle.write(json.dumps(event(rng)) + "\n")
        start = time.perf_counter()
        with log.open() as handle:
            for line in handle:
                json.loads(line)
        parse = time.perf_counter() - start
        start = time.perf_counter()
        hits = sum(isinstance(item, Hit) for item in hunt_file(engine, log))
        hunt = time.perf_counter() - start
        size = log.stat().st_size
    print(f"events: {args.events} ({size:,} bytes), rules: {len(corpus.rules)}")
    print(f"json.loads only:        {args.events / parse:>10,.0f} events/s")
    print(f"hunt, reference engine: {args.events / hunt:>10,.0f} events/s  ({hits} hits)")
    print(f"hunt / parse time ratio: {hunt / parse:.1f}x")


if __name__ == "__main__":
    main()
