"""Compiling every rule for every source it runs on and every SIEM target.

The compilers live with their targets (``sigma_ext.build.splunk.compiler``,
``sigma_ext.build.elastic.compiler``); the result type and its statuses in
``sigma_ext.build.result``.
"""

from __future__ import annotations

from sigma.exceptions import SigmaError

from sigma_ext.build.elastic.compiler import ElasticCompiler
from sigma_ext.build.result import Compiled
from sigma_ext.build.siem_compiler import SiemCompiler
from sigma_ext.build.splunk.compiler import SplunkCompiler
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import conversion_pipeline
from sigma_ext.problems import Problem
from sigma_ext.reference.evaluator import UnsupportedConstruct, compile_rule
from sigma_ext.targets import NATIVE

COMPILERS: tuple[type[SiemCompiler], ...] = (SplunkCompiler, ElasticCompiler)


def compile_all(corpus: Corpus) -> list[Compiled]:
    """Every rule for every source it runs on and every SIEM target, in a stable order."""
    compilers = [compiler(corpus) for compiler in COMPILERS]
    return [
        c.compile(rule_file, source)
        for rule_file in corpus.rules
        for source in corpus.sources_of(rule_file)
        for c in compilers
    ]


def check_compilation(corpus: Corpus, results: list[Compiled] | None = None) -> list[Problem]:
    """Every rule that fails to compile for a target because the content is broken.

    ``results`` are the SIEM compilations when the caller already has them.
    """
    problems = [
        Problem(str(c.rule.path), None, f"{c.target.name}/{c.source.name}: {reason}")
        for c in (compile_all(corpus) if results is None else results)
        if c.status == "error"
        for reason in c.reasons
    ]
    for rule_file in corpus.rules:
        for source in corpus.sources_of(rule_file):
            mapping = corpus.mapping(NATIVE.mapping_dir, source)
            try:
                rule = rule_file.fresh()
                conversion_pipeline(mapping, corpus.profile).apply(rule)
                compile_rule(rule, rule_file.every_element)
            except (SigmaError, UnsupportedConstruct) as error:
                message = str(error.args[0]) if error.args else type(error).__name__
                problems.append(
                    Problem(str(rule_file.path), None, f"{NATIVE.name}/{source.name}: {message}")
                )
    return sorted(problems)
