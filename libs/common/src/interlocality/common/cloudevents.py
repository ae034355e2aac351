"""CloudEvents Kafka protocol binding, binary content mode.

Attributes travel as ``ce_<name>`` headers, ``data`` is the record value, the record key is
the event's ``subject``. Any CloudEvents-aware tool reads our topics this way.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter

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
def _adapter(event_union: Any) -> TypeAdapter[Any]:
    return TypeAdapter(event_union)


def decode_event(spec: TopicSpec, headers: list[tuple[str, bytes]], value: bytes) -> Any:
    """Rebuild and validate the event of ``spec``'s union from a binary-mode record.

    Raises :class:`MalformedEvent` with a readable reason when it is not one.
    """
    attributes: dict[str, Any] = {}
    for key, raw in headers:
        if key.startswith("ce_"):
            attributes[key[3:]] = raw.decode("utf-8", errors="replace")
    if "type" not in attributes:
        raise MalformedEvent("missing ce_type header: not a CloudEvent in binary mode")
    try:
        attributes["data"] = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEvent(f"data is not JSON: {exc}") from exc
    try:
        return _adapter(spec.event_union).validate_python(attributes)
    except ValueError as exc:
        raise MalformedEvent(f"not a valid {spec.entity} event: {exc}") from exc
