"""Per source, how the fast hunt recognises its events in SQL and reads their shape.

The facts about a source's format (``fast_path``, ``arrays``, ``large_subtrees``) are its row in
``sigma_ext.sources.catalogue.SOURCES``; what is SQL stays here, keyed by source name:
``RECOGNIZER_SQL`` holds the recogniser of every source with a fast path, and nothing else
(``fast_paths`` refuses to build otherwise, when this module loads). ``FAST_PATHS`` puts the
two together. Provider envelopes the scan opens are ``sigma_ext.hunt.fast.envelopes``; every
other source is judged line by line by the reference engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sigma_ext.sources.catalogue import SOURCES, Source


@dataclass(frozen=True)
class RecognizerSql:
    """A source's recogniser as the fast hunt writes it.

    ``recognizer`` is a SQL boolean with exactly the meaning of ``Source.recognize``, written over
    top-level keys as ``{key}``, each read as VARCHAR (a JSON string as its text, any other value
    as its JSON text: ``["Event"]`` reads ``'["Event"]'``); ``raw_prefix`` are the first keys of a
    line, with the start of their string values, that prove the recogniser from the text
    (``sigma_ext.hunt.fast.raw_gate``).
    """

    recognizer: str
    raw_prefix: tuple[tuple[str, str], ...] = ()


RECOGNIZER_SQL: Mapping[str, RecognizerSql] = {
    "kubernetes_audit": RecognizerSql(
        recognizer=("({kind} = 'Event' AND starts_with({apiVersion}, 'audit.k8s.io/'))"),
        # how the API server's audit backend writes every event (TypeMeta first)
        raw_prefix=(("kind", "Event"), ("apiVersion", "audit.k8s.io/")),
    ),
}


@dataclass(frozen=True)
class FastPath:
    """How the fast hunt reads one source: its ``RecognizerSql`` and, from its ``Source`` row,
    ``arrays`` (the dotted paths that hold arrays) and ``heavy`` (top-level keys with large
    subtrees, which the exact scan reads last)."""

    recognizer: str
    arrays: frozenset[str] = frozenset()
    heavy: frozenset[str] = frozenset()
    raw_prefix: tuple[tuple[str, str], ...] = ()

    def recognizer_keys(self) -> list[str]:
        return re.findall(r"\{([^{}]+)\}", self.recognizer)


def fast_paths(
    sources: tuple[Source, ...], recognizers: Mapping[str, RecognizerSql]
) -> dict[str, FastPath]:
    """The fast path of every source whose row says it has one; a ``ValueError`` when such a
    source has no recogniser in ``recognizers`` or a recogniser has no such source."""
    fast = [source for source in sources if source.fast_path]
    missing = [source.name for source in fast if source.name not in recognizers]
    unclaimed = sorted(set(recognizers) - {source.name for source in fast})
    if missing or unclaimed:
        raise ValueError(
            f"fast hunt recognisers: none for {missing} (sources with fast_path), "
            f"one for {unclaimed} (no source with fast_path)"
        )
    return {
        source.name: FastPath(
            recognizer=recognizers[source.name].recognizer,
            arrays=source.arrays,
            heavy=source.large_subtrees,
            raw_prefix=recognizers[source.name].raw_prefix,
        )
        for source in fast
    }


FAST_PATHS: Mapping[str, FastPath] = fast_paths(SOURCES, RECOGNIZER_SQL)


def fast_sources() -> tuple[list[Source], bool]:
    """The sources the SQL judges, and whether other lines may belong to a source it cannot.

    ``recognize`` answers with the first source that claims an event, so a source is judged in SQL
    only when every source before it has a SQL recogniser too.
    """
    fast: list[Source] = []
    for source in SOURCES:
        if not source.fast_path:
            return fast, True
        fast.append(source)
    return fast, False
