"""Planning: the JSON shape a source's rules read, and its fields as SQL over that shape.

A ``SourcePlan`` collects, for one fast source, the fields its rules read, the tree of JSON
keys under each top-level key (``ShapeNode``, with the arrays its ``FastPath`` declares), and
renders each field as the columns a layer of the scan computes once per row: its values, and
whether they are undecidable (off the shape, or a value the SQL cannot judge as Python does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sigma.rule import SigmaRule

from sigma_ext.content.rules import RuleFile
from sigma_ext.hunt.fast.duckdb_backend import VALUE_GUARD, FieldSql, sql_string
from sigma_ext.hunt.fast.recognizers import FastPath
from sigma_ext.sources.catalogue import Source


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _json_key(key: str) -> str:
    return re.escape(json.dumps(key, ensure_ascii=False)[1:-1])


# Lines of newline-joined values, one of which may be a value ``sx_unsure`` finds: an object
# or array, or text a DOUBLE cast may read as infinite or NaN.
MAYBE_UNSURE = "(?m)^(?:[{\\[]|-?(?i:inf|nan)|-?[0-9.][0-9.eE+\\-_ \\t]*$)"


# The typed scan's text guard, once per candidate row: any value with a character outside
# printable ASCII makes every field of the row undecidable (``sx_unprintable`` per value in
# the exact scan).
TYPED_TEXT_GUARD = "coalesce(regexp_matches(concat_ws(' ', {texts}), '[^ -~]'), FALSE)"


@dataclass
class ShapeNode:
    """One node of the JSON shape a source's rules read below a top-level key."""

    array: bool = False
    children: dict[str, ShapeNode] = field(default_factory=dict)

    def structure(self) -> Any:
        """The ``json_transform`` structure of this node."""
        inner: Any = (
            {key: child.structure() for key, child in self.children.items()}
            if self.children
            else "VARCHAR"
        )
        return [inner] if self.array else inner

    def shape_nodes(self, key: str) -> list[tuple[str, bool, bool]]:
        """(key, is array, has children) for this node under ``key`` and every node below it."""
        nodes = [(key, self.array, bool(self.children))]
        for child_key, child in self.children.items():
            nodes += child.shape_nodes(child_key)
        return nodes


@dataclass
class SourcePlan:
    """One fast source in a scan: its rules (index among all rules, file, processed rule), the
    columns they read (``prefix`` keeps each source's own columns apart), the shape under each
    top-level key (``roots``) and each field's top-level key and dotted spellings (``fields``).
    ``typed`` renders the fields for the typed scan, which reads subtrees already transformed."""

    source: Source
    path: FastPath
    prefix: str
    rules: list[tuple[int, RuleFile, SigmaRule]]
    columns: set[str] = field(default_factory=set)
    roots: dict[str, ShapeNode] = field(default_factory=dict)
    fields: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    typed: bool = False
    # the typed scan's per-line flag: a value off the shape, or a dotted key the reference would
    # read, anywhere in the line (``raw_gate.shape_regexes``)
    shape_column: str | None = None

    def add_field(self, name: str) -> None:
        parts = name.split(".")
        top = parts[0]
        dotted = [".".join(parts[: end + 1]) for end in range(1, len(parts))]
        self.columns.add(top)
        self.columns.update(dotted)
        node = self.roots.setdefault(top, ShapeNode(array=top in self.path.arrays))
        path = top
        for part in parts[1:]:
            path = f"{path}.{part}"
            node = node.children.setdefault(part, ShapeNode(array=path in self.path.arrays))
        self.fields[name] = (top, dotted)

    def _node(self, name: str) -> ShapeNode:
        parts = name.split(".")
        node = self.roots[parts[0]]
        for part in parts[1:]:
            node = node.children[part]
        return node

    def scalar_tops(self) -> set[str]:
        """Top-level keys the rules read as one scalar: read as VARCHAR, never transformed."""
        return {top for top, node in self.roots.items() if not node.array and not node.children}

    def transformed(self, top: str) -> str:
        """The subtree of ``top`` as a typed value: in the typed scan it arrives typed (its
        ``json_transform`` of the whole line); in the exact scan it is ``json_transform``-ed."""
        return ident(top) if self.typed else ident(f"{self.prefix}t_{top}")

    def shape_unknown(self, top: str) -> str:
        """TRUE when the subtree of ``top`` is off the shape the SQL reads (a column, or inline
        for the typed scan)."""
        if self.typed:
            assert self.shape_column is not None, "the typed scan flags the shape per line"
            return self.shape_column
        return ident(f"{self.prefix}u_{top}")

    def shape_regex(self, top: str) -> str:
        """A regex over the normalised JSON text of ``top`` that finds every shape deviation."""
        root = self.roots[top]
        alternatives = ["\\[\\[|,\\["]
        alternatives.append("^[^\\[n]" if root.array else "^\\[")

        def walk(node: ShapeNode, key: str | None) -> None:
            for child_key, child in node.children.items():
                quoted = '"' + _json_key(child_key) + '":'
                if child.array:
                    alternatives.append(quoted + ("[^\\[n]" if not child.children else "\\{"))
                else:
                    alternatives.append(quoted + "\\[")
                for grand_key in child.children:
                    alternatives.append('"' + _json_key(f"{child_key}.{grand_key}"))
                walk(child, child_key)

        walk(root, None)
        return "|".join(sorted(set(alternatives)))

    def field_columns(self, name: str) -> FieldSql:
        """The field as the columns a layer of the query computes once per row."""
        return FieldSql(
            ident(f"{self.prefix}v_{name}"),
            self.value_expr(name).is_list,
            ident(f"{self.prefix}u_{name}"),
        )

    def value_expr(self, name: str) -> FieldSql:
        if self._node(name).children:
            # another field reads below this one: the shape has no place for both
            return FieldSql("NULL::VARCHAR", False, "TRUE")
        top, dotted = self.fields[name]
        if top in self.scalar_tops():
            return FieldSql(ident(top), False, "FALSE")
        parts = name.split(".")[1:]
        expr = self.transformed(top)
        node = self.roots[top]
        is_list = node.array
        depth = 0
        for part in parts:
            node = node.children[part]
            member = f"{{x}}.{ident(part)}"
            if is_list:
                depth += 1
                var = f"sx_x{depth}"
                inner = member.format(x=var)
                if node.array:
                    expr = f"flatten(list_transform({expr}, lambda {var}: coalesce({inner}, [])))"
                else:
                    expr = f"list_transform({expr}, lambda {var}: {inner})"
            else:
                expr = member.format(x=expr)
                is_list = node.array
        if is_list:
            expr = f"coalesce(list_filter({expr}, lambda sx_v: sx_v IS NOT NULL), []::VARCHAR[])"
        unknown = [self.shape_unknown(top)]
        if self.shape_column is None:
            unknown += [f"{ident(d)} IS NOT NULL" for d in dotted]
        return FieldSql(expr, is_list, " OR ".join(unknown))

    def single_valued(self, name: str) -> bool:
        """Whether the rules read ``name`` and it holds at most one value (no array on its path,
        no other field below it): what the gates can test."""
        if name not in self.fields:
            return False
        value = self.value_expr(name)
        return not value.is_list and not value.expr.startswith("NULL")

    def value_unknown(self, name: str, column: str) -> str:
        """TRUE when a value of the field needs a guard of ``VALUE_GUARD``.

        The typed scan checks text once per row instead (``TYPED_TEXT_GUARD``), so here only
        what ``sx_unsure`` finds is left."""
        if self.typed:
            if self.value_expr(name).is_list:
                # the lambda only where a line of the joined values may be unsure: DuckDB pays
                # for a lambda on every vector it runs on
                lines = f"array_to_string({column}, chr(10))"
                return (
                    f"CASE WHEN regexp_matches({lines}, {sql_string(MAYBE_UNSURE)}) "
                    f"THEN coalesce(list_bool_or(list_transform({column}, "
                    "lambda sx_g: sx_unsure(sx_g))), FALSE) ELSE FALSE END"
                )
            return f"coalesce(sx_unsure({column}), FALSE)"
        if self.value_expr(name).is_list:
            guard = VALUE_GUARD.format(v="sx_g")
            return f"coalesce(list_bool_or(list_transform({column}, lambda sx_g: {guard})), FALSE)"
        return f"coalesce({VALUE_GUARD.format(v=column)}, FALSE)"


def path_shape(names: Iterable[str]) -> tuple[list[tuple[str, bool, bool]], set[str]]:
    """The shape nodes (``ShapeNode.shape_nodes``) and dotted keys along the paths of fields that
    hold one value: every key but the last holds an object."""
    nodes: set[tuple[str, bool, bool]] = set()
    dotted: set[str] = set()
    for name in names:
        nodes.update((part, False, True) for part in name.split(".")[:-1])
        dotted |= dotted_runs(name)
    return sorted(nodes), dotted


def dotted_runs(name: str) -> set[str]:
    """Every run of two or more of the field's keys joined with dots: keys the reference
    evaluator also reads the field through (``objectRef.resource``, ``spec.containers``)."""
    parts = name.split(".")
    return {
        ".".join(parts[start:end])
        for start in range(len(parts))
        for end in range(start + 2, len(parts) + 1)
    }


def recognizer_sql(
    plan: SourcePlan,
    forced: bool,
    paths: dict[str, str] | None = None,
    keys: dict[str, str] | None = None,
) -> str:
    """The source's recogniser over the row's columns; TRUE when every line is taken as the
    one source the hunt was told to assume. ``paths`` renders each of its ``FastPath.paths``
    (``{$1}`` and ``{$1:type}`` for the first, see ``RecognizerSql``) by its path and kind,
    for a scan that reads them from the line's text; ``keys`` its top-level keys, when not as
    the columns of the same names."""
    if forced:
        return "TRUE"
    names = {k: (keys or {}).get(k, ident(k)) for k in plan.path.recognizer_keys()}
    if plan.path.paths:
        if paths is None:
            raise ValueError(f"{plan.source.name}: its recogniser reads the line's text")
        for n, path in enumerate(plan.path.paths, start=1):
            names[f"${n}"] = paths[path]
            names[f"${n}:type"] = paths[f"{path}:type"]
    return re.sub(r"\{([^{}]+)\}", lambda m: names[m.group(1)], plan.path.recognizer)


def varchar_columns(plans: list[SourcePlan]) -> set[str]:
    """Columns read as VARCHAR: the recognisers' keys and the scalars rules read."""
    varchar: set[str] = set()
    for plan in plans:
        varchar.update(plan.scalar_tops(), plan.path.recognizer_keys())
    for plan in plans:
        clash = varchar & (set(plan.roots) - plan.scalar_tops())
        if clash:
            raise ValueError(f"read both as a scalar and as a subtree: {sorted(clash)}")
    return varchar
