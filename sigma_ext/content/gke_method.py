"""A pySigma transformation that reads the Kubernetes rules' request fields out of a GKE entry's
method name, for SIEMs that store ``protoPayload.methodName`` as one keyword (Elastic's
``event.action``: ``io.k8s.core.v1.pods.create``, ``io.k8s.core.v1.pods.exec.create``).

Each detection item is rewritten on its own, so the rule's AND and OR still hold:

* ``verb: V`` becomes a regular expression on the method name ending in ``.V``;
* ``objectRef.resource: R`` one with ``R`` as the component after the version;
* ``objectRef.subresource: null`` one with only the verb after the resource, and
  ``objectRef.subresource: S`` one with ``S`` between the resource and the verb;
* ``responseStatus.code``: GKE logs no HTTP status, so as in ``decode_gke_audit_entry`` a success
  (no status code, or 0) is 201 for a create and 200 otherwise: ``201`` alone becomes "a success
  whose method ends in ``.create``", any list with 200 "a success" (the rules that accept 200 name
  the verbs themselves).

The version component (``v1``, ``v1beta1``) anchors each expression, as it anchors the source's
decode (``GKE_METHOD``): a group may be one component (``core``, ``apps``) or several
(``io.k8s.authorization.rbac.v1.clusterrolebindings.patch``). Values are compared in lower
case, since method names are (which is Sigma's case-insensitive match). The regular expressions
use only what Lucene's RegExp and RE2 read the same way (no anchors, no ``(?:``: Lucene matches
the whole term). Mappings name it ``sigma_ext_gke_method``; ``register`` adds it
to pySigma's table of transformation types before a mapping is loaded: sigma-ext calls it when it
loads a mapping, and the plugin module ``sigma.pipelines.sigma_ext`` calls it when pySigma (or
sigma-cli) discovers plugins, so plain ``sigma convert -p`` loads the GKE mapping too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sigma.processing.transformations import transformations
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaNull, SigmaNumber, SigmaRegularExpression, SigmaString

NAME = "sigma_ext_gke_method"
_PART = "[^.]+"
# io.k8s.<group components>.<version>. : everything before the resource
_PREFIX = r"io\.k8s\.([^.]+\.)*v[0-9]+((alpha|beta)[0-9]+)?\."


def _alternatives(values: list[Any]) -> str:
    words = []
    for value in values:
        if not isinstance(value, SigmaString) or value.contains_special():
            raise ValueError(f"{NAME}: only plain strings can be read from the method name")
        words.append(re.escape(str(value).lower()))
    return words[0] if len(words) == 1 else "(" + "|".join(words) + ")"


@dataclass
class GkeMethodNameTransformation(DetectionItemTransformation):
    """Rewrites verb, resource, subresource and status items as tests of the method name."""

    method_field: str = "event.action"
    status_field: str = "gcp.audit.status.code"

    def _method(self, regex: str) -> SigmaDetectionItem:
        return SigmaDetectionItem(self.method_field, [], [SigmaRegularExpression(regex)])

    def _success(self) -> SigmaDetectionItem:
        return SigmaDetectionItem(self.status_field, [], [SigmaNull(), SigmaNumber(0)])

    def apply_detection_item(
        self, detection_item: SigmaDetectionItem
    ) -> SigmaDetection | SigmaDetectionItem | None:
        field, values = detection_item.field, list(detection_item.value)
        if field == "verb":
            return self._method(rf"{_PREFIX}{_PART}\.({_PART}\.)?{_alternatives(values)}")
        if field == "objectRef.resource":
            return self._method(rf"{_PREFIX}{_alternatives(values)}\.({_PART}\.)?{_PART}")
        if field == "objectRef.subresource":
            if all(isinstance(v, SigmaNull) for v in values):
                return self._method(rf"{_PREFIX}{_PART}\.{_PART}")
            return self._method(rf"{_PREFIX}{_PART}\.{_alternatives(values)}\.{_PART}")
        if field == "responseStatus.code":
            codes = {int(v.number) for v in values if isinstance(v, SigmaNumber)}
            if codes == {201}:
                create = rf"{_PREFIX}{_PART}\.({_PART}\.)?create"
                return SigmaDetection([self._success(), self._method(create)])
            if 200 in codes:
                return self._success()
            raise ValueError(f"{NAME}: status {sorted(codes)} cannot be read from a GKE entry")
        return None


def register() -> None:
    """Make the transformation known to pySigma's pipeline loader (idempotent)."""
    transformations.setdefault(NAME, GkeMethodNameTransformation)
