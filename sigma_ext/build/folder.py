"""``sigma-ext build``: every rule for every SIEM target into one output folder, atomically.

The output (``out/siem/`` by default; see ``sigma_ext.content.locate``)::

    summary.md, summary.json                 per rule, source and target: ok / degraded / impossible
    splunk/<APP_ID>/                          the Splunk app, ready to install
    splunk/<APP_ID>-<version>.tgz             the same app, packaged (reproducible bytes)
    splunk/spl/<rule>.spl                     each search with every tuning value written in
    elastic/detection-rules.ndjson            Kibana detection rules (Detection Engine import)

The new output is written into a temporary folder beside ``out`` and swapped in only when
everything succeeded, so a failed build leaves the previous output exactly as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sigma_ext import __version__
from sigma_ext.build.compile import check_compilation, compile_all
from sigma_ext.build.elastic.kibana import kibana_ndjson
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.app import APP_ID, app_files
from sigma_ext.build.splunk.tuning import tuned_searches
from sigma_ext.build.splunk.tuning_modes import DEFAULT_TUNING, TuningMode
from sigma_ext.build.summary import spl_file, summary_json, summary_markdown
from sigma_ext.build.tarball import deterministic_tgz
from sigma_ext.content.corpus import Corpus
from sigma_ext.problems import ProblemsFound


@dataclass(frozen=True)
class BuildResult:
    out: Path
    results: list[Compiled]
    files: list[Path]
    splunk_tuning: TuningMode


def package_version() -> str:
    """The version of the installed sigma-ext (pyproject's), which versions the packages."""
    try:
        return version("sigma-ext")
    except PackageNotFoundError:
        return __version__


def splunk_package_name(app_version: str) -> str:
    return f"{APP_ID}-{app_version}.tgz"


def render(
    corpus: Corpus, results: list[Compiled], splunk_tuning: TuningMode = DEFAULT_TUNING
) -> dict[str, str | bytes]:
    """Relative path -> content of every output file."""
    emitted = [c for c in results if c.query is not None]
    splunk = [c for c in emitted if c.target.name == "splunk"]
    elastic = [c for c in emitted if c.target.name == "elastic"]
    app_version = package_version()
    app = app_files(tuned_searches(corpus, results, splunk_tuning), app_version)
    files: dict[str, str | bytes] = {
        "summary.md": summary_markdown(results),
        "summary.json": summary_json(results),
        "elastic/detection-rules.ndjson": kibana_ndjson(elastic),
        f"splunk/{splunk_package_name(app_version)}": deterministic_tgz(
            {f"{APP_ID}/{path}": text.encode("utf-8") for path, text in app.items()}
        ),
    }
    files.update({f"splunk/{APP_ID}/{path}": text for path, text in app.items()})
    for c in splunk:
        files[f"splunk/spl/{c.output_stem}.spl"] = spl_file(c)
    return files


def write_atomically(out: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Replace ``out`` by a folder holding exactly ``files``, or leave it untouched."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for relative, content in sorted(files.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8", newline="\n")
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


def build(corpus: Corpus, out: Path, splunk_tuning: TuningMode = DEFAULT_TUNING) -> BuildResult:
    """Compile everything; on any content error raise ProblemsFound and write nothing."""
    results = compile_all(corpus)
    errors = check_compilation(corpus, results)
    if errors:
        raise ProblemsFound(errors)
    files = write_atomically(out, render(corpus, results, splunk_tuning))
    return BuildResult(out, results, files, splunk_tuning)
