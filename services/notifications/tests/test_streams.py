"""The live-feed hub: a stream gets what its own instance applied at once, and what another
instance applied within a sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from interlocality.notifications.streams import FeedHub


class SharedFeed:
    """One feed table read by several instances' hubs."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, str]] = []

    def add(self, student_id: str, item: str) -> None:
        self.rows.append((student_id, len(self.rows) + 1, item))

    def read_many(self, after: Mapping[str, int]) -> dict[str, Sequence[tuple[int, str]]]:
        return {
            student: [(p, item) for s, p, item in self.rows if s == student and p > position]
            for student, position in after.items()
        }


async def next_event(stream, timeout: float) -> tuple[int, str] | None:  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(anext(stream), timeout)


async def test_own_commits_reach_the_stream_at_once() -> None:
    feed = SharedFeed()
    hub = FeedHub(feed.read_many, sweep_seconds=0)
    stream = hub.follow("s-1", 0, keepalive=30)
    waiting = asyncio.ensure_future(next_event(stream, 2.0))
    await asyncio.sleep(0.05)  # the stream has caught up and waits

    feed.add("s-1", "first match")
    hub.touch("s-1")
    hub.flush()

    assert await waiting == (1, "first match")
    await stream.aclose()


async def test_another_instances_commits_arrive_within_a_sweep() -> None:
    feed = SharedFeed()
    applying = FeedHub(feed.read_many, sweep_seconds=0.1)
    serving = FeedHub(feed.read_many, sweep_seconds=0.1)
    stream = serving.follow("s-1", 0, keepalive=30)
    waiting = asyncio.ensure_future(next_event(stream, 2.0))
    await asyncio.sleep(0.05)

    feed.add("s-2", "someone else's")
    feed.add("s-1", "applied elsewhere")
    applying.touch("s-1")
    applying.flush()  # the applying instance has no listener: only the sweep can tell

    assert await waiting == (2, "applied elsewhere")
    second = asyncio.ensure_future(next_event(stream, 2.0))
    feed.add("s-1", "and another")
    assert await second == (3, "and another")
    await stream.aclose()
    assert serving._sweeper is None  # the last stream closed: nothing left to sweep for


async def test_without_a_sweep_another_instances_commits_wait_for_a_reconnect() -> None:
    feed = SharedFeed()
    serving = FeedHub(feed.read_many, sweep_seconds=0)
    stream = serving.follow("s-1", 0, keepalive=30)
    waiting = asyncio.ensure_future(next_event(stream, 0.5))
    await asyncio.sleep(0.05)

    feed.add("s-1", "applied elsewhere")

    with pytest.raises(TimeoutError):
        await waiting
    resumed = serving.follow("s-1", 0, keepalive=30)
    assert await next_event(resumed, 2.0) == (1, "applied elsewhere")
    await resumed.aclose()
