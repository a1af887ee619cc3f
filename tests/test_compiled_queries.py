"""The compiled Splunk and Elastic queries themselves, run on the documents each SIEM stores.

For every fixture event, every rule and every SIEM target: build the document the SIEM keeps
(``sigma_ext.emulate.documents``), run the compiled query on it with the engine's semantics
(``sigma_ext.emulate``), and require the fixture's verdict. Degraded results may differ only
where ``sigma_ext/data/documents/known_misses.yml`` lists the case with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from sigma_ext.build.result import Compiled
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.fixtures import Case, load_cases
from sigma_ext.emulate import QueryError, Unsupported
from sigma_ext.emulate.documents import Document, DocumentSpecError, build_document, load_spec
from sigma_ext.emulate.verdict import query_matches
from sigma_ext.targets import SIEM_TARGETS

from .conftest import ROOT

FIXTURES = ROOT / "fixtures"


@dataclass(frozen=True)
class Run:
    compiled: Compiled
    case: Case
    expected: bool
    emulated: bool | None
    error: str | None

    @property
    def key(self) -> tuple[str, str, str, str]:
        where = f"{self.case.file.relative_to(FIXTURES).as_posix()}:{self.case.line}"
        return (self.compiled.rule.stem, self.compiled.target.name, self.case.source, where)

    def explain(self, why: str) -> str:
        document = build_document(self.compiled.target.name, self.case.source, self.case.event)
        return "\n".join(
            [
                f"{why}: rule {self.compiled.rule.stem} target {self.compiled.target.name} "
                f"({self.compiled.status}) source {self.case.source}",
                f"  fixture {self.case.where}: {self.case.name}",
                f"  expected {'fires' if self.expected else 'quiet'}, emulated "
                + (self.error or ("fires" if self.emulated else "quiet")),
                f"  query ({self.compiled.language}): {self.compiled.query}",
                "  " + document.describe().replace("\n", "\n  "),
            ]
        )


@pytest.fixture(scope="module")
def cases(corpus: Corpus) -> list[Case]:
    return load_cases(FIXTURES, [r.stem for r in corpus.rules])


@pytest.fixture(scope="module")
def runs(compiled: list[Compiled], cases: list[Case]) -> list[Run]:
    out = []
    by_source = {(c.rule.stem, c.target.name, c.source.name): c for c in compiled}
    # the document a SIEM stores for a case depends on the target and the case, not on the rule:
    # made once per (target, case) and given to every rule's query (documents are frozen)
    documents: dict[tuple[str, int], Document | Exception] = {}
    for stored in compiled:
        # a shared result runs the query of the source it shares with, on its own documents
        result = stored
        if stored.status == "shared":
            assert stored.shared_with is not None
            partner = stored.shared_with.source
            result = by_source[(stored.rule.stem, stored.target.name, partner)]
        if result.status not in ("ok", "degraded"):
            continue
        for case in cases:
            if case.source != stored.source.name:
                continue
            expected = result.rule.stem in case.fires
            try:
                document = _document(documents, stored.target.name, case)
                assert result.query is not None
                assert result.language is not None
                verdict: bool | None = query_matches(
                    result.language, result.query, result.index, document
                )
                error = None
            except (Unsupported, QueryError, DocumentSpecError) as problem:
                verdict, error = None, f"{type(problem).__name__}: {problem}"
            out.append(Run(result, case, expected, verdict, error))
    return out


def _document(
    documents: dict[tuple[str, int], Document | Exception], target: str, case: Case
) -> Document:
    """``build_document`` of the case for the target, made on first use (its error too)."""
    key = (target, id(case))
    if key not in documents:
        try:
            documents[key] = build_document(target, case.source, case.event)
        except (Unsupported, QueryError, DocumentSpecError) as problem:
            documents[key] = problem
    made = documents[key]
    if isinstance(made, Exception):
        raise made
    return made


def _known_misses() -> dict[tuple[str, str, str, str], dict[str, str]]:
    text = (files("sigma_ext") / "data" / "documents" / "known_misses.yml").read_text("utf-8")
    table: dict[tuple[str, str, str, str], dict[str, str]] = {}
    for entry in yaml.safe_load(text)["misses"]:
        assert entry["direction"] in ("silent", "fires"), entry
        assert entry["reason"].strip(), entry
        for where in entry["cases"]:
            key = (entry["rule"], entry["target"], entry["source"], where)
            assert key not in table, f"listed twice: {key}"
            table[key] = entry
    return table


def test_every_source_with_fixtures_has_a_document_spec_per_siem(cases: list[Case]) -> None:
    missing = []
    for source in sorted({c.source for c in cases}):
        for target in SIEM_TARGETS:
            try:
                load_spec(target.name, source)
            except DocumentSpecError as error:
                missing.append(str(error))
    assert not missing, "\n".join(missing)


def test_a_source_without_document_spec_fails_with_a_clear_message() -> None:
    with pytest.raises(DocumentSpecError, match=r"no document spec .*splunk/no_such_source\.yml"):
        build_document("splunk", "no_such_source", {})


def test_compiled_queries_give_the_fixture_verdicts(runs: list[Run]) -> None:
    """ok results must agree everywhere; degraded ones except where known_misses.yml says."""
    misses = _known_misses()
    offenders = []
    for run in runs:
        if run.error is not None:
            offenders.append(run.explain("query could not run"))
            continue
        if run.emulated == run.expected:
            continue
        entry = misses.get(run.key)
        if run.compiled.status == "degraded" and entry is not None:
            direction = "silent" if run.expected else "fires"
            if entry["direction"] == direction:
                continue
            offenders.append(run.explain(f"listed as '{entry['direction']}' but {direction}"))
            continue
        offenders.append(run.explain("verdict differs"))
    assert not offenders, f"{len(offenders)} mismatches\n\n" + "\n\n".join(offenders)


def test_known_misses_are_not_stale(runs: list[Run]) -> None:
    by_key = {run.key: run for run in runs}
    stale = []
    for key in _known_misses():
        run = by_key.get(key)
        if run is None:
            stale.append(f"{key}: no such rule/target/source/fixture case")
        elif run.compiled.status != "degraded":
            stale.append(f"{key}: the result is {run.compiled.status}, not degraded")
        elif run.emulated == run.expected:
            stale.append(f"{key}: the query now gives the expected verdict; remove the entry")
    assert not stale, "\n".join(stale)


def test_the_matrix_covers_every_rule_target_and_case(
    runs: list[Run], compiled: list[Compiled], cases: list[Case]
) -> None:
    """Not vacuous: every runnable result meets every case of its source, fires and stays quiet."""
    runnable = [c for c in compiled if c.status in ("ok", "degraded")]
    shared = [c for c in compiled if c.status == "shared"]
    by_source = {s: sum(1 for c in cases if c.source == s) for s in {c.source for c in cases}}
    assert len(runs) == sum(by_source.get(c.source.name, 0) for c in runnable + shared)
    assert {c.target.name for c in runnable} == {t.name for t in SIEM_TARGETS}
    for result in runnable:
        verdicts = {r.emulated for r in runs if r.compiled is result}
        assert verdicts == {True, False}, f"{result.rule.stem}/{result.target.name}: {verdicts}"


def test_fixture_files_are_found_under_fixtures(cases: list[Case]) -> None:
    assert all(Path(c.file).is_relative_to(FIXTURES) for c in cases)
