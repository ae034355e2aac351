"""The CloudEvents 1.0 envelope every Interlocality event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SPEC_VERSION", "CloudEvent", "event_type_name", "schema_uri"]

SPEC_VERSION = "1.0"
TYPE_PREFIX = "org.interlocality"

DataT = TypeVar("DataT", bound=BaseModel)


def event_type_name(name: str, major: int) -> str:
    """The CloudEvents ``type`` of an event: reverse-DNS prefix, event name, schema major."""
    return f"{TYPE_PREFIX}.{name}.v{major}"


def schema_uri(name: str, major: int) -> str:
    """The ``dataschema`` URI of an event (its file: ``schemas/<name>.v<major>.json``)."""
    return f"urn:interlocality:schema:{name}:v{major}"


class CloudEvent(BaseModel, Generic[DataT]):
    """CloudEvents 1.0 attributes plus the ``region`` extension, with a typed ``data``.

    Concrete events subclass this with a ``Literal`` ``type`` (the discriminator of their
    topic's union), their ``dataschema`` and their payload model as ``DataT``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Annotated[
        Literal["1.0"], Field(title="Spec version", description="CloudEvents spec version.")
    ] = "1.0"
    id: Annotated[
        str,
        Field(
            title="Event id",
            description="Unique per event; consumers record it to apply each event once.",
            min_length=1,
        ),
    ] = Field(default_factory=lambda: str(uuid.uuid4()))
    source: Annotated[
        str,
        Field(
            title="Source",
            description="URI reference of the producer: /interlocality/<region>/<service>.",
            min_length=1,
        ),
    ]
    type: Annotated[str, Field(title="Type", description="Event type with its schema major.")]
    time: Annotated[
        datetime, Field(title="Time", description="When the occurrence happened (UTC).")
    ] = Field(default_factory=lambda: datetime.now(UTC))
    subject: Annotated[
        str,
        Field(title="Subject", description="Id of the entity the event is about.", min_length=1),
    ]
    dataschema: Annotated[
        str, Field(title="Data schema", description="URI of the JSON Schema of this event.")
    ] = ""
    datacontenttype: Annotated[
        Literal["application/json"],
        Field(title="Data content type", description="Media type of data."),
    ] = "application/json"
    region: Annotated[
        str,
        Field(
            title="Region",
            description="Extension attribute: the partner region that produced the event.",
            pattern=r"^[a-z][a-z0-9-]{1,31}$",
        ),
    ]
    data: Annotated[DataT, Field(title="Data", description="The event payload.")]
