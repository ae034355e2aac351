"""``python -m interlocality.<service> migrate``, as a region's migration Job runs it: the
service's database is brought to its newest schema revision and the process exits, without
a broker to reach or a request served."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from interlocality.common.embedded_broker import free_port
from interlocality.common.migrations import pending_differences, service_migrations
from interlocality.operator.services import SERVICES, store_module

MIGRATE_SECONDS = 120


def _migrate(service: str, database_url: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "INTERLOCALITY_REGION": "aarhus",
        "INTERLOCALITY_OIDC_ISSUER": "https://sso.aarhus.example/realms/aarhus",
        # nothing listens there: migrating must not need the cluster
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "INTERLOCALITY_SIGNING_KEY": "k" * 44,
        "INTERLOCALITY_PUBLIC_URL": "https://notifications.aarhus.example",
        "INTERLOCALITY_VAR_DIR": str(var_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", f"interlocality.{service}", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=MIGRATE_SECONDS,
        check=False,
    )


def _assert_at_newest_revision(service: str, database_url: str) -> None:
    versions, tables = service_migrations(store_module(service))
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            [revision] = connection.execute(text("SELECT version_num FROM alembic_version"))
        newest = max(p.name.split("_", 1)[0] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))
        assert revision[0] == newest, (service, revision[0], newest)
        assert {t.__tablename__ for t in tables} <= set(inspect(engine).get_table_names())  # type: ignore[attr-defined]
        assert pending_differences(engine, tables) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_migrate_brings_a_postgresql_database_to_the_newest_revision_and_exits(
    service: str, postgres_url: str, tmp_path: Path
) -> None:
    result = _migrate(service, postgres_url, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_at_newest_revision(service, postgres_url)
    # run again, as a second release's Job does: nothing left to do, still a success
    again = _migrate(service, postgres_url, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    _assert_at_newest_revision(service, postgres_url)


def test_migrate_brings_a_sqlite_file_to_the_newest_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'profiles.db'}"
    result = _migrate("profiles", url, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_at_newest_revision("profiles", url)


def test_an_unknown_argument_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "interlocality.profiles", "migrat"],
        env={"PATH": os.environ["PATH"], "INTERLOCALITY_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=MIGRATE_SECONDS,
        check=False,
    )
    assert result.returncode != 0
    assert "usage: python -m interlocality.profiles [migrate]" in result.stderr
