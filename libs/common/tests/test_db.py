"""Readers see committed state and never queue behind a writer's open transaction; a
transaction's named lock is held until it ends; a table is read in key order a batch at a
time."""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlmodel import col

from interlocality.common.consumer import ProcessedEvent
from interlocality.common.db import (
    advisory_key,
    create_db_engine,
    in_key_order,
    init_schema,
    read_only,
    transaction,
    transaction_lock,
)


def test_a_reader_is_not_held_up_by_an_open_write_transaction(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
            connection.execute(text("INSERT INTO note (id, body) VALUES (1, 'committed')"))
        seen: list[list[str]] = []
        with engine.connect() as writer:
            writer.begin()
            writer.execute(text("INSERT INTO note (id, body) VALUES (2, 'in flight')"))

            def read() -> None:
                with read_only(engine).connect() as reader:
                    rows = reader.execute(text("SELECT body FROM note ORDER BY id"))
                    seen.append([row[0] for row in rows])

            thread = threading.Thread(target=read)
            thread.start()
            thread.join(timeout=5)
            assert not thread.is_alive(), "the reader waited for the writer"
            writer.rollback()
        assert seen == [["committed"]]
    finally:
        engine.dispose()


def test_a_transactions_named_lock_is_held_until_it_ends(database_url: str) -> None:
    engine = create_db_engine(database_url)
    key = {"key": advisory_key("interlocality tests lock")}

    def free_elsewhere() -> bool:
        with engine.connect() as other:
            return bool(
                other.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar_one()
            )

    try:
        with transaction(engine) as session:
            transaction_lock(session, "interlocality tests lock")
            if engine.dialect.name == "postgresql":
                assert not free_elsewhere()
        if engine.dialect.name == "postgresql":
            assert free_elsewhere()
    finally:
        engine.dispose()


def test_rows_in_key_order_come_batch_after_batch_each_once(database_url: str) -> None:
    engine = create_db_engine(database_url)
    towns = {"Århus": "dk", "Münster": "de", "Ålesund": "no", "Tromsø": "no", "Iğdır": "tr"}
    try:
        init_schema(engine, [ProcessedEvent])
        with transaction(engine) as session:
            session.add_all(
                ProcessedEvent(consumer=country, event_id=name, topic="towns")
                for name, country in towns.items()
            )
        with transaction(engine) as session:
            read = [e.event_id for e in in_key_order(session, ProcessedEvent, "event_id", batch=2)]
            in_norway = col(ProcessedEvent.consumer) == "no"
            nordic = [
                e.event_id
                for e in in_key_order(session, ProcessedEvent, "event_id", in_norway, batch=1)
            ]
        assert sorted(read) == sorted(towns) and read == sorted(read)
        assert nordic == sorted(name for name, country in towns.items() if country == "no")
    finally:
        engine.dispose()
