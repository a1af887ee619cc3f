"""Entry point of the ``sigma-ext`` command, and its one error path.

Whatever goes wrong ends in one line on stderr and an exit code of ``sigma_ext.cli.exits``
(documented in the README), never a traceback: content problems are reported by the commands
themselves (every one, each ``path:line: message``), and so is an output folder the build may
not write; an interruption (even while the commands load), a closed stdout and an unexpected
error are caught here.

An interruption is told by the signal, not only by the exception it ends in: Python 3.11 turns
a KeyboardInterrupt raised while a class is made (in a ``__set_name__``: every dataclass field
made with ``field()``, every ``cached_property``, every Enum member, so during most imports)
into a RuntimeError, and a library may wrap or swallow it. So ``main`` notes each SIGINT, and a
run that saw one, or whose error came from a KeyboardInterrupt, ends as interrupted (130).
"""

from __future__ import annotations

import os
import sys

from sigma_ext.cli.exits import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, say

# typing.TYPE_CHECKING without importing typing (a hundredth of a second before main's error
# path is in place); mypy knows the name
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    import signal
    from sys import UnraisableHookArgs
    from types import FrameType

# Set to 1 to see the traceback of an unexpected error (for reporting a bug).
DEBUG_VARIABLE = "SIGMA_EXT_DEBUG"


def parser() -> argparse.ArgumentParser:
    # argparse and the commands (which import pySigma and the content modules, a second or so)
    # load inside main's error path, so that Ctrl-C while they load is one line too.
    import argparse

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
    """Run the command ``argv`` (default: the process's own command line); its exit code.

    While the command runs, SIGINT raises KeyboardInterrupt as usual, and is noted; once its
    outcome is known, a SIGINT changes nothing. Called with ``argv`` (in-process callers and
    tests), it puts back the previous SIGINT handler before it returns; run for the process's
    own command line, it leaves the quiet one, so that a late Ctrl-C cannot turn the end of
    the run into a traceback.
    """
    sigint: _Sigint | None = None
    code = EXIT_INTERNAL
    error: BaseException | None = None
    try:
        sigint = _Sigint()
        sigint.install()
        args = parser().parse_args(argv)
        # run as the process's own command (the console script, ``python -m sigma_ext``): what
        # a command loaded may stay frozen for the garbage collector until the process ends
        # (``sigma_ext.cli.hunt.paused_collector``)
        args.process_command = argv is None
        code = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except (KeyboardInterrupt, Exception) as caught:  # SystemExit (argparse's) goes on
        error = caught
    finally:
        # no call before this line (a call is where Python runs signal handlers): from here on
        # a SIGINT no longer raises
        if sigint is not None:
            sigint.armed = False
            if argv is not None:
                sigint.restore()
    if (sigint is not None and sigint.seen) or (error is not None and _from_interrupt(error)):
        # a SIGINT during the run, even one a library swallowed or wrapped
        _quiet_stdout()
        say("interrupted")
        return EXIT_INTERRUPTED
    if error is None:
        return code
    if isinstance(error, BrokenPipeError):
        _quiet_stdout()
        say("stdout was closed before the output was complete (broken pipe)")
        return EXIT_BROKEN_PIPE
    if os.environ.get(DEBUG_VARIABLE):
        raise error
    _quiet_stdout()
    say(
        f"internal error: {type(error).__name__}: {error} "
        f"(please report it; {DEBUG_VARIABLE}=1 shows the traceback)"
    )
    return EXIT_INTERNAL


class _Sigint:
    """A SIGINT handler in place of Python's own: while armed, it notes the signal and raises
    KeyboardInterrupt, as Python's does; disarmed, it ignores it. It is not installed outside
    the main thread (no handler can be set there) nor where SIGINT is not Python's own (ignored,
    as in a script's background job, or an embedding program's), and then notes nothing.

    A KeyboardInterrupt raised where Python cannot pass it on (in a ``__del__``, a weakref
    callback, a generator closed by the garbage collector) is lost, and Python prints it with
    its traceback; while installed, ``sys.unraisablehook`` keeps those quiet and notes them.
    """

    def __init__(self) -> None:
        self.seen = False
        self.armed = False
        self.installed = False
        self.previous: signal._HANDLER = None
        self.previous_hook = sys.unraisablehook

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            self.seen = True
            raise KeyboardInterrupt

    def unraisable(self, unraisable: UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            self.seen = True
        else:
            self.previous_hook(unraisable)

    def install(self) -> None:
        import signal

        self.armed = True  # before: a SIGINT right after the call must raise
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return  # ignored (a background job of a script) or someone else's: left alone
        try:
            self.previous = signal.signal(signal.SIGINT, self)
        except ValueError:  # not the main thread
            return
        self.installed = True
        sys.unraisablehook = self.unraisable

    def restore(self) -> None:
        import signal

        if self.installed:
            signal.signal(signal.SIGINT, self.previous)
            sys.unraisablehook = self.previous_hook


def _from_interrupt(error: BaseException) -> bool:
    """Whether ``error`` was raised by, or while handling, a KeyboardInterrupt (Python's
    ``__set_name__`` wraps one in a RuntimeError; a ``finally`` or ``__exit__`` may fail after
    one)."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt):
            return True
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return False


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
