"""Cloud control-plane sources: recognition, per-platform tuning lists, and what each SIEM sees.

Every fixture event must be claimed by exactly the source its expectation file names (so ``hunt``
needs no ``--source``), the cloud recognisers must leave look-alike records of other sources alone,
and a platform's rules may only read that platform's identity lists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sigma.rule import SigmaDetectionItem

from sigma_ext.build.every_element import element_tests
from sigma_ext.build.result import Compiled
from sigma_ext.build.siem_compiler import sigma_value_regex
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.fixtures import Case, load_cases
from sigma_ext.content.image_refs import is_approved
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.content.profile import load_profile
from sigma_ext.hunt.reference import Hit, hunt_file
from sigma_ext.reference.engine import ReferenceEngine
from sigma_ext.reference.evaluator import field_values
from sigma_ext.sources.catalogue import SOURCES, recognize, source_named

from .conftest import ROOT

CLOUD_SOURCES = ("aws_cloudtrail", "azure_activitylogs", "gcp_audit")
PLATFORM_OF_PRODUCT = {"aws": "aws_", "azure": "azure_", "gcp": "gcp_"}
RULE_STEMS = sorted(p.stem for p in (ROOT / "rules").rglob("*.yml"))
CASES = load_cases(ROOT / "fixtures", RULE_STEMS)
CLOUD_CASES = [c for c in CASES if c.source in CLOUD_SOURCES]


def test_every_cloud_source_has_fixtures() -> None:
    assert {c.source for c in CLOUD_CASES} == set(CLOUD_SOURCES)


def test_every_fixture_event_is_claimed_by_exactly_its_source() -> None:
    offenders = []
    for case in CASES:
        claimed = [s.name for s in SOURCES if s.recognize(case.event)]
        if claimed != [case.source]:
            offenders.append(f"{case.where} {case.name}: claimed by {claimed}, not [{case.source}]")
    assert not offenders, "\n".join(offenders)


LOOK_ALIKES = {
    "GKE Kubernetes API audit entry (the Kubernetes audit sources read it)": {
        "insertId": "4f1a9c2e-0b7d-4e55-9d1a-5c2b7e8f9a01",
        "logName": "projects/corp-prod/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "k8s.io",
            "methodName": "io.k8s.core.v1.pods.create",
            "resourceName": "core/v1/namespaces/shop/pods/debug",
        },
        "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "prod-eu"}},
        "timestamp": "2026-11-22T10:00:00.000000Z",
    },
    "AKS kube-audit resource log record (category kube-audit, not an Activity Log category)": {
        "time": "2026-11-22T10:00:00.0000000Z",
        "resourceId": "/SUBSCRIPTIONS/6D1F1B2E-3C4A-4B5E-8F70-91A2B3C4D5E6/RESOURCEGROUPS/RG-AKS"
        "/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD",
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "category": "kube-audit",
        "properties": {"log": "{}", "stream": "stdout", "pod": "kube-apiserver-7d9f"},
    },
    "Kubernetes audit event": {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "verb": "create",
        "objectRef": {"resource": "pods"},
    },
    "CloudTrail record wrapped in an EventBridge envelope": {
        "version": "0",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ecs",
        "detail": {"eventVersion": "1.10", "eventSource": "ecs.amazonaws.com"},
    },
}


@pytest.mark.parametrize("name", sorted(LOOK_ALIKES))
def test_cloud_recognisers_leave_look_alikes_alone(name: str) -> None:
    claimed = recognize(LOOK_ALIKES[name])
    assert claimed is None or claimed.name not in CLOUD_SOURCES, claimed


def test_a_platform_rule_reads_only_its_own_platform_lists(corpus: Corpus) -> None:
    offenders = []
    for rule_file in corpus.rules:
        prefix = PLATFORM_OF_PRODUCT.get(str(rule_file.product))
        if prefix is None:
            continue
        for name in sorted(rule_file.placeholders()):
            if corpus.profile.kind(name) == "identity" and not name.startswith(prefix):
                offenders.append(f"{rule_file.stem} reads {name}")
    assert not offenders, "\n".join(offenders)


def test_every_cloud_rule_fires_and_stays_quiet_on_its_own_source(corpus: Corpus) -> None:
    offenders = []
    for rule_file in corpus.rules:
        source = corpus.sources_of(rule_file)[0].name
        if source not in CLOUD_SOURCES:
            continue
        own = [c for c in CASES if c.source == source]
        firing = sum(rule_file.stem in c.fires for c in own)
        if not firing or firing == len(own):
            offenders.append(f"{rule_file.stem}: fires on {firing} of {len(own)} {source} events")
    assert not offenders, "\n".join(offenders)


def test_hunt_recognises_every_cloud_event_without_a_source(
    engine: ReferenceEngine, tmp_path: Path
) -> None:
    """One mixed log of every cloud fixture event: hunt finds the expected hits unaided."""
    log = tmp_path / "mixed.jsonl"
    log.write_text("".join(json.dumps(c.event) + "\n" for c in CLOUD_CASES))
    expected = {(n, stem) for n, c in enumerate(CLOUD_CASES, start=1) for stem in c.fires}
    found = set()
    for item in hunt_file(engine, log):
        assert isinstance(item, Hit), str(item)
        found.add((item.line, item.rule))
    assert found == expected


@pytest.fixture(scope="module")
def siem_results(compiled: list[Compiled]) -> list[Compiled]:
    return compiled


def _result(results: list[Compiled], stem: str, target: str) -> Compiled:
    (found,) = [r for r in results if r.rule.stem == stem and r.target.name == target]
    return found


def _registry_rules(corpus: Corpus) -> list[str]:
    return [
        r.stem
        for r in corpus.rules
        if r.theme == "unusual-registry" and corpus.sources_of(r)[0].name in CLOUD_SOURCES
    ]


def test_splunk_element_regex_agrees_with_the_reference_on_cloud_images(corpus: Corpus) -> None:
    """The mvfilter regex of each cloud registry rule approves exactly what the parser approves."""
    approved = load_profile(ROOT / "profiles" / "example.yml").lists["approved_registries"]
    rules = _registry_rules(corpus)
    assert rules
    for stem in rules:
        rule_file = corpus.rule(stem)
        source = corpus.sources_of(rule_file)[0]
        native = conversion_pipeline(corpus.mapping("native", source), corpus.profile)
        (native_test,) = element_tests(rule_file, native)
        splunk = conversion_pipeline(corpus.mapping("splunk", source), corpus.profile)
        (test,) = element_tests(rule_file, splunk)
        regex = re.compile("|".join(sigma_value_regex(v) for v in test.values))
        images = sorted(
            {
                str(i)
                for c in CASES
                if c.source == source.name
                for f in native_test.fields
                for i in field_values(c.event, f)
            }
        )
        assert len(images) >= 5, stem
        wrong = [i for i in images if (regex.search(i) is not None) != is_approved(i, approved)]
        assert not wrong, (stem, wrong)


def test_mixed_images_alert_on_splunk_and_degrade_on_elastic(
    corpus: Corpus, siem_results: list[Compiled]
) -> None:
    """An approved container beside an unapproved one fires the reference evaluator; Splunk
    renders the every-element test, Elastic says it cannot."""
    for stem in _registry_rules(corpus):
        assert any(stem in c.fires and len(_images(corpus, c)) > 1 for c in CLOUD_CASES), (
            f"{stem}: no fixture mixes approved and unapproved images"
        )
        splunk = _result(siem_results, stem, "splunk")
        assert splunk.status == "ok"
        assert splunk.query
        assert "mvfilter(" in splunk.query
        elastic = _result(siem_results, stem, "elastic")
        assert elastic.status == "degraded"
        assert any("flattened" in reason.text for reason in elastic.reasons)


def _images(corpus: Corpus, case: Case) -> list[str]:
    rule_file = next(r for r in corpus.rules if r.stem in case.fires and r.every_element)
    source = source_named(case.source)
    native = conversion_pipeline(corpus.mapping("native", source), corpus.profile)
    (test,) = element_tests(rule_file, native)
    return [str(i) for f in test.fields for i in field_values(case.event, f)]


def test_splunk_accepts_the_add_on_success_marker_and_elastic_the_missing_error_code(
    corpus: Corpus, siem_results: list[Compiled]
) -> None:
    """The Splunk Add-on for AWS writes errorCode=success where CloudTrail writes nothing."""
    for rule_file in corpus.rules:
        if corpus.sources_of(rule_file)[0].name != "aws_cloudtrail":
            continue
        splunk = _result(siem_results, rule_file.stem, "splunk")
        assert splunk.query, rule_file.stem
        assert 'errorCode="success"' in splunk.query, rule_file.stem
        elastic = _result(siem_results, rule_file.stem, "elastic")
        assert elastic.query
        assert "NOT _exists_:aws.cloudtrail.error_code" in elastic.query


def _mapping_targets(corpus: Corpus, source: str) -> set[str]:
    targets = {"event.dataset"}
    for item in corpus.mappings[("elastic", source)].data["transformations"]:
        if item.get("type") == "field_name_mapping":
            for value in item["mapping"].values():
                targets.update(value if isinstance(value, list) else [value])
    return {t.replace("\\", "") for t in targets}


def test_elastic_queries_parse_and_name_only_mapped_fields(
    corpus: Corpus, siem_results: list[Compiled]
) -> None:
    """Each Lucene query parses, and every field it names is one the integration writes: a field
    name with an unescaped ':' or '/' (the Azure claim URIs) would split into another field."""
    from luqum.parser import parser  # type: ignore[import-untyped]

    offenders = []
    for result in siem_results:
        if result.target.name != "elastic" or result.source.name not in CLOUD_SOURCES:
            continue
        if result.query is None:
            continue
        known = _mapping_targets(corpus, result.source.name)
        named = _fields_named(parser.parse(result.query))
        unknown = sorted({n for n in named if n != "_exists_" and n not in known})
        if unknown:
            offenders.append(f"{result.rule.stem}: {unknown}")
    assert not offenders, "\n".join(offenders)


def _fields_named(node: object, field: str | None = None) -> list[str]:
    """The field names of a luqum tree, unescaped, including those ``_exists_`` tests."""
    from luqum.tree import SearchField, Word  # type: ignore[import-untyped]

    named = []
    if isinstance(node, SearchField):
        named.append(node.name.replace("\\", ""))
        field = node.name
    elif isinstance(node, Word) and field == "_exists_":
        named.append(node.value.replace("\\", ""))
    for child in getattr(node, "children", ()):
        named.extend(_fields_named(child, field))
    return named


@pytest.mark.parametrize("source", CLOUD_SOURCES)
def test_mappings_work_with_plain_pysigma(corpus: Corpus, source: str) -> None:
    """What sigma-cli does with -p: the mapping file alone converts the visibility rule."""
    from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
    from sigma.backends.splunk.splunk import SplunkBackend
    from sigma.collection import SigmaCollection
    from sigma.processing.pipeline import ProcessingPipeline

    (rule_file,) = [
        r
        for r in corpus.rules
        if r.theme == "visibility" and corpus.sources_of(r)[0].name == source
    ]
    for target, backend, marker in (
        ("splunk", SplunkBackend, "sourcetype="),
        ("elastic", LuceneBackend, "event.dataset:"),
    ):
        path = ROOT / "mappings" / target / f"{source}.yml"
        pipeline = ProcessingPipeline.from_yaml(path.read_text(encoding="utf-8"))
        rules = SigmaCollection.from_yaml(rule_file.path.read_text(encoding="utf-8"))
        (query,) = backend(processing_pipeline=pipeline).convert(rules)
        assert marker in str(query), (target, query)


def test_azure_operation_names_are_written_as_event_hubs_delivers_them(corpus: Corpus) -> None:
    """Elastic compares azure.activitylogs.operation_name case-sensitively, so rule values must
    be the upper-case form the diagnostic export writes, as every fixture record has it."""
    values = {
        str(v)
        for r in corpus.rules
        if r.product == "azure"
        for detection in r.fresh().detection.detections.values()
        for item in detection.detection_items
        if isinstance(item, SigmaDetectionItem) and item.field == "operationName"
        for v in item.value
    }
    assert values
    assert all(v == v.upper() for v in values), values
    recorded = {str(c.event["operationName"]) for c in CASES if c.source == "azure_activitylogs"}
    assert all(v == v.upper() for v in recorded), recorded
    assert values <= recorded
