"""Start-up of a command: the least wall time and the least CPU time (the child's user + system,
``getrusage``) of N runs, output discarded.

    python3 bench/startup_time.py 5 .venv/bin/sigma-ext --help
    python3 bench/startup_time.py 5 .venv/bin/sigma-ext hunt one-line.jsonl
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time


def main() -> None:
    runs, command = int(sys.argv[1]), sys.argv[2:]
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    print(
        f"{' '.join(command)}: wall min {min(walls):.2f} s, CPU min {min(cpus):.2f} s ({runs} runs)"
    )


if __name__ == "__main__":
    main()
