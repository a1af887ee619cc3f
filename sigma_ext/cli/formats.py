"""Problems written for a reader: plain lines, GitHub workflow annotations, or a SARIF log.

``text`` is ``path:line: message`` on stderr. ``github`` is one ``::error`` workflow command per
problem on stdout, which GitHub Actions shows on the file and line of a pull request. ``sarif``
is a SARIF 2.1.0 log on stdout, for GitHub code scanning (``upload-sarif``), GitLab and other
tools. Paths inside the working directory are written relative to it, as CI expects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sigma_ext import __version__
from sigma_ext.problems import Problem

FORMATS = ("text", "github", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RULE_ID = "sigma-ext-content"


def relative(path: str, cwd: Path | None = None) -> str:
    """The path relative to the working directory when it lies inside it, in / form."""
    here = (cwd or Path.cwd()).resolve()
    full = Path(path).resolve()
    try:
        return full.relative_to(here).as_posix()
    except ValueError:
        return full.as_posix()


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(problems: Iterable[Problem], title: str, cwd: Path | None = None) -> str:
    lines = []
    for problem in problems:
        where = f"file={_escape_property(relative(problem.path, cwd))}"
        if problem.line is not None:
            where += f",line={problem.line}"
        lines.append(
            f"::error {where},title={_escape_property(title)}::{_escape_data(problem.message)}"
        )
    return "".join(f"{line}\n" for line in lines)


def sarif_log(problems: Iterable[Problem], cwd: Path | None = None) -> str:
    results: list[dict[str, Any]] = []
    for problem in problems:
        path = relative(problem.path, cwd)
        location: dict[str, Any] = {
            "artifactLocation": {"uri": path if not path.startswith("/") else f"file://{path}"}
        }
        if problem.line is not None:
            location["region"] = {"startLine": problem.line}
        results.append(
            {
                "ruleId": RULE_ID,
                "level": "error",
                "message": {"text": problem.message},
                "locations": [{"physicalLocation": location}],
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sigma-ext",
                        "version": __version__,
                        "rules": [
                            {
                                "id": RULE_ID,
                                "name": "ContentProblem",
                                "shortDescription": {
                                    "text": "A rule, mapping, tuning profile or sigma-ext.yml "
                                    "that sigma-ext check cannot accept"
                                },
                                "defaultConfiguration": {"level": "error"},
                            }
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True) + "\n"
