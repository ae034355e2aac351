"""Composition root of the notifications service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session, select

from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.contracts.notifications import NotificationSent
from interlocality.contracts.topics import DELIVERIES
from interlocality.notifications.api import create_router
from interlocality.notifications.handlers import notification_sent, register_kafka_handlers
from interlocality.notifications.store import TABLES, NotificationRecord

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The notifications service: in-app notifications of matches."""
    settings = settings or load_settings("notifications")
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    runtime.publishes(DELIVERIES)
    register_kafka_handlers(runtime)

    def deliveries(session: Session) -> Iterator[NotificationSent]:
        for record in session.exec(select(NotificationRecord)):
            yield notification_sent(runtime, record)

    def held(session: Session, student_id: str) -> dict[str, Any]:
        records = session.exec(
            select(NotificationRecord).where(NotificationRecord.student_id == student_id)
        )
        return {"notifications": [r.model_dump(mode="json") for r in records]}

    runtime.replay_sources.append(deliveries)
    runtime.personal_data.append(held)
    return create_service_app(
        runtime,
        [create_router(runtime)],
        title="Interlocality notifications",
        description="Notifications of new matches to students.",
    )
