"""Packaging: the wheel carries the content kept at the repository root.

Rules, correlations, mappings, profiles and fixtures stay at the repository root, where
detection engineers look for them (the SigmaHQ layout; the paths the docs, ``sigma convert -p
mappings/...`` and every fixture's expectations use). Building a wheel copies them into
``sigma_ext/shipped/``, where ``sigma_ext.content.locate`` finds them once installed; an
editable install reads the checkout itself.

Four small C extensions are built here from source with the machine's C compiler: the fast
hunt's line prefilter (``sigma_ext/hunt/fast/_prefilter.c``), its splitter of batch documents
(``sigma_ext/hunt/_batch_split.c``), its automaton over text log lines
(``sigma_ext/hunt/fast/_line_dfa.c``) and the JSON decoder's hooks
(``sigma_ext/sources/_json_hooks.c``). All are optional: without a compiler the install goes
on, the fast hunt reads every line with DuckDB instead, batch documents are read by the Python
reader, and the hooks are the Python functions they copy (the same output, slower).
Everything else is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# folder -> the file suffixes it ships (anything else in it, such as editor files, stays behind)
CONTENT = {
    "rules": (".yml",),
    "mappings": (".yml", ".md"),
    "profiles": (".yml",),
    "correlations": (".yml",),
    "fixtures": (".jsonl", ".log", ".yml", ".md"),
}
SHIPPED = Path("sigma_ext", "shipped")


class BuildPyWithContent(build_py):  # type: ignore[misc]
    """``build_py`` that also copies the content folders into ``sigma_ext/shipped/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads rules/, mappings/, ... from the checkout
        target = Path(self.build_lib) / SHIPPED
        shutil.rmtree(target, ignore_errors=True)
        for folder, suffixes in CONTENT.items():
            files = sorted(p for p in (HERE / folder).rglob("*") if p.is_file())
            for path in files:
                if path.suffix in suffixes:
                    copy = target / path.relative_to(HERE)
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, copy)


PREFILTER = Extension(
    "sigma_ext.hunt.fast._prefilter",
    sources=["sigma_ext/hunt/fast/_prefilter.c"],
    extra_compile_args=["-O2"],
    optional=True,
)

BATCH_SPLIT = Extension(
    "sigma_ext.hunt._batch_split",
    sources=["sigma_ext/hunt/_batch_split.c"],
    extra_compile_args=["-O2"],
    optional=True,
)

LINE_DFA = Extension(
    "sigma_ext.hunt.fast._line_dfa",
    sources=["sigma_ext/hunt/fast/_line_dfa.c"],
    extra_compile_args=["-O2"],
    optional=True,
)

JSON_HOOKS = Extension(
    "sigma_ext.sources._json_hooks",
    sources=["sigma_ext/sources/_json_hooks.c"],
    extra_compile_args=["-O2"],
    optional=True,
)

setup(
    cmdclass={"build_py": BuildPyWithContent},
    ext_modules=[PREFILTER, BATCH_SPLIT, LINE_DFA, JSON_HOOKS],
)
