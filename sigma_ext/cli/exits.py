"""The exit codes of every command (the README's table), and the one-line error message.

Kept apart from the commands so that ``sigma-ext`` can catch an interruption from its very
first import on (``sigma_ext.cli.main`` imports the commands inside its error path).
"""

from __future__ import annotations

import contextlib
import sys

# Exit codes of every command (the README's table).
EXIT_OK = 0
EXIT_PROBLEMS = 1  # content problems, or fixture expectations that failed
EXIT_USAGE = 2  # a wrong option (argparse), or an input file that cannot be read
EXIT_OUTPUT = 3  # the build output folder is refused or cannot be written
EXIT_INTERNAL = 70  # a bug in sigma-ext (EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # stdout closed early, as by `| head` (128 + SIGPIPE)


def say(message: str) -> None:
    """One line on stderr, prefixed with the program name; a closed stderr is ignored."""
    with contextlib.suppress(OSError, ValueError):
        print(f"sigma-ext: {message}", file=sys.stderr, flush=True)
