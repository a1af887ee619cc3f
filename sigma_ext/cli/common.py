"""Options and reporting shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sigma_ext.content.locate import CONFIG_NAME, Location, locate
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
        default=None,
        help=f"the content: a repository holding {CONFIG_NAME} (see `sigma-ext init`) or a "
        "folder holding rules/ and mappings/ (default: the nearest such folder from here "
        "upwards, else the content shipped with sigma-ext)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help=f"tuning profile (default: the profile {CONFIG_NAME} names, "
        "else <root>/profiles/example.yml, else the shipped example profile)",
    )


@dataclass(frozen=True)
class Content:
    """Where the content came from, and the content loaded."""

    location: Location
    corpus: Corpus


def load_content_or_report(args: argparse.Namespace) -> Content | None:
    """The located and loaded content, or None after printing every problem to stderr."""
    try:
        location = locate(args.root)
        from sigma_ext.content.corpus import corpus_at

        return Content(location, corpus_at(location, args.profile))
    except ProblemsFound as error:
        report(error)
        return None


def load_or_report(args: argparse.Namespace) -> Corpus | None:
    """The corpus, or None after printing every problem to stderr."""
    content = load_content_or_report(args)
    return None if content is None else content.corpus


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
