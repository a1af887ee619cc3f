"""The document a SIEM stores and searches for one raw event, from a small data-driven spec.

A compiled query runs on what the SIEM made of the event, not on the event as the source wrote
it. ``sigma_ext/data/documents/<target>/<source>.yml`` says, for one source and one SIEM, how the
event becomes that document; ``docs/query-emulation.md`` documents the format and cites the
ingestion each spec follows. The steps, in order:

``decode``
    ``true``: first apply the source's ``decode`` (unwrap the provider envelope the way the
    add-on or integration delivers the inner event); default ``false``, the event as written.
``wrap``
    a dotted path: the event is stored under it (the Splunk GCP add-on's Pub/Sub ``data.``).
``prefix``
    Elastic: a dotted path the integration moves the event under (``kubernetes.audit``).
``remove``
    dotted paths (after ``prefix``) the ingest pipeline drops.
``dedot``
    dotted paths of objects whose keys the pipeline de-dots (``.`` becomes ``_``).
``copy``
    ``target: source`` field copies the pipeline makes (ECS fields), after the steps above; a
    source that is an object copies every leaf below it (``aws.cloudtrail.flattened.
    request_parameters: requestParameters``).
``defaults``
    fields the add-on sets when the event lacks them (the AWS add-on's ``errorCode=success``).
``constants``
    fields the input or data stream sets on every event (``sourcetype``, ``event.dataset``).
``index``
    the index (Splunk) or data stream (Elastic) the event lands in.
``text``
    for sources that write text lines: the path of the parsed event that holds the line as the
    collector ships it; the SIEM stores only that text (Splunk ``_raw``, nothing extracted;
    Elastic ``message``), and every other step but ``copy``, ``defaults`` and ``constants`` is
    skipped. ``decode`` then applies to the event the text is read from, and ``copy`` reads the
    event's own paths (fields a collector sends beside the text, such as HEC indexed fields).
``time``
    the path, in the event as written (before ``decode``), of the time the SIEM stamps the
    event with: Splunk's ``_time`` (epoch seconds, a string like every Splunk value), Elastic's
    ``@timestamp`` (a ``date``). An RFC 3339 string or epoch milliseconds (CloudWatch Logs).
    Without it the document has no time (single-event searches need none).
``fields``
    Elastic only: the mapped fields and their types (``keyword``, ``text``, ``integer``,
    ``long``, ``boolean``, ``ip``, ``date``, ``flattened``, ``object``); the data streams are
    ``dynamic: false``, so any other path stays in ``_source`` but is not searchable. A name
    ending in ``.*`` maps every path below it with the ``object_type`` given as its type.
    ``ignore_above`` (default 1024 for ``keyword``, as Fleet sets it) drops longer values.

Splunk documents are the fields its JSON extraction yields (``KV_MODE = json`` or ``spath``):
paths joined with ``.``, ``{}`` after every array, every value a string, several values of one
path forming a multi-valued field. Elastic documents are the mapped leaf fields, arrays of
objects flattened so that every element's leaf lands on the same field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from sigma_ext.reference.correlation import parse_time
from sigma_ext.sources.catalogue import Source, source_named
from sigma_ext.yamlio import safe_load

Values = tuple[Any, ...]
FIELD_TYPES = frozenset(
    {"keyword", "text", "integer", "long", "boolean", "ip", "date", "flattened", "object"}
)
DEFAULT_IGNORE_ABOVE = 1024
KNOWN_KEYS = frozenset(
    {"source", "target", "decode", "wrap", "prefix", "remove", "dedot", "copy", "text"}
    | {"constants", "defaults", "index", "fields", "references", "time"}
)


class DocumentSpecError(Exception):
    """A document spec is missing or malformed."""


@dataclass(frozen=True)
class FieldType:
    type: str
    ignore_above: int | None = None


@dataclass(frozen=True)
class DocumentSpec:
    target: str
    source: str
    index: str
    decode: bool = False
    wrap: str | None = None
    prefix: str | None = None
    remove: tuple[str, ...] = ()
    dedot: tuple[str, ...] = ()
    copy: tuple[tuple[str, str], ...] = ()
    constants: tuple[tuple[str, Any], ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()
    fields: tuple[tuple[str, FieldType], ...] = ()
    text: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class Document:
    """What one SIEM stores for one event: searchable fields, their values and types.

    ``values`` maps a field to its values (one for a single value, several for a multi-valued
    field); a field with no value is absent. ``types`` holds the mapped type of every
    searchable Elastic field (Splunk fields are all strings and have none). ``raw`` is the
    JSON the SIEM keeps (Splunk ``_raw``, Elastic ``_source``), for messages.
    """

    target: str
    source: str
    index: str
    values: Mapping[str, Values]
    types: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    declared: tuple[tuple[str, FieldType], ...] = ()

    def get(self, name: str) -> Values:
        return self.values.get(name, ())

    def type_of(self, name: str) -> str | None:
        """The mapped type of a field whether or not this event has a value; None: unmapped."""
        if name in self.types:
            return self.types[name]
        for declared, kind in self.declared:
            if declared == name:
                return kind.type
            stem = declared.removesuffix(".*")
            if (declared.endswith(".*") or kind.type == "flattened") and name.startswith(
                stem + "."
            ):
                return "keyword" if kind.type == "flattened" else kind.type
        return None

    def describe(self) -> str:
        lines = [f"{self.target} document (index {self.index}):"]
        for name in sorted(self.values):
            kind = f" [{self.types[name]}]" if name in self.types else ""
            shown = [v if len(str(v)) < 200 else f"{str(v)[:200]}..." for v in self.values[name]]
            lines.append(f"  {name}{kind} = {shown}")
        return "\n".join(lines)


def spec_text(target: str, source: str) -> str | None:
    resource = files("sigma_ext") / "data" / "documents" / target / f"{source}.yml"
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


@cache
def load_spec(target: str, source: str) -> DocumentSpec:
    """The document spec of one source for one SIEM; DocumentSpecError when missing or bad."""
    text = spec_text(target, source)
    where = f"sigma_ext/data/documents/{target}/{source}.yml"
    if text is None:
        raise DocumentSpecError(
            f"no document spec {where}: write one (docs/query-emulation.md) so the compiled "
            f"{target} queries of source {source!r} can be tested"
        )
    data = safe_load(text)
    if not isinstance(data, dict):
        raise DocumentSpecError(f"{where}: expected a mapping")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise DocumentSpecError(f"{where}: unknown keys {unknown}")
    if data.get("source") != source or data.get("target") != target:
        raise DocumentSpecError(f"{where}: source/target must be {source}/{target}")
    if "index" not in data:
        raise DocumentSpecError(f"{where}: index is required")
    fields = []
    for name, spec in (data.get("fields") or {}).items():
        spec = {"type": spec} if isinstance(spec, str) else dict(spec)
        kind = spec.get("type")
        if kind not in FIELD_TYPES:
            raise DocumentSpecError(f"{where}: field {name}: unknown type {kind!r}")
        ignore_above = spec.get("ignore_above", DEFAULT_IGNORE_ABOVE if kind == "keyword" else None)
        fields.append((str(name), FieldType(str(kind), ignore_above)))
    if target != "elastic" and fields:
        raise DocumentSpecError(f"{where}: fields are declared for Elastic specs only")
    return DocumentSpec(
        target=target,
        source=source,
        index=str(data["index"]),
        decode=bool(data.get("decode", False)),
        wrap=data.get("wrap"),
        prefix=data.get("prefix"),
        remove=tuple(data.get("remove") or ()),
        dedot=tuple(data.get("dedot") or ()),
        copy=tuple((str(k), str(v)) for k, v in (data.get("copy") or {}).items()),
        constants=tuple((str(k), v) for k, v in (data.get("constants") or {}).items()),
        defaults=tuple((str(k), v) for k, v in (data.get("defaults") or {}).items()),
        fields=tuple(fields),
        text=data.get("text"),
        time=data.get("time"),
    )


def _nest(path: str | None, value: Any) -> Any:
    if not path:
        return value
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def _pop(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for element in node:
            _pop(element, parts)
    elif isinstance(node, dict) and parts:
        if len(parts) == 1:
            node.pop(parts[0], None)
        elif parts[0] in node:
            _pop(node[parts[0]], parts[1:])


def _objects_at(node: Any, parts: list[str]) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [o for element in node for o in _objects_at(element, parts)]
    if not isinstance(node, dict):
        return []
    if not parts:
        return [node]
    return _objects_at(node.get(parts[0]), parts[1:])


def stored_object(spec: DocumentSpec, event: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object the SIEM keeps for the event, after every spec step but ``fields``."""
    source: Source = source_named(spec.source)
    body: Any = json.loads(json.dumps(source.decode(event) if spec.decode else event))
    body = _nest(spec.wrap, body)
    body = _nest(spec.prefix, body)
    for path in spec.remove:
        _pop(body, path.split("."))
    for path in spec.dedot:
        for obj in _objects_at(body, path.split(".")):
            renamed = {key.replace(".", "_"): value for key, value in obj.items()}
            obj.clear()
            obj.update(renamed)
    return dict(body)


def splunk_fields(node: Any, prefix: str = "") -> dict[str, list[str]]:
    """Splunk's JSON field extraction: ``a.b{}.c`` paths, every value a string.

    A JSON null is extracted as the string ``null`` (as ``spath`` renders it); empty objects
    and empty arrays yield no field.
    """
    out: dict[str, list[str]] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for element in value:
                walk(element, f"{path}{{}}")
        else:
            out.setdefault(path, []).append(_splunk_text(value))

    walk(node, prefix)
    return out


def _splunk_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _leaves(node: Any, path: str, out: dict[str, list[Any]]) -> None:
    if isinstance(node, dict):
        for key, child in node.items():
            _leaves(child, f"{path}.{key}" if path else str(key), out)
    elif isinstance(node, list):
        for element in node:
            _leaves(element, path, out)
    elif node is not None:
        out.setdefault(path, []).append(node)


def _coerce(kind: str, value: Any) -> Any:
    """A leaf value as the mapped type indexes it; None when the mapping rejects it."""
    if kind in ("keyword", "text", "ip", "date", "flattened", "object"):
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)
    if kind in ("integer", "long"):
        if isinstance(value, bool):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return int(number) if number == int(number) else None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False}.get(str(value))
    raise DocumentSpecError(f"unknown type {kind}")


def _mapped(spec: DocumentSpec, path: str) -> tuple[str, FieldType] | None:
    declared = dict(spec.fields)
    if path in declared:
        return path, declared[path]
    for name, kind in spec.fields:
        stem = name.removesuffix(".*")
        if (name.endswith(".*") or kind.type == "flattened") and path.startswith(stem + "."):
            return path, FieldType("keyword" if kind.type == "flattened" else kind.type, None)
    return None


def event_time(spec: DocumentSpec, event: Mapping[str, Any]) -> datetime | None:
    """The time the SIEM stamps the event with (the spec's ``time`` path), or None."""
    if spec.time is None:
        return None
    value: Any = event
    for part in spec.time.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return parse_time(value)


def _stamped(document: Document, spec: DocumentSpec, event: Mapping[str, Any]) -> Document:
    """The document with the SIEM's time field: Splunk ``_time``, Elastic ``@timestamp``."""
    time = event_time(spec, event)
    if time is None:
        return document
    if document.target == "splunk":
        values = {**document.values, "_time": (f"{time.timestamp():.6f}",)}
        return replace(document, values=values)
    values = {**document.values, "@timestamp": (time,)}
    return replace(document, values=values, types={**document.types, "@timestamp": "date"})


def build_document(target: str, source: str, event: Mapping[str, Any]) -> Document:
    """The document ``target`` stores for an event of ``source`` (see the module docstring)."""
    spec = load_spec(target, source)
    return _stamped(_build_document(spec, target, source, event), spec, event)


def _build_document(
    spec: DocumentSpec, target: str, source: str, event: Mapping[str, Any]
) -> Document:
    leaves: dict[str, list[Any]] = {}
    origin = leaves  # where copy reads: the stored fields, or the event beside a stored text
    if spec.text is not None:
        read = source_named(source).decode(event) if spec.decode else event
        line = read.get(spec.text)
        body: dict[str, Any] = {"_raw" if target == "splunk" else "message": line}
        leaves.update({key: [value] for key, value in body.items() if value is not None})
        if spec.copy:
            origin = {}
            _leaves(json.loads(json.dumps(read)), "", origin)
    else:
        body = stored_object(spec, event)
        if target == "splunk":
            leaves.update(splunk_fields(body))
        else:
            _leaves(body, "", leaves)
    for to, frm in spec.copy:
        for path in list(origin):
            if path == frm or path.startswith(frm + "."):
                copied = to + path[len(frm) :]
                if copied not in leaves:
                    leaves[copied] = [
                        _splunk_text(v) if target == "splunk" else v for v in origin[path]
                    ]
    for name, value in spec.defaults:
        leaves.setdefault(name, [value])
    if target == "splunk":
        for name, value in spec.constants:
            leaves[name] = [_splunk_text(value)]
        return Document(
            target, source, spec.index, {k: tuple(v) for k, v in leaves.items()}, {}, body
        )
    values: dict[str, Values] = {}
    types: dict[str, str] = {}
    for path, found in leaves.items():
        mapped = _mapped(spec, path)
        if mapped is None:
            continue
        name, kind = mapped
        kept = [
            c
            for c in (_coerce(kind.type, v) for v in found)
            if c is not None and not (kind.ignore_above and len(str(c)) > kind.ignore_above)
        ]
        if kind.type == "keyword":
            kept = sorted(set(kept), key=str)  # keyword doc values are a sorted set
        if kept:
            values[name] = tuple(kept)
            types[name] = kind.type
    for name, value in spec.constants:  # constant_keyword fields of the data stream
        values[name] = (value,)
        types[name] = "keyword"
    return Document(target, source, spec.index, values, types, body, spec.fields)
