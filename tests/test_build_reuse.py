"""A build given the corpus's compilations (``build(..., results=)``, for several builds of one
corpus) writes what a build that makes them writes, and checks them the same way."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sigma_ext.build.folder import build
from sigma_ext.build.result import Compiled, Reason
from sigma_ext.content.corpus import Corpus
from sigma_ext.problems import ProblemsFound

from .conftest import Builds


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_build_given_the_compilations_is_byte_identical(
    corpus: Corpus, compiled: list[Compiled], example_builds: Builds, tmp_path: Path
) -> None:
    made = build(corpus, tmp_path / "out", "macros", results=compiled)
    assert made.results is compiled
    assert _files(made.out) == _files(example_builds["macros"])


def test_a_content_error_in_the_given_compilations_fails_the_build(
    corpus: Corpus, compiled: list[Compiled], tmp_path: Path
) -> None:
    results = list(compiled)
    index = next(i for i, c in enumerate(results) if c.status == "ok")
    reason = Reason("content_error", "a content error the caller's compilation found")
    results[index] = replace(results[index], status="error", reasons=(reason,), query=None)
    with pytest.raises(ProblemsFound) as raised:
        build(corpus, tmp_path / "out", "macros", results=results)
    assert any(reason.text in p.message for p in raised.value.problems)
    assert not (tmp_path / "out").exists()
