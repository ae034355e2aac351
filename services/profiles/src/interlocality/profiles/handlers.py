"""Kafka side of profiles: what students changed through a notification's signed link."""

from __future__ import annotations

from functools import partial

from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.notifications import NotificationPreferencesChanged
from interlocality.contracts.topics import PREFERENCES
from interlocality.profiles.service import StudentService

__all__ = ["on_preferences_changed", "subscribe"]


def on_preferences_changed(
    service: StudentService, event: NotificationPreferencesChanged, session: Session
) -> None:
    """Apply preferences changed and unsubscriptions made through notifications' links."""
    service.change_preferences(session, event.data)


def subscribe(runtime: ServiceRuntime, service: StudentService) -> None:
    """Register the handlers of the topics profiles consumes."""
    runtime.consume(
        PREFERENCES, {NotificationPreferencesChanged: partial(on_preferences_changed, service)}
    )
