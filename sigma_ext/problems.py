"""Problems are values with a location until the CLI prints them all.

Loading, checking and building never stop at the first broken file: each step returns the
problems it found, and the command reports every one of them, each as ``path:line: message``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sigma.exceptions import SigmaError


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input file."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    @classmethod
    def from_sigma_error(cls, path: Path | str, error: SigmaError) -> Problem:
        """A pySigma error, keeping the line pySigma knew where it knew one."""
        line = None
        source = getattr(error, "source", None)
        if source is not None and getattr(source, "line", None) is not None:
            line = int(source.line)
        message = str(getattr(error, "args", [error])[0]) if error.args else type(error).__name__
        return cls(str(path), line, message)


def did_you_mean(word: str, known: Iterable[str], cutoff: float) -> str:
    """``; did you mean 'x'?`` when one of ``known`` is spelt almost as ``word`` (a typo: at
    least ``cutoff`` alike, ``difflib``'s ratio), else nothing: the end of a problem's message."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""


class ProblemsFound(Exception):
    """Raised by a step that cannot go on, carrying every problem it found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = sorted(problems)
