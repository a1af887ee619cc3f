"""Correlation rules as saved searches of the Splunk app, tuned as the single rules are.

Each packaged Splunk correlation (``sigma_ext.build.correlation_package``: ok or degraded) is one
scheduled alert in ``default/savedsearches.conf``, shipped disabled, named ``sigma-ext -
<title>`` (``(<source label>)`` after it on a source other than the primary one):

- the search is the compiled correlation (``splunk/correlations/<rule>.<source>.spl``) on one
  line, then ``| eval`` of ``rule_id`` and of the triage columns its group-by fields are
  (``user``, ``namespace``, ``object``: sigma_ext.build.splunk.triage), then (``macros`` and
  ``lookups`` tuning) its own ``sigma_ext_<rule>[_<source>]_filter`` macro on the aggregated rows;
- with ``--splunk-tuning macros`` or ``lookups`` the base searches are converted again with the
  tuned backend and the same macro book as the single rules, so the tuning lists and data
  sources are the same macros (or lookups), and the tuned search must expand back to the inline
  one character for character, or the build fails;
- the window (``sigma_ext.build.correlation_package``): every 5 minutes (hourly for a window
  longer than an hour) over *event* time from ``-(timespan + interval + 15m)@m`` to ``now``:
  the first run that starts 15 minutes (the cloud sources' delivery lag) after a window ends
  reads that whole window, whatever the schedule's phase; no index-time slice, since the events
  of one window may be indexed minutes apart;
- one alert per result row, throttled by the group-by fields for the profile's period of the
  theme, and at least the lookback, so a window that two runs read whole alerts once;
- ``alert.track`` and, with ``--splunk-es``, the notable follow the level: an informational
  correlation records risk only, as visibility rules do.
"""

from __future__ import annotations

import re

from sigma_ext.build.correlation_package import (
    PackagedCorrelation,
    duration,
    group_fields,
    seconds,
)
from sigma_ext.build.correlations import _embedded_prefix, _with_prelude
from sigma_ext.build.quoting import conf_stanza_name, conf_text, spl_string
from sigma_ext.build.result import Compiled
from sigma_ext.build.splunk.app import SPLUNK_SEVERITY, Stanza, scheduled_alert
from sigma_ext.build.splunk.enterprise_security import correlation_es_settings
from sigma_ext.build.splunk.knowledge_objects import CorrelationSearch, SplunkTuning, expand_macros
from sigma_ext.build.splunk.triage import TRIAGE
from sigma_ext.build.splunk.tuning import (
    MacroBook,
    TunedSplunkBackend,
    add_filter_macro,
    finish_tuning,
    inline_tuning,
    macro_slug,
    tune_searches,
)
from sigma_ext.build.splunk.tuning_modes import TuningMode
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.content.profile import Profile
from sigma_ext.problems import Problem, ProblemsFound

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def one_line(query: str) -> str:
    """The multi-line SPL pySigma writes for a correlation, on one line (a .conf value is one
    line; SPL reads a line break between commands as a space)."""
    if any("\n" in s for s in _STRING.findall(query)):
        raise ValueError("a string of the correlation search spans lines")
    return " ".join(line.strip() for line in query.splitlines() if line.strip())


def triage_columns(packaged: PackagedCorrelation) -> dict[str, str]:
    """Triage column -> the group-by field (as the search names it) that holds it."""
    triage = TRIAGE[packaged.source.name]
    columns: dict[str, str] = {}
    for name in group_fields(packaged.query, "spl"):
        for column, fields in triage.columns.items():
            if name in fields and column not in columns:
                columns[column] = name
                break
    return columns


def _triage_stage(packaged: PackagedCorrelation) -> str:
    fields = [f"rule_id={spl_string(packaged.output_id)}"]
    fields += [f"{column}='{name}'" for column, name in triage_columns(packaged).items()]
    return " | eval " + ", ".join(fields)


def filter_macro_name(packaged: PackagedCorrelation) -> str:
    """``sigma_ext_<correlation>[_<source>]_filter``: the source only on a non-primary source,
    as for single rules."""
    stem = packaged.output_stem if not packaged.primary else packaged.file.stem
    return f"sigma_ext_{macro_slug(stem)}_filter"


def stanza_name(packaged: PackagedCorrelation) -> str:
    return conf_stanza_name(f"sigma-ext - {packaged.output_name}")


def _tuned_query(corpus: Corpus, packaged: PackagedCorrelation, book: MacroBook, user: str) -> str:
    """The correlation converted again with the tuned backend (as compile_correlation does)."""
    mapping = corpus.mapping("splunk", packaged.source)
    pipeline = conversion_pipeline(mapping, corpus.profile)
    prelude = _embedded_prefix(mapping)
    if prelude is not None:
        pipeline.postprocessing_items = []
    backend = TunedSplunkBackend(
        pipeline, book=book, source=packaged.source, profile=corpus.profile, user=user
    )
    [query] = backend.convert(packaged.file.collection())
    return _with_prelude(str(query), prelude) if prelude is not None else str(query)


def _placeholders(packaged: PackagedCorrelation) -> set[str]:
    return {m for m in re.findall(r"%([a-z0-9_]+)%", packaged.file.text)}


def tuned_correlations(
    corpus: Corpus,
    correlations: list[PackagedCorrelation],
    mode: TuningMode,
    book: MacroBook | None,
) -> tuple[list[CorrelationSearch], list[Problem]]:
    """The saved search of each packaged correlation; a problem for each whose tuned search
    does not expand back to the compiled one."""
    searches: list[CorrelationSearch] = []
    problems: list[Problem] = []
    for packaged in correlations:
        triage = _triage_stage(packaged)
        if book is None:
            searches.append(CorrelationSearch(packaged, one_line(packaged.query) + triage, None))
            continue
        user = f"sigma-ext - {packaged.output_name}"
        query = _tuned_query(corpus, packaged, book, user)
        if expand_macros(query, book.macros.values()) != packaged.query:
            problems.append(
                Problem(
                    str(packaged.file.path),
                    None,
                    f"splunk/{packaged.source.name}: the {mode} correlation search does not "
                    "expand to the compiled one",
                )
            )
            continue
        name = filter_macro_name(packaged)
        add_filter_macro(book, name, user)
        used = {m.list_name for m in book.macros.values() if f"`{m.name}`" in query}
        inline_lists = tuple(sorted((_placeholders(packaged) & set(corpus.profile.lists)) - used))
        search = f"{one_line(query)}{triage} | `{name}`"
        searches.append(CorrelationSearch(packaged, search, name, inline_lists))
    return searches, problems


def tuned_with_correlations(
    corpus: Corpus,
    results: list[Compiled],
    correlations: list[PackagedCorrelation],
    mode: TuningMode,
) -> SplunkTuning:
    """``tuned_searches`` with the correlation searches, all sharing one macro book."""
    if mode == "inline":
        searches, _ = tuned_correlations(corpus, correlations, mode, None)
        inline = inline_tuning(results)
        return SplunkTuning(mode, inline.searches, (), (), tuple(searches))
    book = MacroBook()
    single, problems = tune_searches(corpus, results, mode, book)
    found, more = tuned_correlations(corpus, correlations, mode, book)
    if problems or more:
        raise ProblemsFound(problems + more)
    return finish_tuning(corpus, mode, book, single, tuple(found))


def correlation_stanza(
    search: CorrelationSearch, throttle: str, enterprise_security: bool = False
) -> Stanza:
    """One scheduled alert for one correlation on one source, shipped disabled; ``throttle``
    is the profile's period for the correlation's theme."""
    p = search.packaged
    window = duration(p.window_seconds)
    caveats = ""
    if p.compiled.status == "degraded":
        caveats += " DEGRADED: " + " ".join(p.why)
    if search.inline_lists:
        caveats += " Tuning lists written into the search: " + ", ".join(search.inline_lists) + "."
    group = ", ".join(p.group_by)
    bases = ", ".join(p.base_rules)
    minutes = p.interval_seconds // 60
    period = throttle if seconds(throttle) >= p.lookback_seconds else duration(p.lookback_seconds)
    settings = scheduled_alert(
        severity=str(SPLUNK_SEVERITY.get(p.level, 3)),
        suppress_fields=",".join(group_fields(p.query, "spl")),
        suppress_period=period,
        track=p.alerting,
        cron=f"*/{minutes} * * * *" if minutes < 60 else "0 * * * *",
        description=conf_text(
            f"{p.description} (Sigma correlation rule {p.rule_id}, {p.correlation_type} in "
            f"windows of {window} by {group}, of the base rules {bases}; theme {p.theme}, "
            f"source {p.source.label}. Each run reads the last "
            f"{duration(p.lookback_seconds)} of event time.){caveats}"
        ),
        dispatch={
            "dispatch.earliest_time": f"-{duration(p.lookback_seconds)}@m",
            "dispatch.latest_time": "now",
        },
        search=search.search,
    )
    name = stanza_name(p)
    if enterprise_security:
        es = correlation_es_settings(p, search.search, name, triage_columns(p))
        settings = dict(sorted((settings | es).items()))
    return name, settings


def correlation_stanzas(
    tuning: SplunkTuning, profile: Profile, enterprise_security: bool = False
) -> list[Stanza]:
    """Every correlation stanza of the build, throttled for the profile's period."""
    return [
        correlation_stanza(s, profile.throttle_period(s.packaged.theme), enterprise_security)
        for s in tuning.correlations
    ]
