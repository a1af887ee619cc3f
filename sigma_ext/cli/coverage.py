"""``sigma-ext coverage``: what the SOC can see, from the build verdicts and, given logs, from the
logs themselves; Markdown, HTML, JSON and an ATT&CK Navigator layer in one output folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from sigma_ext.cli.common import add_content_options, load_or_report, report
from sigma_ext.cli.exits import EXIT_OUTPUT, say
from sigma_ext.problems import ProblemsFound

DEFAULT_OUT = Path("out") / "coverage"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "coverage",
        help="coverage matrix, Navigator layer and, given logs, a telemetry check",
    )
    add_content_options(parser)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="also rewrite the coverage table between the markers of this README",
    )
    parser.add_argument("logfiles", nargs="*", type=Path, metavar="LOGFILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sigma_ext.build.folder import OutputRefused, package_version, write_atomically
    from sigma_ext.coverage.logs import telemetry_of
    from sigma_ext.coverage.markdown import replace_readme_block
    from sigma_ext.coverage.report import coverage_of, report_files

    corpus = load_or_report(args)
    if corpus is None:
        return 1
    try:
        coverage = coverage_of(corpus)
    except ProblemsFound as error:
        report(error)
        return 1
    telemetry = telemetry_of(corpus, list(args.logfiles)) if args.logfiles else None
    version = package_version()
    files = report_files(coverage, corpus, telemetry, version)
    try:
        written = write_atomically(args.out, dict(files))
    except OutputRefused as error:
        say(str(error))
        return EXIT_OUTPUT
    if args.readme is not None:
        text = args.readme.read_text(encoding="utf-8")
        staging = args.readme.with_name(f".{args.readme.name}.coverage")
        staging.write_text(replace_readme_block(text, coverage.paths), encoding="utf-8")
        staging.replace(args.readme)
    print(f"coverage written to {args.out}: {', '.join(p.name for p in written)}")
    if telemetry is not None:
        findings = telemetry.findings()
        for finding in findings:
            print(f"- {finding.why}")
        if not findings:
            print("every creation event carries what every rule needs")
    return 0
