"""The Splunk compiler: pySigma's Splunk backend, and ``mvfilter`` for every-element rules."""

from __future__ import annotations

from dataclasses import replace

from sigma.backends.splunk.splunk import SplunkBackend
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import SigmaString

from sigma_ext.build.every_element import ElementTest
from sigma_ext.build.quoting import spl_string, spl_value
from sigma_ext.build.result import Compiled, Reason
from sigma_ext.build.siem_compiler import SiemCompiler, sigma_value_regex
from sigma_ext.content.mappings import conversion_pipeline, state_value
from sigma_ext.content.rules import RuleFile
from sigma_ext.sources.catalogue import Source
from sigma_ext.targets import SPLUNK

SPLUNK_PRELUDE = "splunk_prelude"


class QuotingSplunkBackend(SplunkBackend):
    """pySigma's Splunk backend, refusing a value Splunk cannot hold (``quoting.spl_value``)."""

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        return spl_value(super().convert_value_str(s, state))


class SplunkCompiler(SiemCompiler):
    """Splunk searches; a mapping may set the state ``splunk_prelude``.

    The prelude is the SPL that must run before the rule's own search can see its fields, such
    as ``sourcetype=... | spath input=properties.log`` when the event carries the document as a
    JSON string. The search then reads ``<prelude> | search <rule search>``.
    """

    target = SPLUNK
    language = "spl"
    backend_class = QuotingSplunkBackend

    def compile(self, rule_file: RuleFile, source: Source) -> Compiled:
        compiled = super().compile(rule_file, source)
        prelude = state_value(self.corpus.mapping(self.target.mapping_dir, source), SPLUNK_PRELUDE)
        if prelude is None or compiled.query is None:
            return compiled
        return replace(compiled, query=f"{prelude} | search {compiled.query}")

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
