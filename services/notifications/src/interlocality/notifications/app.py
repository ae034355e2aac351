"""Composition root of the notifications service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlmodel import Session, col, select

from interlocality.common.esco import region_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings
from interlocality.contracts.notifications import NotificationSent
from interlocality.contracts.topics import DELIVERIES, PREFERENCES
from interlocality.notifications.api import create_router, feed_reader
from interlocality.notifications.deliveries import DeliveryWorker
from interlocality.notifications.handlers import notification_sent, register_kafka_handlers
from interlocality.notifications.links import LinkSigner, public_url, signing_key
from interlocality.notifications.mailbox import create_mailbox_router
from interlocality.notifications.settings import NotificationsSettings
from interlocality.notifications.store import (
    TABLES,
    AgendaRecord,
    DeliveryRecord,
    NotificationRecord,
    Recipient,
    WebhookEndpoint,
)
from interlocality.notifications.streams import FeedHub

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    """The notifications service: in-app feed and live stream, e-mail, webhooks, digests."""
    settings = settings or load_settings(NotificationsSettings)
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    runtime.publishes(DELIVERIES)
    runtime.publishes(PREFERENCES)
    hub = FeedHub(feed_reader(runtime), sweep_seconds=settings.live_stream_sweep_seconds)
    runtime.after_commit(hub.flush)
    register_kafka_handlers(runtime, hub)
    signer = LinkSigner(signing_key(settings), public_url(settings))
    worker = DeliveryWorker(runtime, signer, region_vocabulary(settings.esco_labels))
    runtime.every(settings.delivery_poll_seconds, worker.run)

    def deliveries(session: Session) -> Iterator[NotificationSent]:
        for record in session.exec(select(NotificationRecord)):
            yield notification_sent(runtime, record)

    def held(session: Session, student_id: str) -> dict[str, Any]:
        def rows(model: Any, column: Any) -> list[dict[str, Any]]:
            found = session.exec(select(model).where(col(column) == student_id)).all()
            return [r.model_dump(mode="json") for r in found]

        recipient = session.get(Recipient, student_id)
        return {
            "recipient": recipient.model_dump(mode="json") if recipient else None,
            "notifications": rows(NotificationRecord, NotificationRecord.student_id),
            "deliveries": rows(DeliveryRecord, DeliveryRecord.recipient_id),
            "webhooks": [
                {k: v for k, v in e.items() if k != "secret"}
                for e in rows(WebhookEndpoint, WebhookEndpoint.student_id)
            ],
            "agendas": rows(AgendaRecord, AgendaRecord.participant_id),
        }

    runtime.replay_sources.append(deliveries)
    app_state = {"delivery_worker": worker, "feed_hub": hub, "link_signer": signer}
    runtime.personal_data.append(held)
    routers: list[APIRouter] = [create_router(runtime, hub, signer)]
    if settings.mail_sink_dir:
        routers.append(create_mailbox_router(Path(settings.mail_sink_dir)))
    app = create_service_app(
        runtime,
        routers,
        title="Interlocality notifications",
        description="Notifications of new matches and Company Dating agendas to students: "
        "in-app feed and live stream, e-mail (instant or digest) and signed webhooks.",
    )
    for name, value in app_state.items():
        setattr(app.state, name, value)
    return app
