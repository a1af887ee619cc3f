"""Benchmark: how fast hand-written DuckDB SQL of the audit rules can be, next to `hunt`.

    .venv/bin/python bench/hunt_floor.py [--corpus PATH] [--events 1000000] [--seed 7]
                                         [--runs 3] [--threads N]

The hunt target of the fast engine is "within 1.5x of DuckDB's bare ``read_json`` scan". This
script measures what that target leaves room for. It times, on the corpus of
``bench/audit_corpus.py`` (generated when ``--corpus`` is missing):

* the bare scan, ``SELECT count(*) FROM read_json(file)``, as ``bench/hunt_duckdb.py`` does;
* the seven Kubernetes audit rules written by hand as DuckDB SQL, the way an engineer who knows
  this corpus would write them: exact, case-sensitive comparisons over typed ``read_json``
  columns, a ``WHERE`` with the condition every rule shares, one ``count(*) FILTER`` per rule,
  the registry allowlist as one regular expression with Docker Hub's short names. This has none
  of Sigma's semantics (no case folding, no any-element lists beyond ``list_contains``, no nulls,
  no check of a line's shape) and reports counts, not the lines that hit. It is a floor: no
  query that also does those things can be faster;
* the same, for the six rules that read no pod spec (every rule but the registry one);
* the same rules again over ``read_json_objects``: the lines' text, a text test the candidates
  must pass, and ``json_transform`` of only those (a ``MATERIALIZED`` CTE: DuckDB otherwise
  repeats ``json_transform`` for every field read);
* ``hunt``, the fast engine (``FastHunt.hunt_file``), with every rule;

and checks that each hand-written query counts exactly the hits ``hunt`` finds, rule by rule.
The allowlists come from ``profiles/example.yml``. Each query runs ``--runs`` times, interleaved
with the bare scan; the ratios are to the bare scan of the same round.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from audit_corpus import write_corpus  # noqa: E402

from sigma_ext.content.corpus import load_corpus  # noqa: E402
from sigma_ext.content.profile import load_profile  # noqa: E402
from sigma_ext.hunt.fast.engine import FastHunt  # noqa: E402
from sigma_ext.hunt.reference import Hit  # noqa: E402
from sigma_ext.reference.engine import ReferenceEngine  # noqa: E402

WORKLOADS = (
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "replicationcontrollers",
)
PODS_AND_WORKLOADS = ("pods", *WORKLOADS)
IMAGE_LISTS = ("containers", "initContainers", "ephemeralContainers")
# where a pod spec sits in the objects the rules read: a pod, a workload's template, a CronJob's
_T = TypeVar("_T")

POD_SPECS = ("spec", "spec.template.spec", "spec.jobTemplate.spec.template.spec")


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _identity(column: str, entries: tuple[str, ...]) -> str:
    """``column`` is one of ``entries`` (a trailing ``*`` is a prefix), case-sensitively."""
    exact = [e for e in entries if "*" not in e]
    prefixes = [e[:-1] for e in entries if e.endswith("*") and "*" not in e[:-1]]
    if len(exact) + len(prefixes) != len(entries):
        raise SystemExit(f"hand-written floor: cannot write {entries} by hand here")
    tests = [f"{column} IN {_sql_list(exact)}"] if exact else []
    tests += [f"starts_with({column}, '{p}')" for p in prefixes]
    return "(" + " OR ".join(tests or ["FALSE"]) + ")"


def _approved_regex(registries: tuple[str, ...]) -> str:
    """An image reference from an approved registry (or path prefix), or a Docker Hub short
    name (``nginx:1.27``, ``library/nginx``) when ``docker.io/library`` is approved."""
    names = [re.escape(r) for r in registries]
    if "docker.io/library" in registries:
        names += ["index\\.docker\\.io/library", "library"]
    pattern = "^((" + "|".join(names) + ")/"
    pattern += "|[^/]+$)" if "docker.io/library" in registries else ")"
    return pattern


def hand_written_rules(profile_path: Path) -> dict[str, str]:
    """Each Kubernetes audit rule (by file stem) as a hand-written SQL condition."""
    lists = load_profile(profile_path).lists
    user = "user.username"
    controllers = _identity(user, lists["k8s_controller_identities"])
    pipelines = _identity(user, lists["k8s_pipeline_identities"])
    nodes = _identity(user, lists["k8s_node_identities"])
    creators = _identity(user, lists["k8s_authorized_creators"])
    groups = " OR ".join(
        f"list_contains(user.groups, '{g}')" for g in lists["k8s_authorized_groups"]
    )
    live = "stage = 'ResponseComplete' AND requestURI NOT LIKE '%dryRun=All%'"
    created = f"{live} AND verb IN ('create', 'patch') AND responseStatus.code = 201"
    changed = (
        f"{live} AND verb IN ('create', 'update', 'patch') AND responseStatus.code IN (200, 201)"
    )
    whole = "objectRef.subresource IS NULL"
    pods = f"{whole} AND objectRef.resource = 'pods'"
    either = f"{whole} AND objectRef.resource IN {_sql_list(PODS_AND_WORKLOADS)}"
    workloads = f"{whole} AND objectRef.resource IN {_sql_list(WORKLOADS)}"
    ephemeral = (
        f"{live} AND verb IN ('update', 'patch') AND responseStatus.code = 200 AND "
        "objectRef.resource = 'pods' AND objectRef.subresource = 'ephemeralcontainers'"
    )
    images = (
        "list_concat("
        + ", ".join(f"requestObject.{spec}.{name}" for spec in POD_SPECS for name in IMAGE_LISTS)
        + ")"
    )
    approved = _approved_regex(lists["approved_registries"])
    unapproved = (
        f"len(list_filter({images}, lambda c: NOT regexp_matches(c.image, '{approved}'))) > 0"
    )
    return {
        "kubernetes_audit_pod_created": f"{created} AND {pods}",
        "kubernetes_audit_bare_pod_created_by_person": (
            f"{created} AND {pods} AND requestObject.metadata.ownerReferences IS NULL "
            f"AND NOT starts_with({user}, 'system:') AND NOT {pipelines}"
        ),
        "kubernetes_audit_pod_or_workload_created_by_anonymous_user": (
            f"{created} AND {either} AND ({user} = 'system:anonymous' "
            "OR list_contains(user.groups, 'system:unauthenticated'))"
        ),
        "kubernetes_audit_pod_or_workload_created_by_unauthorized_identity": (
            f"{created} AND {either} AND NOT ({controllers} OR {nodes} OR {pipelines} "
            f"OR {creators} OR coalesce({groups or 'FALSE'}, FALSE))"
        ),
        "kubernetes_audit_pod_or_workload_image_from_unapproved_registry": (
            f"(({changed} AND {either}) OR ({ephemeral})) "
            f"AND NOT (objectRef.resource = 'pods' AND {controllers}) AND {unapproved}"
        ),
        "kubernetes_audit_workload_changed_outside_pipeline": (
            f"{changed} AND {workloads} AND NOT ({pipelines} OR {controllers})"
        ),
        "kubernetes_audit_workload_created": f"{created} AND {workloads}",
    }


# every rule needs these: a live request that created or changed a pod or workload
SHARED = (
    "stage = 'ResponseComplete' AND verb IN ('create', 'update', 'patch') "
    "AND responseStatus.code IN (200, 201) "
    f"AND objectRef.resource IN {_sql_list(PODS_AND_WORKLOADS)}"
)
# the same, as a test of the line's text (the API server writes compact JSON)
SHARED_TEXT = (
    'contains(json, \'"stage":"ResponseComplete"\') '
    'AND regexp_matches(json, \'"verb":"(create|update|patch)"\') '
    f'AND regexp_matches(json, \'"resource":"({"|".join(PODS_AND_WORKLOADS)})"\')'
)


def _types() -> dict[str, object]:
    """The typed columns the rules read (``json_transform`` structure)."""
    image_list = [{"image": "VARCHAR"}]
    pod_spec = {name: image_list for name in IMAGE_LISTS}
    return {
        "stage": "VARCHAR",
        "verb": "VARCHAR",
        "requestURI": "VARCHAR",
        "user": {"username": "VARCHAR", "groups": ["VARCHAR"]},
        "objectRef": {"resource": "VARCHAR", "subresource": "VARCHAR"},
        "responseStatus": {"code": "INTEGER"},
        "requestObject": {
            "metadata": {"ownerReferences": [{"kind": "VARCHAR"}]},
            "spec": {
                **pod_spec,
                "template": {"spec": pod_spec},
                "jobTemplate": {"spec": {"template": {"spec": pod_spec}}},
            },
        },
    }


def _duckdb_type(spec: object) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return _duckdb_type(spec[0]) + "[]"
    assert isinstance(spec, dict)
    return "STRUCT(" + ", ".join(f'"{k}" {_duckdb_type(v)}' for k, v in spec.items()) + ")"


def queries(path: Path, rules: dict[str, str]) -> dict[str, str]:
    """The bare scan and the hand-written queries, by label."""
    file = "'" + str(path).replace("'", "''") + "'"
    types = _types()
    columns = "{" + ", ".join(f"'{k}': '{_duckdb_type(v)}'" for k, v in types.items()) + "}"
    typed = f"read_json({file}, format='newline_delimited', columns={columns}, ignore_errors=true)"
    text = f"read_json_objects({file}, format='newline_delimited', ignore_errors=true)"

    def counts(names: list[str]) -> str:
        return ", ".join(f"count(*) FILTER (WHERE {rules[n]}) AS {n}" for n in names)

    every = list(rules)
    scalar = [n for n in every if "unapproved_registry" not in n]
    unpacked = ", ".join(f"d.{k} AS {k}" for k in types)
    transformed = json.dumps(types).replace("'", "''")
    return {
        "bare read_json count(*)": (
            f"SELECT count(*) FROM read_json({file}, format='newline_delimited')"
        ),
        "hand-written, typed read_json, 6 rules without pod specs": (
            f"SELECT {counts(scalar)} FROM {typed} WHERE {SHARED}"
        ),
        "hand-written, typed read_json, all 7 rules": (
            f"SELECT {counts(every)} FROM {typed} WHERE {SHARED}"
        ),
        "hand-written, text test then json_transform, all 7 rules": (
            f"WITH d AS MATERIALIZED (SELECT json_transform(json, '{transformed}') AS d "
            f"FROM {text} WHERE {SHARED_TEXT}), e AS (SELECT {unpacked} FROM d) "
            f"SELECT {counts(every)} FROM e WHERE {SHARED}"
        ),
    }


def _first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    return con.execute(sql).fetchone()


def timed(run: Callable[[], _T]) -> tuple[float, _T]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=None, help="reuse or create this file")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    profile = ROOT / "profiles" / "example.yml"
    with tempfile.TemporaryDirectory() as folder:
        log = args.corpus or Path(folder) / "audit.jsonl"
        if not log.exists():
            write_corpus(log, args.events, args.seed)
        fast = FastHunt(ReferenceEngine(load_corpus(ROOT, profile)), threads=args.threads)
        rules = hand_written_rules(profile)
        todo = queries(log, rules)
        bare_label = next(iter(todo))
        con = duckdb.connect(config={"threads": fast.threads})
        con.execute(todo[bare_label]).fetchall()  # warm the page cache
        times: dict[str, list[float]] = collections.defaultdict(list)
        ratios: dict[str, list[float]] = collections.defaultdict(list)
        found: dict[str, dict[str, int]] = {}
        hunt_label = "hunt, fast engine, all rules (hits and their lines)"
        hits: list[object] = []
        for _ in range(args.runs):
            bare, _ = timed(functools.partial(_first_row, con, todo[bare_label]))
            times[bare_label].append(bare)
            for label, sql in list(todo.items())[1:]:
                seconds, result = timed(functools.partial(_first_row, con, sql))
                names = [d[0] for d in con.description or []]
                found[label] = dict(zip(names, result or (), strict=True))
                times[label].append(seconds)
                ratios[label].append(seconds / bare)
            seconds, hits = timed(lambda: list(fast.hunt_file(log)))
            times[hunt_label].append(seconds)
            ratios[hunt_label].append(seconds / bare)
        by_rule = collections.Counter(hit.rule for hit in hits if isinstance(hit, Hit))
        size = log.stat().st_size

    print(f"corpus: {log} ({size:,} bytes)")
    print(f"threads: {fast.threads}; {args.runs} rounds, each query after the bare scan")
    width = max(len(label) for label in times)
    for label, runs in times.items():
        spread = f"{min(runs):.2f} to {max(runs):.2f} s"
        ratio = ratios.get(label)
        versus = f"   {min(ratio):.2f} to {max(ratio):.2f}x the bare scan" if ratio else ""
        print(f"{label:<{width}}  {spread}{versus}")
    for label, counted in found.items():
        same = all(counted[name] == by_rule.get(name, 0) for name in counted)
        print(f"same per-rule counts as hunt ({label}): {'yes' if same else 'NO'}")
        if not same:
            for name, count in counted.items():
                print(f"  {name}: hand-written {count}, hunt {by_rule.get(name, 0)}")


if __name__ == "__main__":
    main()
