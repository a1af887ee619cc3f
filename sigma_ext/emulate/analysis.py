"""An approximation of Elasticsearch's ``standard`` analyzer, for ``text`` fields.

The standard analyzer is the standard tokenizer (Unicode word segmentation, UAX #29, as Lucene's
``StandardTokenizer`` implements it) followed by a lowercase filter; no stop words by default
("Standard analyzer", Elasticsearch reference). This module implements the UAX #29 rules that
decide the strings our fields hold (group names, IP addresses, image references):

* letters (``str.isalpha``) and digits (``str.isdigit``) form words; letters and digits next to
  each other stay together (WB9, WB10); ``_`` (ExtendNumLet) joins them (WB13a/b);
* between two letters, ``.``, ``'`` (MidNumLet) and ``:`` (MidLetter, present in
  WordBreakProperty.txt and kept by Lucene's grammar) do not break (WB6, WB7): ``system:masters``
  and ``registry.corp.example`` are one token each; between two digits ``.``, ``,``, ``;`` and
  ``'`` do not break (WB11, WB12): ``10.0.0.1`` is one token;
* every other character breaks and is dropped; CJK ideographs, Hiragana and Thai are one token
  per character (Lucene emits them singly);
* tokens longer than ``max_token_length`` (255) are split at 255 characters;
* tokens are lower-cased with ``str.lower`` (Lucene uses ``Character.toLowerCase`` per code
  point; the two differ only for a few special cases such as the Turkish dotted I).

Not modelled: emoji sequences, Katakana/Hebrew/Hangul specifics, WB4 (ignoring format and
extend characters inside words).
"""

from __future__ import annotations

import unicodedata
from functools import cache

MAX_TOKEN_LENGTH = 255
_MID_LETTER = frozenset(":.'\u00b7\u2019")
_MID_NUM = frozenset(".,;'")


def _kind(char: str) -> str:
    if char.isdigit():
        return "N"
    if char.isalpha():
        name = unicodedata.name(char, "")
        if name.startswith(("CJK", "HIRAGANA", "THAI")):
            return "I"
        return "L"
    if char == "_":
        return "X"
    return "O"


@cache
def tokens(text: str) -> tuple[str, ...]:
    """The terms the standard analyzer indexes for a string, in order."""
    out: list[str] = []
    current: list[str] = []
    kinds = [_kind(c) for c in text]

    def flush() -> None:
        if current:
            word = "".join(current).lower()
            out.extend(
                word[i : i + MAX_TOKEN_LENGTH] for i in range(0, len(word), MAX_TOKEN_LENGTH)
            )
            current.clear()

    for index, char in enumerate(text):
        kind = kinds[index]
        if kind in "LNX":
            current.append(char)
            continue
        if kind == "I":
            flush()
            out.append(char)
            continue
        previous = kinds[index - 1] if index > 0 and current else ""
        following = kinds[index + 1] if index + 1 < len(text) else ""
        joins_letters = char in _MID_LETTER and previous == following == "L"
        joins_digits = char in _MID_NUM and previous == following == "N"
        if joins_letters or joins_digits:
            current.append(char)
            continue
        flush()
    flush()
    return tuple(t for t in out if any(k in "LNI" for k in map(_kind, t)))
