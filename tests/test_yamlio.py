"""YAML is read with libyaml's safe loader where PyYAML has it; it must read every file of the
repository exactly as PyYAML's pure-Python safe loader does, data and lines alike."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from sigma_ext import yamlio
from sigma_ext.yamlio import SAFE_LOADER, YAMLProblem, load_located

ROOT = Path(__file__).resolve().parent.parent


def _yaml_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.yml", "*.yaml"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # correlations/ holds Sigma multi-document files (base rules, then the correlation), which
    # pySigma reads, not load_located
    return [ROOT / name for name in listed if not name.startswith("correlations/")]


def test_the_fast_loader_is_libyaml_when_pyyaml_has_it() -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml: the pure-Python loader is the only one")
    loader: object = SAFE_LOADER  # typed as the pure-Python loader, which it may stand for
    assert loader is yaml.CSafeLoader


def test_every_yaml_file_reads_the_same_with_both_loaders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = _yaml_files()
    assert len(files) > 50
    fast = {path: load_located(path) for path in files}
    monkeypatch.setattr(yamlio, "SAFE_LOADER", yaml.SafeLoader)
    offenders = []
    for path, located in fast.items():
        pure = load_located(path)
        if (located.data, located.lines) != (pure.data, pure.lines):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"read differently by libyaml: {offenders}"


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("title: t\ndetection:\n  sel: {verb: [create\n  condition: sel\n")
    with pytest.raises(YAMLProblem) as error:
        load_located(broken)
    assert error.value.problem.path == str(broken)
    assert error.value.problem.line == 4
