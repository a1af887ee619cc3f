"""Splunk searches whose tuning lives in Splunk: macros and lookups for the profile's lists.

``sigma-ext build --splunk-tuning`` chooses how the tuning profile reaches Splunk:

``inline``
    every value is written into the search, as pySigma writes it (the ``spl/`` files);
``macros`` (the default)
    each tuning list becomes a search macro whose definition is exactly the text the inline
    search has in its place, the source selection becomes a data-source macro an admin can add
    an ``index=`` to, and every search ends in an ESCU-style ``<search>_filter`` macro
    (``search *``) for local exclusions;
``lookups``
    as ``macros``, but a list that a search compares whole with one field is a CSV lookup,
    read by a subsearch in that list's macro; registry lists stay macros (a lookup cannot hold
    the regular expressions an image-registry entry compiles to, see docs/packages.md).

How the macros are made: the search is converted again with ``TunedSplunkBackend``, which
writes a condition node as a macro call when the node is exactly one tuned detection item (all
the values a tuning list put in for one field) or exactly the detection a mapping's
``add_condition`` added; the text pySigma writes for that node becomes the macro's definition.
Expanding every macro therefore gives back the inline search character for character, and
``tuned_searches`` checks that for every search of every build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sigma.backends.splunk.splunk import SplunkBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import Placeholder, SigmaString

from sigma_ext.build.every_element import ElementTest
from sigma_ext.build.quoting import spl_string
from sigma_ext.build.result import Compiled, Reason
from sigma_ext.build.siem_compiler import sigma_value_regex
from sigma_ext.build.splunk.compiler import QuotingSplunkBackend, SplunkCompiler
from sigma_ext.build.splunk.knowledge_objects import (
    LOOKUP_COLUMN,
    CorrelationSearch,
    Lookup,
    Macro,
    SplunkTuning,
    TunedSearch,
    expand_macros,
)
from sigma_ext.build.splunk.tuning_modes import TuningMode
from sigma_ext.condition_tree import leaves as condition_leaves
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.profile import Profile
from sigma_ext.content.rules import RuleFile
from sigma_ext.problems import Problem, ProblemsFound
from sigma_ext.sources.catalogue import Source

LIST_MARK = "sigma_ext_list:"


def macro_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass
class MacroBook:
    """The macros of one build: one name per distinct definition, stable across builds.

    A list used with one field (the usual case) gets ``sigma_ext_<list>``; a later, different
    use of the same list (another field, or a part of the list) gets the field's last name as a
    suffix (``sigma_ext_aws_pipeline_identities_arn``), or the whole field if that is taken.
    """

    macros: dict[str, Macro] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)
    _by_key: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def add(self, base: str, variant: str, make: Any, user: str) -> str:
        key = (base, variant, make(base).definition)
        name = self._by_key.get(key)
        if name is None:
            name = self._free_name(base, variant)
            self.macros[name] = make(name)
            self._by_key[key] = name
        users = self.users.setdefault(name, [])
        if user not in users:
            users.append(user)
        return name

    def _free_name(self, base: str, variant: str) -> str:
        candidates = [base]
        if variant:
            last = re.split(r"[./:]", variant.replace("{}", ""))[-1]
            candidates += [f"{base}_{macro_slug(last)}", f"{base}_{macro_slug(variant)}"]
        candidates += [f"{candidates[-1]}_{n}" for n in range(2, 100)]
        for candidate in candidates:
            if candidate not in self.macros:
                return candidate
        raise RuntimeError(f"no free macro name for {base}")


@dataclass
class MarkListPlaceholders(DetectionItemTransformation):
    """Record on each detection item the tuning lists its value names, before they are filled."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        for value in detection_item.value:
            if isinstance(value, SigmaString):
                for part in value.s:
                    if isinstance(part, Placeholder):
                        detection_item.applied_processing_items.add(LIST_MARK + part.name)


def _items(
    detection: SigmaDetection, top: SigmaDetection
) -> Iterable[tuple[SigmaDetectionItem, SigmaDetection]]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _items(item, top)
        else:
            yield item, top


def _same_values(leaves: list[ConditionFieldEqualsValueExpression], values: list[Any]) -> bool:
    return len(leaves) == len(values) and {id(v) for v in values} == {id(x.value) for x in leaves}


class TunedSplunkBackend(QuotingSplunkBackend):
    """pySigma's Splunk backend writing tuned detection items and source selections as macros."""

    def __init__(
        self,
        processing_pipeline: ProcessingPipeline,
        *,
        book: MacroBook,
        source: Source,
        profile: Profile,
        user: str,
    ) -> None:
        marker = ProcessingPipeline(
            items=[ProcessingItem(MarkListPlaceholders(), identifier="sigma_ext_mark_lists")],
            name="sigma_ext_mark_lists",
        )
        super().__init__(marker + processing_pipeline)
        self.book = book
        self.source = source
        self.profile = profile
        self.user = user
        self.source_items = {
            item.identifier
            for item in processing_pipeline.items
            if isinstance(item, ProcessingItem)
            and isinstance(item.transformation, AddConditionTransformation)
            and item.identifier
        }
        self._inside = False
        self._origins: dict[int, list[tuple[SigmaDetectionItem, SigmaDetection]]] | None = None

    def convert_rule(
        self, rule: SigmaRule, output_format: str | None = None, callback: Any = None
    ) -> list[Any]:
        self._rule, self._origins = rule, None
        return super().convert_rule(rule, output_format, callback)

    def _origin_map(self) -> dict[int, list[tuple[SigmaDetectionItem, SigmaDetection]]]:
        """Each value object of the processed rule -> the detection items holding it.

        pySigma's condition leaves hold the very value objects of the detection items they come
        from, so a leaf's item is found by identity, whatever the shape of the tree.
        """
        if self._origins is None:
            self._origins = {}
            for detection in self._rule.detection.detections.values():
                for item, top in _items(detection, detection):
                    for value in item.value:
                        self._origins.setdefault(id(value), []).append((item, top))
        return self._origins

    def convert_condition(
        self,
        cond: ConditionItem | ConditionFieldEqualsValueExpression | ConditionValueExpression | None,
        state: ConversionState,
    ) -> str | DeferredQueryExpression:
        if self._inside:
            return super().convert_condition(cond, state)
        request = self._macro_request(cond)
        if request is None:
            return super().convert_condition(cond, state)
        self._inside = True
        try:
            text = super().convert_condition(cond, state)
        finally:
            self._inside = False
        if not isinstance(text, str):
            return text
        base, variant, make = request
        return f"`{self.book.add(base, variant, lambda name: make(name, text), self.user)}`"

    def _macro_request(self, cond: Any) -> tuple[str, str, Any] | None:
        leaves = condition_leaves(cond, (ConditionOR, ConditionAND))
        if not leaves:
            return None
        origins = self._origin_map()
        found = [origins.get(id(leaf.value), []) for leaf in leaves]
        if any(len(f) != 1 for f in found):
            return None
        items = {id(f[0][0]): f[0][0] for f in found}
        tops = {id(f[0][1]): f[0][1] for f in found}
        if len(items) == 1 and isinstance(cond, ConditionOR | ConditionFieldEqualsValueExpression):
            request = self._list_request(next(iter(items.values())), leaves)
            if request is not None:
                return request
        if len(tops) == 1:
            return self._source_request(next(iter(tops.values())), leaves)
        return None

    def _list_request(
        self, item: SigmaDetectionItem, leaves: list[ConditionFieldEqualsValueExpression]
    ) -> tuple[str, str, Any] | None:
        names = sorted(
            m.removeprefix(LIST_MARK)
            for m in item.applied_processing_items
            if m.startswith(LIST_MARK)
        )
        if (
            len(names) != 1
            or names[0] not in self.profile.lists
            or not _same_values(leaves, item.value)
        ):
            return None
        list_name, column = names[0], leaves[0].field
        kind = self.profile.kind(list_name)
        entries = self.profile.lists[list_name]
        whole = [str(leaf.value) for leaf in leaves] == (list(entries) or [""])

        def make(name: str, text: str) -> Macro:
            return Macro(
                name,
                text,
                f"Tuning list {list_name} ({kind} entries) compared with {column}.",
                "list",
                list_name,
                column,
                whole,
            )

        return f"sigma_ext_{list_name}", column, make

    def _source_request(
        self, detection: SigmaDetection, leaves: list[ConditionFieldEqualsValueExpression]
    ) -> tuple[str, str, Any] | None:
        items = [item for item, _ in _items(detection, detection)]
        if not _same_values(leaves, [v for i in items for v in i.value]):
            return None
        if not all(any(i.was_processed_by(s) for s in self.source_items) for i in items):
            return None
        label = self.source.label

        def make(name: str, text: str) -> Macro:
            return Macro(
                name,
                text,
                f"The events of {label} (add index=... here if they are not in a default "
                "index of the searching role).",
                "source",
            )

        return f"sigma_ext_{self.source.name}", "", make


class TunedSplunkCompiler(SplunkCompiler):
    """The Splunk compiler with tuned conversions and registry-regex macros."""

    def __init__(self, corpus: Corpus, book: MacroBook) -> None:
        super().__init__(corpus)
        self.book = book
        self._source: Source | None = None
        self._user = ""

    def compile_for(self, rule_file: RuleFile, source: Source, user: str) -> Compiled:
        self._source, self._user = source, user
        return self.compile(rule_file, source)

    def _backend(
        self, pipeline: Any, backend_class: type[TextQueryBackend] | None = None
    ) -> TextQueryBackend:
        assert self._source is not None
        return TunedSplunkBackend(
            pipeline,
            book=self.book,
            source=self._source,
            profile=self.corpus.profile,
            user=self._user,
        )

    def render_every_element(
        self, rule_file: RuleFile, source: Source, base: SigmaRule, tests: list[ElementTest]
    ) -> tuple[str, list[Reason], str]:
        """The inline rendering, with each registry list's regular expression as a macro."""
        query, extra, language = super().render_every_element(rule_file, source, base, tests)
        for number, test in enumerate(tests, start=1):
            list_name = self._whole_registry_list(rule_file, test)
            if list_name is None:
                continue
            literal = spl_string("|".join(sigma_value_regex(v) for v in test.values))
            inline = f"match(sigma_ext_elements_{number}, {literal})"
            if query.count(inline) != 1:
                raise AssertionError(f"registry test {test.name} not once in the Splunk search")
            entries = ", ".join(self.corpus.profile.lists[list_name]) or "(none)"

            def make(
                name: str, list_name: str = list_name, entries: str = entries, text: str = literal
            ) -> Macro:
                return Macro(
                    name,
                    text,
                    f"Tuning list {list_name} (registry entries: {entries}) as the regular "
                    "expression an image must match to be approved (docs/image-references.md).",
                    "registry",
                    list_name,
                )

            name = self.book.add(f"sigma_ext_{list_name}_regex", "", make, self._user)
            query = query.replace(inline, f"match(sigma_ext_elements_{number}, `{name}`)")
        return query, extra, language

    def _whole_registry_list(self, rule_file: RuleFile, test: ElementTest) -> str | None:
        """The registry list a marked detection consists of, when it is just that list."""
        detection = rule_file.data["detection"].get(test.name)
        if not isinstance(detection, dict) or len(detection) != 1:
            return None
        ((key, value),) = detection.items()
        if not str(key).endswith("|expand") or not isinstance(value, str):
            return None
        name = value.strip("%")
        lists = self.corpus.profile.lists
        if (
            value != f"%{name}%"
            or name not in lists
            or self.corpus.profile.kind(name) != "registry"
        ):
            return None
        return name


def filter_macro_name(compiled: Compiled) -> str:
    """``sigma_ext_<rule>_filter``: ESCU's per-search filter macro, with the app's prefix
    because the app exports its macros system-wide."""
    return f"sigma_ext_{macro_slug(compiled.output_stem)}_filter"


def tuned_searches(corpus: Corpus, results: list[Compiled], mode: TuningMode) -> SplunkTuning:
    """The saved searches of the Splunk results, with their macros and lookups.

    Raises ProblemsFound when a tuned search does not expand back to its inline search.
    """
    if mode == "inline":
        return inline_tuning(results)
    book = MacroBook()
    searches, problems = tune_searches(corpus, results, mode, book)
    if problems:
        raise ProblemsFound(problems)
    return finish_tuning(corpus, mode, book, searches)


def inline_tuning(results: list[Compiled]) -> SplunkTuning:
    """Every value written into the searches: no macros, no lookups, no filter macros."""
    emitted = [c for c in results if c.target.name == "splunk" and c.query is not None]
    return SplunkTuning(
        "inline", tuple(TunedSearch(c, str(c.query), None) for c in emitted), (), ()
    )


def add_filter_macro(book: MacroBook, name: str, user: str) -> None:
    """The ESCU-style ``<search>_filter`` macro of one saved search (``search *``)."""
    book.macros[name] = Macro(
        name,
        "search *",
        f"Local exclusions for {user} (ESCU convention): replace 'search *' with a search "
        "that drops known benign results.",
        "filter",
    )
    book.users[name] = [user]


def tune_searches(
    corpus: Corpus, results: list[Compiled], mode: TuningMode, book: MacroBook
) -> tuple[list[TunedSearch], list[Problem]]:
    """The tuned search of each emitted Splunk result, its macros added to ``book``; a problem
    for each that does not expand back to its inline search."""
    emitted = [c for c in results if c.target.name == "splunk" and c.query is not None]
    compiler = TunedSplunkCompiler(corpus, book)
    searches: list[TunedSearch] = []
    problems: list[Problem] = []
    for inline in emitted:
        user = f"sigma-ext - {inline.output_name}"
        tuned = compiler.compile_for(inline.rule, inline.source, user)
        query = str(tuned.query)
        if (tuned.status, tuned.reasons, tuned.shared_with) != (
            inline.status,
            inline.reasons,
            inline.shared_with,
        ) or expand_macros(query, book.macros.values()) != inline.query:
            problems.append(
                Problem(
                    str(inline.rule.path),
                    None,
                    f"splunk/{inline.source.name}: the {mode} search does not expand to the "
                    "inline search",
                )
            )
            continue
        filter_name = filter_macro_name(inline)
        add_filter_macro(book, filter_name, user)
        used = {m.list_name for m in book.macros.values() if f"`{m.name}`" in query}
        inline_lists = tuple(sorted(inline.rule.placeholders() - used))
        searches.append(
            TunedSearch(inline, f"{query} | `{filter_name}`", filter_name, inline_lists)
        )
    return searches, problems


def finish_tuning(
    corpus: Corpus,
    mode: TuningMode,
    book: MacroBook,
    searches: list[TunedSearch],
    correlations: tuple[CorrelationSearch, ...] = (),
) -> SplunkTuning:
    """The tuning of a build once every search has added its macros to ``book``."""
    macros = [_with_users(m, book.users.get(m.name, [])) for m in book.macros.values()]
    lookups: list[Lookup] = []
    if mode == "lookups":
        macros, lookups = _as_lookups(corpus, macros)
    return SplunkTuning(
        mode,
        tuple(searches),
        tuple(sorted(macros, key=lambda m: m.name)),
        tuple(lookups),
        correlations,
    )


def _with_users(macro: Macro, users: list[str]) -> Macro:
    return Macro(
        macro.name,
        macro.definition,
        macro.description,
        macro.kind,
        macro.list_name,
        macro.field,
        macro.whole_list,
        tuple(users),
    )


def splunk_field(name: str) -> str:
    """A field name as the Splunk backend writes it (quoted unless it is plain)."""
    if SplunkBackend.field_quote_pattern.match(name):
        return name
    return f"{SplunkBackend.field_quote}{name}{SplunkBackend.field_quote}"


def lookup_subsearch(lookup: str, column: str) -> str:
    """A subsearch giving ``(column="entry1") OR (column="entry2") ...``, one term per row."""
    target = splunk_field(column)
    return f"[| inputlookup {lookup} | rename {LOOKUP_COLUMN} AS {target} | fields {target}]"


def _as_lookups(corpus: Corpus, macros: list[Macro]) -> tuple[list[Macro], list[Lookup]]:
    """Identity lists compared whole with one field read their entries from a CSV lookup."""
    profile = corpus.profile
    out: list[Macro] = []
    lookups: dict[str, Lookup] = {}
    for macro in macros:
        name = macro.list_name
        if (
            macro.kind != "list"
            or name is None
            or macro.field is None
            or not macro.whole_list
            or profile.kind(name) != "identity"
        ):
            out.append(macro)
            continue
        lookup = lookups.setdefault(name, Lookup(f"sigma_ext_{name}", name, profile.lists[name]))
        out.append(
            Macro(
                macro.name,
                lookup_subsearch(lookup.name, macro.field),
                f"Tuning list {name}: the rows of lookup {lookup.name} ({lookup.filename}, "
                f"column {LOOKUP_COLUMN}) compared with {macro.field}.",
                "list",
                name,
                macro.field,
                True,
                macro.used_by,
            )
        )
    return out, [lookups[k] for k in sorted(lookups)]
