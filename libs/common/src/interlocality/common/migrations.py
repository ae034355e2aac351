"""Schema migrations (Alembic), one history per service, one environment for all.

    python -m interlocality.common.migrations revision SERVICE "what changed"
    python -m interlocality.common.migrations check SERVICE

A service keeps its revisions in ``interlocality/<service>/migrations/``; the runtime
upgrades its database to the newest one at start.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData
from sqlmodel import SQLModel

from interlocality.common.consumer import ProcessedEvent
from interlocality.common.outbox import OutboxMessage

__all__ = ["COMMON_TABLES", "metadata_of", "pending_differences", "service_migrations", "upgrade"]

ENV_DIR = Path(__file__).parent / "migrations_env"
COMMON_TABLES: list[type[SQLModel]] = [OutboxMessage, ProcessedEvent]


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


def upgrade(engine: Engine, versions: Path, tables: Sequence[type[SQLModel]]) -> None:
    """Bring the database to the newest revision in ``versions``."""
    with engine.begin() as connection:
        command.upgrade(_config(versions, connection, metadata_of(tables)), "head")


def pending_differences(engine: Engine, tables: Sequence[type[SQLModel]]) -> list[Any]:
    """What the models have that the migrated database lacks (empty when in step)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata_of(tables)))


def service_migrations(name: str) -> tuple[Path, list[type[SQLModel]]]:
    """The revisions folder of a service and the tables its migrations must build."""
    store = import_module(f"interlocality.{name}.store")
    package = Path(import_module(f"interlocality.{name}").__file__ or "").parent
    return package / "migrations", [*store.TABLES, *COMMON_TABLES]


def main(argv: list[str] | None = None) -> int:
    """Write a new revision from the models, or check that none is missing."""
    from interlocality.common.db import create_db_engine

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["revision", "check"])
    parser.add_argument("service")
    parser.add_argument("message", nargs="?", default="schema change")
    args = parser.parse_args(argv)
    versions, tables = service_migrations(args.service)
    versions.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{tmp}/scratch.db")
        upgrade(engine, versions, tables)
        if args.action == "check":
            differences = pending_differences(engine, tables)
            for difference in differences:
                print(f"{args.service}: not in a migration: {difference}", file=sys.stderr)
            return 1 if differences else 0
        number = len(list(versions.glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
        with engine.begin() as connection:
            config = _config(versions, connection, metadata_of(tables))
            config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
            script = command.revision(
                config, message=args.message, autogenerate=True, rev_id=f"{number:04d}"
            )
    written = getattr(script, "path", None)
    if written:
        # Generated code follows the project's style like the rest.
        subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "-q", written], check=False)
        subprocess.run([sys.executable, "-m", "ruff", "format", "-q", written], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
