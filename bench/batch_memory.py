"""Peak memory of ``sigma-ext hunt`` on one large CloudTrail log file as S3 delivers it.

    .venv/bin/python bench/batch_memory.py --size-mb 1024 --file /tmp/cloudtrail-1g.json

writes (if missing) one JSON document ``{"Records": [...]}`` of about ``--size-mb`` MB, one line as
CloudTrail writes it, made of the fixture records of ``fixtures/aws_cloudtrail`` with fresh ids
(seeded, so the same size gives the same file), then runs the hunt once per engine and prints its
wall time, hits and peak resident memory (``ru_maxrss`` of the child). The bound the batch reader
promises is set by the largest record, not the file: compare two sizes.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def records() -> list[dict[str, object]]:
    found = []
    for path in sorted((ROOT / "fixtures" / "aws_cloudtrail").glob("*.jsonl")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found


def generate(target: Path, size_mb: int, seed: int = 7) -> int:
    pool = records()
    chooser = random.Random(seed)
    written = 0
    count = 0
    limit = size_mb << 20
    with target.open("w", encoding="utf-8") as out:
        out.write('{"Records":[')
        while written < limit:
            record = dict(chooser.choice(pool))
            record["eventID"] = f"{chooser.getrandbits(128):032x}"
            text = json.dumps(record, separators=(",", ":"))
            out.write(("," if count else "") + text)
            written += len(text) + 1
            count += 1
        out.write("]}")
    return count


def run(engine: str, path: Path) -> tuple[float, int, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sigma_ext",
            "hunt",
            "--root",
            str(ROOT),
            "--engine",
            engine,
            str(path),
        ],
        capture_output=True,
        check=True,
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, done.stdout.count(b"\n"), max(peak, before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--file", type=Path, default=Path("/tmp/cloudtrail-batch.json"))
    parser.add_argument("--engine", choices=["fast", "reference", "both"], default="both")
    args = parser.parse_args()
    if not args.file.exists():
        count = generate(args.file, args.size_mb)
        print(f"wrote {args.file}: {count} records, {args.file.stat().st_size >> 20} MiB")
    if args.engine == "both":
        # ru_maxrss of the children is the largest of them all: one process per engine
        for engine in ("reference", "fast"):
            subprocess.run(
                [sys.executable, __file__, "--engine", engine, "--file", str(args.file)],
                check=True,
            )
        return
    wall, hits, peak = run(args.engine, args.file)
    print(f"{args.engine}: {wall:.1f} s, {hits} hits, peak RSS {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
