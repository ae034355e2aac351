"""Transactional outbox: events are stored with the state change, then relayed to Kafka.

A service writes its rows and its events in one transaction (:func:`stage_event`); the
:class:`OutboxRelay` publishes committed rows in order and marks them. A crash between
commit and publish loses nothing: the rows are still there when the relay runs again.

Order is commit order. On SQLite writers take turns, so row ids already follow commits. On
PostgreSQL transactions draw ids as they stage and may commit the other way round, so a
transaction that staged rows numbers them anew as it commits, one committer at a time
(:func:`_number_in_commit_order`): an older snapshot of a key never follows a newer one or
its tombstone. Replicas of a service share its database, and only one of them relays at a
time (an advisory lock per relay round), so no row is published twice and no slow relay
puts an old row behind a newer one.

Rows carry personal data (a student's snapshot has their name and e-mail), so they do not
stay: the relay deletes published rows once they are older than the retention period, and
an erasure deletes every row about the erased student in its own transaction
(:func:`forget_subject`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import Connection, Engine, LargeBinary, delete, func, or_, text, update
from sqlalchemy import event as orm_events
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlmodel import Column, Field, Session, SQLModel, col, select

from interlocality.common.cloudevents import KafkaRecord, encode_event
from interlocality.common.db import advisory_key, insert_rows, transaction_lock
from interlocality.common.telemetry import current_trace_headers, linked_context
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.topics import topic_of_event

__all__ = [
    "OutboxMessage",
    "OutboxRelay",
    "backlog",
    "forget_subject",
    "pending_count",
    "prune_published",
    "stage_event",
    "stage_events",
    "stage_record",
]

logger = logging.getLogger(__name__)


class OutboxMessage(SQLModel, table=True):
    """A Kafka record waiting to be published (``published_at`` is null until it is)."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=249)
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    value: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    headers: str = Field(default="[]", description="JSON list of [name, value] pairs.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    published_at: datetime | None = Field(default=None, index=True)


def stage_record(session: Session, record: KafkaRecord) -> OutboxMessage:
    """Add ``record`` to the outbox in ``session``'s transaction, with the trace context."""
    headers = [(name, value.decode()) for name, value in record.headers]
    headers += list(current_trace_headers().items())
    message = OutboxMessage(
        topic=record.topic, key=record.key, value=record.value, headers=json.dumps(headers)
    )
    session.add(message)
    staged = _staged_in(session)
    if staged is not None:
        staged.messages.append(message)
    return message


def stage_events(session: Session, events: Sequence[CloudEvent[Any]]) -> None:
    """Add many events to the outbox in one statement (bulk imports), in order."""
    if not events:
        return
    trace = list(current_trace_headers().items())
    rows = []
    for event in events:
        record = encode_event(event, topic_of_event(type(event)).name(event.region))
        headers = [(name, value.decode()) for name, value in record.headers] + trace
        rows.append(
            {
                "topic": record.topic,
                "key": record.key,
                "value": record.value,
                "headers": json.dumps(headers),
                "created_at": datetime.now(UTC),
            }
        )
    staged = _staged_in(session)
    if staged is None:
        insert_rows(session, OutboxMessage, rows)
        return
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    statement = sa_insert(table).returning(table.c.id, sort_by_parameter_order=True)
    staged.ids.extend(session.execute(statement, rows).scalars())


def stage_event(session: Session, event: CloudEvent[Any]) -> OutboxMessage:
    """Add ``event`` to the outbox, on its topic in its region."""
    topic = topic_of_event(type(event)).name(event.region)
    return stage_record(session, encode_event(event, topic))


def forget_subject(session: Session, subject: str) -> int:
    """Delete, in ``session``'s transaction, every outbox row about ``subject`` (an erased
    student's id): keyed by it, or naming it as a string in its JSON value ("s-1", never
    inside "s-10"), published or not. So neither an old snapshot with their name and e-mail
    stays behind nor one still waiting is published after the erasure. Stage the erasure's
    own events after this. Returns how many rows went."""
    key, named = subject.encode(), json.dumps(subject, ensure_ascii=False).encode()
    value = col(OutboxMessage.value)
    # LIKE reads bytes on PostgreSQL (bytea) but not on SQLite, where instr() does
    sqlite = session.get_bind().dialect.name == "sqlite"
    names = func.instr(value, named) > 0 if sqlite else value.contains(named)
    statement = delete(OutboxMessage).where(or_(col(OutboxMessage.key) == key, names))
    return int(session.exec(statement).rowcount or 0)


def prune_published(session: Session, before: datetime) -> int:
    """Delete the rows published before ``before``; returns how many went."""
    statement = delete(OutboxMessage).where(
        col(OutboxMessage.published_at).is_not(None), col(OutboxMessage.published_at) < before
    )
    return int(session.exec(statement).rowcount or 0)


class _Staged:
    """The outbox rows one PostgreSQL transaction staged: ORM messages (their ids come with
    the flush) and ids of rows inserted in bulk."""

    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []
        self.ids: list[int] = []


_STAGED = "interlocality.outbox.staged"
_NUMBERED_IN_COMMIT_ORDER = """
UPDATE outbox_message AS o SET id = numbered.id
FROM (
    SELECT staged.id AS old_id, nextval(pg_get_serial_sequence('outbox_message', 'id')) AS id
    FROM (
        SELECT id FROM outbox_message WHERE id = ANY(:ids) AND published_at IS NULL ORDER BY id
    ) AS staged
) AS numbered
WHERE o.id = numbered.old_id
"""


COMMIT_ORDER_LOCK = "interlocality outbox commit order"  # a transaction_lock name


def _staged_in(session: Session) -> _Staged | None:
    """Where ``session`` notes the rows it stages, on PostgreSQL (None elsewhere: SQLite's
    writers take turns, so their ids already follow the order of commits)."""
    staged = session.info.get(_STAGED)
    if staged is None and session.get_bind().dialect.name == "postgresql":
        staged = session.info[_STAGED] = _Staged()
        if not orm_events.contains(session, "before_commit", _number_in_commit_order):
            orm_events.listen(session, "before_commit", _number_in_commit_order)
            orm_events.listen(session, "after_soft_rollback", _forget_staged)
    return staged


def _number_in_commit_order(session: Session) -> None:
    """Give the rows this transaction staged new ids, in their order, as it commits.

    Ids drawn while staging follow the order transactions began writing, not the order
    they commit: the relay could publish a key's row committed later before one committed
    earlier (an old snapshot after an erasure's tombstone). Under a lock held until the
    commit is done, the next ids go to this transaction's rows, so every row committed
    later gets a greater id than every row committed before.
    """
    staged = session.info.pop(_STAGED, None)
    if staged is None:
        return
    session.flush()
    ids = staged.ids + [message.id for message in staged.messages if message.id is not None]
    if not ids:
        return
    transaction_lock(session, COMMIT_ORDER_LOCK)
    session.execute(text(_NUMBERED_IN_COMMIT_ORDER), {"ids": ids})
    # the session's copies carry the ids drawn while staging: let them go
    for message in staged.messages:
        if message in session:
            session.expunge(message)


def _forget_staged(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_STAGED, None)


def pending_count(session: Session) -> int:
    """How many outbox rows are committed but not yet published."""
    statement = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.published_at.is_(None)  # type: ignore[union-attr]
        )
    )
    return int(session.exec(statement).one())


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many outbox rows wait to be published, and when the oldest of them was staged
    (None when none waits): a relay that cannot publish shows as an age that keeps growing."""
    statement = select(func.count(), func.min(OutboxMessage.created_at)).where(
        OutboxMessage.published_at.is_(None)  # type: ignore[union-attr]
    )
    count, oldest = session.exec(statement).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # SQLite keeps no zone; rows are staged in UTC
    return int(count), oldest


class OutboxRelay:
    """Publishes committed outbox rows in id order and marks them published.

    Polls every ``poll_seconds``; :meth:`wake` (thread-safe) makes it look at once. Rows of
    the topics named in ``producers`` go through that producer (a topic shared with partner
    regions may live on another cluster), all others through ``producer``. On PostgreSQL
    the relays of ``service``'s replicas take turns: a round runs only while it holds the
    service's relay lock.
    """

    def __init__(
        self,
        engine: Engine,
        producer: AIOKafkaProducer,
        tracer_provider: Any = None,
        poll_seconds: float = 0.05,
        batch_size: int = 500,
        on_published: Callable[[str, int], None] | None = None,
        producers: Mapping[str, AIOKafkaProducer] | None = None,
        retention_seconds: float = 7 * 24 * 3600,
        service: str = "",
    ) -> None:
        self.engine = engine
        self.lock_key = advisory_key(f"interlocality outbox relay {service}")
        self.retention_seconds = retention_seconds
        self._pruned_at = 0.0
        self.producer = producer
        self.producers = dict(producers or {})
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.on_published = on_published
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(__name__)
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        """Start relaying in the background on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def wake(self) -> None:
        """Ask the relay to look for new rows now; safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def stop(self) -> None:
        """Publish what is already committed, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                published = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox relay failed; retrying")
                published = 0
                await asyncio.sleep(1.0)
            if self._stopping and published == 0:
                return
            if time.monotonic() - self._pruned_at > min(self.retention_seconds / 10, 3600):
                await asyncio.to_thread(self.prune)
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_seconds)
                self._wakeup.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published.

        Rows that carry the same trace context (one request, one import) are published
        under one producer span, linked to the trace that staged them. Records go to the
        broker in record batches per partition, in row order, on the partition the
        producer would pick for their key (one ``send`` per record cost most of a large
        relay's time).
        """
        turn = await asyncio.to_thread(self._take_turn)
        if turn is None:
            return 0  # another replica's relay is publishing this database's rows
        try:
            published = await self._publish_batch(turn)
        except BaseException:
            await asyncio.to_thread(turn.end, False)
            raise
        await asyncio.to_thread(turn.end, True)
        return published

    async def _publish_batch(self, turn: _RelayTurn) -> int:
        rows = await asyncio.to_thread(turn.load, self.batch_size)
        if not rows:
            return 0
        batches = _PartitionBatches(self.producer, self.producers)
        for carried, group in itertools.groupby(rows, key=lambda row: _trace_of(row.headers)):
            with (
                linked_context(carried),
                self._tracer.start_as_current_span(
                    "outbox publish", kind=SpanKind.PRODUCER
                ) as span,
            ):
                span.set_attribute("messaging.system", "kafka")
                context_headers = [(k, v.encode()) for k, v in current_trace_headers().items()]
                for row in group:
                    headers = [
                        (k, v.encode())
                        for k, v in json.loads(row.headers)
                        if k not in ("traceparent", "tracestate")
                    ]
                    await batches.add(row.topic, row.key, row.value, headers + context_headers)
        await batches.sent()
        await asyncio.to_thread(turn.mark_published, [row.id for row in rows])
        if self.on_published:
            for topic, count in Counter(row.topic for row in rows).items():
                self.on_published(topic, count)
        return len(rows)

    def prune(self) -> int:
        """Delete the rows published longer than the retention period ago (their records
        are on the broker; what they carried need not stay in the database)."""
        self._pruned_at = time.monotonic()
        before = datetime.now(UTC) - timedelta(seconds=self.retention_seconds)
        try:
            with Session(self.engine) as session:
                pruned = prune_published(session, before)
                session.commit()
        except Exception:
            logger.exception("published outbox rows could not be pruned; trying again later")
            return 0
        if pruned:
            logger.info("published outbox rows pruned", extra={"rows": pruned})
        return pruned

    def _take_turn(self) -> _RelayTurn | None:
        """This relay's turn at the rows, or None while another relay has its own."""
        if self.engine.dialect.name != "postgresql":
            return _RelayTurn(self.engine, None)  # one process per SQLite file
        connection = self.engine.connect()
        try:
            connection.begin()
            taken = connection.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": self.lock_key}
            ).scalar_one()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return None
        return _RelayTurn(self.engine, connection)


class _RelayTurn:
    """One relay round: load, publish, mark. On PostgreSQL it is one transaction holding
    the relay lock (``pg_try_advisory_xact_lock``), which its commit or rollback releases,
    so no other relay reads the rows until they are marked or given back."""

    def __init__(self, engine: Engine, connection: Connection | None) -> None:
        self.engine = engine
        self.connection = connection

    def load(self, batch_size: int) -> list[Any]:
        """The next ``batch_size`` unpublished rows, in id order."""
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        statement = (
            sa_select(table.c.id, table.c.topic, table.c.key, table.c.value, table.c.headers)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.id)
            .limit(batch_size)
        )
        if self.connection is not None:
            return list(self.connection.execute(statement).all())
        with self.engine.connect() as connection:
            return list(connection.execute(statement).all())

    def mark_published(self, ids: list[int]) -> None:
        """Mark the rows ``ids`` published (for good once the turn ends well)."""
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))  # type: ignore[union-attr]
            .values(published_at=datetime.now(UTC))
        )
        if self.connection is not None:
            self.connection.execute(statement)
            return
        with Session(self.engine) as session:
            session.exec(statement)
            session.commit()

    def end(self, published: bool) -> None:
        """Commit what was marked (or give it back) and let the next relay have its turn."""
        if self.connection is None:
            return
        try:
            if published:
                self.connection.commit()
            else:
                self.connection.rollback()
        finally:
            self.connection.close()


class _PartitionBatches:
    """Record batches per topic and partition, sent as they fill; keeps each partition's
    records in the order they were added. A topic in ``producers`` goes through its own."""

    def __init__(
        self, producer: AIOKafkaProducer, producers: Mapping[str, AIOKafkaProducer]
    ) -> None:
        self.producer = producer
        self.producers = producers
        self.partitioner = DefaultPartitioner()
        self.partitions: dict[str, list[int]] = {}
        self.open: dict[tuple[str, int], Any] = {}
        self.futures: list[asyncio.Future[Any]] = []

    async def add(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        producer = self.producers.get(topic, self.producer)
        partitions = self.partitions.get(topic)
        if partitions is None:
            partitions = self.partitions[topic] = sorted(await producer.partitions_for(topic))
        partition = self.partitioner(key, partitions, partitions)
        batch = self.open.get((topic, partition))
        if batch is None:
            batch = self.open[topic, partition] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # full: send it and start the next one with the record (a batch takes its
            # first record whatever its size)
            self.futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = self.open[topic, partition] = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None, headers=headers)

    async def sent(self) -> None:
        """Send the batches still open; return once the broker has every record."""
        for (topic, partition), batch in self.open.items():
            producer = self.producers.get(topic, self.producer)
            self.futures.append(await producer.send_batch(batch, topic, partition=partition))
        self.open.clear()
        await asyncio.gather(*self.futures)


def _trace_of(headers_json: str) -> tuple[tuple[str, str], ...]:
    if "traceparent" not in headers_json:
        return ()
    return tuple((k, v) for k, v in json.loads(headers_json) if k in ("traceparent", "tracestate"))
