"""A pySigma backend writing a rule as a DuckDB SQL boolean with the reference evaluator's meaning.

The SQL runs over values that ``sigma_ext.hunt.fast.plan`` extracts from JSON events: for every
field
a ``FieldSql`` says how to get its values (one VARCHAR, or a LIST of VARCHAR for a field that
crosses arrays) and when the extraction cannot be trusted for the row. Every test is three-valued:
TRUE and FALSE are the reference evaluator's answer, NULL means "not decidable in SQL" (a value
outside printable ASCII for a case-insensitive comparison, an object where a scalar was expected,
a regular expression RE2 may read differently, a construct not rendered). SQL's own three-valued
AND / OR / NOT keep a NULL only where it could change the answer, and a rule that ends NULL is
evaluated by the reference evaluator instead.

Value semantics (``sigma_ext.reference.evaluator``), for a value ``v`` as DuckDB renders a JSON
scalar (a
string as is, a boolean as ``true``/``false``, a number as Python's ``str`` renders it):

* strings: ``casefold`` equality, or ``*``/``?`` wildcards anchored at both ends, case-insensitive;
  for ASCII text ``casefold`` is ``lower``; other text is undecidable (NULL);
* ``|cased``: exact; ``|re``: ``search`` with the rule's flags, decided in SQL (RE2) only on
  printable ASCII text and for patterns without constructs the two engines read differently;
* numbers and ``|gt`` and friends: Python ``float()`` of the value; decided in SQL for plain
  decimal notation, undecidable for other number-like text;
* ``null`` / ``|exists``: whether the field has any value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCompareExpression,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma_ext import condition_tree


@dataclass(frozen=True)
class ValueTest:
    """A test of one VARCHAR value: ``core`` decides, unless a ``guards`` macro says undecidable."""

    core: Callable[[str], str]
    guards: frozenset[str] = frozenset({"sx_unsure"})
    folded: str | None = None  # set for a plain case-insensitive equality with this value

    def render(self, v: str) -> str:
        """The test of a value the field's extraction already checked with ``VALUE_GUARD``."""
        return f"({self.core(v)})"


# Checked once per value when a field is extracted (``sigma_ext.hunt.fast.plan``): every guard a
# value test needs, so that the tests themselves are plain comparisons.
VALUE_GUARD = "(sx_unsure({v}) OR sx_unprintable({v}))"


UNDECIDABLE = ValueTest(lambda v: "NULL", frozenset())

# SQL macros the rendered conditions use; ``install_macros`` creates them on a connection.
MACROS: dict[str, str] = {
    # an object or array where a scalar was expected, or a number Python reads as inf/nan
    "sx_unsure": "(v) AS v[1] = '{' OR v[1] = '[' OR (contains('-0123456789NnIi', v[1]) "
    "AND NOT coalesce(isfinite(TRY_CAST(v AS DOUBLE)), TRUE))",
    "sx_nonascii": "(v) AS strlen(v) <> length(v)",
    "sx_unprintable": "(v) AS regexp_matches(v, '[^ -~]')",
    # three-valued "some element": TRUE if a test is TRUE, else NULL if one is NULL, else FALSE
    "sx_any": "(l) AS CASE list_max(l) WHEN 2 THEN TRUE WHEN 1 THEN NULL ELSE FALSE END",
    # three-valued "every element" (TRUE for an empty list)
    "sx_all": "(l) AS CASE list_min(l) WHEN 0 THEN FALSE WHEN 1 THEN NULL ELSE TRUE END",
}

_PLAIN_NUMBER = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"
# Constructs Python's re and RE2 reject or read differently: such a pattern is not run in SQL.
_RE_UNSAFE = re.compile(
    r"\(\?[=!<#(>]|\(\?P=|\\[1-9]|\\[ZzAGQEpPNuUxCe0]|\[:[a-z]+:\]|\{,|[*+?}]\+|\(\?[a-zA-Z]*[xauLT]"
)
_TEXT = frozenset({"sx_unsure", "sx_nonascii"})


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_RE2_SPECIAL = frozenset("\\.^$|?*+()[]{}")


def re2_escape(text: str) -> str:
    """``text`` as an RE2 literal."""
    return "".join("\\" + c if c in _RE2_SPECIAL else c for c in text)


def _printable_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()


def sigma_string_pattern(
    value: SigmaString, many: str, one: str, literal: Callable[[str], str]
) -> str | None:
    """A Sigma string as a pattern: ``many`` and ``one`` for its wildcards and ``literal`` for
    each run of its text; None when the text is not printable ASCII or holds a placeholder."""
    return condition_tree.sigma_string_pattern(value, many, one, literal, _printable_ascii)


def folded_pattern(
    value: SigmaString, many: str, one: str, literal: Callable[[str], str]
) -> str | None:
    """A Sigma string, lower-cased, as a pattern: ``many`` and ``one`` for its wildcards and
    ``literal`` escaping its text; None when the text is not printable ASCII (Python and SQL
    fold other characters differently)."""
    return sigma_string_pattern(value, many, one, lambda text: literal(text.lower()))


@dataclass(frozen=True)
class FieldSql:
    """How the values of one field are read from a row.

    ``expr`` is a VARCHAR (``is_list`` false, NULL when there is no value) or a LIST of VARCHAR
    without NULLs; ``unknown``, when set, is a SQL boolean that is TRUE when the extraction may
    differ from the reference evaluator for this row.
    """

    expr: str
    is_list: bool
    unknown: str | None = None


FieldResolver = Callable[[str], FieldSql]


def _ascii_equivalents(char: str) -> str:
    """The ASCII characters a case-insensitive Python regex literal ``char`` matches."""
    pattern = re.compile(re.escape(char), re.IGNORECASE)
    return "".join(c for c in map(chr, range(128)) if pattern.fullmatch(c))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _string_test(value: SigmaString, cased: bool) -> ValueTest:
    """Sigma string equality / wildcards on one VARCHAR value."""
    parts = value.s
    if any(not isinstance(p, (str, SpecialChars)) for p in parts):
        return UNDECIDABLE  # unfilled placeholder: never guessed
    if not value.contains_special():
        text = "".join(p for p in parts if isinstance(p, str))
        if cased:
            return ValueTest(lambda v: f"{v} = {sql_string(text)}")
        folded = text.casefold()
        if folded.isascii():
            return ValueTest(lambda v: f"lower({v}) = {sql_string(folded)}", _TEXT, folded)
        return ValueTest(lambda v: "FALSE", _TEXT)  # no ASCII text casefolds to it
    literal_chars = "".join(p for p in parts if isinstance(p, str))
    if literal_chars.isascii():
        like = condition_tree.sigma_string_pattern(
            value, "%", "_", lambda text: _like_escape(text if cased else text.lower())
        )
        assert like is not None  # no placeholder (checked above)
        subject = "{v}" if cased else "lower({v})"
        test = f"{subject} LIKE {sql_string(like)} ESCAPE '\\'"
        return ValueTest(lambda v: test.format(v=v), _TEXT)
    pieces = []
    never = False
    for part in parts:
        if isinstance(part, SpecialChars):
            pieces.append(".*" if part == SpecialChars.WILDCARD_MULTI else ".")
            continue
        assert isinstance(part, str)
        for char in part:
            matches = char if cased else _ascii_equivalents(char)
            matches = "".join(c for c in matches if c.isascii())
            never = never or not matches
            pieces.append("[" + "".join(f"\\x{ord(c):02x}" for c in matches) + "]")
    if never:
        return ValueTest(lambda v: "FALSE", _TEXT)
    regex = sql_string("(?s)" + "".join(pieces))
    return ValueTest(lambda v: f"regexp_full_match({v}, {regex})", _TEXT)


def _number_test(compare: str) -> ValueTest:
    """Python ``float(v) <compare>``, decided for plain decimal notation only."""
    return ValueTest(
        lambda v: (
            f"CASE WHEN regexp_full_match({v}, '{_PLAIN_NUMBER}') "
            f"THEN TRY_CAST({v} AS DOUBLE) {compare} "
            f"WHEN regexp_matches({v}, '(?i)[0-9]|inf|nan') THEN NULL ELSE FALSE END"
        ),
        _TEXT,
    )


def regex_is_portable(value: SigmaRegularExpression) -> bool:
    """Whether RE2 reads the rule's regular expression as Python's ``re`` does."""
    pattern = str(value.regexp)
    if _RE_UNSAFE.search(pattern):
        return False
    if SigmaRegularExpressionFlag.IGNORECASE in value.flags and not pattern.isascii():
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _regex_test(value: SigmaRegularExpression) -> ValueTest:
    pattern = str(value.regexp)
    flags = ""
    for flag, letter in (
        (SigmaRegularExpressionFlag.IGNORECASE, "i"),
        (SigmaRegularExpressionFlag.MULTILINE, "m"),
        (SigmaRegularExpressionFlag.DOTALL, "s"),
    ):
        if flag in value.flags:
            flags += letter
    if not regex_is_portable(value):
        return UNDECIDABLE
    full = sql_string((f"(?{flags})" if flags else "") + pattern)
    return ValueTest(
        lambda v: f"regexp_matches({v}, {full})", frozenset({"sx_unsure", "sx_unprintable"})
    )


def value_test(value: Any) -> ValueTest:
    """A SQL test of one VARCHAR value against one Sigma value (NULL: undecidable)."""
    match value:
        case SigmaCasedString():
            return _string_test(value, cased=True)
        case SigmaString():
            return _string_test(value, cased=False)
        case SigmaBool():
            word = "true" if value.boolean else "false"
            return ValueTest(lambda v: f"lower({v}) = '{word}'", _TEXT)
        case SigmaNumber():
            return _number_test(f"= {float(value.number)!r}")
        case SigmaCompareExpression():
            operators = {
                SigmaCompareExpression.CompareOperators.LT: "<",
                SigmaCompareExpression.CompareOperators.LTE: "<=",
                SigmaCompareExpression.CompareOperators.GT: ">",
                SigmaCompareExpression.CompareOperators.GTE: ">=",
            }
            return _number_test(f"{operators[value.op]} {float(value.number.number)!r}")
        case SigmaRegularExpression():
            return _regex_test(value)
    return UNDECIDABLE  # |cidr, |fieldref and the rest: left to the reference evaluator


def combined(tests: list[ValueTest]) -> ValueTest:
    """Several tests of one value, OR-ed under the union of their guards."""
    if len(tests) == 1:
        return tests[0]
    guards = frozenset().union(*(t.guards for t in tests))
    words = sorted({t.folded for t in tests if t.folded is not None})
    cores = [t.core for t in tests if t.folded is None]
    if len(words) > 1:
        listed = "[" + ", ".join(sql_string(w) for w in words) + "]"
        cores.append(lambda v: f"list_contains({listed}, lower({v}))")
    else:
        cores += [t.core for t in tests if t.folded is not None]
    return ValueTest(lambda v: "(" + " OR ".join(core(v) for core in cores) + ")", guards)


class DuckDBBackend(TextQueryBackend):
    """Sigma conditions as DuckDB SQL over extracted field values (see the module docstring)."""

    name: ClassVar[str] = "sigma-ext DuckDB (hunt)"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB SQL boolean expression"}
    requires_pipeline: ClassVar[bool] = True

    precedence: ClassVar[tuple[type[ConditionNOT], type[ConditionAND], type[ConditionOR]]] = (
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    group_expression: ClassVar[str] = "({expr})"
    token_separator: str = " "
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    convert_or_as_in: ClassVar[bool] = False
    convert_and_as_in: ClassVar[bool] = False
    # undecidable in SQL: the reference evaluator answers for rows where it matters
    unknown_expression: ClassVar[str] = "NULL"

    def __init__(self, resolve: FieldResolver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resolve = resolve

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        field = self.resolve(cond.field)
        value = cond.value
        if isinstance(value, (SigmaNull, SigmaExists)):
            present = f"(len({field.expr}) > 0)" if field.is_list else f"({field.expr} IS NOT NULL)"
            wanted = isinstance(value, SigmaExists) and value.exists
            test = present if wanted else f"(NOT {present})"
        else:
            test = self._any(field, value_test(value))
        return self._guarded(field, test)

    def _guarded(self, field: FieldSql, test: str) -> str:
        if field.unknown is not None:
            return f"(CASE WHEN {field.unknown} THEN NULL ELSE {test} END)"
        return test

    def _any(self, field: FieldSql, test: ValueTest) -> str:
        if not field.is_list:
            return f"(CASE WHEN {field.expr} IS NULL THEN FALSE ELSE {test.render(field.expr)} END)"
        return (
            f"sx_any(list_transform({field.expr}, lambda sx_e: "
            f"coalesce(({test.render('sx_e')})::INTEGER * 2, 1)))"
        )

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        """An OR of value tests on one field becomes one pass over the field's values."""
        leaves = [
            arg
            for arg in cond.args
            if isinstance(arg, ConditionFieldEqualsValueExpression)
            and not isinstance(arg.value, (SigmaNull, SigmaExists))
        ]
        return (
            isinstance(cond, ConditionOR)
            and len(cond.args) > 1
            and len(leaves) == len(cond.args)
            and len({leaf.field for leaf in leaves}) == 1
        )

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> Any:
        leaves = [arg for arg in cond.args if isinstance(arg, ConditionFieldEqualsValueExpression)]
        field = self.resolve(leaves[0].field)
        return self._guarded(
            field, self._any(field, combined([value_test(a.value) for a in leaves]))
        )

    def convert_condition_val(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        return self.unknown_expression  # keywords scan the whole event: reference evaluator

    def finalize_query_default(self, rule: Any, query: Any, index: int, state: Any) -> Any:
        return query


def pooled_values(pool: list[FieldSql]) -> str:
    """The values of the pooled fields as one LIST (NULLs left out)."""
    lists = [
        f.expr if f.is_list else f"CASE WHEN {f.expr} IS NULL THEN [] ELSE [{f.expr}] END"
        for f in pool
    ]
    return lists[0] if len(lists) == 1 else f"list_concat({', '.join(lists)})"


def unless_pool_unknown(pool: list[FieldSql], test: str) -> str:
    """``test``, or NULL where the extraction of a pooled field cannot be trusted."""
    unknowns = [f.unknown for f in pool if f.unknown is not None]
    if unknowns:
        return f"(CASE WHEN {' OR '.join(unknowns)} THEN NULL ELSE {test} END)"
    return test


def every_element_lambda_sql(
    pool: list[FieldSql], element_condition: Callable[[str], str], name: str
) -> str:
    """Three-valued "every pooled value satisfies the detection" (vacuously TRUE), as a DuckDB
    lambda over the values; ``element_lines.every_element_line_regex_sql`` is the cheaper
    regular expression when the detection allows one."""
    element = f"sx_p_{name}"
    body = element_condition(element)
    test = (
        f"sx_all(list_transform({pooled_values(pool)}, lambda {element}: "
        f"coalesce(({body})::INTEGER * 2, 1)))"
    )
    return unless_pool_unknown(pool, test)


def install_macros(con: Any) -> None:
    for name, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")


def resolver_for(table: Mapping[str, FieldSql]) -> FieldResolver:
    def resolve(field: str) -> FieldSql:
        return table[field]

    return resolve
