"""Schema migrations (Alembic), one history per service, one environment for all.

A service keeps its revisions in a ``migrations/`` folder next to its store module; the
runtime upgrades its database to the newest one at start. ``make migration`` writes a new
revision from the models (:func:`write_revision`).

Every replica of a service upgrades at its start, and replicas start together: on
PostgreSQL the upgrade holds an advisory lock for its transaction, so one replica migrates
and the others, finding the database at the newest revision, have nothing left to do. On
SQLite the transaction begins IMMEDIATE (see :mod:`interlocality.common.db`), which
serialises them already.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, text
from sqlmodel import SQLModel

from interlocality.common.audit import AuditEntry
from interlocality.common.consumer import ProcessedEvent
from interlocality.common.db import advisory_key
from interlocality.common.outbox import OutboxMessage

__all__ = [
    "COMMON_TABLES",
    "metadata_of",
    "missing_from_revisions",
    "pending_differences",
    "service_migrations",
    "upgrade",
    "write_revision",
]

ENV_DIR = Path(__file__).parent / "migrations_env"
COMMON_TABLES: list[type[SQLModel]] = [OutboxMessage, ProcessedEvent, AuditEntry]


def metadata_of(tables: Sequence[type[SQLModel]]) -> MetaData:
    """A metadata holding just these tables (services share SQLModel's global one)."""
    metadata = MetaData()
    for model in tables:
        model.__table__.to_metadata(metadata)  # type: ignore[attr-defined]
    return metadata


def _config(versions: Path, connection: Any, metadata: MetaData) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ENV_DIR))
    config.set_main_option("version_locations", str(versions))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    config.attributes["metadata"] = metadata
    return config


_MIGRATION_LOCK = advisory_key("interlocality migrations")


def upgrade(
    engine: Engine, versions: Path, tables: Sequence[type[SQLModel]], revision: str = "head"
) -> None:
    """Bring the database to the newest revision in ``versions`` (or to ``revision``: to
    test how a migration carries rows written before it), one replica at a time."""
    with engine.begin() as connection:
        _hold_migration_lock(connection)
        command.upgrade(_config(versions, connection, metadata_of(tables)), revision)


def _hold_migration_lock(connection: Connection) -> None:
    """On PostgreSQL, wait for and hold the migration lock until the transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})


def pending_differences(engine: Engine, tables: Sequence[type[SQLModel]]) -> list[Any]:
    """What the models have that the migrated database lacks (empty when in step)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata_of(tables)))


def service_migrations(store: ModuleType) -> tuple[Path, list[type[SQLModel]]]:
    """The revisions folder of the service whose store module is ``store`` (``migrations/``
    beside it) and the tables its migrations must build (``store.TABLES`` and the common
    ones)."""
    return Path(store.__file__ or "").parent / "migrations", [*store.TABLES, *COMMON_TABLES]


def missing_from_revisions(versions: Path, tables: Sequence[type[SQLModel]]) -> list[Any]:
    """What ``tables`` have that the revisions in ``versions`` do not build (empty when in
    step), found on a scratch SQLite database."""
    from interlocality.common.db import create_db_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{tmp}/scratch.db")
        try:
            upgrade(engine, versions, tables)
            return pending_differences(engine, tables)
        finally:
            engine.dispose()


def write_revision(versions: Path, tables: Sequence[type[SQLModel]], message: str) -> Path | None:
    """Write the next revision of ``versions``: what ``tables`` have that the earlier ones do
    not build, numbered after them; returns its file."""
    from interlocality.common.db import create_db_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{tmp}/scratch.db")
        try:
            upgrade(engine, versions, tables)
            number = len(list(versions.glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
            with engine.begin() as connection:
                config = _config(versions, connection, metadata_of(tables))
                config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
                script = command.revision(
                    config, message=message, autogenerate=True, rev_id=f"{number:04d}"
                )
        finally:
            engine.dispose()
    written = getattr(script, "path", None)
    if not written:
        return None
    # Generated code follows the project's style like the rest.
    subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "-q", written], check=False)
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", written], check=False)
    return Path(written)
