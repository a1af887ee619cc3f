"""``sigma-ext hunt``: run every rule over JSON Lines log files; one JSON hit per line on stdout."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from sigma_ext.cli.common import add_content_options, engine_or_report, load_or_report
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.hunt.progress import stderr_progress
from sigma_ext.hunt.reference import BadLine, Hit, hunt_file
from sigma_ext.sources.catalogue import SOURCES, source_named


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "hunt", help="run the rules over JSON Lines log files (plain or .gz)"
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
        choices=["fast", "reference"],
        default="fast",
        help="fast: every rule in one DuckDB scan per file (default); reference: the reference "
        "evaluator, line by line (same output, slower)",
    )
    parser.add_argument("logfiles", nargs="+", type=Path, metavar="LOGFILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    unreadable = [p for p in args.logfiles if not p.is_file()]
    if unreadable:
        print(f"sigma-ext hunt: cannot read {unreadable[0]}: no such file", file=sys.stderr)
        return 2
    corpus = load_or_report(args)
    if corpus is None:
        return 2
    engine = engine_or_report(corpus)
    if engine is None:
        return 2
    source = source_named(args.source) if args.source else None
    fast = FastHunt(engine, source) if args.engine == "fast" else None
    skipped = 0
    for path in args.logfiles:
        progress = stderr_progress(path)
        items: Iterator[Hit | BadLine] = (
            fast.hunt_file(path, progress)
            if fast is not None
            else hunt_file(engine, path, source, progress)
        )
        try:
            for item in items:
                if isinstance(item, BadLine):
                    skipped += 1
                    print(item, file=sys.stderr)
                else:
                    print(item.to_json())
        except OSError as error:
            print(f"sigma-ext hunt: cannot read {path}: {error}", file=sys.stderr)
            return 2
    if skipped:
        print(f"{skipped} malformed line(s) skipped", file=sys.stderr)
    return 0
