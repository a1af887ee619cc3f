"""What a rule needs an event to carry before it can fire: a formula over field presence.

The formula follows the rule's condition over its processed detections (field names as the native
mapping names them): a field compared with a value must be present; AND needs every part, OR any
part; a null test of a nested field needs the top-level object that would hold it (``requestObject``
for ``requestObject.metadata.ownerReferences``: only the object can say it has no owner), and a
keyword search needs nothing; a setting of the request body other than an image
(``requestObject.spec....securityContext.privileged``, ``hostNetwork``, ``hostPath.path``) needs
only the body, because a body without the setting states its default (not privileged, no host
namespace), which is no blindness; a negated part needs nothing either, except a
``match_every_element`` detection (an allowlist of images): "every image is approved" holds of an
event with no image at all, so such a rule is blind unless one of its fields is present. It is kept
in disjunctive form: a set of alternatives, each a set of fields that together let the rule fire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import product
from typing import Any

from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.rule import SigmaRule
from sigma.types import SigmaNull

from sigma_ext.condition_tree import Fold, fold, fold_condition, negated_detection

Alternatives = frozenset[frozenset[str]]
NOTHING: Alternatives = frozenset({frozenset()})


def _minimal(alternatives: Iterable[frozenset[str]]) -> Alternatives:
    """Drop every alternative that holds another one (it asks for more to allow the same)."""
    unique = sorted(set(alternatives), key=lambda a: (len(a), sorted(a)))
    kept: list[frozenset[str]] = []
    for alternative in unique:
        if not any(other <= alternative for other in kept):
            kept.append(alternative)
    return frozenset(kept)


def _all(parts: list[Alternatives]) -> Alternatives:
    return _minimal(frozenset().union(*combo) for combo in product(*parts))


def _any(parts: list[Alternatives]) -> Alternatives:
    return _minimal(alternative for part in parts for alternative in part)


def _defaulted_setting(field: str) -> bool:
    """A pod-spec setting whose absence from a logged request body means its default."""
    return field.startswith("requestObject.spec.") and not field.endswith(".image")


def needed_fields(rule: SigmaRule, every_element: tuple[str, ...] = ()) -> Alternatives:
    """The presence formula of a rule its pipeline has already processed."""
    detections = rule.detection

    def present(node: ConditionFieldEqualsValueExpression) -> Alternatives:
        if isinstance(node.value, SigmaNull):
            # "no owner" is said by the object that would hold one
            top = node.field.split(".", 1)[0]
            return NOTHING if top == node.field else frozenset({frozenset({top})})
        if _defaulted_setting(node.field):
            return frozenset({frozenset({node.field.split(".", 1)[0]})})
        return frozenset({frozenset({node.field})})

    # inside a detection: a negated part or a keyword search needs nothing
    fields = Fold[Alternatives](all_of=_all, any_of=_any, leaf=present, other=lambda _: NOTHING)

    def detection(name: str) -> Alternatives:
        return fold(detections.detections[name].postprocess(detections), fields)

    def negated(node: Any) -> Alternatives:
        name = negated_detection(node)
        if name is not None and name in every_element:
            return _any([frozenset({alternative}) for alternative in detection(name)])
        return NOTHING

    return fold_condition(rule, detection, _all, _any, negate=None, other=negated)


def required(alternatives: Alternatives) -> frozenset[str]:
    """The fields every alternative needs."""
    return frozenset.intersection(*alternatives) if alternatives else frozenset()


def carries(alternatives: Alternatives, values: Callable[[str], list[Any]]) -> bool:
    """Whether an event (``values`` of its fields, empty when absent) lets the rule fire."""
    return any(all(values(field) for field in alternative) for alternative in alternatives)
