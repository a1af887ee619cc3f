"""How a value is written in each place a build puts it: one function per place.

Profile values never hold a control character (the schema refuses them, see
``sigma_ext.content.profile``); rule values might. Every other character is quoted here:

``spl_string``
    a Splunk search string literal: ``"..."`` with ``\\`` and ``"`` escaped. Splunk has no
    escape for a line break or a tab, and a saved search or a macro definition is one .conf
    line, so a value holding a control character is refused (``Unquotable``); so is a backtick,
    which Splunk reads as a macro call.
``esql_string``
    an ES|QL string literal: ``\\``, ``"`` escaped, and tab, line feed and carriage return as
    ``\\t``, ``\\n``, ``\\r`` (the grammar allows no raw CR or LF inside ``"..."``).
``LUCENE_ESCAPED``
    the characters a Lucene query string term is written with a backslash before: pySigma's own
    set and every whitespace and control character, which would otherwise end the term (so that
    ``g<TAB>h`` read as the two words ``g`` and ``h``).
``one_line_query``
    a whole Splunk or ES|QL query, refused if a value brought a control character into it.
``spl_stages``
    the commands of a Splunk search, split at ``|`` outside double quotes: how the build reads
    back a search it wrote and how the emulator reads one.
``spl_comment``, ``conf_text``, ``markdown_cell``
    rule text (titles, descriptions) written into an SPL comment, a .conf value, stanza name or
    comment, or a summary table cell: one line, nothing that ends the comment or the value.

Lookup CSV files are written with the ``csv`` module, which quotes every special character.
"""

from __future__ import annotations

import re

from sigma_ext.build.result import Unconvertible

# A line or paragraph separator that is not a control character but breaks a line
# (str.splitlines) all the same.
_LINE_SEPARATORS = "\u2028\u2029"
# Unicode's control characters (general category Cc): C0, DEL and C1. The Unicode stability
# policy fixes this set (the Cc code points never change), so it is written out rather than
# found by asking unicodedata about every code point.
_CONTROLS = "".join(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)))
_CONTROL_OR_SEPARATOR = re.compile("[" + re.escape(_CONTROLS + _LINE_SEPARATORS) + "]")


class Unquotable(Unconvertible):
    """A value that the target's syntax cannot hold: broken content, like any Unconvertible."""


def first_control(text: str) -> str | None:
    """The first control character (Unicode Cc: C0, DEL, C1) or line separator in ``text``."""
    found = _CONTROL_OR_SEPARATOR.search(text)
    return None if found is None else found.group()


def _refuse_controls(text: str, place: str) -> None:
    control = first_control(text)
    if control is not None:
        raise Unquotable(
            f"a value holds the control character U+{ord(control):04X}, which {place} cannot hold"
        )


def spl_string(text: str) -> str:
    """``text`` as a Splunk search string literal.

    A backtick is refused: Splunk reads `` `name` `` as a macro call, and expands the calls in a
    macro's definition too, so no quoting keeps it a character.
    """
    spl_value(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def spl_value(text: str) -> str:
    """``text``, a value (or the literal pySigma's Splunk backend made of it), if Splunk can
    hold it: no control character, no backtick; else Unquotable."""
    _refuse_controls(text, "a Splunk search string")
    if "`" in text:
        raise Unquotable(
            "a value holds a backtick, which Splunk reads as the start of a macro call"
        )
    return text


_ESQL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def esql_string(text: str) -> str:
    """``text`` as an ES|QL string literal."""
    return '"' + "".join(_ESQL_ESCAPES.get(c, c) for c in text) + '"'


def esql_line_breaks(literal: str) -> str:
    """An ES|QL string literal that pySigma quoted (``\\`` and ``"`` escaped), with its tabs
    and line breaks written as escapes too."""
    return literal.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


# pySigma's LuceneBackend.add_escaped, then whitespace Lucene's query parser splits terms on
# (space, tab, line feed, carriage return, form feed, U+3000) and every other control character.
LUCENE_ESCAPED = (
    '+-=&|!(){}[]<>^"~*?:\\/ '
    + "\t\n\r\f\u3000"
    + "".join(c for c in _CONTROLS if c not in "\t\n\r\f")
    + _LINE_SEPARATORS
)


def one_line_query(query: str, target: str) -> str:
    """A Splunk or ES|QL query as it is shipped: on one line, with no control character (the
    query text itself has none, so one comes from a value)."""
    _refuse_controls(query, f"a {target} query on its one line")
    return query


_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\s]+")


def _one_line(text: str) -> str:
    return _NOT_ONE_LINE.sub(" ", text).strip()


def spl_comment(text: str) -> str:
    """Text for inside an SPL comment (between triple backticks): one line, no backtick, so
    that nothing in it can end the comment and be run."""
    return _one_line(text.replace("`", "'"))


def conf_text(text: str) -> str:
    """Free text for a Splunk .conf value, stanza name or comment: one line, no control
    character, and no backslash at its end (which would continue the value on the next line)."""
    text = _one_line(text)
    while text != (trimmed := text.rstrip().rstrip("\\")):
        text = trimmed
    return text


def conf_stanza_name(text: str) -> str:
    """Free text for a ``[stanza]`` name: ``conf_text`` without square brackets."""
    return conf_text(text).replace("[", "(").replace("]", ")")


def markdown_cell(text: str) -> str:
    """Text for a Markdown table cell: one line, ``|`` escaped."""
    return _one_line(text).replace("|", "\\|")


def spl_stages(query: str) -> list[str]:
    """The commands of a search, split at ``|`` outside double quotes (backslash escapes).

    Raises ``ValueError`` when a double quote is left open.
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    index = 0
    while index < len(query):
        char = query[index]
        if char == "\\" and index + 1 < len(query):
            current.append(query[index : index + 2])
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == "|" and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    if quoted:
        raise ValueError("unbalanced quotes")
    parts.append("".join(current).strip())
    return parts
