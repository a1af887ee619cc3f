"""Entry point of the ``sigma-ext`` command."""

from __future__ import annotations

import argparse
import sys

from sigma_ext.cli import build, check, coverage, hunt, init, test


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="sigma-ext",
        description="Container and pod creation detections: check, build, test and hunt.",
    )
    subparsers = root.add_subparsers(dest="command", required=True)
    for command in (check, build, test, hunt, coverage, init):
        command.register(subparsers)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
