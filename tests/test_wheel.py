"""The package as a team installs it: a wheel built from a clean copy of this checkout, installed
into a fresh virtual environment, used from folders that hold no content of their own.

Slow (a wheel, a venv; offline: the build backend and the dependencies are this environment's,
and ``pip check`` proves the wheel's declared dependencies hold): marked ``wheel``
and built once per session, by the one xdist worker that runs these tests (tests/scheduling.py);
``-m "not wheel"`` leaves these out of a quick local run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from sigma_ext.build.splunk.tuning_modes import DEFAULT_TUNING
from sigma_ext.content.locate import CONFIG_NAME
from sigma_ext.sources.catalogue import SOURCES
from sigma_ext.targets import MAPPING_DIRS

from .conftest import ROOT, Builds
from .test_content_repository import SAMPLE

pytestmark = pytest.mark.wheel


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path

    def run(self, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        return subprocess.run(
            [str(self.bin / "sigma-ext"), *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def clean_copy(destination: Path) -> Path:
    """The checkout's files as a clone would have them: tracked and new files, never ignored
    ones (no build/, .venv/, egg-info), with their content as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = ROOT / relative
        if source.is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / relative)
    return destination


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to copy cleanly")
    work = tmp_path_factory.mktemp("wheel")
    clone = clean_copy(work / "clone")
    wheels = work / "wheels"
    # offline: the build backend is this environment's (the dev extra pins the one
    # pyproject.toml names), no package index is asked
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    offline = ["--no-index", "--no-deps"]
    build: list[str | Path] = ["wheel", "-q", *offline, "--no-build-isolation", "-w", wheels, clone]
    subprocess.run([*pip, *build], check=True)
    (wheel,) = wheels.glob("sigma_ext-*.whl")
    venv = work / "venv"
    python = venv / "bin" / "python"
    # a venv of its own, filled by this pip (--python): seeding it with pip costs seconds
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    install: list[str | Path] = ["install", "-q", "--no-compile", *offline, wheel]
    subprocess.run([*pip, "--python", python, *install], check=True)
    # its dependencies are this environment's, on its path after its own packages (a .pth
    # line adds a folder without reading the .pth files in it: the checkout's editable
    # install stays out); pip check then proves the wheel's declared dependencies hold there
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (Path(site) / "sigma_ext_test_dependencies.pth").write_text("\n".join(ours) + "\n")
    checked = subprocess.run([*pip, "--python", python, "check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = subprocess.run(
        [python, "-c", "import sigma_ext; print(sigma_ext.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
    ).stdout
    assert Path(found).is_relative_to(site), f"sigma_ext comes from {found}, not the wheel"
    return Installed(wheel, venv / "bin")


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_the_wheel_carries_rules_mappings_profiles_fixtures_and_templates(
    installed: Installed,
) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    shipped = "sigma_ext/shipped/"
    rules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "rules").rglob("*.yml")}
    assert {shipped + r for r in rules} <= names
    assert {
        f"{shipped}mappings/{target}/{source.name}.yml"
        for target in MAPPING_DIRS
        for source in SOURCES
    } <= names
    assert f"{shipped}profiles/example.yml" in names
    assert f"{shipped}fixtures/kubernetes_audit/malicious_creators.expect.yml" in names
    assert "sigma_ext/data/scaffold/sample_rule.yml" in names
    assert "sigma_ext/data/documents/splunk/kubernetes_audit.yml" in names


NATIVE = (
    "sigma_ext.hunt.fast._prefilter",
    "sigma_ext.hunt.fast._line_dfa",
    "sigma_ext.hunt._batch_split",
    "sigma_ext.sources._json_hooks",
)
"""The optional C extensions setup.py builds."""


def test_the_wheel_carries_each_extension_this_machine_builds_and_loads_it(
    installed: Installed,
) -> None:
    # (a machine without a C compiler builds none: the checkout's install shows which it built)
    built = [name for name in NATIVE if importlib.util.find_spec(name) is not None]
    assert built, "no extension is built in this checkout"
    names = zipfile.ZipFile(installed.wheel).namelist()
    for name in built:
        stem = name.replace(".", "/") + "."
        assert any(n.startswith(stem) and n.endswith((".so", ".pyd")) for n in names), name
    loaded = subprocess.run(  # (not from the checkout: cwd is first on a -c script's path)
        [
            installed.bin / "python",
            "-c",
            "import importlib\n"
            f"for name in {built!r}: print(importlib.import_module(name).__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=installed.wheel.parent,
    )
    assert loaded.returncode == 0, loaded.stderr
    venv = installed.bin.parent
    assert all(Path(f).is_relative_to(venv) for f in loaded.stdout.split()), loaded.stdout


def test_check_in_an_empty_folder_uses_the_installed_content(
    installed: Installed, empty: Path
) -> None:
    done = installed.run(empty, "check")
    assert done.returncode == 0, done.stderr
    shipped_rules = len(list((ROOT / "rules").rglob("*.yml")))
    mappings = len(MAPPING_DIRS) * len(SOURCES)
    assert done.stdout.startswith(f"ok: {shipped_rules} rules, {mappings} mappings, profile ")
    shipped = installed.bin.parent.resolve()
    assert f"content: the content shipped with sigma-ext ({shipped}/lib/" in done.stdout


def test_hunt_a_fixture_from_an_empty_folder_prints_hits(installed: Installed, empty: Path) -> None:
    fixture = ROOT / "fixtures" / "kubernetes_audit" / "malicious_registries.jsonl"
    done = installed.run(empty, "hunt", str(fixture))
    assert done.returncode == 0, done.stderr
    hits = [json.loads(line) for line in done.stdout.splitlines()]
    expected = (
        ROOT / "fixtures" / "kubernetes_audit" / "malicious_registries.expect.yml"
    ).read_text()
    assert hits
    assert {hit["rule"] for hit in hits} <= {
        line.strip()[2:] for line in expected.splitlines() if line.strip().startswith("- ")
    }
    assert "kubernetes_audit_pod_or_workload_image_from_unapproved_registry" in {
        hit["rule"] for hit in hits
    }


def test_build_from_an_empty_folder_writes_what_the_checkout_builds(
    installed: Installed, empty: Path, example_builds: Builds
) -> None:
    """The checkout's build: the run's shared one of the example profile in the default tuning
    mode, which is what ``sigma-ext build --root <checkout>`` writes."""
    done = installed.run(empty, "build")
    assert done.returncode == 0, done.stderr
    out = empty / "out" / "siem"
    assert (out / "splunk" / "sigma_ext_container_creation-0.1.0.tgz").is_file()
    assert (out / "elastic" / "detection-rules.ndjson").is_file()

    def tree(folder: Path) -> dict[str, bytes]:
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()
        }

    assert tree(out) == tree(example_builds[DEFAULT_TUNING])


def test_init_then_check_test_build_in_the_new_repository(
    installed: Installed, empty: Path
) -> None:
    done = installed.run(empty, "init", "myrules")
    assert done.returncode == 0, done.stderr
    repo = empty / "myrules"
    assert (repo / CONFIG_NAME).is_file()
    outputs = []
    for argv in (["check"], ["test"], ["build"]):
        done = installed.run(repo, *argv)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        outputs.append(done.stdout)
    shipped_rules = len(list((ROOT / "rules").rglob("*.yml")))
    assert outputs[0].startswith(f"ok: {shipped_rules + 1} rules ({shipped_rules} shipped, 1 own)")
    assert outputs[1].splitlines()[-1] == "4 passed, 0 failed"
    assert (repo / "out" / "siem" / "splunk" / "spl" / f"{SAMPLE}.spl").is_file()
    assert (repo / "out" / "siem" / "elastic" / "detection-rules.ndjson").is_file()
