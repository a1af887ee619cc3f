"""``sigma-ext hunt``: run every rule over log files; one JSON hit per line on stdout.

Every input is checked before the first hit is printed. At the end, stderr gets one summary line
per file (records read, per source, not recognised with their first places, malformed).
Exit status (``sigma_ext.cli.exits``): 0; 1 with ``--strict`` when a record was not recognised
or malformed, when a file changed while it was read, or when the content has problems; 2 when an
input cannot be read. Ctrl-C and a closed standard output (``hunt ... | head -1``) end in
``sigma_ext.cli.main``'s one line, no traceback.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sigma_ext.cli.common import add_content_options, engine_or_report, load_or_report
from sigma_ext.cli.exits import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from sigma_ext.sources.catalogue import SOURCES, Source, source_named

# The hunt's own modules (and, through the reference engine, pySigma) load when it runs, not when
# ``sigma-ext --help`` builds the parser.
if TYPE_CHECKING:
    from sigma_ext.content.corpus import Corpus
    from sigma_ext.hunt.fast.engine import FastHunt
    from sigma_ext.hunt.inputs import Input
    from sigma_ext.reference.correlation_engine import HuntEngine
    from sigma_ext.reference.engine import ReferenceEngine


SMALL_INPUT = 256 << 10
"""Inputs smaller than this in all (bytes on disk, a gzip file's counted ``GZIP_WEIGHT`` times)
are hunted by the reference engine under ``--engine auto``: importing DuckDB, compiling the rules
to SQL and the first query cost about half a second, and the reference engine reads 256 KiB of
audit events in a few hundredths of a second. Both engines print the same output (the differential
tests)."""
GZIP_WEIGHT = 16


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "hunt",
        help="run the rules over log files: JSON Lines, text logs, batch documents, "
        "container logs (CRI, json-file) or journal exports (plain or .gz, '-' for standard input)",
    )
    add_content_options(parser)
    parser.add_argument(
        "--source",
        choices=[s.name for s in SOURCES],
        default=None,
        help="treat every event as this source (default: recognise each event's source)",
    )
    parser.add_argument(
        "--engine",
        choices=["auto", "fast", "reference"],
        default="auto",
        help="fast: every rule in one DuckDB scan per file; reference: the reference evaluator, "
        "line by line (same output, slower on large files); auto (default): reference when all "
        f"the input is under {SMALL_INPUT >> 10} KiB (the fast engine's start costs more), "
        "fast otherwise",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any record is not recognised or is malformed",
    )
    parser.add_argument("logfiles", nargs="+", metavar="LOGFILE", help="a log file, or - for stdin")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="sigma-ext-hunt-") as folder:
        return _hunt(args, Path(folder))


def _hunt(args: argparse.Namespace, folder: Path) -> int:
    from sigma_ext.hunt.inputs import open_inputs

    names = [str(name) for name in args.logfiles]
    inputs, errors = open_inputs(names, folder)
    for error in errors:
        print(f"sigma-ext hunt: {error}", file=sys.stderr)
    if errors:
        return EXIT_USAGE
    source = source_named(args.source) if args.source else None
    with paused_collector(keep_frozen=getattr(args, "process_command", False)) as resume:
        corpus = load_or_report(args)
        if corpus is None:
            return EXIT_PROBLEMS
        engine = engine_or_report(corpus)
        if engine is None:
            return EXIT_PROBLEMS
        hunting = hunt_engine_or_report(corpus, engine)
        if hunting is None:
            return EXIT_PROBLEMS
        resume()
        fast = None
        if args.engine == "fast" or (args.engine == "auto" and not _small(inputs)):
            from sigma_ext.hunt.fast.engine import FastHunt

            fast = FastHunt(hunting, source)
        try:
            return hunt_inputs(
                inputs, hunting, fast, source, args.strict, folder, sys.stdout, sys.stderr
            )
        finally:
            if fast is not None:
                fast.close()


@contextmanager
def paused_collector(*, keep_frozen: bool = False) -> Iterator[Callable[[], None]]:
    """Python's cyclic garbage collector paused while the content loads and compiles, until
    ``resume()``: it would walk the growing graph of rule objects some 250 times (about 0.1 s
    of a one-line hunt's 0.6 s of CPU), and those objects live as long as the hunt. On
    ``resume()`` they are frozen (left out of the collections while the hunt runs, which then
    walk only what the hunt makes). At the end they are handed back to the collector, unless
    ``keep_frozen`` (the process ends right after: a last collection of them at exit cost
    another 0.09 s, and the system takes the memory back). Objects made after ``resume()``,
    DuckDB's among them, are never frozen: an extension's objects left frozen at exit are
    reported as leaks."""
    gc.disable()
    frozen = False

    def resume() -> None:
        nonlocal frozen
        if not frozen:
            gc.freeze()
            frozen = True
        gc.enable()

    try:
        yield resume
    finally:
        if frozen and not keep_frozen:
            gc.unfreeze()
        gc.enable()


def hunt_engine_or_report(corpus: Corpus, engine: ReferenceEngine) -> HuntEngine | None:
    """``engine`` with the corpus's correlation base rules (what ``hunt`` judges events with,
    both engines: ``sigma_ext.reference.correlation_engine``); None after reporting the
    correlation files' problems."""
    from sigma_ext.content.correlations import load_correlations
    from sigma_ext.reference.correlation_engine import CorrelationEngine

    files, problems = load_correlations(corpus.correlations_root, corpus.profile)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return None
    return CorrelationEngine(corpus, files).hunting(engine)


def _small(inputs: list[Input]) -> bool:
    """Whether the inputs are small enough for the reference engine to finish first."""
    total = 0
    for found in inputs:
        try:
            size = found.path.stat().st_size
        except OSError:
            return False
        total += size * (GZIP_WEIGHT if found.gzip else 1)
    return total < SMALL_INPUT


def hunt_inputs(
    inputs: list[Input],
    engine: ReferenceEngine,
    fast: FastHunt | None,
    source: Source | None,
    strict: bool,
    folder: Path,
    out: TextIO,
    err: TextIO,
) -> int:
    """Hunt checked inputs with the fast engine (when given, made from ``engine``) or the
    reference one; hits to ``out``, then, when ``engine`` is a hunt engine with correlation
    base rules (``hunt_engine_or_report``), the correlation hits, from the base rules' hits of
    the same pass; bad lines and the per-file summaries to ``err``; the exit status."""
    from sigma_ext.hunt.progress import stderr_progress
    from sigma_ext.hunt.reference import BadLine, BaseRuleHit, Hit, hunt_input
    from sigma_ext.reference.correlation import BaseHit

    items: Generator[Hit | BadLine, None, None]
    if fast is not None:
        from sigma_ext.hunt.spool import FastInputs

        if fast.engine is not engine:
            # its SQL would judge other rules than the lines it hands back (the base rules)
            raise ValueError("the fast engine must be made from the engine given")

        items = FastInputs(fast, engine, folder, source).hunt(inputs)
    else:
        items = (
            item
            for found in inputs
            for item in hunt_input(engine, found, source, stderr_progress(found.path))
        )
    base_hits: list[tuple[str, BaseHit]] = []
    write = out.write  # (a hit's line written at once: print writes its end apart)
    try:
        try:
            for item in items:
                if isinstance(item, BaseRuleHit):
                    # a correlation base rule's match: kept for the correlation, never printed
                    base = item.base_hit()
                    if base is not None:
                        base_hits.append((item.correlation, base))
                elif isinstance(item, BadLine):
                    print(item, file=err)
                else:
                    write(f"{item.to_json()}\n")
        finally:
            # left early (a closed pipe, an interrupt): the hunt's generators end now, closing
            # their DuckDB connections, threads and files, not as the interpreter shuts down
            # (nanobind then reports DuckDB's objects as leaked, 40 lines on stderr)
            items.close()
        from sigma_ext.reference.correlation_engine import HuntEngine

        if isinstance(engine, HuntEngine):
            from sigma_ext.hunt.correlations import hit_json

            correlations = engine.correlations
            for hit in correlations.evaluate(base_hits):
                print(hit_json(hit, correlations.files), file=out)
        out.flush()
    except BrokenPipeError:
        raise  # stdout closed: main's one line, not a reading error
    except OSError as error:
        print(f"sigma-ext hunt: cannot read: {error}", file=err)
        return EXIT_USAGE
    changed = False
    for found in inputs:
        found.summary.changed = found.changed()
        changed = changed or found.summary.changed
        print(found.summary, file=err)
    if len(inputs) > 1:
        from sigma_ext.hunt.summary import total_line

        print(total_line([found.summary for found in inputs]), file=err)
    if changed or (strict and any(f.summary.failed_strict for f in inputs)):
        return EXIT_PROBLEMS
    return EXIT_OK
