"""``sigma-ext test``: every rule's verdict on every fixture event; ends ``N passed, N failed``."""

from __future__ import annotations

import argparse
from pathlib import Path

from sigma_ext.cli.common import (
    add_content_options,
    engine_or_report,
    load_or_report,
    report,
)
from sigma_ext.cli.exits import EXIT_PROBLEMS
from sigma_ext.content.fixtures import load_cases, run_cases
from sigma_ext.problems import ProblemsFound
from sigma_ext.sources.catalogue import source_named


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("test", help="run the fixture expectations")
    add_content_options(parser)
    parser.add_argument(
        "--fixtures", type=Path, default=None, help="fixture folder (default: <root>/fixtures)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    corpus = load_or_report(args)
    if corpus is None:
        return EXIT_PROBLEMS
    try:
        cases = load_cases(args.fixtures or args.root / "fixtures", [r.stem for r in corpus.rules])
    except ProblemsFound as error:
        report(error)
        return EXIT_PROBLEMS
    engine = engine_or_report(corpus)
    if engine is None:
        return EXIT_PROBLEMS
    outcomes = run_cases(
        cases, lambda case: [r.stem for r in engine.match(case.event, source_named(case.source))]
    )
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        print(outcome.explain())
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
