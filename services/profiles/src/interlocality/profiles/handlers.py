"""Kafka side of profiles: what students changed through a notification's signed link."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.common.work_rules import WorkRules
from interlocality.contracts.notifications import NotificationPreferencesChanged
from interlocality.contracts.topics import PREFERENCES
from interlocality.profiles.api import snapshot_event
from interlocality.profiles.store import StudentRecord

__all__ = ["register_kafka_handlers"]


def register_kafka_handlers(runtime: ServiceRuntime, rules: WorkRules) -> None:
    """Apply preferences changed and unsubscriptions made through notifications' links."""

    def on_preferences_changed(event: NotificationPreferencesChanged, session: Session) -> None:
        change = event.data
        record = session.get(StudentRecord, change.student_id)
        if record is None:
            return  # erased meanwhile
        preferences = change.preferences.model_dump(mode="json")
        consent = record.consents.get("notifications") or {}
        document_changed = record.document.get("notification_preferences") != preferences
        consent_changed = consent.get("granted") != change.notifications_consent
        if not document_changed and not consent_changed:
            return  # a redelivery, or nothing new
        record.document = {**record.document, "notification_preferences": preferences}
        if consent_changed:
            record.consents = {
                **record.consents,
                "notifications": {
                    "granted": change.notifications_consent,
                    "at": change.changed_at.isoformat(),
                },
            }
        record.version += 1
        record.updated_at = max(datetime.now(UTC), change.changed_at)
        session.add(record)
        runtime.emit(session, snapshot_event(runtime, record, rules))

    runtime.consume(PREFERENCES, {NotificationPreferencesChanged: on_preferences_changed})
