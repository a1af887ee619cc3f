"""Benchmark: ``hunt`` on every source and file layout, as a ratio to DuckDB's bare scan.

    .venv/bin/python bench/sources_ratio.py [--scale 0.1] [--seed 7] [--sample 2000]
                                            [--only NAME,...] [--keep FOLDER]
                                            [--gz-files N] [--rounds 3]

Generates one seeded corpus per source and layout, and prints, from one run, for each:

* the bare scan: DuckDB's ``count(*)`` over the same bytes (``read_json`` of JSON Lines; the
  records of ``{"Records": [...]}`` documents unnested; one ``VARCHAR`` column of a text log;
  for the gzip files, the same records in one plain JSON Lines file, as the issue defines it);
* ``hunt`` with every rule and every correlation through the command's own code path
  (``sigma_ext.cli.hunt.hunt_inputs`` with the hunt engine: inputs opened, spooled or scanned
  in place, the fast engine, the correlations' base rules judged in the same pass), the engine
  built before the clock starts and its objects frozen for the garbage collector as the
  command freezes them (``paused_collector``; start-up is measured apart, see docs/hunt.md);
* the ratio hunt / bare scan, wall and CPU (this process, every thread), of the round of the
  median ratio among ``--rounds`` rounds (default 3; each a bare scan then a hunt, so that the
  load of the shared machine weighs on both; every round's hunt must print the same), the
  range of the rounds' ratios, and the correlations' share of the hunt's CPU time (the same
  hunt run once more without them);
* whether the fast and the reference engine print the same hits and bad lines on a sample
  (the first ``--sample`` records, in the same layout).

Corpora (``--scale 1`` is the issue's size; the default 0.1 fits a few minutes on two shared
cores): the realistic audit corpus of ``bench/audit_corpus.py`` (1M events at scale 1), the same
events as EKS and AKS deliver them (``bench/envelopes.py``), and for CloudTrail (S3 documents of
100 records, one document per line), Azure Activity records, GCP audit entries, Docker events and
container runtime text logs, 200k events at scale 1 drawn (seeded) from the project's own
fixtures of that source (97% from the benign ones), with their ids renewed; and 10,000 gzip
files of 100 CloudTrail records each at scale 1.

The fixtures are the events the rules are about, so a corpus drawn from them alone is dense in
hits (30 to 75% of the Azure, GCP and Docker lines fire a visibility rule), unlike an export.
The ``azure``, ``gcp``, ``docker`` and ``runtime`` corpora therefore mix the drawn events with
the benign background each source writes in volume (``bench/backgrounds.py``, seeded, written
from the documented formats): 90% of the Docker events (health-check execs and statuses,
attach/kill/die/destroy, network and volume events, image tags), 90% of the GCP entries (Data
Access reads and lists, other services' Admin Activity), 85% of the Azure records (writes and
actions on other resource types) and 90% of the runtime lines (task exits, image events, probe
failures, PLEG and volume lines); ``BACKGROUNDS`` says why each share. The drawn-only corpora
are kept as ``azure-dense``, ``gcp-dense``, ``docker-dense`` and ``runtime-dense``.

Measured (scale 0.1, seed 1, three runs, CPU ratio; the machine shared): runtime logs 74 to
82x before the text scan (``sigma_ext.hunt.fast.text_scan``), 7.9 to 10.6x after (scale 1:
9.1 to 12.2x; the dense corpus 69 to 103x before, 20 to 21x after); Docker 3.1 to 4.1x before,
2.4 to 2.6x after; GCP 3.4 to 5.3x before, 2.2 to 3.3x after; Azure 1.7 to 2.2x before, 1.1 to
2.4x after (the same path, judged in Python as the spool reads it: the spread is the load). The
claim's RE2 expression alone costs 2.5 to 4x the bare scan (any regular expression over every
line does in DuckDB: ``^[\\x00-\\x7f]*$`` costs 2.8x), which puts 2x out of reach for a text
log judged in DuckDB.

A small scale does not give the ratio of scale 1: DuckDB's bare scan has fixed costs (type
sampling, threads) that weigh more on a small file, and the fast hunt's do too. Measured: the
audit corpus gives 1.3 to 1.9x at scale 0.03 and 3.4x at scale 0.3 (the previous session's
1M-event figures were 3.0 to 3.5x); CloudTrail documents 1.1 to 1.7x at 0.03 and 1.7x at 0.3.
At scale 1 the gap is wide for the sources judged record by record (measured on a quiet
machine, one run, seed 1, after the native judge searched ``|re`` values): Azure 13.3x wall
(9.7x CPU) against 1.8x at 0.1, GCP 5.4x (7.3x) against 2.5x, Docker 4.8x (6.4x) against 2.8x,
runtime logs 10.1x as at 0.1, the dense corpora 17.3x, 6.9x and 8.5x; CloudTrail documents
1.24x. Their bare scans barely grow from 0.1 to 1 (Azure 0.32 to 0.40 s for ten times the
bytes: ``count(*)`` does not parse the records), the hunt does.
Since CloudTrail, Azure, GCP and Docker lines have native prefilters of their own (scale 1,
seeds 1 to 3, wall ratio; docs/hunt.md, "The sources after the first, set aside natively"):
Azure 0.48 to 0.68x, GCP 0.79 to 1.08x, Docker 1.12 to 1.28x, CloudTrail documents 0.86 to
1.03x, the 10,000 gzip files 25 to 39x (the same records as one plain file 3.3x). With batch
documents split in C (docs/hunt.md, "Batch documents split in C"; ``--only
cloudtrail-gz,cloudtrail-s3``, seeds 1 to 3): the 10,000 gzip files 8.4 to 12.3x wall (6.5 to
10.2x CPU; 10.6 to 13.8 s against 51 s before), the same records as one plain file 3.3 to
3.7x, CloudTrail documents 0.92 to 1.06x (one 438 MB file: over 64 MiB, read by the Python
reader then), 0.37 to 0.45x once split a piece at a time (2.3 to 3.1 s against 6.0 to 7.5 s).
With runtime text logs read by an automaton in C (docs/hunt.md, "Runtime text logs read by an
automaton"; ``--only runtime,runtime-dense``, seeds 1 to 3, interleaved with e73bf03): runtime
5.6 to 7.4x wall (0.16 to 0.17 s) against 9.7 to 12.5x (0.25 to 0.32 s) with DuckDB's RE2 claim,
the bare scan 0.02 to 0.03 s; the dense corpus 0.89 s against 1.04 to 1.06 s (Python's parse of
the lines the gate passes). With the judged lines' hits made while the next chunks are scanned
and the carried strings decoded by blocks (docs/hunt.md, "Judged hits made while the scan goes
on"; seeds 1 to 3, three rounds each, the median round): audit 1.56 to 1.86x, EKS 1.86 to
2.14x, AKS 1.82 to 2.00x; ``bench/floors.py`` puts the gzip files' floor (unpacking, then the
judge) at 2.5 to 2.8x. Run a larger scale for the figure that counts. ``--only
cloudtrail-gz`` builds the gzip files alone (``--scale 1``: the issue's 10,000 files);
``--gz-files N`` sets their number whatever the scale. Their records are also hunted as one
plain JSON Lines file (the row ``same, one JSONL file``): what the engine costs on those records
without gzip, batch documents or spool.

Measured (``--only cloudtrail-gz,cloudtrail-s3 --scale 0.1 --seed 1 --sample 1000``, one run
each, back to back, the machine shared; docs/hunt.md, "Many small gzip files"): 1,000 files
13.92x wall (14.09x CPU) on main (bd8c272), 9.33x (10.45x) with the spool scanned as its one
source and its writes buffered, the bare scan 0.39 s and 0.56 s in those runs (runs of the same
code differ by up to 30%); the same records as one plain file 5.8 to 6.5x; 10,000 files
(``--gz-files 10000``) 49.94x (35.55x) on main, 27.28x (26.88x) now on a busier machine (bare
scan 1.77 s against 0.89 s: not comparable); the same 1,000,000 records as one plain file 13.3
to 14.5x. The bare scan costs 4 µs a record at 100,000 records and 0.9 to 1.6 µs at
1,000,000, the hunt 41 to 71 µs at both. The 2x target is out of reach: DuckDB's scan of the
records alone (one plain file) is 4 to 14.5x, and reading, parsing and counting each record in
Python costs about 30 µs. The ``cloudtrail-s3`` ratio (1.0 to 1.7x) is low because its bare scan
(``unnest(Records)`` of the documents) costs 50 to 65 µs a record, not because its records are
judged another way: they go through the same reader and the same SQL.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from audit_corpus import write_corpus  # noqa: E402
from backgrounds import BACKGROUNDS  # noqa: E402
from envelopes import wrap_corpus  # noqa: E402

from sigma_ext.cli.hunt import hunt_engine_or_report, hunt_inputs, paused_collector  # noqa: E402
from sigma_ext.content.corpus import Corpus, load_corpus  # noqa: E402
from sigma_ext.hunt.fast.engine import FastHunt  # noqa: E402
from sigma_ext.hunt.inputs import open_inputs  # noqa: E402
from sigma_ext.reference.engine import ReferenceEngine  # noqa: E402

DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
BENIGN = 0.97
"""The share of drawn events taken from the benign fixtures (the audit corpus has about 3% of
workload creations, too)."""
RENEWED = ("eventID", "requestID", "correlationId", "eventDataId", "operationId", "insertId")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    cpu, start = _cpu(), time.perf_counter()
    result = run()
    return time.perf_counter() - start, _cpu() - cpu, result


def fixture_events(source: str, kind: str) -> list[str]:
    """The lines of a source's ``kind`` fixtures (JSON events, or text lines of a text log: the
    runtime logs' ``.log`` files, not their journal export in JSON)."""
    folder = ROOT / "fixtures" / source
    suffixes = (".log",) if source == "container_runtime" else (".jsonl", ".log")
    lines: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.suffix in suffixes and path.name.startswith(kind):
            lines += [line for line in path.read_text().splitlines() if line.strip()]
    return lines


def drawn(source: str, count: int, seed: int) -> list[str]:
    """``count`` events drawn from the fixtures, ids renewed so that no two are the same:
    ``BENIGN`` of them from the benign fixtures (near misses and everyday activity), the rest
    from the malicious ones."""
    rng = random.Random(seed)
    benign, malicious = fixture_events(source, "benign"), fixture_events(source, "malicious")
    out = []
    for number in range(count):
        line = rng.choice(benign if rng.random() < BENIGN else malicious)
        if line.startswith("{"):
            event = json.loads(line)
            for key in RENEWED:
                if isinstance(event.get(key), str):
                    event[key] = f"{rng.getrandbits(64):016x}-{number}"
            line = DUMPS(event)
        out.append(line)
    return out


def realistic(source: str, count: int, seed: int) -> list[str]:
    """``count`` events of a source as an export holds them: ``drawn`` from the fixtures, mixed
    (seeded) with the benign background of ``backgrounds.BACKGROUNDS`` in its share."""
    share, write = BACKGROUNDS[source]
    rng = random.Random(seed + 1000)
    background = round(count * share)
    benign = [json.loads(line) for line in fixture_events(source, "benign") if line[:1] == "{"]
    lines = drawn(source, count - background, seed) + write(benign, rng, background)
    rng.shuffle(lines)
    return lines


def write_lines(path: Path, lines: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")


def quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def bare_json(path: Path) -> str:
    return f"SELECT count(*) FROM read_json({quoted(path)}, format='newline_delimited')"


def bare_records(path: Path) -> str:
    return (
        "SELECT count(*) FROM (SELECT unnest(Records) FROM read_json("
        f"{quoted(path)}, format='newline_delimited', maximum_object_size=67108864))"
    )


def bare_text(path: Path) -> str:
    return (
        f"SELECT count(*) FROM read_csv({quoted(path)}, columns={{'line': 'VARCHAR'}}, "
        "delim=chr(31), quote='', escape='', header=false)"
    )


class Case:
    """One corpus: the files hunt reads, the query of its bare scan, and a sample."""

    def __init__(
        self, name: str, files: list[Path], bare: str, sample: list[Path], records: int
    ) -> None:
        self.name, self.files, self.bare, self.sample, self.records = (
            name,
            files,
            bare,
            sample,
            records,
        )


def build_cases(
    folder: Path, scale: float, seed: int, sample: int, only: set[str], gz_files: int | None = None
) -> list[Case]:
    cases: list[Case] = []
    audit_events = max(1000, int(1_000_000 * scale))
    others = max(1000, int(200_000 * scale))
    wanted = lambda name: not only or name in only  # noqa: E731

    audit = folder / "audit.jsonl"
    if wanted("audit") or wanted("eks") or wanted("aks"):
        write_corpus(audit, audit_events, seed)
        head = folder / "audit.sample.jsonl"
        with audit.open() as source:
            write_lines(head, [next(source).rstrip("\n") for _ in range(min(sample, audit_events))])
    if wanted("audit"):
        cases.append(Case("audit", [audit], bare_json(audit), [head], audit_events))
    for envelope in ("eks", "aks"):
        if wanted(envelope):
            path = folder / f"audit-{envelope}.jsonl"
            wrap_corpus(audit, path, envelope)
            small = folder / f"audit-{envelope}.sample.jsonl"
            wrap_corpus(head, small, envelope)
            cases.append(Case(envelope, [path], bare_json(path), [small], audit_events))

    for name, source in (
        ("azure", "azure_activitylogs"),
        ("gcp", "gcp_audit"),
        ("docker", "docker_events"),
        ("runtime", "container_runtime"),
    ):
        for dense in (False, True):
            case = f"{name}-dense" if dense else name
            if not wanted(case):
                continue
            events = drawn(source, others, seed) if dense else realistic(source, others, seed)
            suffix = ".log" if source == "container_runtime" else ".jsonl"
            path, small = folder / f"{case}{suffix}", folder / f"{case}.sample{suffix}"
            write_lines(path, events)
            write_lines(small, events[:sample])
            bare = bare_text(path) if suffix == ".log" else bare_json(path)
            cases.append(Case(case, [path], bare, [small], others))

    if wanted("cloudtrail-s3") or wanted("cloudtrail-gz"):
        records = drawn("aws_cloudtrail", others, seed)
        docs = [
            '{"Records":[' + ",".join(records[at : at + 100]) + "]}"
            for at in range(0, len(records), 100)
        ]
    if wanted("cloudtrail-s3"):
        path, small = folder / "cloudtrail-s3.json", folder / "cloudtrail-s3.sample.json"
        write_lines(path, docs)
        write_lines(small, docs[: max(1, sample // 100)])
        cases.append(Case("cloudtrail-s3", [path], bare_records(path), [small], others))
    if wanted("cloudtrail-gz"):
        count = gz_files or max(10, int(10_000 * scale))
        many = folder / "s3"
        many.mkdir(exist_ok=True)  # (--keep given a folder already written: written again)
        gz_records = drawn("aws_cloudtrail", count * 100, seed + 1)
        files = []
        for number in range(count):
            part = gz_records[number * 100 : (number + 1) * 100]
            path = many / f"123456789012_CloudTrail_eu-west-1_{number:05d}.json.gz"
            body = '{"Records":[' + ",".join(part) + "]}"
            path.write_bytes(gzip.compress(body.encode(), mtime=0))
            files.append(path)
        flat = folder / "cloudtrail-gz-as-one.jsonl"
        write_lines(flat, gz_records)
        cases.append(
            Case(
                f"cloudtrail-gz ({count} files)",
                files,
                bare_json(flat),
                files[: max(1, sample // 100)],
                count * 100,
            )
        )
        # the same records hunted as one plain JSON Lines file (scanned in place): what the
        # engine costs on these records with no gzip, no batch documents and no spool
        head = folder / "cloudtrail-gz-as-one.sample.jsonl"
        write_lines(head, gz_records[:sample])
        cases.append(Case("  same, one JSONL file", [flat], bare_json(flat), [head], count * 100))
    return cases


@contextmanager
def built(
    keep: Path | None,
    scale: float,
    seed: int,
    sample: int,
    only: set[str],
    gz_files: int | None = None,
) -> Iterator[list[Case]]:
    """``build_cases`` in ``keep`` (else a temporary folder, removed after), the corpora
    flushed to disk before any clock starts (about 9 GB at scale 1: else the kernel writes
    them back during the first cases' timings)."""
    with tempfile.TemporaryDirectory(prefix="sigma-ext-bench-") as temporary:
        folder = keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        cases = build_cases(folder, scale, seed, sample, only, gz_files)
        os.sync()
        yield cases


def hunt_text(files: list[Path], engine: ReferenceEngine, fast: FastHunt | None) -> str:
    """What ``sigma-ext hunt FILES`` prints on stdout and stderr (the engine given)."""
    with tempfile.TemporaryDirectory(prefix="sigma-ext-bench-") as folder:
        inputs, errors = open_inputs([str(f) for f in files], Path(folder))
        assert not errors, errors
        out, err = io.StringIO(), io.StringIO()
        hunt_inputs(inputs, engine, fast, None, False, Path(folder), out, err)
        return out.getvalue() + "\n--\n" + err.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--keep", type=Path, default=None, help="write the corpora here")
    parser.add_argument("--gz-files", type=int, default=None, help="gzip files (default: scale)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="bare scans and hunts per corpus, interleaved"
    )
    args = parser.parse_args()
    only = {name for name in args.only.split(",") if name}

    # the content loaded and frozen for the collector as the command does it (paused_collector)
    with paused_collector() as resume:
        corpus = load_corpus(ROOT, ROOT / "profiles" / "example.yml")
        single = ReferenceEngine(corpus)
        engine = hunt_engine_or_report(corpus, single)
        assert engine is not None
        resume()
        fast = FastHunt(engine)
        single_fast = FastHunt(single)
        con = duckdb.connect(config={"threads": fast.threads})
        run_cases(args, only, corpus, single, engine, fast, single_fast, con)


def run_cases(
    args: argparse.Namespace,
    only: set[str],
    corpus: Corpus,
    single: ReferenceEngine,
    engine: ReferenceEngine,
    fast: FastHunt,
    single_fast: FastHunt,
    con: duckdb.DuckDBPyConnection,
) -> None:
    """Build the corpora, then time each (``main``)."""
    with built(args.keep, args.scale, args.seed, args.sample, only, args.gz_files) as cases:
        print(
            f"scale {args.scale}, seed {args.seed}, {len(corpus.rules)} rules, "
            f"threads {fast.threads}, memory_limit {fast.memory_limit}"
        )
        print(
            f"{'corpus':28} {'records':>9} {'MB':>7} {'bare s':>7} {'hunt s':>7} "
            f"{'ratio':>6} {'range':>11} {'CPU ratio':>9} {'hits':>6} {'corr':>5} {'corr CPU':>8}"
            "  same on sample"
        )
        for case in cases:
            size = sum(f.stat().st_size for f in case.files)
            con.execute(case.bare).fetchall()  # the page cache warm for both
            rounds: list[tuple[float, float, float, float]] = []
            texts: set[str] = set()
            for _ in range(max(args.rounds, 1)):
                bare, bare_cpu, _ = timed(lambda c=case: con.execute(c.bare).fetchall())
                hunt, hunt_cpu, text = timed(lambda c=case: hunt_text(c.files, engine, fast))
                rounds.append((bare, bare_cpu, hunt, hunt_cpu))
                texts.add(text)
            assert len(texts) == 1, f"{case.name}: the hunts of the rounds differ"
            # the round of the median ratio: its own bare scan, hunt and CPU
            ratios = sorted(hunt / bare for bare, _, hunt, _ in rounds)
            bare, bare_cpu, hunt, hunt_cpu = next(
                r for r in rounds if r[2] / r[0] == ratios[len(ratios) // 2]
            )
            spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
            printed = text.split("\n--\n")[0]
            correlations = printed.count('"correlation_id"')
            hits = printed.count("\n") - correlations
            # the same hunt without the correlations: their share of the CPU time
            _, single_cpu, _ = timed(lambda c=case: hunt_text(c.files, single, single_fast))
            same = hunt_text(case.sample, engine, fast) == hunt_text(case.sample, engine, None)
            print(
                f"{case.name:28} {case.records:>9,} {size / 1e6:>7.1f} {bare:>7.2f} {hunt:>7.2f} "
                f"{hunt / bare:>5.2f}x {spread:>11} {hunt_cpu / max(bare_cpu, 1e-9):>8.2f}x "
                f"{hits:>6} {correlations:>5} {1 - single_cpu / max(hunt_cpu, 1e-9):>8.1%}  "
                f"{'yes' if same else 'NO'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
