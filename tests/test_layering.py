"""The package's layering, as a test: a lower room never imports a higher one.

    cli -> coverage -> {build, hunt, emulate} -> reference -> content -> sources -> basics

Every module of ``sigma_ext`` is parsed with ``ast`` (nothing is imported, so a module that
needs an optional extra is read too) and put in its room by its dotted name. Every ``import``
and ``from ... import`` in it, at any depth (inside functions and ``if TYPE_CHECKING:`` too),
must name a module of the same room or of a lower one. ``build``, ``hunt`` and ``emulate`` are
side by side: none imports another, except that ``emulate`` may import the module that holds the
build's result type (``BUILD_RESULT_MODULE``), so that naming a result does not load every SIEM
compiler, and ``sigma_ext.build.quoting``, the text syntax (how SPL splits into commands) that the
build writes and the emulator reads.

A module that fits no room fails the test too: new code goes into a room (add a new room
here, with its place in the order, when the flows need one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "sigma_ext"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

# Rooms, lowest first. A room's entries are dotted names below ``sigma_ext``; a module belongs
# to the room of the longest entry that is its name or a package above it.
RANK: Mapping[str, int] = {
    "basics": 0,
    "sources": 1,
    "content": 2,
    "reference": 3,
    "build": 4,
    "hunt": 4,
    "emulate": 4,
    "coverage": 5,
    "cli": 6,
}
ROOMS: Mapping[str, str] = {
    "": "basics",  # sigma_ext/__init__.py: the version
    "problems": "basics",
    "yamlio": "basics",
    "targets": "basics",
    "condition_tree": "basics",
    "data": "basics",
    "sources": "sources",
    "content": "content",
    "reference": "reference",
    "build": "build",
    "hunt": "hunt",
    "emulate": "emulate",
    "coverage": "coverage",
    "cli": "cli",
    "__main__": "cli",  # python -m sigma_ext runs the command line
}

# The modules of ``build`` that ``emulate`` may import: the compile result type, and the quoting
# helpers (text syntax, no backend). The result type is
# ``sigma_ext.build.result`` once that module exists; until then the result type still lives in
# ``sigma_ext.build.compile``.
BUILD_RESULT_MODULE = (
    "sigma_ext.build.result"
    if (PACKAGE_DIR / "build" / "result.py").is_file()
    else "sigma_ext.build.compile"
)
SIDE_DOOR: Mapping[tuple[str, str], frozenset[str]] = {
    ("emulate", "build"): frozenset({BUILD_RESULT_MODULE, "sigma_ext.build.quoting"}),
}

MAX_MODULE_LINES = 600
MAX_TOP_LEVEL_ENTRIES = 15


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. sigma_ext.hunt.fast.engine
    path: str  # as shown in a failure, e.g. sigma_ext/hunt/fast/engine.py
    source: str
    is_package: bool  # an __init__.py: relative imports start from the module itself


def package_modules(package_dir: Path = PACKAGE_DIR) -> list[Module]:
    modules = []
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        shown = path.relative_to(package_dir.parent).as_posix()
        modules.append(Module(name, shown, path.read_text(encoding="utf-8"), is_package))
    return modules


def room_of(module: str) -> str | None:
    """The room of a dotted module name inside the package, None for one that fits no room."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    inner = module[len(PACKAGE) + 1 :].split(".") if module != PACKAGE else []
    for depth in range(len(inner), -1, -1):
        room = ROOMS.get(".".join(inner[:depth]))
        if room is not None and (depth > 0 or not inner):
            return room
    return None


def imported_modules(module: Module, known: frozenset[str]) -> Iterable[tuple[int, str]]:
    """(line, dotted name) of every module of the package that ``module`` imports.

    ``from sigma_ext.emulate import esql`` imports sigma_ext.emulate.esql when that is a module,
    and the names from sigma_ext.emulate otherwise.
    """
    for node in ast.walk(ast.parse(module.source, module.path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.name.split(".")
                if not module.is_package:
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield node.lineno, submodule if submodule in known else base


def layering_violations(modules: Iterable[Module]) -> list[str]:
    """Every import that runs against the layering, and every module that fits no room."""
    modules = list(modules)
    known = frozenset(m.name for m in modules)
    found = []
    for module in modules:
        room = room_of(module.name)
        if room is None:
            found.append(f"{module.path}: fits no room; add it to ROOMS in tests/test_layering.py")
            continue
        for line, target in imported_modules(module, known):
            target_room = room_of(target)
            if target_room is None or target_room == room:
                continue  # outside the package, or the same room
            if RANK[target_room] < RANK[room]:
                continue
            if target in SIDE_DOOR.get((room, target_room), frozenset()):
                continue
            found.append(f"{module.path}:{line}: {room} must not import {target}")
    return found


def test_no_module_imports_against_the_layering() -> None:
    assert layering_violations(package_modules()) == []


def test_every_room_holds_modules() -> None:
    """The room table describes the package as it is: each room exists (a rename shows here)."""
    rooms = {room_of(m.name) for m in package_modules()}
    assert rooms == set(RANK)


def test_the_build_result_module_exists() -> None:
    names = {m.name for m in package_modules()}
    assert BUILD_RESULT_MODULE in names


def _synthetic(*modules: tuple[str, str]) -> list[Module]:
    return [
        Module(
            name.removesuffix(".__init__"),
            name.replace(".", "/") + ".py",
            source,
            name.endswith(".__init__"),
        )
        for name, source in modules
    ]


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        pytest.param(
            "sigma_ext.sources.kubernetes",
            "from sigma_ext.content.rules import RuleFile\n",
            ["sigma_ext/sources/kubernetes.py:1: sources must not import sigma_ext.content.rules"],
            id="a source reads a rule (upward)",
        ),
        pytest.param(
            "sigma_ext.yamlio",
            "def later():\n    import sigma_ext.cli.main\n",
            ["sigma_ext/yamlio.py:2: basics must not import sigma_ext.cli.main"],
            id="an import inside a function still counts",
        ),
        pytest.param(
            "sigma_ext.hunt.fast.engine",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from sigma_ext.build.folder import build\n",
            ["sigma_ext/hunt/fast/engine.py:3: hunt must not import sigma_ext.build.folder"],
            id="hunt imports build (siblings)",
        ),
        pytest.param(
            "sigma_ext.build.summary",
            "from sigma_ext.hunt.reference import Hit\n",
            ["sigma_ext/build/summary.py:1: build must not import sigma_ext.hunt.reference"],
            id="build imports hunt (siblings)",
        ),
        pytest.param(
            "sigma_ext.emulate.verdict",
            "from sigma_ext.build.splunk.app import app_files\n",
            ["sigma_ext/emulate/verdict.py:1: emulate must not import sigma_ext.build.splunk.app"],
            id="emulate imports more of build than the result",
        ),
        pytest.param(
            "sigma_ext.reference.evaluator",
            "from ..hunt.fast import engine\n",
            [
                "sigma_ext/reference/evaluator.py:1: reference must not import sigma_ext.hunt.fast.engine"
            ],
            id="a relative import upward",
        ),
        pytest.param(
            "sigma_ext.content.__init__",
            "from .. import cli\n",
            ["sigma_ext/content/__init__.py:1: content must not import sigma_ext.cli"],
            id="a package's relative import upward",
        ),
        pytest.param(
            "sigma_ext.helpers",
            "import os\n",
            ["sigma_ext/helpers.py: fits no room; add it to ROOMS in tests/test_layering.py"],
            id="a module outside every room",
        ),
    ],
)
def test_the_checker_finds_an_import_against_the_layering(
    name: str, source: str, expected: list[str]
) -> None:
    modules = _synthetic(
        (name, source),
        ("sigma_ext.content.rules", ""),
        ("sigma_ext.cli.main", ""),
        ("sigma_ext.cli.__init__", ""),
        ("sigma_ext.build.folder", ""),
        ("sigma_ext.build.splunk.app", ""),
        ("sigma_ext.hunt.reference", ""),
        ("sigma_ext.hunt.fast.engine", ""),
    )
    assert layering_violations(modules) == expected


@pytest.mark.parametrize(
    ("name", "source"),
    [
        pytest.param("sigma_ext.cli.hunt", "from sigma_ext.hunt.fast.engine import FastHunt\n", id="cli imports hunt"),
        pytest.param("sigma_ext.emulate.verdict", f"from {BUILD_RESULT_MODULE} import Compiled\n", id="emulate names the result"),
        pytest.param("sigma_ext.reference.engine", "from sigma_ext.content.corpus import Corpus\n", id="reference reads content"),
        pytest.param("sigma_ext.sources.catalogue", "from . import docker\nfrom ..problems import Problem\n", id="relative, same room and basics"),
        pytest.param("sigma_ext.build.folder", "from sigma_ext import __version__\nimport duckdb\n", id="the package's version and a library"),
    ],
)  # fmt: skip
def test_the_checker_lets_a_downward_import_through(name: str, source: str) -> None:
    modules = _synthetic(
        (name, source),
        ("sigma_ext.hunt.fast.engine", ""),
        ("sigma_ext.content.corpus", ""),
        ("sigma_ext.sources.docker", ""),
        ("sigma_ext.problems", ""),
        (BUILD_RESULT_MODULE, ""),
    )
    assert layering_violations(modules) == []


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        m.path: lines
        for m in package_modules()
        if (lines := len(m.source.splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_top_level_stays_small() -> None:
    """Rooms and basics only; ``py.typed`` is PEP 561's marker, which must sit there."""
    entries = sorted(
        p.name for p in PACKAGE_DIR.iterdir() if p.name not in ("__pycache__", "py.typed")
    )
    assert len(entries) <= MAX_TOP_LEVEL_ENTRIES, entries
