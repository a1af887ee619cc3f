"""``sigma-ext check``: validate every rule, mapping and the tuning profile; report all problems."""

from __future__ import annotations

import argparse
import sys

from sigma_ext.cli.common import Content, add_content_options
from sigma_ext.cli.exits import EXIT_PROBLEMS
from sigma_ext.cli.formats import FORMATS, github_annotations, sarif_log
from sigma_ext.content.locate import locate
from sigma_ext.problems import Problem, ProblemsFound


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("check", help="validate rules, mappings and the tuning profile")
    add_content_options(parser)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text: path:line: message on stderr (default); github: workflow annotations on "
        "stdout; sarif: a SARIF 2.1.0 log on stdout",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sigma_ext.build.compile import check_compilation  # only this command needs the compilers
    from sigma_ext.build.correlations import compile_correlations

    content: Content | None = None
    try:
        location = locate(args.root)
        from sigma_ext.build.correlations import compile_correlations
        from sigma_ext.content.corpus import content_at
        from sigma_ext.content.correlations import load_correlations

        corpus, problems = content_at(location, args.profile)
        if corpus is not None:
            content = Content(location, corpus)
            # the rules that loaded are compiled too: one run reports every problem
            problems += check_compilation(corpus)
            root = corpus.correlations_root
            files, correlation_problems = load_correlations(root, corpus.profile)
            problems += correlation_problems
            problems += [
                Problem(
                    str(root / "correlations" / f"{c.correlation}.yml"),
                    1,
                    f"{c.target}/{c.source}: {'; '.join(map(str, c.reasons))}",
                )
                for c in compile_correlations(corpus, files)
                if c.status == "error"
            ]
    except ProblemsFound as error:
        problems = error.problems
    _report(args.format, problems)
    if problems or content is None:
        return EXIT_PROBLEMS
    print(_ok_lines(content), file=sys.stderr if args.format == "sarif" else sys.stdout)
    return 0


def _report(format_: str, problems: list[Problem]) -> None:
    problems = sorted(problems)
    if format_ == "github":
        print(github_annotations(problems, "sigma-ext check"), end="")
    elif format_ == "sarif":
        print(sarif_log(problems), end="")
    else:
        for problem in problems:
            print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)


def _ok_lines(content: Content) -> str:
    corpus, location = content.corpus, content.location
    rules = f"{len(corpus.rules)} rules"
    mappings = f"{len(corpus.mappings)} mappings"
    if location.kind == "repository":
        shipped_rules = location.shipped / "rules"
        shipped = sum(r.path.is_relative_to(shipped_rules) for r in corpus.rules)
        rules += f" ({shipped} shipped, {len(corpus.rules) - shipped} own)"
        overrides = location.mapping_overrides
        overridden = (
            0
            if overrides is None
            else sum(m.path.is_relative_to(overrides) for m in corpus.mappings.values())
        )
        mappings += f" ({overridden} overridden)"
    return (
        f"ok: {rules}, {mappings}, profile {corpus.profile.path}\n  content: {location.describe()}"
    )
