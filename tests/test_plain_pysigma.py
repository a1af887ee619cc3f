"""The mappings as plain pySigma pipelines, used as the README says (``sigma convert -p``).

A fresh interpreter that imports nothing of sigma-ext itself (but finds its pySigma plugin
module ``sigma.pipelines.sigma_ext`` where a wheel installs it: with the checkout on the path,
because setuptools' editable finder is invisible to pySigma's ``pkgutil.iter_modules``) converts every rule with every
Splunk and Elastic mapping through pySigma alone: plugin discovery
(``InstalledSigmaPlugins.autodiscover``, as sigma-cli runs it), ``ProcessingPipeline.from_yaml``
and the pySigma backend sigma-cli would use (``-t splunk``, ``-t lucene``). Each result must
either fail loudly or be a search that works:

* a mapping given a rule of another log source fails (its ``rule_failure`` item);
* a rule the SIEM cannot see fails with the mapping's "not visible" reason;
* a rule with tuning placeholders fails (pySigma has no values for them);
* a rule that reads fields only a mapping's ES|QL prelude extracts fails ("needs sigma-ext"),
  where sigma-ext ships it as ES|QL;
* every other conversion gives sigma-ext's own query (Splunk: without the triage table that the
  build appends), and run by the emulators on every fixture event of the source, the verdict of
  the query sigma-ext ships.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.triage import triage_stages
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.fixtures import load_cases
from sigma_ext.emulate.documents import Document, build_document
from sigma_ext.emulate.verdict import query_matches
from sigma_ext.sources.catalogue import SOURCES

from .conftest import ROOT

BACKENDS = {"splunk": "splunk", "elastic": "lucene"}

PLAIN = r"""
import copy, json, sys
from pathlib import Path
import yaml
from sigma.plugins import InstalledSigmaPlugins
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingPipeline
from sigma.backends.splunk import SplunkBackend
from sigma.backends.elasticsearch import LuceneBackend

assert not any(m.startswith("sigma_ext") for m in sys.modules), "sigma-ext imported too early"
plugins = InstalledSigmaPlugins.autodiscover()
root = Path(sys.argv[1])
backends = {"splunk": SplunkBackend, "lucene": LuceneBackend}
out = []
# each rule's YAML read once: SigmaCollection.from_yaml is from_dicts(list(yaml.safe_load_all)),
# and a conversion changes the rule it is given, so each gets its own copy of the documents
read = {}
for rule in sorted((root / "rules").rglob("*.yml")):
    try:
        read[rule] = list(yaml.safe_load_all(rule.read_text()))
    except Exception as error:
        read[rule] = error
for target, backend in (("splunk", "splunk"), ("elastic", "lucene")):
    for mapping in sorted((root / "mappings" / target).glob("*.yml")):
        try:
            pipeline = ProcessingPipeline.from_yaml(mapping.read_text())
        except Exception as error:
            out.append({"mapping": str(mapping.relative_to(root)), "load_error": repr(error)})
            continue
        for rule, documents in read.items():
            entry = {"mapping": str(mapping.relative_to(root)), "rule": rule.stem}
            try:
                if isinstance(documents, Exception):
                    raise documents
                queries = backends[backend](processing_pipeline=pipeline).convert(
                    SigmaCollection.from_dicts(copy.deepcopy(documents))
                )
                entry["queries"] = [str(q) for q in queries]
            except Exception as error:
                entry["error"] = f"{type(error).__name__}: {error}"
            out.append(entry)
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def plain() -> list[dict[str, Any]]:
    run = subprocess.run(
        [sys.executable, "-c", PLAIN, str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stderr
    result: list[dict[str, Any]] = json.loads(run.stdout)
    return result


@pytest.fixture(scope="module")
def by_key(compiled: list[Compiled]) -> dict[tuple[str, str, str], Compiled]:
    """The run's ``compile_all`` (conftest), by rule, target and source."""
    return {(c.rule.stem, c.target.name, c.source.name): c for c in compiled}


def test_every_mapping_loads_in_plain_pysigma(plain: list[dict[str, Any]]) -> None:
    """The GKE Elastic mapping too: the sigma_ext_gke_method transformation comes with the
    plugin module sigma.pipelines.sigma_ext, which pySigma's discovery imports."""
    assert [e for e in plain if "load_error" in e] == []
    mappings = {e["mapping"] for e in plain}
    assert len(mappings) == 2 * len(SOURCES)


def test_plain_conversions_work_or_fail_loudly(
    plain: list[dict[str, Any]], corpus: Corpus, by_key: dict[tuple[str, str, str], Compiled]
) -> None:
    cases = load_cases(ROOT / "fixtures", [r.stem for r in corpus.rules])
    problems: list[str] = []
    ran = 0
    documents: dict[tuple[str, int], Document] = {}  # per target and case, for every rule
    for entry in plain:
        if "rule" not in entry:
            continue  # a mapping that did not load: test_every_mapping_loads_in_plain_pysigma
        target, source = entry["mapping"].split("/")[1], entry["mapping"].split("/")[2][:-4]
        rule = corpus.rule(entry["rule"])
        where = f"{entry['mapping']} {entry['rule']}"
        if source not in {s.name for s in corpus.sources_of(rule)}:
            if "maps the rules of log source" not in entry.get("error", ""):
                problems.append(f"{where}: another log source's rule did not fail: {entry}")
            continue
        if by_key[(rule.stem, target, source)].status == "impossible":
            if "not visible:" not in entry.get("error", ""):
                problems.append(f"{where}: an impossible rule did not fail: {entry}")
            continue
        if "needs sigma-ext:" in entry.get("error", ""):
            # only where sigma-ext itself ships ES|QL with the mapping's prelude (plain pySigma
            # has no place for it, and Lucene cannot read the fields it extracts)
            if by_key[(rule.stem, target, source)].language != "esql":
                problems.append(f"{where}: needs sigma-ext, yet ships no ES|QL: {entry}")
            continue
        if rule.placeholders():
            if "unhandled placeholder" not in entry.get("error", ""):
                problems.append(f"{where}: a rule with placeholders did not fail: {entry}")
            continue
        if "queries" not in entry or len(entry["queries"]) != 1:
            problems.append(f"{where}: no single query: {entry}")
            continue
        (query,) = entry["queries"]
        shipped = by_key[(rule.stem, target, source)]
        if shipped.status == "shared":
            assert shipped.shared_with is not None
            partner = shipped.shared_with.source
            shipped = by_key[(rule.stem, target, partner)]
        assert shipped.query is not None
        assert shipped.language is not None
        expected_text = shipped.query
        if target == "splunk":
            unmatched = tuple(re.findall(r"\beval (sigma_ext_unmatched_[0-9]+)=", query))
            triage = triage_stages(shipped.source.name, shipped.output_id, unmatched)
            expected_text = shipped.query.removesuffix(f" | {triage}")
        if shipped.source.name == source and query != expected_text:
            problems.append(
                f"{where}: differs from sigma-ext's query\n  {query}\n  {expected_text}"
            )
        for case in (c for c in cases if c.source == source):
            key = (target, id(case))
            if key not in documents:
                documents[key] = build_document(target, source, case.event)
            document = documents[key]
            language = "spl" if target == "splunk" else "lucene"
            got = query_matches(language, query, shipped.index, document)
            want = query_matches(shipped.language, shipped.query, shipped.index, document)
            ran += 1
            if got != want:
                problems.append(f"{where}: {case.where} plain {got}, sigma-ext {want}")
    assert problems == [], "\n".join(problems)
    assert ran > 100


def test_pysigma_alone_does_not_know_the_gke_method_without_the_plugin() -> None:
    """Not vacuous: without plugin discovery the GKE Elastic mapping does not load."""
    script = (
        "from pathlib import Path\n"
        "from sigma.processing.pipeline import ProcessingPipeline\n"
        "import sys\n"
        "try:\n"
        "    ProcessingPipeline.from_yaml(Path(sys.argv[1]).read_text())\n"
        "except Exception as error:\n"
        "    print(error)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "mappings/elastic/kubernetes_audit_gke.yml")],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    assert "Unknown transformation type 'sigma_ext_gke_method'" in run.stdout
