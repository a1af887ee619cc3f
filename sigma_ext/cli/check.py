"""``sigma-ext check``: validate every rule, mapping and the tuning profile; report all problems."""

from __future__ import annotations

import argparse

from sigma_ext.cli.common import add_content_options, load_or_report, report
from sigma_ext.problems import ProblemsFound


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("check", help="validate rules, mappings and the tuning profile")
    add_content_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sigma_ext.build.compile import check_compilation  # only this command needs the compilers

    corpus = load_or_report(args)
    if corpus is None:
        return 1
    problems = check_compilation(corpus)
    if problems:
        report(ProblemsFound(problems))
        return 1
    print(
        f"ok: {len(corpus.rules)} rules, {len(corpus.mappings)} mappings, "
        f"profile {corpus.profile.path}"
    )
    return 0
