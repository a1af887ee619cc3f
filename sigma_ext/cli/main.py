"""Entry point of the ``sigma-ext`` command, and its one error path.

Whatever goes wrong ends in one line on stderr and an exit code of ``sigma_ext.cli.exits``
(documented in the README), never a traceback: content problems are reported by the commands
themselves (every one, each ``path:line: message``), and so is an output folder the build may
not write; an interruption (even while the commands load), a closed stdout and an unexpected
error are caught here.
"""

from __future__ import annotations

import argparse
import os
import sys

from sigma_ext.cli.exits import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, say

# Set to 1 to see the traceback of an unexpected error (for reporting a bug).
DEBUG_VARIABLE = "SIGMA_EXT_DEBUG"


def parser() -> argparse.ArgumentParser:
    # The commands import pySigma and the content modules (a second or so): inside main's
    # error path, so that Ctrl-C while they load is one line too.
    from sigma_ext.cli import build, check, coverage, hunt, init, test

    root = argparse.ArgumentParser(
        prog="sigma-ext",
        description="Container and pod creation detections: check, build, test and hunt.",
    )
    subparsers = root.add_subparsers(dest="command", required=True)
    for command in (check, build, test, hunt, coverage, init):
        command.register(subparsers)
    return root


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        # run as the process's own command (the console script, ``python -m sigma_ext``): what
        # a command loaded may stay frozen for the garbage collector until the process ends
        # (``sigma_ext.cli.hunt.paused_collector``)
        args.process_command = argv is None
        code: int = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except KeyboardInterrupt:
        _quiet_stdout()
        say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        say("stdout was closed before the output was complete (broken pipe)")
        return EXIT_BROKEN_PIPE
    except Exception as error:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        _quiet_stdout()
        say(
            f"internal error: {type(error).__name__}: {error} "
            f"(please report it; {DEBUG_VARIABLE}=1 shows the traceback)"
        )
        return EXIT_INTERNAL
    return code


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that flushing what is left of it at exit cannot fail again
    (the Python documentation's advice for SIGPIPE)."""
    try:
        descriptor = os.open(os.devnull, os.O_WRONLY)
        os.dup2(descriptor, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
