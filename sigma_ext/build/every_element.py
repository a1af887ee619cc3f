"""The ``match_every_element`` extension, for targets whose query language needs help.

Sigma says "some element of a multi-valued field matches"; it cannot say "some element does
not". A rule marks a detection with ``match_every_element`` and uses it as ``and not <name>``;
this module splits such a rule into

* the *base* rule: the same rule without those ``not <name>`` conjuncts, converted by the
  target's ordinary pySigma backend, and
* for each marked detection, its *element test*: the fields (after the target's field mapping)
  whose values are pooled, and the Sigma values an element must match to be approved,

so that a target renders "some pooled element matches none of the values" natively (Splunk
``mvfilter``, ES|QL ``MV_EXPAND``). The reference evaluator implements the same semantics
directly (``sigma_ext.reference.evaluator``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import SigmaType

from sigma_ext.build.result import Unconvertible
from sigma_ext.content.rules import RuleFile


@dataclass(frozen=True)
class ElementTest:
    """Pool the values of ``fields``; an element passes when it matches any of ``values``."""

    name: str
    fields: tuple[str, ...]
    values: tuple[SigmaType, ...]


def unparse(node: Any) -> str:
    """Write a parsed (not postprocessed) Sigma condition back as text."""
    match node:
        case ConditionIdentifier():
            return str(node.identifier)
        case ConditionSelector():
            quantifier = "1" if node.cond_class is ConditionOR else "all"
            return f"{quantifier} of {node.pattern}"
        case ConditionNOT():
            return f"not ({unparse(node.args[0])})"
        case ConditionAND():
            return " and ".join(f"({unparse(arg)})" for arg in node.args)
        case ConditionOR():
            return " or ".join(f"({unparse(arg)})" for arg in node.args)
    raise Unconvertible(f"cannot write condition element {type(node).__name__}")


def base_condition(rule_file: RuleFile) -> str:
    """The rule's condition without its ``not <every-element detection>`` conjuncts."""
    rule = rule_file.fresh()
    parsed = rule.detection.parsed_condition[0].parse(postprocess=False)
    marked = set(rule_file.every_element)
    args = parsed.args if isinstance(parsed, ConditionAND) else [parsed]
    kept = [
        arg
        for arg in args
        if not (
            isinstance(arg, ConditionNOT)
            and isinstance(arg.args[0], ConditionIdentifier)
            and arg.args[0].identifier in marked
        )
    ]
    return " and ".join(f"({unparse(arg)})" for arg in kept)


def base_rule(rule_file: RuleFile) -> SigmaRule:
    return rule_file.fresh(condition=base_condition(rule_file))


def element_tests(rule_file: RuleFile, pipeline: ProcessingPipeline) -> list[ElementTest]:
    """Each marked detection, after the target's pipeline mapped and filled it."""
    tests = []
    for name in rule_file.every_element:
        rule = rule_file.fresh(condition=name)
        pipeline.apply(rule)
        tree = rule.detection.detections[name].postprocess(rule.detection)
        fields: list[str] = []
        values: list[SigmaType] = []
        seen: set[str] = set()
        for leaf in _leaves(tree):
            if leaf.field not in fields:
                fields.append(leaf.field)
            key = f"{type(leaf.value).__name__}:{leaf.value}"
            if key not in seen:
                seen.add(key)
                values.append(leaf.value)
        tests.append(ElementTest(name, tuple(fields), tuple(values)))
    return tests


def _leaves(node: Any) -> list[ConditionFieldEqualsValueExpression]:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return [node]
    if isinstance(node, ConditionOR):
        return [leaf for arg in node.args for leaf in _leaves(arg)]
    raise Unconvertible(f"unsupported element in an every-element detection: {type(node).__name__}")
