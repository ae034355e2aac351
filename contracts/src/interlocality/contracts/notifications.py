"""Topic ``<region>.notifications.deliveries.v1``: notification outcomes, keyed by student id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent

__all__ = ["Delivery", "DeliveryEvent", "NotificationSent"]


class Delivery(BaseModel):
    """A notification that reached a student on one channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: Annotated[str, Field(title="Notification id", min_length=1)]
    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    vacancy_id: Annotated[str, Field(title="Vacancy id", min_length=1)]
    channel: Annotated[Literal["in_app"], Field(title="Channel")]
    sent_at: Annotated[datetime, Field(title="Sent at")]


class NotificationSent(CloudEvent[Delivery]):
    """A notification was delivered to a student."""

    type: Literal["org.interlocality.NotificationSent.v1"] = "org.interlocality.NotificationSent.v1"
    dataschema: str = "urn:interlocality:schema:NotificationSent:v1"


# One event type today; NotificationFailed will turn this into a discriminated union.
DeliveryEvent = NotificationSent
