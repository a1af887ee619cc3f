"""A plain install (no extras) imports every module of sigma_ext.

luqum, the Lucene parser of the query emulators, is the optional extra ``emulate``; the dev
tools are the extra ``dev``. A fresh interpreter with those packages blocked (``None`` in
``sys.modules`` makes their import fail, as if they were not installed) imports every module;
the Lucene emulator then says which extra to install.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from .conftest import ROOT

# the extras' packages as their import names
NOT_IN_A_PLAIN_INSTALL = ("luqum", "hypothesis", "pytest", "splunk_appinspect", "mypy", "ruff")

PROBE = """
import importlib, json, pkgutil, sys
for blocked in sys.argv[1:]:
    sys.modules[blocked] = None
import sigma_ext
walked = pkgutil.walk_packages(sigma_ext.__path__, "sigma_ext.")
names = sorted(m.name for m in walked if m.name != "sigma_ext.__main__")  # __main__ runs the CLI
for name in names:
    importlib.import_module(name)
from sigma_ext.emulate import MissingExtra
from sigma_ext.emulate.lucene import parse
try:
    parse("kubernetes.audit.verb:create")
    error = None
except MissingExtra as missing:
    error = str(missing)
print(json.dumps({"imported": names, "lucene": error}))
"""


def test_the_extras_are_the_packages_blocked_here() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert extras["emulate"] == ["luqum==1.0.0"]
    assert set(extras["emulate"]) <= set(extras["dev"])
    plain = {requirement.split("==")[0] for requirement in project["dependencies"]}
    assert not plain & {"luqum", "hypothesis", "pytest", "splunk-appinspect", "mypy", "ruff"}


def test_every_module_imports_without_the_extras(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *NOT_IN_A_PLAIN_INSTALL],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    modules = {
        ".".join(("sigma_ext", *p.relative_to(ROOT / "sigma_ext").with_suffix("").parts))
        for p in (ROOT / "sigma_ext").rglob("*.py")
        if p.name != "__init__.py" and p.name != "__main__.py"
    }
    assert modules <= set(result["imported"])
    assert result["lucene"] == "the Lucene emulator needs luqum: install sigma-ext[emulate]"


def test_naming_a_result_loads_no_siem_backend() -> None:
    """The renderers and the emulators name a compile result without the pySigma backends."""
    renderers = (
        "sigma_ext.build.result",
        "sigma_ext.build.summary",
        "sigma_ext.build.elastic.kibana",
        "sigma_ext.build.splunk.app",
        "sigma_ext.emulate.verdict",
    )
    probe = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('sigma.backends'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *renderers], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []
    compilers = subprocess.run(
        [sys.executable, "-c", probe, "sigma_ext.build.compile"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(compilers.stdout)  # the probe sees a backend when one is loaded
