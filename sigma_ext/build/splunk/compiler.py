"""The Splunk compiler: pySigma's Splunk backend, ``mvfilter`` for every-element rules, and the
triage table every search ends in."""

from __future__ import annotations

import re
from dataclasses import replace

from sigma.backends.splunk.splunk import SplunkBackend
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import SigmaString

from sigma_ext.build.every_element import ElementTest
from sigma_ext.build.quoting import spl_string, spl_value
from sigma_ext.build.result import Compiled, Reason
from sigma_ext.build.siem_compiler import SiemCompiler, sigma_value_regex
from sigma_ext.build.splunk.triage import triage_stages
from sigma_ext.build.string_values import PlainStrings
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.content.rules import RuleFile
from sigma_ext.sources.catalogue import Source
from sigma_ext.targets import SPLUNK

_UNMATCHED = re.compile(r"\beval (sigma_ext_unmatched_[0-9]+)=")


class QuotingSplunkBackend(PlainStrings, SplunkBackend):
    """pySigma's Splunk backend, refusing a value Splunk cannot hold (``quoting.spl_value``)."""

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        return spl_value(super().convert_value_str(s, state))


class SplunkCompiler(SiemCompiler):
    """Splunk searches, each ending in its source's triage table (``triage.py``).

    A mapping whose events need SPL before the rule's own search can see their fields (such as
    ``sourcetype=... | spath input=properties.log`` when the event carries the document as a
    JSON string) puts that prelude in its pySigma ``postprocessing`` (an ``embed`` prefix), so
    that plain sigma-cli writes the same search.
    """

    target = SPLUNK
    language = "spl"
    backend_class = QuotingSplunkBackend

    def compile(self, rule_file: RuleFile, source: Source) -> Compiled:
        compiled = super().compile(rule_file, source)
        if compiled.query is None:
            return compiled
        unmatched = tuple(_UNMATCHED.findall(compiled.query))
        triage = triage_stages(source.name, compiled.output_id, unmatched)
        return replace(compiled, query=f"{compiled.query} | {triage}")

    def render_every_element(
        self, rule_file: RuleFile, source: Source, base: SigmaRule, tests: list[ElementTest]
    ) -> tuple[str, list[Reason], str]:
        """``mvfilter`` keeps the pooled elements that match no approved value."""
        mapping = self.corpus.mapping(self.target.mapping_dir, source)
        stages = [self._convert(base, conversion_pipeline(mapping, self.corpus.profile))]
        for number, test in enumerate(tests, start=1):
            pool, left = f"sigma_ext_elements_{number}", f"sigma_ext_unmatched_{number}"
            fields = ", ".join(f"'{name}'" for name in test.fields)
            regex = "|".join(sigma_value_regex(value) for value in test.values)
            stages += [
                f"eval {pool}=mvappend({fields})",
                f"eval {left}=mvfilter(NOT match({pool}, {spl_string(regex)}))",
                f"where mvcount({left}) > 0",
            ]
        return " | ".join(stages), [], self.language
