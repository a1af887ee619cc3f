"""Per source, how the fast hunt recognises its events in SQL and reads their shape.

A source is judged in SQL only when it has a ``FastPath`` here; ``REFERENCE_ONLY`` names the
sources whose lines the reference engine judges one by one, and provider envelopes the scan
opens are declared in ``sigma_ext.hunt.fast.envelopes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sigma_ext.sources.catalogue import SOURCES, Source


@dataclass(frozen=True)
class FastPath:
    """How the fast hunt reads one source.

    ``recognizer`` is a SQL boolean with exactly the meaning of ``Source.recognize``, written over
    top-level keys as ``{key}``, each read as VARCHAR (a JSON string as its text, any other value
    as its JSON text: ``["Event"]`` reads ``'["Event"]'``); ``arrays`` are the dotted paths that
    hold arrays in the documented format; ``heavy`` are top-level keys with large subtrees (the
    exact scan reads them last); ``raw_prefix`` are the first keys of a line, with the start of
    their string values, that prove the recogniser from the text (``sigma_ext.hunt.fast.raw_gate``).
    """

    recognizer: str
    arrays: frozenset[str] = frozenset()
    heavy: frozenset[str] = frozenset()
    raw_prefix: tuple[tuple[str, str], ...] = ()

    def recognizer_keys(self) -> list[str]:
        return re.findall(r"\{([^{}]+)\}", self.recognizer)


FAST_PATHS: dict[str, FastPath] = {
    "kubernetes_audit": FastPath(
        recognizer=("({kind} = 'Event' AND starts_with({apiVersion}, 'audit.k8s.io/'))"),
        arrays=frozenset(
            {
                "user.groups",
                "sourceIPs",
                "requestObject.metadata.ownerReferences",
                *(
                    f"requestObject.spec.{prefix}{kind}"
                    for prefix in ("", "template.spec.", "jobTemplate.spec.template.spec.")
                    for kind in ("containers", "initContainers", "ephemeralContainers")
                ),
            }
        ),
        heavy=frozenset({"requestObject", "responseObject"}),
        # how the API server's audit backend writes every event (TypeMeta first)
        raw_prefix=(("kind", "Event"), ("apiVersion", "audit.k8s.io/")),
    ),
}
# Sources whose lines the reference engine judges one by one (provider envelopes that need
# more than ``sigma_ext.hunt.fast.envelopes`` opens, text formats that need ``parse_text``, or
# simply
# no SQL written yet).
REFERENCE_ONLY: frozenset[str] = frozenset(
    {
        "kubernetes_audit_gke",
        "aws_cloudtrail",
        "azure_activitylogs",
        "gcp_audit",
        "docker_events",
        "container_runtime",
    }
)


def fast_sources() -> tuple[list[Source], bool]:
    """The sources the SQL judges, and whether other lines may belong to a source it cannot.

    ``recognize`` answers with the first source that claims an event, so a source is judged in SQL
    only when every source before it has a SQL recogniser too.
    """
    fast: list[Source] = []
    for source in SOURCES:
        if source.name not in FAST_PATHS or source.parse_text is not None:
            return fast, True
        fast.append(source)
    return fast, False
