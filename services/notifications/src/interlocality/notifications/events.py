"""The events notifications publishes, made from what it stores: the only place that
builds them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.notifications import (
    Delivery,
    DeliveryFailure,
    MessageDelivered,
    MessageDelivery,
    NotificationFailed,
    NotificationPreferencesChanged,
    NotificationSent,
    PreferencesChange,
)
from interlocality.contracts.students import NotificationPreferences
from interlocality.notifications.domain import aware
from interlocality.notifications.store import DeliveryRecord, NotificationRecord

__all__ = [
    "Carried",
    "message_delivered",
    "notification_failed",
    "notification_record_sent",
    "notification_sent",
    "preferences_changed",
]

# What a delivery carried: (notification id, its vacancy id) pairs, or an agenda's (id, None).
Carried = Sequence[tuple[str, str | None]]


def notification_sent(
    runtime: ServiceRuntime, notification_id: str, student_id: str, vacancy_id: str, at: datetime
) -> NotificationSent:
    """The ``NotificationSent`` event of an in-app notification (stable id per notification)."""
    return runtime.event(
        NotificationSent,
        subject=student_id,
        data=Delivery(
            notification_id=notification_id,
            student_id=student_id,
            vacancy_id=vacancy_id,
            channel="in_app",
            sent_at=aware(at),
        ),
        version=notification_id,
    )


def notification_record_sent(
    runtime: ServiceRuntime, record: NotificationRecord
) -> NotificationSent:
    """:func:`notification_sent` of a stored notification (to publish it again)."""
    return notification_sent(
        runtime, record.id, record.student_id, record.vacancy_id, record.created_at
    )


def message_delivered(
    runtime: ServiceRuntime, delivery: DeliveryRecord, carried: Carried, at: datetime
) -> MessageDelivered:
    """``delivery`` went, carrying ``carried``."""
    return runtime.event(
        MessageDelivered,
        subject=delivery.recipient_id,
        data=MessageDelivery(
            delivery_id=delivery.id,
            recipient_id=delivery.recipient_id,
            recipient_kind=delivery.recipient_kind,
            channel=delivery.channel,
            kind=delivery.kind,
            notification_ids=[n for n, _ in carried],
            vacancy_ids=[v for _, v in carried if v is not None],
            attempts=delivery.attempts,
            sent_at=at,
        ),
        version=delivery.id,
    )


def notification_failed(
    runtime: ServiceRuntime, delivery: DeliveryRecord, carried: Carried, reason: str, at: datetime
) -> NotificationFailed:
    """``delivery`` failed for good, for ``reason``."""
    return runtime.event(
        NotificationFailed,
        subject=delivery.recipient_id,
        data=DeliveryFailure(
            delivery_id=delivery.id,
            student_id=delivery.recipient_id,
            recipient_kind=delivery.recipient_kind,
            channel=delivery.channel,
            kind=delivery.kind,
            notification_ids=[n for n, _ in carried],
            attempts=delivery.attempts,
            reason=reason,
            failed_at=at,
        ),
        version=delivery.id,
    )


def preferences_changed(
    runtime: ServiceRuntime,
    student_id: str,
    preferences: NotificationPreferences,
    consent: bool,
    at: datetime,
) -> NotificationPreferencesChanged:
    """A student changed their preferences or consent through a signed link."""
    return runtime.event(
        NotificationPreferencesChanged,
        subject=student_id,
        data=PreferencesChange(
            student_id=student_id,
            preferences=preferences,
            notifications_consent=consent,
            changed_at=at,
        ),
    )
