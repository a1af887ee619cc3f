"""Start-up of the ``sigma-ext`` commands as a user runs them, against ``python -c pass``.

    .venv/bin/python bench/startup_time.py [--rounds 5] [--sigma-ext .venv/bin/sigma-ext]

Each round runs, one after the other (interleaved, so that the machine's load weighs on every
command alike): ``python -c pass`` (the interpreter's own start, with the same Python),
``sigma-ext --help``, ``sigma-ext hunt ONE.jsonl`` on a one-line Kubernetes audit file (the
first line of a fixture, written to a temporary folder; ``--engine auto`` leaves it to the
reference engine), ``sigma-ext check`` and ``sigma-ext build --out TMP``. Every command runs
from the checkout, output discarded, with Python's bytecode cache on (as an installed package
has it: ``PYTHONDONTWRITEBYTECODE`` is left out of the commands' environment, and a first round,
not counted, writes the cache).

For each command it prints the least and the median of the rounds: CPU time (the child's user +
system, from ``wait4``), wall time, each as seconds and as a ratio to ``python -c pass`` of the
same run, and the child's peak resident memory (``ru_maxrss``). CPU is the figure to read on a
shared machine: wall time grows with the load of the other processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_LINE_SOURCE = ROOT / "fixtures" / "kubernetes_audit" / "malicious_creators.jsonl"


@dataclass
class Figures:
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)


def run_once(command: list[str]) -> tuple[float, float, int]:
    """CPU seconds, wall seconds and peak RSS (KiB) of one run of ``command``."""
    start = time.perf_counter()
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    child = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)}: exit {child.returncode}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss


def _pair(values: list[float], unit: float, spec: str) -> str:
    """The least and (in brackets) the median of ``values``, divided by ``unit``."""
    least, median = min(values) / unit, statistics.median(values) / unit
    return f"{least:6{spec}} ({median:6{spec}})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sigma-ext", default=str(ROOT / ".venv" / "bin" / "sigma-ext"))
    args = parser.parse_args()
    python = str(Path(args.sigma_ext).with_name("python"))
    with tempfile.TemporaryDirectory(prefix="sigma-ext-startup-") as folder:
        one = Path(folder) / "one.jsonl"
        one.write_text(ONE_LINE_SOURCE.read_text(encoding="utf-8").splitlines()[0] + "\n")
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "sigma-ext --help": [args.sigma_ext, "--help"],
            "sigma-ext hunt one.jsonl": [args.sigma_ext, "hunt", str(one)],
            "sigma-ext check": [args.sigma_ext, "check"],
            "sigma-ext build": [args.sigma_ext, "build", "--out", str(Path(folder) / "out")],
        }
        figures = {name: Figures() for name in commands}
        for command in commands.values():
            run_once(command)  # writes the bytecode cache
        for _ in range(args.rounds):
            for name, command in commands.items():
                cpu, wall, rss = run_once(command)
                figures[name].cpu.append(cpu)
                figures[name].wall.append(wall)
                figures[name].rss_kib.append(rss)
    base = figures["python -c pass"]
    base_cpu, base_wall = min(base.cpu), min(base.wall)
    print(f"{args.rounds} rounds; least (median) of the rounds; x = ratio to python -c pass")
    print(f"{'command':26} {'CPU s':>15} {'CPU x':>15} {'wall s':>15} {'wall x':>15} peak RSS")
    for name, got in figures.items():
        print(
            f"{name:26} {_pair(got.cpu, 1.0, '.3f')} {_pair(got.cpu, base_cpu, '.1f')}"
            f" {_pair(got.wall, 1.0, '.3f')} {_pair(got.wall, base_wall, '.1f')}"
            f" {max(got.rss_kib) / 1024:6.1f} MB"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
