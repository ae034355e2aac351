"""Composition root of the notifications service."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from interlocality.common.esco import region_vocabulary
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import load_settings
from interlocality.contracts.topics import DELIVERIES, PREFERENCES
from interlocality.notifications import api, handlers, mailbox
from interlocality.notifications.composing import Composer
from interlocality.notifications.deliveries import DeliveryWorker
from interlocality.notifications.links import (
    LinkSigner,
    public_url,
    retired_signing_keys,
    signing_key,
)
from interlocality.notifications.recording import OutcomeRecorder
from interlocality.notifications.sending import Transports
from interlocality.notifications.service import NotificationService
from interlocality.notifications.settings import NotificationsSettings
from interlocality.notifications.store import TABLES, held_on
from interlocality.notifications.streams import FeedHub

__all__ = ["create_app"]

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    """The notifications service: in-app feed and live stream, e-mail, webhooks, digests."""
    settings = settings or load_settings(NotificationsSettings)
    runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
    runtime.publishes(DELIVERIES)
    runtime.publishes(PREFERENCES)
    hub = FeedHub(api.feed_reader(runtime), sweep_seconds=settings.live_stream_sweep_seconds)
    runtime.after_commit(hub.flush)
    signer = LinkSigner(signing_key(settings), public_url(settings), retired_signing_keys(settings))
    composer = Composer(
        signer, region_vocabulary(settings.esco_labels), settings.region, settings.time_zone
    )
    service = NotificationService(runtime, hub, composer, OutcomeRecorder(runtime))
    handlers.subscribe(runtime, service)
    worker = DeliveryWorker(service, Transports(settings))
    runtime.every(settings.delivery_poll_seconds, worker.run)
    runtime.replay_sources.append(service.sent_notifications)
    runtime.personal_data.append(held_on)

    routers: list[APIRouter] = [api.router]
    parts: list[object] = [service, hub, signer]
    if settings.mail_sink_dir:
        routers.append(mailbox.router)
        parts.append(mailbox.Mailbox(Path(settings.mail_sink_dir)))
    app = create_service_app(
        runtime,
        routers,
        title="Interlocality notifications",
        description="Notifications of new matches and Company Dating agendas to students: "
        "in-app feed and live stream, e-mail (instant or digest) and signed webhooks.",
        provides=parts,
    )
    app.state.delivery_worker = worker
    app.state.feed_hub = hub
    app.state.link_signer = signer
    return app
