"""Compiling every rule for every source it runs on and every SIEM target.

The compilers live with their targets (``sigma_ext.build.splunk.compiler``,
``sigma_ext.build.elastic.compiler``); the result type and its statuses in
``sigma_ext.build.result``.
"""

from __future__ import annotations

from sigma_ext.build.elastic.compiler import ElasticCompiler
from sigma_ext.build.result import Compiled
from sigma_ext.build.siem_compiler import SiemCompiler
from sigma_ext.build.splunk.compiler import SplunkCompiler
from sigma_ext.content.corpus import Corpus
from sigma_ext.content.mappings import compile_problems
from sigma_ext.problems import Problem
from sigma_ext.reference.engine import NativeCompilation, compile_native

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


def check_compilation(
    corpus: Corpus,
    results: list[Compiled] | None = None,
    native: NativeCompilation | None = None,
) -> list[Problem]:
    """Every rule that fails to compile for a target because the content is broken.

    ``results`` are the SIEM compilations and ``native`` the native one (``compile_native``,
    which the reference engine also runs) when the caller already has them.
    """
    problems = [
        problem  # at the line of the field at fault, naming it, where there is one
        for c in (compile_all(corpus) if results is None else results)
        if c.status == "error"
        for reason in c.why
        for problem in compile_problems(
            c.rule,
            corpus.mapping(c.target.mapping_dir, c.source),
            f"{c.target.name}/{c.source.name}",
            reason,
        )
    ]
    problems += (compile_native(corpus) if native is None else native).problems
    return sorted(problems)
