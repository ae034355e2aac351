"""The vacancies service layer over a migrated database of this test, without HTTP or Kafka."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from sqlmodel import col, select

from interlocality.common.migrations import upgrade
from interlocality.common.outbox import OutboxMessage
from interlocality.common.service import ServiceRuntime
from interlocality.vacancies.app import MIGRATIONS
from interlocality.vacancies.service import VacancyService
from interlocality.vacancies.store import TABLES


@pytest.fixture
def service(service_settings: Callable[..., object]) -> Iterator[VacancyService]:
    runtime = ServiceRuntime(service_settings("vacancies"), TABLES, MIGRATIONS)  # type: ignore[arg-type]
    upgrade(runtime.engine, MIGRATIONS, runtime.tables)
    yield VacancyService(runtime)
    runtime.engine.dispose()


@pytest.fixture
def staged(service: VacancyService) -> Callable[[], list[tuple[str, str]]]:
    """The events the service has staged so far, in order: (type name, key)."""

    def events() -> list[tuple[str, str]]:
        with service.runtime.reading() as session:
            messages = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        return [
            (dict(json.loads(m.headers))["ce_type"].split(".")[2], (m.key or b"").decode())
            for m in messages
        ]

    return events
