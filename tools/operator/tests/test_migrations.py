"""Every service's migrations build exactly the schema its models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from interlocality.common.db import create_db_engine
from interlocality.common.migrations import pending_differences, service_migrations, upgrade
from interlocality.common.testing import processes_at_once
from interlocality.operator.services import SERVICES, store_module

REPLICAS = 3


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_models(service: str, database_url: str) -> None:
    versions, tables = service_migrations(store_module(service))
    engine = create_db_engine(database_url)
    try:
        upgrade(engine, versions, tables)
        assert pending_differences(engine, tables) == []
        upgrade(engine, versions, tables)  # a second start changes nothing
    finally:
        engine.dispose()


def start_replica(service: str, url: str, start: object, outcomes: object) -> None:
    """One replica of ``service`` starting: it migrates its database, then reports."""
    versions, tables = service_migrations(store_module(service))
    engine = create_db_engine(url)
    try:
        start.wait(timeout=30)  # type: ignore[attr-defined]
        upgrade(engine, versions, tables)
        outcomes.put("migrated")  # type: ignore[attr-defined]
    except Exception as exc:
        outcomes.put(f"{type(exc).__name__}: {exc}")  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", ["matching", "analytics"])
def test_replicas_starting_at_once_migrate_one_after_the_other(
    service: str, postgres_url: str
) -> None:
    # Replicas are processes: Alembic keeps its context in a module global, so threads
    # of one process are not replicas.
    reported = processes_at_once(start_replica, [service, postgres_url], REPLICAS, timeout=120)
    assert reported == ["migrated"] * REPLICAS

    versions, tables = service_migrations(store_module(service))
    engine = create_db_engine(postgres_url)
    try:
        assert pending_differences(engine, tables) == []
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert [row[0] for row in kept] == [head_of(versions)]
    finally:
        engine.dispose()


def head_of(versions: Path) -> str:
    """The newest revision in ``versions``."""
    return max(path.name.split("_", 1)[0] for path in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))
