"""Benchmark: the fast hunt (DuckDB) against DuckDB's bare scan and the reference evaluator.

    .venv/bin/python bench/hunt_duckdb.py [--events 1000000] [--seed 7] [--sample 20000]
                                          [--corpus PATH] [--threads N] [--envelope eks|aks]
                                          [--no-native] [--compare]

Generates (or reuses, with --corpus) the seeded realistic Kubernetes audit corpus of
``bench/audit_corpus.py`` and prints, from one run:

* the engine's bare scan: ``SELECT count(*) FROM read_json(file, format='newline_delimited')``;
* for reference, the bare scan of the reader ``hunt`` uses, ``read_json_objects`` (the lines'
  text), which costs less than ``read_json``;
* ``hunt`` with every rule and every correlation as the command runs it (``sigma_ext.cli.hunt
  .hunt_inputs`` with the hunt engine: the correlations' base rules judged in the same scan,
  the correlation hits evaluated at the end), hits counted; and the same without the
  correlations, for the correlation's share of the hunt's time;
* its two stages apart: the native prefilter alone (``sigma_ext.hunt.fast.prefilter``: every
  line read, the lines no rule can fire on set aside, and those on which its judge,
  ``sigma_ext.hunt.fast.judge``, knows every rule's verdict) and the typed scan of the lines it
  passed on (DuckDB); ``--no-native`` hunts without the prefilter (DuckDB reads every line), and
  ``--compare`` times that too, after the hunt, as the figure before the prefilter;
* the reference evaluator (``sigma_ext.hunt.reference.hunt_file``) on the first ``--sample`` lines,
  extrapolated to events per second;
* the two ratios (hunt / bare scan, fast / reference speed) and whether both engines give
  identical hits on the sample.

With ``--envelope eks`` (or ``aks``), each event of the corpus is first wrapped as EKS (a
CloudWatch Logs event, the audit event in ``message``) or AKS (a resource-log record, the audit
event in ``properties.log``) delivers it, into a temporary file, and all of the above runs on
that file.
"""

from __future__ import annotations

import argparse
import io
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from audit_corpus import write_corpus  # noqa: E402
from envelopes import wrap_corpus  # noqa: E402

from sigma_ext.cli.hunt import hunt_engine_or_report, hunt_inputs  # noqa: E402
from sigma_ext.content.corpus import load_corpus  # noqa: E402
from sigma_ext.hunt.fast import prefilter_run  # noqa: E402
from sigma_ext.hunt.fast.engine import FastHunt  # noqa: E402
from sigma_ext.hunt.inputs import open_inputs  # noqa: E402
from sigma_ext.hunt.reference import hunt_file  # noqa: E402
from sigma_ext.reference.engine import ReferenceEngine  # noqa: E402


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


CPU: dict[str, float] = {}


def timed(run: object, label: str = "") -> tuple[float, object]:
    """Wall time of ``run()``; its CPU time (all threads of this process) goes to CPU[label]."""
    cpu, start = _cpu(), time.perf_counter()
    result = run()  # type: ignore[operator]
    CPU[label] = _cpu() - cpu
    return time.perf_counter() - start, result


def hunted(log: Path, engine: ReferenceEngine, fast: FastHunt, folder: Path) -> tuple[int, int]:
    """``sigma-ext hunt --engine fast LOG`` as the command runs it: (rule hits, correlation
    hits) printed."""
    work = Path(tempfile.mkdtemp(dir=folder))
    inputs, errors = open_inputs([str(log)], work)
    assert not errors, errors
    out, err = io.StringIO(), io.StringIO()
    hunt_inputs(inputs, engine, fast, None, False, work, out, err)
    lines = out.getvalue().splitlines()
    correlations = sum('"correlation_id"' in line for line in lines)
    return len(lines) - correlations, correlations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--corpus", type=Path, default=None, help="reuse or create this file")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--envelope", choices=["eks", "aks"], default=None)
    parser.add_argument("--no-native", action="store_true", help="hunt without the prefilter")
    parser.add_argument("--compare", action="store_true", help="also hunt without it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = args.corpus or Path(folder) / "audit.jsonl"
        origin = f"seed {args.seed}" if not log.exists() else f"reused {log}, seed unknown"
        if not log.exists():
            write_corpus(log, args.events, args.seed)
        if args.envelope:
            wrapped = Path(folder) / f"audit-{args.envelope}.jsonl"
            wrap_corpus(log, wrapped, args.envelope)
            log = wrapped
        events = sum(1 for _ in log.open("rb"))
        size = log.stat().st_size
        corpus = load_corpus(ROOT, ROOT / "profiles" / "example.yml")
        engine = ReferenceEngine(corpus)
        hunting = hunt_engine_or_report(corpus, engine)
        assert hunting is not None
        native = not args.no_native
        fast = FastHunt(hunting, threads=args.threads, native=native)
        single = FastHunt(engine, threads=args.threads, native=native)

        con = duckdb.connect(config={"threads": fast.threads})
        path_sql = "'" + str(log).replace("'", "''") + "'"
        bare_sql = f"SELECT count(*) FROM read_json({path_sql}, format='newline_delimited')"
        con.execute(bare_sql).fetchall()  # warm the page cache
        bare, _ = timed(lambda: con.execute(bare_sql).fetchall(), "bare")
        objects_sql = (
            f"SELECT count(*) FROM read_json_objects({path_sql}, format='newline_delimited', "
            "ignore_errors=true)"
        )
        objects, _ = timed(lambda: con.execute(objects_sql).fetchall(), "objects")
        stages = Path(folder) / "stages"
        stages.mkdir()
        passed = None
        if fast.prefilter is not None:
            _, passed = timed(
                lambda: prefilter_run.run(fast.prefilter, log, stages, fast.threads), "prefilter"
            )
        scanned = passed.kept if isinstance(passed, prefilter_run.Passed) else log
        scan_con = fast.connect()
        _, result = timed(
            lambda: fast._scan_typed(scan_con, scanned, stages / "codes.parquet", None), "typed"
        )
        typed = result is not None
        scan_con.close()
        hunt_time, found = timed(lambda: hunted(log, hunting, fast, Path(folder)), "hunt")
        hits, correlation_hits = found  # type: ignore[misc]
        single_time, alone = timed(lambda: hunted(log, engine, single, Path(folder)), "single")
        # every line, not a sample: the hunt with the correlations' base rules judged in the
        # same scan prints the same rule hits as the hunt without them
        assert alone[0] == hits, ("rule hits differ with the correlations", alone[0], hits)  # type: ignore[index]

        before = None
        if args.compare:
            alone = FastHunt(hunting, threads=args.threads, native=False)
            before, found_before = timed(
                lambda: hunted(log, hunting, alone, Path(folder)), "before"
            )
            assert found_before == found, (found_before, found)

        sample = Path(folder) / "sample.jsonl"
        with log.open("rb") as source, sample.open("wb") as target:
            target.writelines(itertools.islice(source, args.sample))
        reference_time, reference = timed(lambda: list(hunt_file(hunting, sample)))
        same = list(fast.hunt_file(sample)) == [
            type(i)(**{**i.__dict__, "file": str(sample)})
            for i in reference  # type: ignore[misc]
        ]

    fast_rate = events / hunt_time
    reference_rate = args.sample / reference_time
    wrapped_as = f", each wrapped as {args.envelope.upper()} delivers it" if args.envelope else ""
    print(
        f"corpus: {events:,} events{wrapped_as}, {size:,} bytes, "
        f"{origin}; "
        f"rules: {len(corpus.rules)}"
    )
    print(f"threads: {fast.threads}, memory_limit: {fast.memory_limit}")
    print(
        f"bare read_json count(*):     {bare:7.2f} s  {events / bare:>12,.0f} events/s  "
        f"(CPU {CPU['bare']:.2f} s)"
    )
    print(
        f"bare read_json_objects:      {objects:7.2f} s  {events / objects:>12,.0f} events/s  "
        f"(CPU {CPU['objects']:.2f} s; the text reader hunt uses)"
    )
    print(
        f"hunt, fast engine, all rules: {hunt_time:7.2f} s  {fast_rate:>12,.0f} events/s  "
        f"({hits:,} hits, {correlation_hits:,} correlation hits; CPU {CPU['hunt']:.2f} s; "
        f"{'typed' if typed else 'exact'} scan)"
    )
    print(
        f"  of which correlations:      {1 - single_time / hunt_time:7.1%}  of the time "
        f"(CPU {1 - CPU['single'] / CPU['hunt']:.1%}; the same hunt without them: "
        f"{single_time:.2f} s, CPU {CPU['single']:.2f} s)"
    )
    if isinstance(passed, prefilter_run.Passed):
        print(
            f"  prefilter alone:            CPU {CPU['prefilter']:.2f} s "
            f"({CPU['prefilter'] / CPU['bare']:.2f}x the bare scan's CPU); passed on "
            f"{passed.lines:,} of {passed.total:,} lines, judged {passed.judged:,} with hits "
            "itself"
        )
    else:
        print("  prefilter: not used (no extension, --no-native, or most lines passed on)")
    print(
        f"  typed scan of those lines:  CPU {CPU['typed']:.2f} s "
        f"({CPU['typed'] / CPU['bare']:.2f}x the bare scan's CPU)"
    )
    print(
        f"reference evaluator, {args.sample:,} events: {reference_time:6.2f} s  "
        f"{reference_rate:>12,.0f} events/s"
    )
    print(
        f"hunt / bare scan time:        {hunt_time / bare:7.2f}x  (target <= 1.5x; "
        f"CPU {CPU['hunt'] / CPU['bare']:.2f}x)"
    )
    if before is not None:
        print(
            f"hunt without the prefilter:   {before:7.2f} s  ({before / bare:.2f}x the bare scan; "
            f"CPU {CPU['before']:.2f} s, {CPU['before'] / CPU['bare']:.2f}x; same hits)"
        )
    print(f"fast / reference speed:       {fast_rate / reference_rate:7.1f}x  (target >= 30x)")
    print(f"identical hits on the sample: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
