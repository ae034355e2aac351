"""Live feeds: open streams are given their student's new feed events after each commit.

Handlers note the students whose feed they changed (:meth:`FeedHub.touch`, any thread);
once the transaction has committed, :meth:`FeedHub.flush` has the hub read the new events
of every listening student it touched — in one read for all of them, not one per stream —
and hand each stream its own. A stream first catches up on its own (from the position it
resumes after), and drops what it has already sent, so it neither misses nor repeats an
event. Events another instance of the service applied are never touched here, so while
streams are open the hub also reads every listening student's feed every
``sweep_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["FeedHub"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
# {student id: position to read after} -> {student id: [(position, item), ...]}
ManyReader = Callable[[Mapping[str, int]], Mapping[str, Sequence[tuple[int, T]]]]


@dataclass(eq=False)
class _Listener(Generic[T]):
    student_id: str
    after: int
    queue: asyncio.Queue[list[tuple[int, T]]] = field(default_factory=asyncio.Queue)


class FeedHub(Generic[T]):
    """Who listens to which student's feed; new events are read once and fanned out."""

    def __init__(self, read_many: ManyReader[T] | None = None, sweep_seconds: float = 2.0) -> None:
        self.read_many = read_many
        self.sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self._touched: set[str] = set()
        self._listeners: dict[str, set[_Listener[T]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = asyncio.Lock()

    def touch(self, student_id: str) -> None:
        """Note that ``student_id``'s feed changes in the transaction under way."""
        with self._lock:
            self._touched.add(student_id)

    def flush(self) -> None:
        """After a commit: read and hand out the new events of the touched students."""
        with self._lock:
            touched, self._touched = self._touched, set()
        loop = self._loop
        if not touched or loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._schedule, touched)

    def _schedule(self, students: set[str]) -> None:
        listening = students & self._listeners.keys()
        if listening:
            task = asyncio.get_running_loop().create_task(self._fan_out(listening))
            task.add_done_callback(_report)

    async def _fan_out(self, students: set[str]) -> None:
        assert self.read_many is not None
        async with self._reading:  # one read at a time, in commit order
            listeners = [x for s in students for x in self._listeners.get(s, ())]
            if not listeners:
                return
            after: dict[str, int] = {}
            for listener in listeners:
                seen = after.get(listener.student_id)
                after[listener.student_id] = (
                    listener.after if seen is None else min(seen, listener.after)
                )
            found = await asyncio.to_thread(self.read_many, after)
            for listener in listeners:
                fresh = [e for e in found.get(listener.student_id, ()) if e[0] > listener.after]
                if fresh:
                    listener.after = fresh[-1][0]
                    listener.queue.put_nowait(fresh)

    async def follow(
        self, student_id: str, after: int, keepalive: float = 15.0
    ) -> AsyncIterator[tuple[int, T] | None]:
        """The student's feed events after position ``after`` as they come, each with its
        position; ``None`` every ``keepalive`` seconds without one (for a comment that keeps
        proxies open)."""
        assert self.read_many is not None
        self._loop = asyncio.get_running_loop()
        listener: _Listener[T] = _Listener(student_id, after)
        self._listeners.setdefault(student_id, set()).add(listener)
        if self.sweep_seconds > 0 and (self._sweeper is None or self._sweeper.done()):
            self._sweeper = self._loop.create_task(self._sweep(), name="live-feed-sweep")
            self._sweeper.add_done_callback(_report)
        try:
            # catch up on what came before; changes from now on arrive in the queue
            sent = after
            while backlog := (await asyncio.to_thread(self.read_many, {student_id: sent})).get(
                student_id
            ):
                for position, item in backlog:
                    if position > sent:
                        sent = position
                        yield position, item
            listener.after = max(listener.after, sent)
            while True:
                try:
                    batch = await asyncio.wait_for(listener.queue.get(), timeout=keepalive)
                except TimeoutError:
                    yield None
                    continue
                for position, item in batch:
                    if position > sent:
                        sent = position
                        yield position, item
        finally:
            listeners = self._listeners.get(student_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[student_id]
            if not self._listeners and self._sweeper is not None:
                self._sweeper.cancel()
                self._sweeper = None

    async def _sweep(self) -> None:
        """Every ``sweep_seconds`` while anyone listens: the new events of every listening
        student, whoever applied them."""
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self._fan_out(set(self._listeners))
            except Exception:
                logger.exception("live feed sweep failed; trying again")


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("live feed fan-out failed", exc_info=task.exception())
