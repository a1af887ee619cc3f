"""Container image references: the grammar, and allowlist patterns that cannot be sidestepped.

The grammar is the one Docker, containerd and Kubernetes share (``distribution/reference``)::

    reference   := name [ ":" tag ] [ "@" digest ]
    name        := [ domain "/" ] path
    domain      := host [ ":" port ]          host: DNS name or "localhost" (case-insensitive)
    path        := component ( "/" component )*
    component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag         := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest      := algorithm ":" hex{32,}

The first component of a name is a registry host only when it contains ``.`` or ``:``, is
``localhost``, or has an upper-case letter; otherwise the image is on ``docker.io`` (``nginx`` is
``docker.io/library/nginx``, ``user/app`` is ``docker.io/user/app``). ``index.docker.io`` is
``docker.io``.

An allowlist entry is ``host[:port][/path-prefix]``. It approves an image when the image's
registry host equals the entry's host (case-insensitive; a port is part of the host, so
``registry.corp.example:5000`` is another registry than ``registry.corp.example``) and, if the
entry has a path prefix, the image's path equals it or continues it after a ``/``. A reference
that does not parse is never approved.

``registry_patterns`` turns an entry into Sigma values that give the same verdict on every
valid reference, so that every target (the reference evaluator, Splunk, Elastic) compares the
same way: case-insensitive wildcards where the grammar is case-insensitive (``host/*``) and
case-sensitive regular expressions for the implicit ``docker.io`` forms, where case decides what
is a host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sigma.types import (
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaType,
)

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
# ASCII only, as in distribution/reference (Go's \w is ASCII; Python's would admit any letter).
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)


@dataclass(frozen=True)
class ImageReference:
    """A parsed reference, normalised as a container runtime resolves it."""

    domain: str  # lower-cased host[:port]; docker.io for Docker Hub
    path: str  # repository path; library/<name> for Docker Hub official images
    tag: str | None
    digest: str | None


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or (
        not any(c in first for c in ".:") and first != "localhost" and first == first.lower()
    ):
        domain, path = DOCKER_HUB, name
    else:
        domain, path = first.lower(), rest
    if domain in _DOCKER_HUB_ALIASES:
        domain = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return domain, path


def parse_image_reference(text: str) -> ImageReference | None:
    """Parse a reference; None when it is not valid (no runtime would pull it)."""
    match = _REFERENCE.fullmatch(text)
    if match is None:
        return None
    domain, path = _split_domain(match["name"])
    return ImageReference(domain, path, match["tag"], match["digest"])


@dataclass(frozen=True)
class RegistryEntry:
    """One allowlist entry: a registry host, optionally with a path prefix."""

    domain: str
    path: str | None

    @classmethod
    def parse(cls, text: str) -> RegistryEntry:
        host, _, path = text.partition("/")
        domain = host.lower()
        if domain in _DOCKER_HUB_ALIASES:
            domain = DOCKER_HUB
        return cls(domain, path or None)

    def approves(self, reference: ImageReference) -> bool:
        if reference.domain != self.domain:
            return False
        return self.path is None or (
            reference.path == self.path or reference.path.startswith(self.path + "/")
        )


def is_approved(image: str, entries: list[str] | tuple[str, ...]) -> bool:
    """The verdict a careful reader gives: does any entry approve this image reference?"""
    reference = parse_image_reference(image)
    if reference is None:
        return False
    return any(RegistryEntry.parse(entry).approves(reference) for entry in entries)


def _char_class(chars: str) -> str:
    """A regex character class for exactly these characters, runs written as ranges."""
    ordered = sorted(set(chars) - {"-"})
    parts, index = [], 0
    while index < len(ordered):
        run_end = index
        while run_end + 1 < len(ordered) and ord(ordered[run_end + 1]) == ord(ordered[run_end]) + 1:
            run_end += 1
        first, last = ordered[index], ordered[run_end]
        parts.append(
            first if first == last else f"{first}-{last}" if run_end > index + 1 else first + last
        )
        index = run_end + 1
    return "[" + "".join(parts) + ("-" if "-" in chars else "") + "]"


def _not_word(word: str, alphabet: str) -> str:
    """A regex for a non-empty run of ``alphabet`` characters that is not exactly ``word``.

    Written without look-arounds so that RE2, PCRE, Java and Lucene all accept it.
    """
    run = _char_class(alphabet)
    alternatives = [f"{run}{{1,{len(word) - 1}}}", f"{run}{{{len(word) + 1},}}"]
    for index, char in enumerate(word):
        others = _char_class(alphabet.replace(char, ""))
        alternatives.append(f"{re.escape(word[:index])}{others}{run}{{{len(word) - index - 1}}}")
    return "(?:" + "|".join(alternatives) + ")"


# A first path component that keeps the image on Docker Hub: lower-case, no "." or ":", and not
# "localhost". (Path components never contain upper case, so one that does names a host.)
_IMPLICIT_HUB_FIRST = _not_word("localhost", "abcdefghijklmnopqrstuvwxyz0123456789_-")
_TAG_OR_DIGEST = rf"(?::{_TAG})?(?:@{_DIGEST})?"
# Any printable ASCII character but space: what may follow a repository in a reference.
_VISIBLE = "[!-~]"


def _repository_forms(prefix: str) -> list[str]:
    """Wildcard forms of an image whose repository is ``prefix`` or lies below it."""
    return [prefix, f"{prefix}:*", f"{prefix}@*", f"{prefix}/*"]


def _escape_wildcards(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def registry_patterns(entry_text: str) -> list[SigmaType]:
    """Sigma values matching exactly the valid references this entry approves."""
    entry = RegistryEntry.parse(entry_text)
    hosts = [entry.domain] if entry.domain != DOCKER_HUB else list(_DOCKER_HUB_ALIASES)
    values: list[SigmaType] = []
    for host in hosts:
        base = _escape_wildcards(host if entry.path is None else f"{host}/{entry.path}")
        forms = [f"{base}/*"] if entry.path is None else _repository_forms(base)
        values.extend(SigmaString(form) for form in forms)
    if entry.domain == DOCKER_HUB:
        values.extend(SigmaRegularExpression(rx) for rx in _implicit_hub_regexes(entry.path))
        if entry.path is not None and (
            entry.path == "library" or entry.path.startswith("library/")
        ):
            # docker.io/nginx is docker.io/library/nginx: an explicit host, an implicit library/.
            official = entry.path.removeprefix("library").lstrip("/")
            name = re.escape(official) if official else _COMPONENT
            hosts_rx = "|".join(re.escape(h) for h in _DOCKER_HUB_ALIASES)
            regex = SigmaRegularExpression(rf"^(?:{hosts_rx})/{name}{_TAG_OR_DIGEST}$")
            regex.add_flag(SigmaRegularExpressionFlag.IGNORECASE)
            values.append(regex)
    return values


def _implicit_hub_regexes(path: str | None) -> list[str]:
    """Case-sensitive regexes for Docker Hub references written without a registry host."""
    if path is None:
        return [
            rf"^{_COMPONENT}{_TAG_OR_DIGEST}$",
            rf"^{_IMPLICIT_HUB_FIRST}/{_VISIBLE}+$",
        ]
    regexes = []
    if path == "library" or path.startswith("library/"):
        official = path.removeprefix("library").lstrip("/")
        if official:
            regexes.append(rf"^{re.escape(official)}(?:/{_VISIBLE}*)?{_TAG_OR_DIGEST}$")
        else:
            regexes.append(rf"^{_COMPONENT}{_TAG_OR_DIGEST}$")
    first = path.split("/", 1)[0]
    if re.fullmatch(_IMPLICIT_HUB_FIRST, first):
        regexes.append(rf"^{re.escape(path)}(?:[:@/]{_VISIBLE}*)?$")
    return regexes
