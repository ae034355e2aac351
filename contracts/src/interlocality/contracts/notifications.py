"""Topics of notifications.

``<region>.notifications.deliveries.v1``: notifications made (in the app), e-mail and webhook
messages delivered, and those that failed after their last retry, keyed by recipient id.

``<region>.notifications.preferences.v1``: a student changed their notification preferences
or unsubscribed through the link in a message (no login), keyed by student id; profiles
applies it to the student's profile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.students import NotificationPreferences

__all__ = [
    "Delivery",
    "DeliveryEvent",
    "DeliveryFailure",
    "MessageDelivered",
    "MessageDelivery",
    "MessageKind",
    "NotificationFailed",
    "NotificationPreferencesChanged",
    "NotificationSent",
    "PreferencesChange",
    "PreferencesEvent",
]

MessageKind = Literal["match", "digest", "agenda"]
RecipientKind = Literal["student", "company"]


class Delivery(BaseModel):
    """A notification that reached a student in the app: made once per student and
    vacancy. Its e-mail and webhook deliveries are :class:`MessageDelivery` events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: Annotated[str, Field(title="Notification id", min_length=1)]
    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    vacancy_id: Annotated[str, Field(title="Vacancy id", min_length=1)]
    channel: Annotated[Literal["in_app"], Field(title="Channel")]
    sent_at: Annotated[datetime, Field(title="Sent at")]


class MessageDelivery(BaseModel):
    """An e-mail or webhook message that reached its recipient: one notification, a digest
    of several, or a Company Dating agenda."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: Annotated[
        str,
        Field(
            title="Delivery id",
            description="Idempotency key of the delivery: the e-mail's Message-ID, the "
            "webhook's delivery header.",
            min_length=1,
        ),
    ]
    recipient_id: Annotated[
        str,
        Field(
            title="Recipient id",
            description="The student; for a company's Company Dating agenda, the company.",
            min_length=1,
        ),
    ]
    recipient_kind: Annotated[RecipientKind, Field(title="Recipient kind")] = "student"
    channel: Annotated[Literal["email", "webhook"], Field(title="Channel")]
    kind: Annotated[MessageKind, Field(title="Message kind")]
    notification_ids: Annotated[
        list[str], Field(title="Notifications", description="What it carried (the agenda's id).")
    ] = []
    vacancy_ids: Annotated[list[str], Field(title="Vacancies it spoke of")] = []
    attempts: Annotated[int, Field(title="Attempts", ge=1)] = 1
    sent_at: Annotated[datetime, Field(title="Sent at")]


class DeliveryFailure(BaseModel):
    """An e-mail or webhook delivery that failed after its last attempt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: Annotated[str, Field(title="Delivery id", min_length=1)]
    student_id: Annotated[str, Field(title="Recipient id", min_length=1)]
    recipient_kind: Annotated[RecipientKind, Field(title="Recipient kind")] = "student"
    channel: Annotated[Literal["email", "webhook"], Field(title="Channel")]
    kind: Annotated[MessageKind, Field(title="Message kind")]
    notification_ids: Annotated[list[str], Field(title="Notifications it carried")] = []
    attempts: Annotated[int, Field(title="Attempts", ge=1)]
    reason: Annotated[str, Field(title="Reason")]
    failed_at: Annotated[datetime, Field(title="Failed at")]


class NotificationSent(CloudEvent[Delivery]):
    """A notification was delivered to a student."""

    type: Literal["org.interlocality.NotificationSent.v1"] = "org.interlocality.NotificationSent.v1"
    dataschema: str = "urn:interlocality:schema:NotificationSent:v1"


class MessageDelivered(CloudEvent[MessageDelivery]):
    """An e-mail or webhook message was accepted by the recipient's server or endpoint."""

    type: Literal["org.interlocality.MessageDelivered.v1"] = "org.interlocality.MessageDelivered.v1"
    dataschema: str = "urn:interlocality:schema:MessageDelivered:v1"


class NotificationFailed(CloudEvent[DeliveryFailure]):
    """A delivery gave up after its last retry; it went to the DLQ with the same reason."""

    type: Literal["org.interlocality.NotificationFailed.v1"] = (
        "org.interlocality.NotificationFailed.v1"
    )
    dataschema: str = "urn:interlocality:schema:NotificationFailed:v1"


class PreferencesChange(BaseModel):
    """What a student said through a message's link: new preferences, or unsubscribe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: Annotated[str, Field(title="Student id", min_length=1)]
    preferences: Annotated[NotificationPreferences, Field(title="Notification preferences")]
    notifications_consent: Annotated[
        bool, Field(title="Consent to notifications", description="False: unsubscribed.")
    ]
    changed_at: Annotated[datetime, Field(title="Changed at")]


class NotificationPreferencesChanged(CloudEvent[PreferencesChange]):
    """A student changed how they are notified, or unsubscribed, through a signed link."""

    type: Literal["org.interlocality.NotificationPreferencesChanged.v1"] = (
        "org.interlocality.NotificationPreferencesChanged.v1"
    )
    dataschema: str = "urn:interlocality:schema:NotificationPreferencesChanged:v1"


DeliveryEvent = Annotated[
    NotificationSent | MessageDelivered | NotificationFailed, Field(discriminator="type")
]
PreferencesEvent = NotificationPreferencesChanged
