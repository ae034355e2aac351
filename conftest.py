"""Fixtures shared by every test: a real Kafka-protocol broker, real databases and a real
browser.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` if set, else testcontainers' Kafka when a Docker engine
answers, else the embedded Tansu broker. PostgreSQL: ``TEST_DATABASE_URL``, else the server
on 127.0.0.1:5432 (user postgres). Chromium: see
:func:`interlocality.common.testing.chromium_executable`. None is ever skipped: a missing
one fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from interlocality.common.embedded_broker import EmbeddedBroker
from interlocality.common.testing import (
    CHROMIUM_ARGS,
    BrowserMissing,
    chromium_executable,
    fresh_databases,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from interlocality.common.issuer import DevelopmentIssuer

REPO_ROOT = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real Kafka-protocol broker for the whole session."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def region() -> str:
    """A region name of its own per test, so topics and consumer groups never collide."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of a PostgreSQL server the tests may create databases on."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {url} is required for the store tests: {exc}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_databases(postgres_admin_url, [f"il_test_{uuid.uuid4().hex[:12]}"]) as (url,):
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs twice: on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def service_settings(kafka_bootstrap: str, region: str, database_url: str):  # type: ignore[no-untyped-def]
    """Settings factory for a service under test: this test's region, broker and database."""
    import asyncio

    from interlocality.common.settings import load_settings
    from interlocality.common.testing import trusting_tests_issuer
    from interlocality.common.topics_admin import ensure_topics
    from interlocality.operator.services import SERVICE_SETTINGS

    asyncio.run(ensure_topics(kafka_bootstrap, region))

    def make(service: str, **overrides: object):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "region": region,
            "kafka_bootstrap_servers": kafka_bootstrap,
            "database_url": database_url,
            "log_format": "console",
            **trusting_tests_issuer(),
        }
        values.update(overrides)
        return load_settings(SERVICE_SETTINGS[service], **values)

    return make


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium driven by Playwright, for the whole session.

    Playwright's async API: its sync API holds an event loop in the test's thread, where the
    broker helpers run their own.
    """
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        try:
            executable = chromium_executable(playwright.chromium.executable_path)
        except BrowserMissing as exc:
            pytest.fail(f"browser tests need Chromium: {exc}")
        browser = await playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where browser tests save screenshots for a person to look at:
    ``$INTERLOCALITY_SCREENSHOTS``, else a folder of this run's temporary directory."""
    configured = os.environ.get("INTERLOCALITY_SCREENSHOTS")
    if configured:
        Path(configured).mkdir(parents=True, exist_ok=True)
        return Path(configured)
    return tmp_path_factory.mktemp("screenshots")


SIGN_IN_ACCOUNTS = (
    {"name": "Åsa Ørsted", "roles": ["operator"]},
    {"name": "Iñaki Yılmaz", "roles": ["coordinator"]},
    {"name": "Begoña Muñoz", "roles": ["student"], "student_id": "s-begona"},
    {"name": "Ærø Søfart ApS", "roles": ["company"], "company_id": "c-aero"},
)
"""Whom :func:`browser_issuer` signs in, each in the test's region."""


@pytest.fixture
def browser_issuer(region: str, tmp_path: Path) -> Iterator[DevelopmentIssuer]:
    """The tests' issuer served on a real socket, signing browsers in to this test's region
    as one of :data:`SIGN_IN_ACCOUNTS` (listed in ``var/<region>/accounts.json`` as a region's
    seed writes them). A service trusts it with
    ``service_settings(..., **trusting_tests_issuer(browser_issuer))``."""
    import json

    from interlocality.common.testing import served_issuer

    accounts = tmp_path / "var" / region / "accounts.json"
    accounts.parent.mkdir(parents=True)
    accounts.write_text(
        json.dumps([{**account, "region": region} for account in SIGN_IN_ACCOUNTS]),
        encoding="utf-8",
    )
    with served_issuer(tmp_path / "var") as issuer:
        yield issuer
