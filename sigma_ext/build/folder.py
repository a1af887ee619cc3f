"""``sigma-ext build``: every rule for every SIEM target into one output folder, atomically.

The output (``out/siem/`` by default; see ``sigma_ext.content.locate``)::

    summary.md, summary.json                 per rule, source and target: ok / degraded / impossible
    splunk/<APP_ID>/                          the Splunk app, ready to install
    splunk/<APP_ID>-<version>.tgz             the same app, packaged (reproducible bytes)
    splunk/spl/<rule>.spl                     each search with every tuning value written in
    correlations.md                           per correlation rule, source and SIEM: the verdict,
                                              and the saved search or Kibana rule it became
    splunk/correlations/<rule>.<source>.spl   each correlation search (pySigma's stats method)
    elastic/correlations/<rule>.<source>.esql each correlation as an ES|QL query
    elastic/detection-rules.ndjson            Kibana detection rules (Detection Engine import), the
                                              correlations' ES|QL rules last
    elastic/telemetry-gap-rules.json          Kibana alerting rules (.es-query): a source gone quiet

The build writes only a folder that is absent, empty or a previous build (marked by the file
``.sigma-ext-build``); anything else is refused. The new output is written into a folder beside
``out`` and exchanged with it in one step (``renameat2(RENAME_EXCHANGE)``), only when everything
succeeded: a failed or killed build leaves the previous output exactly as it was, and there is no
moment without one. Builds into the same folder take turns; modes follow the umask.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sigma_ext import __version__
from sigma_ext.build.compile import check_compilation, compile_all
from sigma_ext.build.correlation_package import (
    PackagedCorrelation,
    Placement,
    packaged,
    packaged_markdown,
)
from sigma_ext.build.correlations import (
    CompiledCorrelation,
    compile_correlations,
    correlation_markdown,
)
from sigma_ext.build.elastic.correlation_rules import correlation_ndjson
from sigma_ext.build.elastic.correlation_rules import refusal as correlation_refusal
from sigma_ext.build.elastic.gaps import gap_rules, gap_rules_json
from sigma_ext.build.elastic.kibana import kibana_ndjson
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.app import APP_ID, SPLUNK_INDEXED_FIELDS, app_files
from sigma_ext.build.splunk.correlation_searches import (
    correlation_stanzas,
    stanza_name,
    tuned_with_correlations,
)
from sigma_ext.build.splunk.gaps import gap_searches, gap_stanza
from sigma_ext.build.splunk.knowledge_objects import SplunkTuning
from sigma_ext.build.splunk.tuning_modes import DEFAULT_TUNING, TuningMode
from sigma_ext.build.summary import gap_summary, spl_file, summary_json, summary_markdown
from sigma_ext.build.tarball import deterministic_tgz
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.correlations import CorrelationFile, load_correlations
from sigma_ext.content.mappings import state_value
from sigma_ext.problems import ProblemsFound
from sigma_ext.sources.catalogue import source_named


@dataclass(frozen=True)
class BuildResult:
    out: Path
    results: list[Compiled]
    files: list[Path]
    splunk_tuning: TuningMode
    correlations: CorrelationCounts


@dataclass(frozen=True)
class CorrelationCounts:
    """How many correlation files were built and what each SIEM package holds of them."""

    files: int
    splunk_searches: int
    kibana_rules: int


def package_version() -> str:
    """The version of the installed sigma-ext (pyproject's), which versions the packages."""
    try:
        return version("sigma-ext")
    except PackageNotFoundError:
        return __version__


def splunk_package_name(app_version: str) -> str:
    return f"{APP_ID}-{app_version}.tgz"


def render(
    corpus: Corpus,
    results: list[Compiled],
    splunk_tuning: TuningMode = DEFAULT_TUNING,
    splunk_es: bool = False,
    correlations: list[CorrelationFile] | None = None,
) -> dict[str, str | bytes]:
    """Relative path -> content of every output file; ``correlations``: the loaded correlation
    files (loaded here when None)."""
    return render_counted(corpus, results, splunk_tuning, splunk_es, correlations)[0]


def render_counted(
    corpus: Corpus,
    results: list[Compiled],
    splunk_tuning: TuningMode,
    splunk_es: bool,
    correlations: list[CorrelationFile] | None,
) -> tuple[dict[str, str | bytes], CorrelationCounts]:
    """``render``'s files, and what the packages hold of the correlations."""
    if correlations is None:
        correlations = _correlation_files(corpus)
    compiled_correlations = compile_correlations(corpus, correlations)
    splunk_correlations = packaged(compiled_correlations, correlations, "splunk")
    compiled_elastic = packaged(compiled_correlations, correlations, "elastic")
    elastic_correlations = [p for p in compiled_elastic if correlation_refusal(p) is None]
    emitted = [c for c in results if c.query is not None]
    splunk = [c for c in emitted if c.target.name == "splunk"]
    elastic = [c for c in emitted if c.target.name == "elastic"]
    app_version = package_version()
    indexed = {
        name.strip()
        for source in sorted({c.source.name for c in splunk})
        for name in (
            state_value(corpus.mapping("splunk", source_named(source)), SPLUNK_INDEXED_FIELDS) or ""
        ).split(",")
        if name.strip()
    }
    tuning = tuned_with_correlations(corpus, results, splunk_correlations, splunk_tuning)
    gaps = gap_searches(tuning.searches, corpus.profile)
    app = app_files(
        tuning,
        app_version,
        corpus.profile,
        splunk_es,
        indexed,
        gap_stanzas=[gap_stanza(g) for g in gaps],
        correlation_stanzas=correlation_stanzas(tuning, corpus.profile, splunk_es),
    )
    elastic_gaps = gap_rules(elastic, corpus.profile)
    covered = {
        "splunk": {g.source_name for g in gaps},
        "elastic": set(elastic_gaps),
    }
    files: dict[str, str | bytes] = {
        "summary.md": summary_markdown(results) + gap_summary(results, covered),
        "summary.json": summary_json(results),
        "elastic/detection-rules.ndjson": kibana_ndjson(elastic, corpus.profile)
        + correlation_ndjson(elastic_correlations, corpus.profile),
        "elastic/telemetry-gap-rules.json": gap_rules_json(elastic_gaps),
        f"splunk/{splunk_package_name(app_version)}": deterministic_tgz(
            {f"{APP_ID}/{path}": text.encode("utf-8") for path, text in app.items()}
        ),
    }
    files.update({f"splunk/{APP_ID}/{path}": text for path, text in app.items()})
    for c in splunk:
        files[f"splunk/spl/{c.output_stem}.spl"] = spl_file(c)
    files.update(correlation_files(compiled_correlations, tuning, compiled_elastic))
    counts = CorrelationCounts(
        len(correlations), len(tuning.correlations), len(elastic_correlations)
    )
    return files, counts


def _correlation_files(corpus: Corpus) -> list[CorrelationFile]:
    loaded, problems = load_correlations(corpus.correlations_root, corpus.profile)
    if problems:
        raise ProblemsFound(problems)
    return loaded


def correlation_files(
    compiled: list[CompiledCorrelation],
    tuning: SplunkTuning,
    elastic: list[PackagedCorrelation],
) -> dict[str, str]:
    """The correlation queries per SIEM and source, their verdict table, and what each SIEM
    package holds of them."""
    files = {}
    where: dict[tuple[str, str, str], tuple[str, str]] = {}
    for s in tuning.correlations:
        key = (s.packaged.file.stem, s.packaged.source.name, "splunk")
        where[key] = (
            "saved search",
            f"`splunk/{APP_ID}/default/savedsearches.conf` [{stanza_name(s.packaged)}]",
        )
    for e in elastic:
        key = (e.file.stem, e.source.name, "elastic")
        why = correlation_refusal(e)
        where[key] = (
            ("ES\\|QL detection rule", f"`elastic/detection-rules.ndjson` rule_id {e.output_id}")
            if why is None
            else ("nothing", why)
        )
    placements = []
    for c in compiled:
        query_file = ""
        if c.query is not None and c.status != "shared":
            folder, suffix = ("splunk", "spl") if c.target == "splunk" else ("elastic", "esql")
            query_file = f"{folder}/correlations/{c.correlation}.{c.source}.{suffix}"
            files[query_file] = c.query + "\n"
        what, place = where.get((c.correlation, c.source, c.target), ("nothing", ""))
        if not place:
            place = (
                f"shared: the {c.shared.source} rule searches its events"
                if c.shared is not None
                else f"{c.status} (see the verdicts above)"
            )
        placements.append(Placement(c.correlation, c.source, c.target, what, place))
    files["correlations.md"] = correlation_markdown(compiled) + packaged_markdown(placements)
    return files


class OutputRefused(Exception):
    """``--out`` names something that is not ours to replace, or cannot be written."""


# The file that marks a folder as a build output, which the next build may replace whole.
BUILD_MARKER = ".sigma-ext-build"
MARKER_TEXT = "Written by sigma-ext. Its next run replaces this whole folder.\n"
# What a build wrote at its top level before it was marked: such a folder is a previous build too.
_UNMARKED_BUILD = frozenset({"summary.md", "summary.json", "splunk", "elastic"})


def refusal(out: Path) -> str | None:
    """Why ``out`` may not be replaced by a build, or None: it must be absent, an empty folder,
    or a previous build (it holds ``BUILD_MARKER``, or only what an unmarked build wrote)."""
    if not out.exists() and not out.is_symlink():
        return None
    if not out.is_dir():
        return f"{out} exists and is not a folder"
    try:
        names = {p.name for p in out.iterdir()}
    except OSError as error:
        return f"cannot read {out}: {error.strerror or error}"
    if not names or BUILD_MARKER in names:
        return None
    if "summary.json" in names and names <= _UNMARKED_BUILD:
        return None
    return (
        f"{out} is not empty and not a previous build (no {BUILD_MARKER} file in it); "
        "choose an absent or empty folder"
    )


def check_output(out: Path) -> None:
    """Raise OutputRefused when a build may not write ``out``."""
    why = refusal(out.resolve())
    if why is not None:
        raise OutputRefused(f"refusing to write the build: {why}")


def write_atomically(out: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Replace ``out`` by a folder holding exactly ``files`` (and ``BUILD_MARKER``), or leave it
    untouched.

    Only an absent or empty folder or a previous build is replaced (``refusal``). The new folder
    is written beside ``out`` and exchanged with it in one step, so ``out`` always holds one
    whole build; builds into the same parent folder take turns (a lock on that folder). Folders
    and files are created with the modes the umask gives.
    """
    out = out.resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with _locked(out.parent):
            _recover(out)
            check_output(out)
            staging = _new_sibling(out, "new")
            try:
                (staging / BUILD_MARKER).write_text(MARKER_TEXT, encoding="utf-8")
                for relative, content in sorted(files.items()):
                    target = staging / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if isinstance(content, bytes):
                        target.write_bytes(content)
                    else:
                        target.write_text(content, encoding="utf-8", newline="\n")
                _swap_in(staging, out)
            finally:
                # after the swap, staging holds the previous build
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        where = error.filename or out
        raise OutputRefused(
            f"cannot write the build to {out}: {where}: {error.strerror or error}"
        ) from error
    return [out / relative for relative in sorted(files)]


def _new_sibling(out: Path, kind: str) -> Path:
    """A fresh folder beside ``out``, made with ``os.mkdir`` so that its mode follows the umask
    (``tempfile.mkdtemp`` makes 0700)."""
    for _ in range(100):
        candidate = out.parent / f".{out.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(errno.EEXIST, "no free name for a temporary folder", str(out.parent))


def _swap_in(staging: Path, out: Path) -> None:
    """Put ``staging`` at ``out``; afterwards ``staging`` holds what ``out`` held, if anything."""
    if not out.exists() and not out.is_symlink():
        staging.replace(out)
        staging.mkdir()
        return
    if _exchange(staging, out):
        return
    # No atomic exchange on this system: two renames. A build killed between them leaves the
    # previous build at ``.<name>.old-*``, which the next build puts back first (``_recover``).
    old = out.parent / f".{out.name}.old-{staging.name.rpartition('.new-')[2]}"
    out.replace(old)
    staging.replace(out)
    old.replace(staging)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one system call; False where the system or file system cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    a, b = os.fsencode(first), os.fsencode(second)
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        at_fdcwd, rename_exchange = -100, 2
        result = libc.renameat2(at_fdcwd, a, at_fdcwd, b, rename_exchange)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        rename_swap = 2
        result = libc.renamex_np(a, b, rename_swap)
    else:
        return False
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _recover(out: Path) -> None:
    """Clean up after a build that was killed: put back a previous build left at
    ``.<name>.old-*`` when ``out`` is missing, and remove the temporary folders of dead builds
    (the caller holds the lock, so no live build owns one)."""
    leftovers = sorted(out.parent.glob(f".{glob.escape(out.name)}.old-*"))
    leftovers += sorted(out.parent.glob(f".{glob.escape(out.name)}.new-*"))
    for leftover in leftovers:
        if not leftover.is_dir() or leftover.is_symlink():
            continue
        ours = not any(leftover.iterdir()) or (leftover / BUILD_MARKER).exists()
        if not ours:
            continue
        if ".old-" in leftover.name and not out.exists() and not out.is_symlink():
            leftover.replace(out)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on the folder itself, so no lock file is
    left behind); other builds into the same folder wait for it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def build(
    corpus: Corpus,
    out: Path,
    splunk_tuning: TuningMode = DEFAULT_TUNING,
    splunk_es: bool = False,
    *,
    results: list[Compiled] | None = None,
) -> BuildResult:
    """Compile everything; on any content error raise ProblemsFound and write nothing.

    An ``out`` that is not a previous build raises OutputRefused before anything is compiled.
    ``results`` are ``compile_all(corpus)`` when the caller already has them (several builds
    of one corpus, in other tuning modes, compile it once); they are made here when None.
    """
    check_output(out)
    if results is None:
        results = compile_all(corpus)
    errors = check_compilation(corpus, results)
    # the correlation files' problems (an unknown ATT&CK tag, a missing setting) with the rules'
    correlations, correlation_problems = load_correlations(corpus.correlations_root, corpus.profile)
    errors = sorted(errors + correlation_problems)
    if errors:
        raise ProblemsFound(errors)
    rendered, counts = render_counted(corpus, results, splunk_tuning, splunk_es, correlations)
    files = write_atomically(out, rendered)
    return BuildResult(out, results, files, splunk_tuning, counts)
