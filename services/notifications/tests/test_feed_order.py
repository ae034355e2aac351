"""A student's feed is numbered in the order its changes commit, so a live stream that
resumes after the last event it got misses none, whichever instance or consumer committed
them and however their transactions overlapped."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlmodel import Session

from interlocality.common.db import create_db_engine
from interlocality.common.migrations import upgrade
from interlocality.common.testing import committed_or_waiting, found, upserted
from interlocality.notifications.api import feed_reader
from interlocality.notifications.app import MIGRATIONS
from interlocality.notifications.store import TABLES, append_feed

if TYPE_CHECKING:
    from .conftest import Parts

Build = Callable[..., "Parts"]
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def matched(parts: Parts, region: str, vacancy_id: str) -> None:
    """Student s-1 matched with ``vacancy_id``, in a transaction of its own."""
    with parts.runtime.transaction() as session:
        parts.service.notify(session, [found(region, "s-1", vacancy_id).data])


def stream_read(parts: Parts, after: int) -> list[tuple[int, str]]:
    """What a stream of s-1 resuming after ``after`` gets: (event id, vacancy) pairs."""
    found_now = feed_reader(parts.runtime)({"s-1": after}).get("s-1", [])
    return [(position, event.data["vacancy_id"]) for position, event in found_now]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_stream_resuming_after_its_last_event_misses_none_committed_late(
    service_parts: Build, region: str
) -> None:
    one, two = service_parts(), service_parts()  # two instances, one database
    with one.runtime.transaction() as session:
        one.service.take_profile(session, upserted(region, "s-1").data)
    matched(one, region, "v-0")
    (start,) = stream_read(one, 0)

    # one instance adds to the feed and its transaction stays open ...
    early = Session(one.runtime.engine, expire_on_commit=False)
    one.service.notify(early, [found(region, "s-1", "v-1").data])
    early.flush()
    # ... while the other adds to the same feed and commits (or waits for the first)
    later = threading.Thread(target=matched, args=(two, region, "v-2"))
    later.start()
    committed_or_waiting(later, one.runtime.engine)
    # a stream reads what is committed now, then resumes after the last event it got
    seen = stream_read(one, start[0])
    early.commit()
    early.close()
    later.join(30)
    assert not later.is_alive()
    seen += stream_read(one, seen[-1][0] if seen else start[0])

    assert sorted(vacancy for _, vacancy in seen) == ["v-1", "v-2"]
    ids = [event_id for event_id, _ in seen]
    assert ids == sorted(ids) and len(set(ids)) == 2


def test_events_held_before_keep_their_ids_and_each_feed_goes_on_from_its_last(
    service_parts: Build, database_url: str
) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine, MIGRATIONS, TABLES, "0004")
        with engine.begin() as connection:
            for student_id, notification_id in (("s-1", "n-1"), ("s-2", "n-2"), ("s-1", "n-3")):
                connection.execute(
                    text(
                        "INSERT INTO feed_event (student_id, kind, notification_id, created_at) "
                        "VALUES (:student_id, 'notification', :notification_id, :at)"
                    ),
                    {"student_id": student_id, "notification_id": notification_id, "at": NOW},
                )
    finally:
        engine.dispose()
    parts = service_parts()  # upgrades to the newest revision
    read = feed_reader(parts.runtime)
    assert [event_id for event_id, _ in read({"s-1": 0})["s-1"]] == [1, 3]
    assert [event_id for event_id, _ in read({"s-1": 1})["s-1"]] == [3]  # resumed as before

    with parts.runtime.transaction() as session:
        append_feed(session, [("s-1", "updated", "n-3"), ("s-2", "updated", "n-2")], NOW)
    assert [event_id for event_id, _ in read({"s-1": 3})["s-1"]] == [4]
    assert [event_id for event_id, _ in read({"s-2": 2})["s-2"]] == [3]
