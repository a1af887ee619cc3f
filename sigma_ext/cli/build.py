"""``sigma-ext build``: compile every rule for every SIEM target into an output folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from sigma_ext.build import build
from sigma_ext.cli.common import add_content_options, load_or_report, report
from sigma_ext.problems import ProblemsFound


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("build", help="compile every rule for Splunk and Elastic")
    add_content_options(parser)
    parser.add_argument(
        "--out", type=Path, default=Path("build"), help="output folder (default: build)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    corpus = load_or_report(args)
    if corpus is None:
        return 1
    try:
        result = build(corpus, args.out)
    except ProblemsFound as error:
        report(error)
        return 1
    width = max(len(c.rule.stem) for c in result.results)
    for c in result.results:
        why = f"  ({'; '.join(c.reasons)})" if c.reasons else ""
        print(f"{c.rule.stem:<{width}}  {c.target.name:<8} {c.status}{why}")
    counts = {
        s: sum(c.status == s for c in result.results) for s in ("ok", "degraded", "impossible")
    }
    print(
        f"built {len(corpus.rules)} rules into {result.out}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
    )
    return 0
