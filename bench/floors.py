"""Benchmark: the floor of the fast hunt's design on the corpora whose target it misses or meets
narrowly, as a ratio to DuckDB's bare scan of the same corpus.

    .venv/bin/python bench/floors.py [--scale 1] [--seed 1] [--rounds 3] [--keep FOLDER]
                                     [--only audit,eks,aks,runtime,cloudtrail-gz]

The corpora are ``bench/sources_ratio.py``'s (the same generator, seed and scale). For each,
interleaved over ``--rounds`` rounds, it times:

* the bare scan (``sources_ratio``'s query: for the gzip files, the same records in one plain
  JSON Lines file, as the issue defines it);
* ``hunt``, as ``sources_ratio`` runs it (every rule and correlation, the engine built before);
* the **floor**: the native pass the hunt cannot do without, alone, with no hit made or printed
  and nothing after it:

  - audit, EKS, AKS: the prefilter with its judge over every line (``prefilter_run.run``: the file
    read in chunks on the hunt's threads, each line parsed and judged in C, the verdicts
    written), which is all the hunt of these corpora does before it makes the hits;
  - runtime text logs: the claim and the gate, one automaton in C over every line on the hunt's
    threads (``line_dfa.scan_lines``), the lines it picks left unread;
  - the 10,000 gzip files: each file, on the hunt's threads, read, unpacked (ISA-L's
    ``isal_zlib``, as the hunt does), its documents split into records in C
    (``batch_split.split_input``) and the records judged in memory (``judged_splits.judged``):
    what the hunt's splitting threads do, the passes no hunt of these files can skip, with no
    hit made.

It prints, per corpus, the least and the median of the rounds: seconds and the ratio to the bare
scan of the same round. A floor above the issue's target shows the target out of reach of this
design, whatever is done after that pass; the hunt's distance from its floor is what the rest
(Python's hits, the correlations, the scan of what the judge passes on) costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sources_ratio import Case, built, hunt_text, timed  # noqa: E402

from sigma_ext.cli.hunt import hunt_engine_or_report, paused_collector  # noqa: E402
from sigma_ext.content.corpus import load_corpus  # noqa: E402
from sigma_ext.hunt import judged_splits  # noqa: E402
from sigma_ext.hunt.batch_split import split_input  # noqa: E402
from sigma_ext.hunt.fast import line_dfa, prefilter, prefilter_run  # noqa: E402
from sigma_ext.hunt.fast.engine import FastHunt  # noqa: E402
from sigma_ext.hunt.inputs import Input  # noqa: E402
from sigma_ext.hunt.spool import LONG_LINE  # noqa: E402
from sigma_ext.reference.engine import ReferenceEngine  # noqa: E402

TARGETS = {"audit": 1.5, "eks": 2.0, "aks": 2.0, "runtime": 2.0, "cloudtrail-gz": 2.0}


def floor_of(case: Case, fast: FastHunt) -> Callable[[], object]:
    """The native pass alone for the case (see the module's docstring)."""
    threads = fast.threads
    if case.name.startswith("cloudtrail-gz"):

        def split_and_judged(path: Path) -> int:
            found = Input(str(path), path, gzip=True, batch=True)
            split = split_input(found, LONG_LINE)
            assert split is not None, f"{path} not split in C"
            judged = judged_splits.judged(split, found.name, fast.prefilters, None)
            assert judged is not None, f"{path} not judged"
            return len(judged.verdicts)

        def unpacked_split_and_judged() -> object:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                return sum(pool.map(split_and_judged, case.files, chunksize=64))

        return unpacked_split_and_judged
    if case.name == "runtime":
        scan = fast.text_scan
        assert scan is not None, "no text scan"
        dfa, native, picked = scan._automaton()
        assert dfa is not None, "the automaton is not built (no extension)"

        def claimed() -> int:
            blocks = 0
            with case.files[0].open("rb") as handle:
                for _ in line_dfa.scan_lines(handle, native, picked, threads):
                    blocks += 1
            return blocks

        return claimed
    return lambda: judge(fast.prefilters[0], case.files[0], threads)


def judge(chosen: prefilter.Prefilter, path: Path, threads: int) -> int:
    """The prefilter and its judge over every line of ``path``, as the hunt runs them."""
    with tempfile.TemporaryDirectory(prefix="sigma-ext-floor-") as folder:
        passed = prefilter_run.run(chosen, path, Path(folder), threads)
        assert passed is not None, "the prefilter gave the file up"
        return passed.total


def seconds(run: Callable[[], object]) -> float:
    return timed(run)[0]


def least_median(values: list[float], unit: str = "") -> str:
    """The least and the median of ``values``, two decimals each."""
    return f"{min(values):.2f}{unit}/{statistics.median(values):.2f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the corpora here")
    parser.add_argument("--only", default=",".join(TARGETS))
    args = parser.parse_args()
    only = {name for name in args.only.split(",") if name}

    # the content loaded and frozen for the collector as the command does it (paused_collector)
    with paused_collector() as resume:
        corpus = load_corpus(ROOT, ROOT / "profiles" / "example.yml")
        engine = hunt_engine_or_report(corpus, ReferenceEngine(corpus))
        assert engine is not None
        resume()
        fast = FastHunt(engine)
        con = duckdb.connect(config={"threads": fast.threads})
        run_cases(args, only, engine, fast, con)


def run_cases(
    args: argparse.Namespace,
    only: set[str],
    engine: ReferenceEngine,
    fast: FastHunt,
    con: duckdb.DuckDBPyConnection,
) -> None:
    """Build the corpora, then time each (``main``)."""
    with built(args.keep, args.scale, args.seed, 10, only) as every:
        cases = [case for case in every if case.name.split(" ")[0] in TARGETS]
        print(f"scale {args.scale}, seed {args.seed}, threads {fast.threads}, {args.rounds} rounds")
        print(
            f"{'corpus':28} {'target':>6} {'bare s':>13} {'floor s':>13} {'floor x':>13} "
            f"{'hunt s':>13} {'hunt x':>13}"
        )
        for case in cases:
            floor = floor_of(case, fast)
            con.execute(case.bare).fetchall()  # the page cache warm
            floor()
            rows: list[tuple[float, float, float]] = []
            for _ in range(args.rounds):
                bare = seconds(lambda c=case: con.execute(c.bare).fetchall())
                low = seconds(floor)
                hunt = seconds(lambda c=case: hunt_text(c.files, engine, fast))
                rows.append((bare, low, hunt))

            bares = [b for b, _, _ in rows]
            print(
                f"{case.name:28} {TARGETS[case.name.split(' ')[0]]:>5}x "
                f"{least_median(bares):>13} {least_median([f for _, f, _ in rows]):>13} "
                f"{least_median([f / b for b, f, _ in rows], unit='x'):>13} "
                f"{least_median([h for _, _, h in rows]):>13} "
                f"{least_median([h / b for b, _, h in rows], unit='x'):>13}",
                flush=True,
            )


if __name__ == "__main__":
    main()
