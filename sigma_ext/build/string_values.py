"""A pySigma text backend that builds no regular expression for a string value it writes plainly.

pySigma's ``TextQueryBackend.convert_condition_field_eq_val_str`` makes a regular expression of
every string value (``SigmaString.to_regex``, which compiles it to prove it valid) for the
``{regex}`` placeholder of its string expressions, whether or not the chosen expression has one.
None of the expressions of the Splunk, Lucene and ES|QL backends does, so a build compiled
thousands of regular expressions (most of its ``re`` compiles) only to drop them.
``PlainStrings`` chooses the expression as pySigma does and formats it without the regular
expression; a backend whose string expressions do use ``{regex}`` (now or after an update)
gets pySigma's own method.
"""

from __future__ import annotations

from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.types import SigmaString, SpecialChars


class PlainStrings(TextQueryBackend):
    """``convert_condition_field_eq_val_str`` without the unused regular expression (mixin)."""

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        value = cond.value
        expressions = (
            self.startswith_expression,
            self.endswith_expression,
            self.contains_expression,
            self.wildcard_match_expression,
            self.eq_expression,
        )
        if not isinstance(value, SigmaString) or any(
            "{regex}" in e for e in expressions if e is not None
        ):
            return super().convert_condition_field_eq_val_str(cond, state)
        # pySigma 1.5's choice of the string operator, read by read
        multi = SpecialChars.WILDCARD_MULTI
        if (
            self.startswith_expression is not None
            and value.endswith(multi)
            and (self.startswith_expression_allow_special or not value[:-1].contains_special())
        ):
            expr, value = self.startswith_expression, value[:-1]
        elif (
            self.endswith_expression is not None
            and value.startswith(multi)
            and (self.endswith_expression_allow_special or not value[1:].contains_special())
        ):
            expr, value = self.endswith_expression, value[1:]
        elif (
            self.contains_expression is not None
            and value.startswith(multi)
            and value.endswith(multi)
            and (self.contains_expression_allow_special or not value[1:-1].contains_special())
        ):
            expr, value = self.contains_expression, value[1:-1]
        elif self.wildcard_match_expression is not None and value.contains_special():
            expr = self.wildcard_match_expression
        else:
            expr = self.eq_expression
        try:
            return expr.format(
                field=self.escape_and_quote_field(cond.field),
                value=self.convert_value_str(value, state),
                backend=self,
            )
        except TypeError:  # as pySigma's method says it
            raise NotImplementedError(
                "Field equals string value expressions with strings are not supported by the "
                "backend."
            ) from None
