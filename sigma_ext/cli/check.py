"""``sigma-ext check``: validate every rule, mapping and the tuning profile; report all problems."""

from __future__ import annotations

import argparse

from sigma_ext.cli.common import add_content_options, profile_path, report
from sigma_ext.cli.exits import EXIT_PROBLEMS
from sigma_ext.content.corpus import load_content
from sigma_ext.problems import ProblemsFound


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("check", help="validate rules, mappings and the tuning profile")
    add_content_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sigma_ext.build.compile import check_compilation  # only this command needs the compilers

    corpus, problems = load_content(args.root, profile_path(args))
    if corpus is not None:
        # the rules that loaded are compiled too: one run reports every problem
        problems += check_compilation(corpus)
    if problems:
        report(ProblemsFound(problems))
        return EXIT_PROBLEMS
    assert corpus is not None
    print(
        f"ok: {len(corpus.rules)} rules, {len(corpus.mappings)} mappings, "
        f"profile {corpus.profile.path}"
    )
    return 0
