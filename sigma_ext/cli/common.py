"""Options and reporting shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sigma_ext.problems import ProblemsFound

if TYPE_CHECKING:  # the content and the engine load inside the commands that need them
    from sigma_ext.content.corpus import Corpus
    from sigma_ext.reference.engine import ReferenceEngine

# The tuning profile read when --profile is not given (sigma_ext.content.profile.DEFAULT_PROFILE;
# repeated here so that the parser is built without importing jsonschema; a test keeps them equal).
DEFAULT_PROFILE = Path("profiles/example.yml")


def add_content_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(),
        help="project folder holding rules/, mappings/ and profiles/ (default: .)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help=f"tuning profile (default: <root>/{DEFAULT_PROFILE})",
    )


def profile_path(args: argparse.Namespace) -> Path:
    chosen: Path = args.profile if args.profile is not None else args.root / DEFAULT_PROFILE
    return chosen


def load_or_report(args: argparse.Namespace) -> Corpus | None:
    """The corpus, or None after printing every problem to stderr."""
    from sigma_ext.content.corpus import load_corpus

    try:
        return load_corpus(args.root, profile_path(args))
    except ProblemsFound as error:
        report(error)
        return None


def engine_or_report(corpus: Corpus) -> ReferenceEngine | None:
    """The reference engine, or None after printing every rule that does not compile natively."""
    from sigma_ext.reference.engine import ReferenceEngine

    try:
        return ReferenceEngine(corpus)
    except ProblemsFound as error:
        report(error)
        return None


def report(error: ProblemsFound) -> None:
    for problem in error.problems:
        print(problem, file=sys.stderr)
    print(f"{len(error.problems)} problem(s) found", file=sys.stderr)
