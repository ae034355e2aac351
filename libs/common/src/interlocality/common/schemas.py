"""JSON Schemas of every event, and whether a changed one is compatible with its committed
version (``make contracts`` writes them, with the services' AsyncAPI documents).

Committed schemas are the compatibility baseline: within one major version a field may be
added only as optional; removing or retyping a field, or adding a required one, needs a new
major (a new ``type`` and a new schema file).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from interlocality.contracts.topics import FEDERATION_TOPICS, TOPICS

__all__ = [
    "current_schemas",
    "incompatibilities",
    "schema_file_name",
    "write_schemas",
]


def schema_file_name(event_type: str) -> str:
    """``org.interlocality.MatchFound.v1`` → ``MatchFound.v1.json``."""
    return event_type.removeprefix("org.interlocality.") + ".json"


def current_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema of every event class in the topic lists (regional and federated)."""
    schemas: dict[str, dict[str, Any]] = {}
    for spec in (*TOPICS, *FEDERATION_TOPICS):
        for event_class in spec.event_types:
            assert issubclass(event_class, BaseModel)
            event_type = event_class.model_fields["type"].default
            schema = event_class.model_json_schema(mode="serialization")
            schema["$id"] = event_class.model_fields["dataschema"].default
            schemas[schema_file_name(event_type)] = schema
    return schemas


def write_schemas(directory: Path) -> list[Path]:
    """Write every event's schema to ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(current_schemas().items()):
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _shape(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """The type signature of a schema node, ignoring titles, descriptions and defaults."""
    schema = _resolve(schema, root)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return (
                combinator,
                sorted(json.dumps(_shape(s, root), sort_keys=True) for s in schema[combinator]),
            )
    kind = schema.get("type")
    if kind == "array":
        return ("array", _shape(schema.get("items", {}), root))
    if kind == "object" or "properties" in schema:
        return "object"
    if "const" in schema:
        return ("const", schema["const"])
    if "enum" in schema:
        return ("enum", sorted(map(str, schema["enum"])))
    return (kind, schema.get("format"))


# JSON Schema formats whose values all belong to a wider one: an RFC 5322 address is an
# RFC 6531 one, a URI an IRI. Widening a format keeps every value written before valid.
_WIDER_FORMATS = {
    "email": "idn-email",
    "hostname": "idn-hostname",
    "uri": "iri",
    "uri-reference": "iri-reference",
}


def _widens(
    old: dict[str, Any], new: dict[str, Any], old_root: dict[str, Any], new_root: dict[str, Any]
) -> bool:
    """Same type, an enumeration that only gained values, or a format that became its wider
    form (old readers' values stay valid)."""
    old_shape, new_shape = _shape(old, old_root), _shape(new, new_root)
    if old_shape == new_shape:
        return True
    if (
        isinstance(old_shape, tuple)
        and isinstance(new_shape, tuple)
        and old_shape[0] == new_shape[0] == "string"
        and old_shape[1] in _WIDER_FORMATS
        and _WIDER_FORMATS[old_shape[1]] == new_shape[1]
    ):
        return True
    if (
        isinstance(old_shape, tuple)
        and isinstance(new_shape, tuple)
        and old_shape[0] == new_shape[0] == "enum"
    ):
        return set(old_shape[1]) <= set(new_shape[1])
    return False


def _walk(
    old: dict[str, Any],
    new: dict[str, Any],
    old_root: dict[str, Any],
    new_root: dict[str, Any],
    path: str,
) -> Iterator[str]:
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    old_props = old.get("properties", {})
    new_props = new.get("properties", {})
    for name, old_prop in old_props.items():
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            yield f"field {where} was removed"
            continue
        if not _widens(old_prop, new_props[name], old_root, new_root):
            yield f"field {where} changed type"
            continue
        old_resolved = _resolve(old_prop, old_root)
        new_resolved = _resolve(new_props[name], new_root)
        if old_resolved.get("type") == "array":
            old_resolved = _resolve(old_resolved.get("items", {}), old_root)
            new_resolved = _resolve(new_resolved.get("items", {}), new_root)
        if "properties" in old_resolved:
            yield from _walk(old_resolved, new_resolved, old_root, new_root, where)
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        where = f"{path}.{name}" if path else name
        yield (
            f"field {where} became required"
            if name in old_props
            else f"required field {where} was added"
        )


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why ``new`` cannot replace ``old`` under the same major version (empty if it can)."""
    return sorted(_walk(old, new, old, new, ""))
