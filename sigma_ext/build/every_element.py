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
    ConditionOR,
    ConditionSelector,
)
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import SigmaType

from sigma_ext.build.result import Unconvertible
from sigma_ext.condition_tree import Fold, conjuncts, fold, leaves, negated_detection
from sigma_ext.content.rules import RuleFile


@dataclass(frozen=True)
class ElementTest:
    """Pool the values of ``fields``; an element passes when it matches any of ``values``."""

    name: str
    fields: tuple[str, ...]
    values: tuple[SigmaType, ...]


def _cannot_write(node: Any) -> str:
    raise Unconvertible(f"cannot write condition element {type(node).__name__}")


def _quantified(node: ConditionSelector) -> str:
    return f"{'1' if node.cond_class is ConditionOR else 'all'} of {node.pattern}"


_AS_TEXT = Fold[str](
    all_of=lambda parts: " and ".join(f"({part})" for part in parts),
    any_of=lambda parts: " or ".join(f"({part})" for part in parts),
    negate=lambda part: f"not ({part})",
    identifier=str,
    selector=_quantified,
    other=_cannot_write,
)


def unparse(node: Any) -> str:
    """Write a parsed (not postprocessed) Sigma condition back as text."""
    return fold(node, _AS_TEXT)


def base_condition(rule_file: RuleFile) -> str:
    """The rule's condition without its ``not <every-element detection>`` conjuncts."""
    # parsing without postprocessing reads the rule and changes nothing: the parsed rule will do
    parsed = rule_file.parsed.detection.parsed_condition[0].parse(postprocess=False)
    marked = set(rule_file.every_element)
    kept = [arg for arg in conjuncts(parsed) if negated_detection(arg) not in marked]
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
        found = leaves(tree, (ConditionOR,))
        if found is None:
            raise Unconvertible(
                f"unsupported element in the every-element detection {name!r}: "
                "it may only be an OR of field values"
            )
        for leaf in found:
            if leaf.field not in fields:
                fields.append(leaf.field)
            key = f"{type(leaf.value).__name__}:{leaf.value}"
            if key not in seen:
                seen.add(key)
                values.append(leaf.value)
        tests.append(ElementTest(name, tuple(fields), tuple(values)))
    return tests
