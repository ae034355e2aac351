"""Every service's migrations build exactly the schema its models describe, on both databases."""

from __future__ import annotations

import pytest

from interlocality.common.db import create_db_engine
from interlocality.common.migrations import pending_differences, service_migrations, upgrade
from interlocality.operator.services import SERVICES, store_module


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
