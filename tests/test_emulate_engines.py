"""The query emulators and document builders, one behaviour at a time."""

from __future__ import annotations

from typing import Any

import pytest

from sigma_ext.emulate import QueryError, Unsupported, esql, lucene, splunk_search
from sigma_ext.emulate.analysis import tokens
from sigma_ext.emulate.documents import Document, FieldType, build_document
from sigma_ext.emulate.lucene_regexp import full_match

AUDIT: dict[str, Any] = {
    "kind": "Event",
    "apiVersion": "audit.k8s.io/v1",
    "stage": "ResponseComplete",
    "verb": "create",
    "user": {
        "username": 'Dev\\Ops "x"',
        "groups": ["oidc:platform-admins-evil", "system:authenticated"],
    },
    "objectRef": {"resource": "pods"},
    "responseStatus": {"code": 201},
    "requestObject": {
        "metadata": {"name": "p", "ownerReferences": [{"kind": "ReplicaSet"}]},
        "spec": {"containers": [{"image": "a.io/x:1"}, {"image": "b.io/y:2"}]},
    },
    "annotations": {"authorization.k8s.io/decision": "allow"},
}


def splunk(query: str, event: dict[str, Any] = AUDIT) -> bool:
    return splunk_search.matches(query, build_document("splunk", "kubernetes_audit", event))


def elastic_doc(event: dict[str, Any] = AUDIT) -> Document:
    return build_document("elastic", "kubernetes_audit", event)


# Documents -----------------------------------------------------------------------------------


def test_splunk_document_marks_arrays_and_keeps_raw_paths() -> None:
    doc = build_document("splunk", "kubernetes_audit", AUDIT)
    assert doc.get("requestObject.spec.containers{}.image") == ("a.io/x:1", "b.io/y:2")
    assert doc.get("user.groups{}") == ("oidc:platform-admins-evil", "system:authenticated")
    assert doc.get("requestObject.metadata.ownerReferences{}.kind") == ("ReplicaSet",)
    assert doc.get("responseStatus.code") == ("201",)
    assert doc.get("sourcetype") == ("kube:apiserver-audit",)


def test_elastic_document_follows_the_integration_pipeline_and_mapping() -> None:
    doc = elastic_doc()
    assert doc.get("kubernetes.audit.requestObject.spec.containers.image") == (
        "a.io/x:1",
        "b.io/y:2",
    )
    assert doc.type_of("kubernetes.audit.requestObject.spec.containers.image") == "text"
    assert doc.get("kubernetes.audit.responseStatus.code") == (201,)
    assert not any("metadata" in name for name in doc.values)  # dropped by the pipeline
    assert doc.get("kubernetes.audit.annotations.authorization_k8s_io/decision") == ("allow",)
    assert doc.get("event.action") == ("create",)
    assert doc.type_of("kubernetes.audit.requestObject.spec.template.spec.containers.image") is None


def test_elastic_keyword_values_longer_than_ignore_above_are_not_indexed() -> None:
    event = {**AUDIT, "user": {"username": "u" * 1025}}
    assert elastic_doc(event).get("kubernetes.audit.user.username") == ()
    assert FieldType("keyword", 1024).ignore_above == 1024


# Splunk --------------------------------------------------------------------------------------


def test_splunk_search_binds_or_tighter_than_and() -> None:
    assert splunk('verb="create" stage="nope" OR objectRef.resource="pods"')
    assert not splunk('verb="nope" stage="ResponseComplete" OR objectRef.resource="pods"')


def test_splunk_values_ignore_case_but_field_names_do_not() -> None:
    assert splunk('verb="CREATE" objectRef.resource=POD*')
    assert not splunk('Verb="create"')


def test_splunk_multivalue_fields_match_any_value_and_not_means_none() -> None:
    assert splunk('"requestObject.spec.containers{}.image"="b.io/*"')
    assert not splunk('NOT "requestObject.spec.containers{}.image"="b.io/*"')
    assert splunk('NOT objectRef.subresource=* verb IN ("patch", "create")')


WHITESPACE = [" ", "\t", "\n", "\r", "\r\n"]


@pytest.mark.parametrize(
    "name", [*("dev" + w for w in WHITESPACE), *(w + "dev" for w in " \t\n\r")]
)
def test_a_name_with_whitespace_around_it_is_another_name_on_every_engine(name: str) -> None:
    """``dev<LF>`` is not ``dev`` (Python's ``$`` would say it is); a wildcard covers it."""
    event = {**AUDIT, "user": {"username": name, "groups": []}}
    assert not splunk('user.username="dev"', event)
    assert not splunk('user.username IN ("x", "dev")', event)
    assert splunk('NOT user.username IN ("x", "dev")', event)
    assert splunk('user.username="*dev*"', event)
    assert not lucene.matches("kubernetes.audit.user.username:dev", elastic_doc(event))
    assert lucene.matches("kubernetes.audit.user.username:*dev*", elastic_doc(event))
    assert not run_esql('WHERE kubernetes.audit.user.username in ("x", "dev")', event)
    assert run_esql('WHERE kubernetes.audit.user.username like "*dev*"', event)


def test_splunk_quoted_strings_unescape_backslash_and_quote() -> None:
    assert splunk('user.username="Dev\\\\Ops \\"x\\""')
    with pytest.raises(Unsupported):
        splunk('user.username="a\\*"')


def test_splunk_eval_mvfilter_where_pipeline() -> None:
    base = "verb=create | eval e=mvappend('requestObject.spec.containers{}.image', 'nope{}')"
    keep = base + ' | eval left=mvfilter(NOT match(e, "^a\\\\.io/")) | where mvcount(left) > 0'
    assert splunk(keep)  # b.io/y:2 is left
    gone = base + ' | eval left=mvfilter(NOT match(e, "\\\\.io/")) | where mvcount(left) > 0'
    assert not splunk(gone)


def test_splunk_rex_extracts_named_groups_from_the_first_value() -> None:
    rex = 'verb=create | rex field=verb "^(?<head>c)(?<rest>r\\w+)$"'
    assert splunk(rex + " | search head=c rest=reate")
    assert not splunk(rex + " | search rest=c*")
    # No match (and a missing field) leave the fields as they were.
    assert splunk('verb=create | rex field=verb "^(?<verb>x)" | search verb=create')
    assert not splunk('verb=create | rex field=nope "(?<x>.)" | search x=*')
    # Only the first value of a multi-valued field is read.
    first = 'verb=create | rex field=user.groups{} "^(?<g>[^:]+):" | search g='
    assert splunk(first + "oidc")
    assert not splunk(first + "system")


def test_splunk_eval_if_takes_the_else_branch_on_null() -> None:
    code = ' | eval c=if(isnull(nope) OR nope=0, if(verb="create", 201, 200), 500)'
    assert splunk("verb=create" + code + " | search c=201")
    assert not splunk("verb=create" + code + " | search c=200")
    assert splunk('verb=create | eval c=if(nope="x", 1, 2) | search c=2')


def test_splunk_unsupported_constructs_fail_loudly() -> None:
    for query in (
        "error",
        "verb!=create",
        "verb=create | stats count",
        "x=1 [search y=2]",
        'verb=create | rex field=verb mode=sed "s/a/b/"',
    ):
        with pytest.raises(Unsupported):
            splunk(query)


# Lucene --------------------------------------------------------------------------------------


def test_lucene_keyword_terms_are_exact_and_case_sensitive() -> None:
    doc = elastic_doc()
    assert lucene.matches("kubernetes.audit.verb:create", doc)
    assert not lucene.matches("kubernetes.audit.verb:Create", doc)
    assert lucene.matches("kubernetes.audit.verb:cr*", doc)
    assert lucene.matches('kubernetes.audit.user.username:Dev\\\\Ops\\ \\"x\\"', doc)
    assert lucene.matches(
        "_exists_:kubernetes.audit.verb AND NOT _exists_:kubernetes.audit.objectRef.subresource",
        doc,
    )


def test_lucene_text_fields_match_analysed_words() -> None:
    doc = elastic_doc()
    groups = "kubernetes.audit.user.groups"
    assert tokens("oidc:platform-admins") == ("oidc:platform", "admins")
    assert lucene.matches(f"{groups}:oidc\\:platform\\-admins", doc)  # look-alike group matches
    assert lucene.matches(f'{groups}:"oidc:platform admins"', doc)  # consecutive words
    assert not lucene.matches(f'{groups}:"admins oidc:platform"', doc)
    assert lucene.matches(f"{groups}:SYSTEM\\:authenticated", doc)
    image = "kubernetes.audit.requestObject.spec.containers.image"
    assert lucene.matches(f"{image}:a.io\\/*", doc)  # analyze_wildcard: prefix on the tokens


def test_lucene_an_empty_phrase_on_a_text_field_matches_nothing() -> None:
    """The analyzer makes no token of ``""``: Elasticsearch's zero-terms default ("none")
    queries nothing, so ``NOT groups:""`` (an empty allowlist) excludes no event."""
    doc = elastic_doc()
    groups = "kubernetes.audit.user.groups"
    assert not lucene.matches(f'{groups}:""', doc)
    assert not lucene.matches(f'{groups}:" - "', doc)
    assert lucene.matches(f'NOT {groups}:""', doc)


def test_lucene_type_errors_and_unsupported_syntax() -> None:
    doc = elastic_doc()
    with pytest.raises(QueryError):
        lucene.matches("kubernetes.audit.responseStatus.code:abc", doc)
    with pytest.raises(Unsupported):
        lucene.matches(
            "kubernetes.audit.verb:a OR kubernetes.audit.verb:b AND kubernetes.audit.stage:c", doc
        )
    assert not lucene.matches("unmapped.field:x", doc)
    assert lucene.matches(
        "kubernetes.audit.verb:create AND NOT kubernetes.audit.user.username:it's", doc
    )


def test_lucene_regexp_is_not_pcre() -> None:
    assert full_match("ab+c", "abbc")
    assert not full_match("b", "abc")
    assert full_match("^a$", "^a$")
    assert not full_match("^a$", "a")
    assert full_match("(?:a)", "?:a")  # (?: is not a group
    assert full_match("a@", "anything")
    assert full_match("\\w+", "a_1")
    with pytest.raises(Unsupported):
        full_match("a&b", "a")


# ES|QL ---------------------------------------------------------------------------------------

FROM = "FROM logs-kubernetes.audit_logs-* METADATA _id"


def run_esql(where: str, event: dict[str, Any] = AUDIT) -> bool:
    return esql.matches(f"{FROM} | {where}", elastic_doc(event))


def test_esql_nulls_drop_rows_unless_coalesced() -> None:
    assert not run_esql('WHERE not kubernetes.audit.objectRef.subresource like "x*"')
    assert run_esql('WHERE not coalesce(kubernetes.audit.objectRef.subresource like "x*", false)')
    assert run_esql("WHERE kubernetes.audit.objectRef.subresource is null")


def test_esql_multivalued_comparisons_are_null_until_expanded() -> None:
    groups = "kubernetes.audit.user.groups"
    assert not run_esql(f'WHERE {groups} == "system:authenticated"')
    assert not run_esql(f'WHERE not ({groups} == "system:authenticated")')
    assert run_esql(f'EVAL g = {groups} | MV_EXPAND g | WHERE g == "system:authenticated"')


def test_esql_strings_rlike_and_case() -> None:
    image = "kubernetes.audit.requestObject.spec.containers.image"
    expanded = f"EVAL e = {image} | MV_EXPAND e | "
    assert run_esql(expanded + 'WHERE e RLIKE "b\\\\.io/.*"')
    assert not run_esql(expanded + 'WHERE e RLIKE "B\\\\.IO/.*"')
    assert run_esql(expanded + 'WHERE TO_LOWER(e) == "a.io/x:1"')
    assert run_esql(
        'WHERE kubernetes.audit.responseStatus.code in (200, 201) and kubernetes.audit.verb == "create"'
    )


def test_esql_verification_errors() -> None:
    with pytest.raises(QueryError, match="Unknown column"):
        run_esql('WHERE kubernetes.audit.requestObject.spec.initContainers.image == "x"')
    with pytest.raises(QueryError):
        run_esql('WHERE kubernetes.audit.responseStatus.code == "201"')
    with pytest.raises(QueryError):
        run_esql('WHERE kubernetes.audit.verb == "a\\.b"')  # invalid escape in a string
    assert not esql.matches("FROM logs-other-* | WHERE true", elastic_doc())
