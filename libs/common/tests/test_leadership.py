"""One active replica: the holder of the service's advisory lock, on a connection of its own."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from interlocality.common.db import create_db_engine
from interlocality.common.leadership import Leadership


def test_one_replica_is_active_until_it_lets_go_or_loses_its_connection(
    postgres_url: str,
) -> None:
    engines = [create_db_engine(postgres_url) for _ in range(3)]
    first, second = (Leadership(engine, "matching") for engine in engines[:2])
    other_service = Leadership(engines[2], "notifications")
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert other_service.try_acquire()  # each service has its own
        assert first.held() and not second.held()

        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()

        # the active replica's connection dies (its pod, or the database, dropped it): it
        # knows it is no longer active, and another replica gets in
        with engines[2].connect() as admin:
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted "
                    "AND objid = (CAST(:key AS bigint) & 4294967295) "
                    "AND classid = ((CAST(:key AS bigint) >> 32) & 4294967295)"
                ),
                {"key": second.key},
            )
            admin.commit()
        assert not second.held()
        assert first.try_acquire()
    finally:
        for leadership in (first, second, other_service):
            leadership.release()
        for engine in engines:
            engine.dispose()


def test_a_sqlite_process_is_always_the_active_one(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'one.db'}")
    leadership = Leadership(engine, "matching")
    assert not leadership.shared
    assert leadership.try_acquire() and leadership.held()
    leadership.release()
    engine.dispose()
