"""``sigma-ext check``: validate every rule, mapping and the tuning profile; report all problems."""

from __future__ import annotations

import argparse

from sigma_ext.cli.common import add_content_options, profile_path, report
from sigma_ext.cli.exits import EXIT_PROBLEMS
from sigma_ext.content.corpus import load_content
from sigma_ext.content.correlations import load_correlations
from sigma_ext.problems import Problem, ProblemsFound


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("check", help="validate rules, mappings and the tuning profile")
    add_content_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sigma_ext.build.compile import check_compilation  # only this command needs the compilers
    from sigma_ext.build.correlations import compile_correlations

    corpus, problems = load_content(args.root, profile_path(args))
    correlations = 0
    if corpus is not None:
        # the rules that loaded are compiled too: one run reports every problem
        problems += check_compilation(corpus)
        files, correlation_problems = load_correlations(corpus.root, corpus.profile)
        problems += correlation_problems
        problems += [
            Problem(
                str(corpus.root / "correlations" / f"{c.correlation}.yml"),
                1,
                f"{c.target}/{c.source}: {'; '.join(map(str, c.reasons))}",
            )
            for c in compile_correlations(corpus, files)
            if c.status == "error"
        ]
        correlations = len(files)
    if problems:
        report(ProblemsFound(problems))
        return EXIT_PROBLEMS
    assert corpus is not None
    print(
        f"ok: {len(corpus.rules)} rules, {correlations} correlations, "
        f"{len(corpus.mappings)} mappings, "
        f"profile {corpus.profile.path}"
    )
    return 0
