"""A quick, conservative JSON Schema check: is a document surely valid?

``surely_valid(data, schema)`` answers True only when ``data`` satisfies every keyword of
``schema`` that it meets, reading the few keywords sigma-ext's own schemas use (``type``,
``properties``, ``additionalProperties``, ``propertyNames``, ``required``, ``items``,
``uniqueItems``, ``minLength``, ``pattern``, ``minimum``, ``enum``, ``const``, and ``$ref`` to
``#/$defs/...``) with the meaning JSON Schema 2020-12 gives them. A keyword it does not know, or
a value it is not sure of (a float where an integer is wanted, a key that is not a string), makes
it answer False; so does any violation. False only means "ask jsonschema": the profile and the
configuration are then validated by ``jsonschema``, which names every problem.

A valid profile (what nearly every run reads) is so checked without importing ``jsonschema``,
whose import costs more than the rest of a one-line hunt's validation (``referencing``,
``rpds``, ``attrs``, its format checkers). ``tests/test_schema_check.py`` checks, on generated
documents, that True always agrees with ``jsonschema``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# Keywords that only annotate: no document is valid or invalid because of them.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "x-kind"}
)
_ANNOTATIONS_X = "x-"


def surely_valid(data: Any, schema: Mapping[str, Any]) -> bool:
    """True when ``data`` is surely valid against ``schema`` (JSON Schema 2020-12)."""
    return _valid(data, schema, schema)


def _valid(data: Any, schema: Any, root: Mapping[str, Any]) -> bool:
    if schema is True:
        return True
    if not isinstance(schema, Mapping):
        return False  # False schema, or something this check does not read
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS or keyword.startswith(_ANNOTATIONS_X):
            continue
        if keyword == "$defs" and schema is root:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None or not check(data, value, schema, root):
            return False
    return True


def _type(data: Any, value: Any, _schema: Mapping[str, Any], _root: Mapping[str, Any]) -> bool:
    names = value if isinstance(value, list) else [value]
    return any(_is_type(data, name) for name in names)


def _is_type(data: Any, name: Any) -> bool:
    if name == "object":
        return isinstance(data, dict)
    if name == "array":
        return isinstance(data, list)
    if name == "string":
        return isinstance(data, str)
    if name == "boolean":
        return isinstance(data, bool)
    if name == "null":
        return data is None
    if name == "integer":  # a float that holds an integer is one too: left to jsonschema
        return isinstance(data, int) and not isinstance(data, bool)
    if name == "number":
        return isinstance(data, int | float) and not isinstance(data, bool)
    return False


def _ref(data: Any, value: Any, _schema: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    prefix = "#/$defs/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return False
    target = root.get("$defs", {}).get(value.removeprefix(prefix))
    return target is not None and _valid(data, target, root)


def _properties(data: Any, value: Any, _schema: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    if not isinstance(data, dict):
        return True
    return all(_valid(data[name], sub, root) for name, sub in value.items() if name in data)


def _additional(data: Any, value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    if not isinstance(data, dict):
        return True
    if "patternProperties" in schema:
        return False
    known = schema.get("properties", {})
    return all(_valid(item, value, root) for key, item in data.items() if key not in known)


def _property_names(
    data: Any, value: Any, _schema: Mapping[str, Any], root: Mapping[str, Any]
) -> bool:
    if not isinstance(data, dict):
        return True
    return all(isinstance(key, str) and _valid(key, value, root) for key in data)


def _required(data: Any, value: Any, _schema: Mapping[str, Any], _root: Mapping[str, Any]) -> bool:
    return not isinstance(data, dict) or all(name in data for name in value)


def _items(data: Any, value: Any, _schema: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    return not isinstance(data, list) or all(_valid(item, value, root) for item in data)


def _unique(data: Any, value: Any, _schema: Mapping[str, Any], _root: Mapping[str, Any]) -> bool:
    if value is not True or not isinstance(data, list):
        return value is False or not isinstance(data, list)
    # strings only: jsonschema's equality (1 == True, 1 == 1.0) is left to it
    return all(isinstance(item, str) for item in data) and len(set(data)) == len(data)


def _min_length(
    data: Any, value: Any, _schema: Mapping[str, Any], _root: Mapping[str, Any]
) -> bool:
    return not isinstance(data, str) or len(data) >= value


def _pattern(data: Any, value: Any, _schema: Mapping[str, Any], _root: Mapping[str, Any]) -> bool:
    return not isinstance(data, str) or re.search(value, data) is not None


def _minimum(data: Any, value: Any, _schema: Mapping[str, Any], _root: Mapping[str, Any]) -> bool:
    if isinstance(data, bool) or not isinstance(data, int | float):
        return True  # not a number: minimum says nothing
    return bool(data >= value)


def _enum(data: Any, value: Any, _schema: Mapping[str, Any], _root: Mapping[str, Any]) -> bool:
    # strings only: jsonschema's equality of numbers and booleans is left to it
    return isinstance(data, str) and data in [v for v in value if isinstance(v, str)]


def _const(data: Any, value: Any, _schema: Mapping[str, Any], _root: Mapping[str, Any]) -> bool:
    return isinstance(data, str) and isinstance(value, str) and data == value


_KEYWORDS: dict[str, Callable[[Any, Any, Mapping[str, Any], Mapping[str, Any]], bool]] = {
    "type": _type,
    "$ref": _ref,
    "properties": _properties,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "required": _required,
    "items": _items,
    "uniqueItems": _unique,
    "minLength": _min_length,
    "pattern": _pattern,
    "minimum": _minimum,
    "enum": _enum,
    "const": _const,
}
