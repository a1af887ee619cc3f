"""Values and rule text are written correctly wherever a build puts them (build/quoting.py).

Rule values, profile values and rule text (titles, descriptions) reach Splunk searches, macro
definitions, CSV lookups, Lucene and ES|QL queries, SPL comments and .conf files; in each place
every special character is quoted, and what the place cannot hold is refused with a reason.
"""

from __future__ import annotations

import copy
import csv
import io
import shutil
import string
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_ext.build import quoting
from sigma_ext.build.compile import check_compilation, compile_all
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.app import lookup_csv, savedsearches_conf
from sigma_ext.build.splunk.knowledge_objects import Lookup, TunedSearch
from sigma_ext.build.summary import spl_file
from sigma_ext.content.corpus import Corpus, load_corpus
from sigma_ext.content.rules import RuleFile
from sigma_ext.emulate import esql, lucene
from sigma_ext.emulate.verdict import compiled_matches

from .conftest import ROOT, examples
from .test_packages import parse_conf

CONTROL = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"] + [
    "\u2028",
    "\u2029",
]
# Every character special in some target: SPL (quotes, pipe, brackets, =, backtick, $), Lucene
# (+ - && || ! ( ) { } [ ] ^ " ~ * ? : \ / and space), ES|QL (quote, backslash), CSV (comma,
# quote), .conf (backslash at the end, brackets), Markdown (pipe).
SPECIAL = sorted(set(string.punctuation + " \u3000"))
TEXT = st.text(st.sampled_from([*SPECIAL, *CONTROL[:40], "a", "Z", "é", "中"]), max_size=20)


@pytest.fixture(scope="module")
def splunk_result(compiled: list[Compiled]) -> Compiled:
    return next(c for c in compiled if c.target.name == "splunk" and c.query)


def _retitled(compiled: Compiled, **data: str) -> Compiled:
    rule = compiled.rule
    changed = {**copy.deepcopy(rule.data), **data}
    return replace(compiled, rule=RuleFile(rule.path, changed, rule.located))


@pytest.mark.parametrize(
    "title",
    [
        "Pod ``` | delete ``` created",
        "``` | delete",
        "x ` `` ```` y",
        "Pod\n| delete\nx",
        "Pod\r\u2028| delete",
    ],
)
def test_a_title_cannot_end_the_spl_comment_header(splunk_result: Compiled, title: str) -> None:
    text = spl_file(_retitled(splunk_result, title=title))
    header, query, end = text.split("\n")
    assert (header[:4], header[-4:]) == ("``` ", " ```")
    assert header.count("`") == 6, header  # the comment's own two fences, nothing else
    assert query == splunk_result.query
    assert end == ""


@given(TEXT)
@settings(max_examples=examples(200), deadline=None)
def test_spl_comment_text_never_holds_a_backtick_or_a_line_break(text: str) -> None:
    comment = quoting.spl_comment(text)
    assert "`" not in comment
    assert len(f"``` {comment} ```".splitlines()) == 1
    assert quoting.first_control(comment) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Evil]\n[evil]\nsearch = | delete"),
        ("description", "Looks fine\n[evil]\nsearch = | delete"),
        ("description", "ends in a continuation \\"),
        ("description", "nul\x00 and \x85 next line and \u2028 separator and \r return"),
        ("title", "title ending in a backslash \\"),
    ],
)
@pytest.mark.parametrize("enterprise_security", [False, True])
def test_rule_text_cannot_break_a_conf_file(
    splunk_result: Compiled, corpus: Corpus, field: str, value: str, enterprise_security: bool
) -> None:
    compiled = _retitled(splunk_result, **{field: value})
    text = savedsearches_conf(
        [TunedSearch(compiled, str(compiled.query), None)], corpus.profile, enterprise_security
    )
    stanzas = parse_conf(text, "savedsearches.conf")  # fails on anything but one-line settings
    assert len(stanzas) == 1
    ((name, settings_),) = stanzas.items()
    assert name.startswith("sigma-ext - ")
    assert not any(key not in settings_ for key in ("search", "description"))
    assert settings_["search"] == splunk_result.query
    assert quoting.first_control(text.replace("\n", "")) is None


@given(TEXT)
@settings(max_examples=examples(200), deadline=None)
def test_conf_text_is_one_setting_line(text: str) -> None:
    value = quoting.conf_text(text)
    assert quoting.first_control(value) is None
    assert not value.endswith("\\")
    assert "[" not in quoting.conf_stanza_name(text)
    assert "]" not in quoting.conf_stanza_name(text)


@given(st.text(st.sampled_from([*SPECIAL, "a", "é"]), max_size=20))
@settings(max_examples=examples(200), deadline=None)
def test_spl_string_quotes_every_special_character(text: str) -> None:
    if "`" in text:
        with pytest.raises(quoting.Unquotable, match="backtick"):
            quoting.spl_string(text)
        return
    literal = quoting.spl_string(text)
    assert literal[0] == literal[-1] == '"'
    body = literal[1:-1]
    # unescaped: \\ is a backslash, \" a quote, and no quote stands alone
    out, index = [], 0
    while index < len(body):
        if body[index] == "\\":
            assert body[index + 1] in '\\"'
            out.append(body[index + 1])
            index += 2
        else:
            assert body[index] != '"'
            out.append(body[index])
            index += 1
    assert "".join(out) == text


@pytest.mark.parametrize("control", CONTROL)
def test_spl_string_refuses_every_control_character(control: str) -> None:
    with pytest.raises(quoting.Unquotable, match=f"U\\+{ord(control):04X}"):
        quoting.spl_string(f"a{control}b")


@given(TEXT)
@settings(max_examples=examples(300), deadline=None)
def test_esql_strings_read_back_as_written(text: str) -> None:
    literal = quoting.esql_string(text)
    assert "\n" not in literal
    assert "\r" not in literal
    (token,) = esql.lex(literal)
    assert esql._string(token) == text


def test_esql_literals_from_pysigma_escape_line_breaks_too() -> None:
    assert quoting.esql_line_breaks('"a\tb\nc\rd\\\\e"') == '"a\\tb\\nc\\rd\\\\e"'


@given(st.lists(st.text(st.sampled_from([*SPECIAL, "a", "é", "\t", "\n"]), max_size=12)))
@settings(max_examples=examples(200), deadline=None)
def test_lookup_csv_reads_back_every_entry(entries: list[str]) -> None:
    text = lookup_csv(Lookup("sigma_ext_x", "x", tuple(entries)))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["identity"], *([e] for e in entries)]


@pytest.mark.parametrize("whitespace", ["\t", "\n", "\r", "\f", "\u3000", "\x0b", "\x85"])
def test_lucene_escapes_whitespace_and_control_characters(whitespace: str) -> None:
    assert whitespace in quoting.LUCENE_ESCAPED
    assert set(quoting.LUCENE_ESCAPED) >= set('+-=&|!(){}[]<>^"~*?:\\/ ')


@pytest.fixture(scope="module")
def tab_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Corpus, Path, int]:
    """The shipped content, with a rule whose value holds a tab (``verb: "cre<TAB>ate"``), and
    the line of that value."""
    project = tmp_path_factory.mktemp("tab")
    for name in ("rules", "mappings", "profiles"):
        shutil.copytree(ROOT / name, project / name)
    rule = project / "rules" / "kubernetes" / "audit" / "kubernetes_audit_pod_created.yml"
    text = rule.read_text().replace("            - create\n", '            - "cre\\tate"\n')
    assert "cre\\tate" in text
    rule.write_text(text)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "cre\\tate" in t)
    return load_corpus(project, project / "profiles" / "example.yml"), rule, line


def test_a_rule_value_with_a_tab_is_one_lucene_term_and_refused_by_splunk(
    tab_corpus: tuple[Corpus, Path, int],
) -> None:
    corpus, rule, line = tab_corpus
    results = [
        c
        for c in compile_all(corpus)
        if c.rule.stem == "kubernetes_audit_pod_created" and c.source.name == "kubernetes_audit"
    ]
    by_target = {c.target.name: c for c in results}
    elastic, splunk = by_target["elastic"], by_target["splunk"]
    assert elastic.query is not None
    assert "cre\\\tate" in elastic.query  # escaped: one term, not "cre" or "ate"
    assert lucene.parse(elastic.query) is not None
    assert splunk.status == "error"
    assert "control character U+0009" in splunk.why[0]
    problems = [str(p) for p in check_compilation(corpus) if "splunk/kubernetes_audit:" in str(p)]
    assert problems
    assert all(p.startswith(f"{rule}:{line}: splunk/") for p in problems), problems
    assert all(": verb: a value holds the control character U+0009" in p for p in problems)


def test_lucene_with_a_tab_matches_only_the_whole_value(
    tab_corpus: tuple[Corpus, Path, int],
) -> None:
    corpus, _, _ = tab_corpus
    (elastic,) = [
        c
        for c in compile_all(corpus)
        if c.rule.stem == "kubernetes_audit_pod_created"
        and c.source.name == "kubernetes_audit"
        and c.target.name == "elastic"
    ]
    event = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/a/pods",
        "user": {"username": "u", "groups": []},
        "objectRef": {"resource": "pods", "namespace": "a", "name": "n", "apiVersion": "v1"},
        "responseStatus": {"code": 201},
    }
    assert compiled_matches(elastic, {**event, "verb": "cre\tate"})
    assert not compiled_matches(elastic, {**event, "verb": "cre"})
    assert not compiled_matches(elastic, {**event, "verb": "ate"})
