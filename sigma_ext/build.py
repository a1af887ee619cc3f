"""``sigma-ext build``: every rule for every SIEM target into one output folder, atomically.

The new output is written into a temporary folder beside ``out`` and swapped in only when
everything succeeded, so a failed build leaves the previous output exactly as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sigma_ext.compile import Compiled, check_compilation, compile_all
from sigma_ext.corpus import Corpus
from sigma_ext.outputs import (
    kibana_ndjson,
    savedsearches_conf,
    spl_file,
    summary_json,
    summary_markdown,
)
from sigma_ext.problems import ProblemsFound


@dataclass(frozen=True)
class BuildResult:
    out: Path
    results: list[Compiled]
    files: list[Path]


def render(results: list[Compiled]) -> dict[str, str]:
    """Relative path -> text of every output file."""
    emitted = [c for c in results if c.query is not None]
    splunk = [c for c in emitted if c.target.name == "splunk"]
    elastic = [c for c in emitted if c.target.name == "elastic"]
    files = {
        "summary.md": summary_markdown(results),
        "summary.json": summary_json(results),
        "splunk/savedsearches.conf": savedsearches_conf(splunk),
        "elastic/detection-rules.ndjson": kibana_ndjson(elastic),
    }
    for c in splunk:
        files[f"splunk/spl/{c.output_stem}.spl"] = spl_file(c)
    return files


def write_atomically(out: Path, files: dict[str, str]) -> list[Path]:
    """Replace ``out`` by a folder holding exactly ``files``, or leave it untouched."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for relative, text in sorted(files.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.replace(old / out.name)
        staging.replace(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out / relative for relative in sorted(files)]


def build(corpus: Corpus, out: Path) -> BuildResult:
    """Compile everything; on any content error raise ProblemsFound and write nothing."""
    results = compile_all(corpus)
    errors = check_compilation(corpus, results)
    if errors:
        raise ProblemsFound(errors)
    files = write_atomically(out, render(results))
    return BuildResult(out, results, files)
