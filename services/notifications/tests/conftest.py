"""The service layer of notifications on a real database, without a broker: the use cases
are called as the consumer and the routes call them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from interlocality.common.esco import EscoVocabulary, region_vocabulary
from interlocality.common.migrations import upgrade
from interlocality.common.outbox import OutboxMessage
from interlocality.common.service import ServiceRuntime
from interlocality.common.settings import load_settings
from interlocality.notifications.app import MIGRATIONS
from interlocality.notifications.composing import Composer
from interlocality.notifications.links import LinkSigner, public_url, signing_key
from interlocality.notifications.recording import OutcomeRecorder
from interlocality.notifications.service import NotificationService
from interlocality.notifications.settings import NotificationsSettings
from interlocality.notifications.store import TABLES
from interlocality.notifications.streams import FeedHub


@dataclass
class Staged:
    """A record staged in the outbox: its topic, and its headers and body as JSON."""

    topic: str
    headers: dict[str, str]
    data: dict[str, Any]

    @property
    def type(self) -> str:
        """The event's type without region and version (``NotificationSent``)."""
        return self.headers["ce_type"].split(".")[-2]


@dataclass
class Parts:
    """The service layer and what it was built of."""

    runtime: ServiceRuntime
    service: NotificationService
    hub: FeedHub[Any]
    signer: LinkSigner

    def session(self) -> Session:
        return Session(self.runtime.engine, expire_on_commit=False)

    def staged(self, topic: str | None = None, kind: str | None = None) -> list[Staged]:
        """What the service staged for publishing, in order (on ``topic`` and of type
        ``kind`` only, if given)."""
        with self.session() as session:
            rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        staged = [
            Staged(row.topic, dict(json.loads(row.headers)), json.loads(row.value or b"null"))
            for row in rows
            if topic is None or row.topic == topic
        ]
        return [s for s in staged if kind is None or s.type == kind]

    def event_types(self) -> list[str]:
        """The type of each event staged, without region and version (``NotificationSent``)."""
        return [s.type for s in self.staged()]


@pytest.fixture(scope="session")
def vocabulary() -> EscoVocabulary:
    return region_vocabulary(load_settings(NotificationsSettings).esco_labels)


@pytest.fixture
def service_parts(
    region: str, database_url: str, tmp_path: Path, vocabulary: EscoVocabulary
) -> Iterator[Callable[..., Parts]]:
    """The service layer on a fresh database of its own, with settings changed by keyword."""
    runtimes: list[ServiceRuntime] = []

    def build(**overrides: Any) -> Parts:
        values: dict[str, Any] = {
            "region": region,
            "database_url": database_url,
            "kafka_bootstrap_servers": "127.0.0.1:1",
            "signing_key": "test-signing-key",
            "public_url": "http://notifications.test",
            "var_dir": tmp_path / "var",
        }
        settings = load_settings(NotificationsSettings, **(values | overrides))
        runtime = ServiceRuntime(settings, TABLES, MIGRATIONS)
        upgrade(runtime.engine, MIGRATIONS, runtime.tables)
        runtimes.append(runtime)
        signer = LinkSigner(signing_key(settings), public_url(settings))
        hub: FeedHub[Any] = FeedHub()
        composer = Composer(signer, vocabulary, settings.region, settings.time_zone)
        recorder = OutcomeRecorder(runtime, random.Random(7))
        return Parts(runtime, NotificationService(runtime, hub, composer, recorder), hub, signer)

    yield build
    for runtime in runtimes:
        runtime.engine.dispose()
