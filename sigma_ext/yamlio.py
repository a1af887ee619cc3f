"""Safe YAML loading that remembers where every key and item stands.

Only the safe loader is used (``SAFE_LOADER``: libyaml's ``CSafeLoader`` when PyYAML was built
with it, as its wheels are, else ``SafeLoader``; the same YAML, about ten times faster), so
nothing in a rule, mapping, profile or fixture file can execute code. Each file is parsed once.
``load_located`` returns the data together with the line of every node, keyed by its path from
the root (``("approved_registries", 3)``), so that a schema error can name a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sigma_ext.problems import Problem

NodePath = tuple[str | int, ...]

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with ``SAFE_LOADER``."""
    return yaml.load(text, Loader=SAFE_LOADER)


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree and its data, from one parse."""
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


@dataclass(frozen=True)
class Located:
    """A YAML document and the 1-based line of each node in it."""

    path: Path
    data: Any
    lines: dict[NodePath, int]

    def line_of(self, node_path: NodePath) -> int:
        """The line of the node, or of its nearest ancestor that has one."""
        probe = tuple(node_path)
        while probe not in self.lines and probe:
            probe = probe[:-1]
        return self.lines.get(probe, 1)


def _walk(node: yaml.Node, here: NodePath, lines: dict[NodePath, int]) -> None:
    lines[here] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            lines[(*here, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*here, key), lines)
            lines[(*here, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*here, index), lines)


def load_located(path: Path) -> Located:
    """Read one YAML document; a syntax error raises YAMLProblem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise YAMLProblem(Problem(str(path), None, f"cannot read file: {error}")) from error
    try:
        node, data = _compose_and_construct(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YAMLProblem(
            Problem(str(path), line, f"invalid YAML: {error.problem or error.context}")
        ) from error
    except yaml.YAMLError as error:
        raise YAMLProblem(Problem(str(path), None, f"invalid YAML: {error}")) from error
    lines: dict[NodePath, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return Located(path, data, lines)


class YAMLProblem(Exception):
    """A YAML file that cannot be read or parsed."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem
