"""``sigma-ext test``: every rule's verdict on every fixture event; ends ``N passed, N failed``."""

from __future__ import annotations

import argparse
from pathlib import Path

from sigma_ext.cli.common import add_content_options, report
from sigma_ext.cli.exits import EXIT_OK, EXIT_PROBLEMS
from sigma_ext.content.fixtures import Case, load_cases, run_cases
from sigma_ext.content.locate import locate
from sigma_ext.problems import Problem, ProblemsFound
from sigma_ext.sources.catalogue import source_named


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("test", help="run the fixture expectations")
    add_content_options(parser)
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=None,
        help="fixture folder (default: the fixture folders of the content: a repository's own, "
        "a tree's fixtures/, or the shipped ones)",
    )
    parser.add_argument(
        "--junit-xml",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the outcome of every case (and any content problem) as JUnit XML",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # (ElementTree loads when the command runs, not when any command builds the parser)
    from sigma_ext.cli.junit import write_junit

    try:
        location = locate(args.root)
        from sigma_ext.content.corpus import corpus_at

        corpus = corpus_at(location, args.profile)
        roots = [args.fixtures] if args.fixtures else list(location.fixture_roots)
        cases = _cases(roots, [r.stem for r in corpus.rules])
        from sigma_ext.reference.engine import ReferenceEngine

        engine = ReferenceEngine(corpus)  # a rule the native mapping cannot compile is a problem
    except ProblemsFound as error:
        report(error)
        if args.junit_xml:
            write_junit(args.junit_xml, [], error.problems)
        return EXIT_PROBLEMS
    outcomes = run_cases(
        cases, lambda case: [r.stem for r in engine.match(case.event, source_named(case.source))]
    )
    if args.junit_xml:
        write_junit(args.junit_xml, outcomes)
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        print(outcome.explain())
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    return EXIT_PROBLEMS if failed else EXIT_OK


def _cases(roots: list[Path], rule_stems: list[str]) -> list[Case]:
    """Every case under every root; every malformed file in any of them raised at once."""
    cases: list[Case] = []
    problems: list[Problem] = []
    for root in roots:
        try:
            cases.extend(load_cases(root, rule_stems))
        except ProblemsFound as error:
            problems.extend(error.problems)
    if problems:
        raise ProblemsFound(problems)
    return cases
