"""``sigma-ext build``: compile every rule for every SIEM target into an output folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from sigma_ext.build.splunk.tuning_modes import DEFAULT_TUNING, TUNING_MODES
from sigma_ext.cli.common import add_content_options, report
from sigma_ext.cli.exits import EXIT_OUTPUT, EXIT_PROBLEMS, say
from sigma_ext.content.locate import locate
from sigma_ext.problems import ProblemsFound


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("build", help="compile every rule for Splunk and Elastic")
    add_content_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: siem/ in the out folder sigma-ext.yml names, else "
        "out/siem/ in the content folder, or in the working directory for the shipped content)",
    )
    parser.add_argument(
        "--splunk-tuning",
        choices=TUNING_MODES,
        default=DEFAULT_TUNING,
        help="how the tuning lists reach the Splunk app: inline values, search macros, or "
        f"CSV lookups for identity lists (default: {DEFAULT_TUNING})",
    )
    parser.add_argument(
        "--splunk-es",
        action="store_true",
        help="make every Splunk search an Enterprise Security correlation search (notable, "
        "risk, MITRE ATT&CK annotations)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Only this command needs the compilers; other commands start without importing them.
    from sigma_ext.build.folder import (
        OutputRefused,
        build,
        check_output,
        package_version,
        splunk_package_name,
    )
    from sigma_ext.build.summary import summary_table

    try:
        location = locate(args.root)
        out = args.out or location.build_out
        check_output(out)  # before the content is even loaded
        from sigma_ext.content.corpus import corpus_at

        corpus = corpus_at(location, args.profile)
        result = build(corpus, out, args.splunk_tuning, args.splunk_es)
    except ProblemsFound as error:
        report(error)
        return EXIT_PROBLEMS
    except OutputRefused as error:
        say(str(error))
        return EXIT_OUTPUT
    print(summary_table(result.results), end="")
    counts = {
        s: sum(c.status == s for c in result.results)
        for s in ("ok", "degraded", "shared", "impossible")
    }
    print(
        f"built {len(corpus.rules)} rules into {result.out}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
    )
    print(
        f"  splunk/{splunk_package_name(package_version())} (tuning: {result.splunk_tuning}"
        + (", Enterprise Security" if args.splunk_es else "")
        + "), "
        "elastic/detection-rules.ndjson"
    )
    packaged = result.correlations
    print(
        f"  {packaged.files} correlations: {packaged.splunk_searches} Splunk saved searches, "
        f"{packaged.kibana_rules} Kibana ES|QL rules (correlations.md)"
    )
    return 0
