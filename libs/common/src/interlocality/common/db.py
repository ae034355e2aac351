"""Database engines: SQLite files by default, PostgreSQL when ``DATABASE_URL`` says so."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, Table, event, text
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine, select

__all__ = [
    "Merge",
    "add_up",
    "advisory_key",
    "create_db_engine",
    "database_reachable",
    "database_unreachable",
    "in_key_order",
    "init_schema",
    "insert_missing",
    "insert_rows",
    "read_only",
    "transaction",
    "transaction_lock",
    "upsert",
]


def advisory_key(name: str) -> int:
    """A PostgreSQL advisory lock key (a signed 64-bit integer) named by ``name``: the one
    way every lock of the services is named."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and immediate transactions."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)

    database = url.split("///", 1)[1] if "///" in url else ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE can be issued:
        # writers queue on the lock instead of failing with "database is locked".
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers (see read_only) read a WAL snapshot and never wait for the write lock.
        reader = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")

    return engine


_READ_ONLY = "interlocality_read_only"


def read_only(engine: Engine) -> Engine:
    """``engine`` for reading: on SQLite its transactions never queue behind a writer."""
    return engine.execution_options(**{_READ_ONLY: True})


def init_schema(engine: Engine, tables: Sequence[type[SQLModel]]) -> None:
    """Create the given tables (and only those) if they do not exist."""
    table_objects: list[Table] = [model.__table__ for model in tables]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=table_objects)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def transaction_lock(session: Session, name: str) -> None:
    """Wait for the lock named ``name`` and hold it until ``session``'s transaction ends.

    On PostgreSQL an advisory transaction lock (:func:`advisory_key`): what a replica
    checks and then does under it, the others check only after it committed, seeing what
    it did. SQLite lets one writer in at a time already (``BEGIN IMMEDIATE``): nothing to
    take.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})


def insert_rows(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert plain ``rows`` into ``model``'s table in one statement.

    A Core insert: the ORM's bulk insert goes over every row a second time, which is most
    of its cost for the thousands of rows a batch of events writes. Every row must carry
    the same columns, each value as stored (no model defaults are applied).
    """
    if rows:
        session.execute(sa_insert(model.__table__), list(rows))  # type: ignore[attr-defined]


def insert_missing(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``model``'s table, leaving rows whose key already exists alone."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(table).on_conflict_do_nothing(), list(rows))


RowT = TypeVar("RowT", bound=SQLModel)


def in_key_order(
    session: Session,
    model: type[RowT],
    key: str,
    *where: ColumnElement[bool],
    batch: int = 1000,
) -> Iterator[RowT]:
    """Every row of ``model`` meeting ``where``, in the order of its string key column
    ``key``, read ``batch`` rows at a time after the last one read: a whole table (a
    replay's) is never held at once, and no row is read twice or skipped the way pages by
    offset would."""
    column = getattr(model, key)
    last = ""
    while True:
        rows = session.exec(
            select(model).where(column > last, *where).order_by(column).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = getattr(rows[-1], key)


def upsert(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``model``'s table; a row whose key exists replaces its values.

    Every row must carry the same columns.
    """
    if rows:
        table = model.__table__  # type: ignore[attr-defined]
        dialect = session.get_bind().dialect.name
        session.execute(_upsert_statement(table, dialect, tuple(rows[0])), list(rows))


@lru_cache(maxsize=256)
def _upsert_statement(table: Table, dialect: str, columns: tuple[str, ...]) -> Any:
    # Building the statement costs more than running it: build it once per shape.
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    keys = [column.name for column in table.primary_key]
    changed = {name: statement.excluded[name] for name in columns if name not in keys}
    if not changed:
        return statement.on_conflict_do_nothing()
    return statement.on_conflict_do_update(index_elements=keys, set_=changed)


Merge = Callable[[Any, Any], Any]
"""A column's new value, as SQL, from the stored row's columns and the incoming row's
(``excluded``): ``(stored, incoming) -> value``."""


def add_up(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[dict[str, Any]],
    counters: Sequence[str],
    merged: Mapping[str, Merge] | None = None,
) -> None:
    """Insert ``rows`` into ``model``'s table; where a row's key exists, add its
    ``counters`` to the stored ones (``n = n + excluded.n``) and set each column of
    ``merged`` to what its :data:`Merge` makes of the stored and the incoming row; any
    other column keeps its stored value.

    Every counter in the database is added to this way: one statement that reads and writes
    the row under its lock, so replicas (or overlapping transactions) counting at once lose
    no increment, as a read, add and write in Python would. Every row must carry the same
    columns and a key of its own. Rows are written in key order, so two transactions
    adding to the same rows take their locks in the same order and never deadlock.
    """
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    keys = [column.name for column in table.primary_key]
    dialect = session.get_bind().dialect.name
    statement = _adding_statement(
        table, dialect, tuple(rows[0]), tuple(counters), tuple((merged or {}).items())
    )
    session.execute(statement, sorted(rows, key=lambda row: tuple(row[key] for key in keys)))


@lru_cache(maxsize=64)
def _adding_statement(
    table: Table,
    dialect: str,
    columns: tuple[str, ...],
    counters: tuple[str, ...],
    merged: tuple[tuple[str, Merge], ...],
) -> Any:
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    keys = [column.name for column in table.primary_key]
    changed = {name: table.c[name] + statement.excluded[name] for name in counters}
    changed |= {name: merge(table.c, statement.excluded) for name, merge in merged}
    unknown = set(changed) - set(columns)
    if unknown:
        raise ValueError(f"rows of {table.name} lack {sorted(unknown)}")
    return statement.on_conflict_do_update(index_elements=keys, set_=changed)


def database_reachable(engine: Engine) -> bool:
    """True when a trivial query succeeds."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


# PostgreSQL's codes for a server that is going away or not taking work yet
_SERVER_UNAVAILABLE = {"57P01", "57P02", "57P03", "53300"}
# SQLite's for a file that is busy, cannot be opened, read or written
_FILE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
)


def database_unreachable(error: DBAPIError) -> bool:
    """Whether ``error`` says the database cannot be reached now (the work may be fine and
    succeed once it is back), rather than that it refused this work.

    A lost connection, PostgreSQL's connection exceptions (SQLSTATE class 08) and a server
    shutting down or starting up, SQLite's busy or unreadable file, and a driver error
    without a code at all (it never reached the server, as a refused connection) are
    outages. A statement timeout, a program limit, a deadlock or a statement SQLite
    rejects are the work's own.
    """
    if error.connection_invalidated:
        return True
    cause = error.orig
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return str(sqlstate).startswith("08") or sqlstate in _SERVER_UNAVAILABLE
    if isinstance(cause, sqlite3.Error):
        return str(getattr(cause, "sqlite_errorname", "")).startswith(_FILE_UNAVAILABLE)
    return True
