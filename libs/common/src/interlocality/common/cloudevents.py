"""CloudEvents Kafka protocol binding, binary content mode.

Attributes travel as ``ce_<name>`` headers, ``data`` is the record value, the record key is
the event's ``subject``. Any CloudEvents-aware tool reads our topics this way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.topics import TopicSpec

__all__ = [
    "ATTRIBUTE_HEADERS",
    "KafkaRecord",
    "MalformedEvent",
    "decode_event",
    "encode_event",
    "snapshot_event_id",
]

ATTRIBUTE_HEADERS = (
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "dataschema",
    "region",
)
CONTENT_TYPE = "content-type"
_SNAPSHOT_NAMESPACE = uuid.UUID("5b0e4b0c-6d35-4d39-9a7e-6a1c2d0e8f11")


class MalformedEvent(ValueError):
    """A Kafka record that is not a valid event of its topic."""


@dataclass(frozen=True)
class KafkaRecord:
    """What goes on the wire: key, value (``None`` for a tombstone) and headers."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The last value of header ``name``, decoded, or ``None``."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value.decode("utf-8", errors="replace")
        return found


def snapshot_event_id(event_type: str, subject: str, version: int | str) -> str:
    """A deterministic id for the snapshot of ``subject`` at ``version``.

    Re-publishing the same state (``interlocality replay``) yields the same id, so
    consumers that already applied it skip it.
    """
    return str(uuid.uuid5(_SNAPSHOT_NAMESPACE, f"{event_type}|{subject}|{version}"))


def encode_event(event: CloudEvent[Any], topic: str) -> KafkaRecord:
    """Map an event to a Kafka record in binary content mode."""
    headers: list[tuple[str, bytes]] = []
    for name in ATTRIBUTE_HEADERS:
        value = getattr(event, name)
        if value in (None, ""):
            continue
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        headers.append((f"ce_{name}", text.encode()))
    headers.append((CONTENT_TYPE, event.datacontenttype.encode()))
    data: BaseModel = event.data
    return KafkaRecord(
        topic=topic,
        key=event.subject.encode(),
        value=data.model_dump_json().encode(),
        headers=headers,
    )


@cache
def _event_classes(event_types: tuple[type, ...]) -> dict[str, type[CloudEvent[Any]]]:
    return {t.model_fields["type"].default: t for t in event_types}  # type: ignore[attr-defined]


@cache
def _data_adapter(event_class: type[CloudEvent[Any]]) -> TypeAdapter[Any]:
    data_type: Any = event_class.model_fields["data"].annotation
    return TypeAdapter(data_type)


def decode_event(spec: TopicSpec, headers: list[tuple[str, bytes]], value: bytes) -> Any:
    """Rebuild and validate the event of ``spec``'s union from a binary-mode record.

    The data is parsed and validated in one pass (``validate_json``), for the event class
    its ``ce_type`` names. Raises :class:`MalformedEvent` with a readable reason when it is
    not an event of ``spec``.
    """
    attributes: dict[str, Any] = {}
    for key, raw in headers:
        if key.startswith("ce_"):
            attributes[key[3:]] = raw.decode("utf-8", errors="replace")
    if "type" not in attributes:
        raise MalformedEvent("missing ce_type header: not a CloudEvent in binary mode")
    classes = _event_classes(spec.event_types)
    event_class = classes.get(attributes["type"])
    if event_class is None:
        raise MalformedEvent(
            f"not a valid {spec.entity} event: type {attributes['type']!r} is none of "
            + ", ".join(sorted(classes))
        )
    try:
        attributes["data"] = _data_adapter(event_class).validate_json(value)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedEvent(f"data is not JSON: {exc}") from exc
        raise MalformedEvent(f"not a valid {spec.entity} event: {exc}") from exc
    try:
        return event_class.model_validate(attributes)
    except ValidationError as exc:
        raise MalformedEvent(f"not a valid {spec.entity} event: {exc}") from exc
