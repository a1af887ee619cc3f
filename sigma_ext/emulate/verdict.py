"""Does a compiled query match the document its SIEM stores for an event?"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from sigma_ext.build.result import Compiled
from sigma_ext.emulate import Unsupported, esql, lucene, splunk_search
from sigma_ext.emulate.documents import Document, build_document


def document_for(compiled: Compiled, event: Mapping[str, Any]) -> Document:
    return build_document(compiled.target.name, compiled.source.name, event)


def query_matches(language: str, query: str, index: tuple[str, ...], document: Document) -> bool:
    """Run one query of a language on one document."""
    if language == "spl":
        return splunk_search.matches(query, document)
    if language == "lucene":
        if index and not any(fnmatchcase(document.index, pattern) for pattern in index):
            return False
        return lucene.matches(query, document)
    if language == "esql":
        return esql.matches(query, document)
    raise Unsupported(f"no emulator for query language {language!r}")


def compiled_matches(compiled: Compiled, event: Mapping[str, Any]) -> bool:
    """The verdict of a compiled rule (status ok or degraded) on a raw source event."""
    if compiled.query is None or compiled.language is None:
        raise ValueError(f"{compiled.rule.stem}/{compiled.target.name}: no query to run")
    document = document_for(compiled, event)
    return query_matches(compiled.language, compiled.query, compiled.index, document)
