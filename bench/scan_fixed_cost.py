"""The fast engine's fixed cost per scan: small files hunted one by one, three ways in one run.

    .venv/bin/python bench/scan_fixed_cost.py [--rounds 3] [--files F1.jsonl ...]

One ``FastHunt`` (with the correlation base rules, as ``sigma-ext hunt`` makes it) hunts each
file with ``hunt_file``, as the spool and the test suite do: the typed query prepared once and
the file's codes held in memory (``running.Prepared``, files up to ``running.SMALL_SCAN``), the
scan of every file planned again with its codes written to a Parquet file (``SMALL_SCAN`` set to
0: how every scan ran before), and the reference engine (``hunt.reference.hunt_file``). Every
way's output is checked equal. For each it prints the least and the median over the rounds of
the CPU time (this process's user + system, DuckDB's threads included) and wall time per file,
and the ratio of the held scan to the other two. The default files are the Kubernetes audit
fixtures (12 to 70 lines each). The engine is built before the clock starts; its build time is
printed apart.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sigma_ext.cli.hunt import hunt_engine_or_report
from sigma_ext.content.corpus import corpus_at
from sigma_ext.content.locate import locate
from sigma_ext.hunt.fast import running
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.reference import hunt_file
from sigma_ext.reference.engine import ReferenceEngine

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILES = sorted((ROOT / "fixtures" / "kubernetes_audit").glob("*.jsonl"))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(work: Callable[[], list[str]]) -> tuple[float, float, list[str]]:
    cpu, wall = _cpu(), time.perf_counter()
    out = work()
    return _cpu() - cpu, time.perf_counter() - wall, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=Path, nargs="+", default=DEFAULT_FILES)
    args = parser.parse_args()
    files: list[Path] = args.files
    cpu, wall = _cpu(), time.perf_counter()
    corpus = corpus_at(locate(ROOT), None)
    hunting = hunt_engine_or_report(corpus, ReferenceEngine(corpus))
    assert hunting is not None
    fast = FastHunt(hunting)
    print(f"engines built: {_cpu() - cpu:.3f} s CPU, {time.perf_counter() - wall:.3f} s wall")
    small = running.SMALL_SCAN

    def held() -> list[str]:
        running.SMALL_SCAN = small
        return [str(item) for path in files for item in fast.hunt_file(path)]

    def planned() -> list[str]:
        running.SMALL_SCAN = 0
        try:
            return [str(item) for path in files for item in fast.hunt_file(path)]
        finally:
            running.SMALL_SCAN = small

    def reference() -> list[str]:
        return [str(item) for path in files for item in hunt_file(hunting, path)]

    ways = {"held (prepared)": held, "planned each scan": planned, "reference engine": reference}
    # the first held scan prepares the query: once per FastHunt, not per file
    cpu_first, wall_first, expected = _timed(held)
    print(f"first held round (prepares the query): {cpu_first:.3f} s CPU, {wall_first:.3f} s wall")
    figures: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in ways}
    for _ in range(args.rounds):
        for name, work in ways.items():
            used, took, out = _timed(work)
            assert out == expected, f"{name}: output differs"
            figures[name][0].append(used / len(files))
            figures[name][1].append(took / len(files))
    print(f"{len(files)} files, {args.rounds} rounds; per file: least (median) of the rounds")
    base_cpu = min(figures["held (prepared)"][0])
    for name, (cpus, walls) in figures.items():
        print(
            f"{name:20} CPU {min(cpus):.4f} s ({statistics.median(cpus):.4f})"
            f"  wall {min(walls):.4f} s ({statistics.median(walls):.4f})"
            f"  CPU / held {min(cpus) / base_cpu:5.1f}x"
        )


if __name__ == "__main__":
    main()
