"""Idempotent event consumers with dead-lettering.

Each event is applied and its id recorded in one transaction, so a redelivery has no
second effect. A record that cannot be parsed or applied goes to ``<topic>.dlq`` with the
reason and its origin in headers, and the consumer moves on. Work the database refuses is
tried again a few times, waiting longer each time (:class:`RetryBudget`), before its event
is dead-lettered; an outage is waited out, however long it lasts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlmodel import Field, Session, SQLModel, col, select

from interlocality.common.cloudevents import MalformedEvent, decode_event
from interlocality.common.db import database_unreachable
from interlocality.contracts.topics import TopicSpec

__all__ = [
    "Batched",
    "DeadLetterPublisher",
    "EventApplier",
    "EventHandler",
    "IncomingRecord",
    "Outcome",
    "ProcessedEvent",
    "RetryBudget",
    "dead_letter_headers",
    "lag_after",
]

logger = logging.getLogger(__name__)
_CLAIMED_AT_ONCE = 1000  # event ids in one claiming statement (SQLite's variable limit)

EventHandler = Callable[[Any, Session], None]


class Batched:
    """A handler that applies a run of consecutive events of its type at once,
    ``(events, session) -> None``: one query for many where one event at a time would
    cost a query each. If the run fails, its events are applied one at a time (a list of
    one each), so only the failing one is dead-lettered."""

    def __init__(self, apply: Callable[[list[Any], Session], None]) -> None:
        self.apply = apply

    def __call__(self, event: Any, session: Session) -> None:
        self.apply([event], session)


class ProcessedEvent(SQLModel, table=True):
    """An event a consumer has applied; the primary key makes a second apply impossible."""

    __tablename__ = "processed_event"

    consumer: str = Field(primary_key=True, max_length=200)
    event_id: str = Field(primary_key=True, max_length=200)
    topic: str = Field(max_length=249)
    applied_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class IncomingRecord:
    """The parts of a consumed Kafka record the consumer needs."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @classmethod
    def from_consumer_record(cls, record: Any) -> IncomingRecord:
        """From an aiokafka ``ConsumerRecord``."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=[(k, bytes(v or b"")) for k, v in (record.headers or ())],
        )


Outcome = str  # "applied" | "duplicate" | "ignored" | "tombstone" | "dead-lettered"


@dataclass(frozen=True)
class RetryBudget:
    """How often work the database refuses is tried before its event is dead-lettered, and
    how long to wait between tries: ``first_delay``, doubling, at most ``max_delay``."""

    attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """The wait after the ``attempt``-th failure (the first is 1)."""
        return min(self.max_delay, self.first_delay * 2 ** (attempt - 1))


def dead_letter_headers(
    reason: str,
    original_topic: str,
    consumer_group: str,
    position: tuple[int, int] | None = None,
) -> list[tuple[str, bytes]]:
    """The headers that say why a record is on a dead-letter topic and where it came from
    (``position``: its partition and offset, when it was read from a topic)."""
    headers = [
        ("dlq_reason", reason[:4000].encode()),
        ("dlq_original_topic", original_topic.encode()),
    ]
    if position is not None:
        headers += [
            ("dlq_original_partition", str(position[0]).encode()),
            ("dlq_original_offset", str(position[1]).encode()),
        ]
    headers += [
        ("dlq_consumer_group", consumer_group.encode()),
        ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
    ]
    return headers


def lag_after(
    records: Sequence[IncomingRecord], highwater: Callable[[TopicPartition], int | None]
) -> dict[tuple[str, int], int]:
    """Per topic and partition of ``records``: how many records the partition holds past
    the last of them, by its high watermark as the consumer last fetched it (``highwater``,
    an aiokafka consumer's; a partition whose watermark is not known yet is left out)."""
    last: dict[tuple[str, int], int] = {}
    for record in records:
        position = (record.topic, record.partition)
        last[position] = max(last.get(position, -1), record.offset)
    lags: dict[tuple[str, int], int] = {}
    for (topic, partition), offset in last.items():
        mark = highwater(TopicPartition(topic, partition))
        if mark is not None:
            lags[topic, partition] = max(0, mark - offset - 1)
    return lags


class DeadLetterPublisher:
    """Sends records that could not be applied to ``<topic>.dlq`` with the reason, or to
    ``topic`` when one is given (a shared topic's dead letters are the region's own)."""

    def __init__(
        self,
        producer: Callable[[], AIOKafkaProducer],
        consumer_group: str,
        topic: str | None = None,
    ) -> None:
        self.producer = producer
        self.consumer_group = consumer_group
        self.topic = topic

    async def send(self, record: IncomingRecord, reason: str) -> None:
        """Publish ``record`` unchanged to its DLQ, the reason and origin in headers."""
        headers = [
            *record.headers,
            *dead_letter_headers(
                reason, record.topic, self.consumer_group, (record.partition, record.offset)
            ),
        ]
        await self.producer().send_and_wait(
            self.topic or f"{record.topic}.dlq",
            value=record.value,
            key=record.key,
            headers=headers,
        )


class EventApplier:
    """Applies the events of one topic with per-type handlers, once each.

    ``handlers`` map an event class to a function ``(event, session) -> None`` that runs
    inside the transaction that also records the event id, or to a :class:`Batched` one.
    Event types without a handler are recorded and otherwise ignored. Database outages
    propagate after a wait (the record is retried, and its partition waits); work the
    database refuses is tried again as ``retries`` allow and then dead-lettered, as is any
    other failure at once.
    ``after_rollback`` is called whenever work was rolled back, so in-memory state derived
    from the database can be reloaded. With a ``region``, an event of another region (a
    misrouted record, a producer misconfigured) is dead-lettered with the reason, never
    applied.
    """

    def __init__(
        self,
        *,
        spec: TopicSpec,
        consumer: str,
        engine: Engine,
        handlers: Mapping[type, EventHandler],
        dead_letters: DeadLetterPublisher,
        after_commit: Callable[[], None] | None = None,
        on_outcome: Callable[[str, Outcome, str | None], None] | None = None,
        after_rollback: Callable[[], None] | None = None,
        region: str | None = None,
        retries: RetryBudget | None = None,
        tracer_provider: Any = None,
    ) -> None:
        self.spec = spec
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(__name__)
        self.retries = retries or RetryBudget()
        self._outages = 0
        self.region = region
        self.consumer = consumer
        self.engine = engine
        self.handlers = dict(handlers)
        self.dead_letters = dead_letters
        self.after_commit = after_commit
        self.on_outcome = on_outcome
        self.after_rollback = after_rollback or (lambda: None)
        self._ignored_types = {
            event_type.model_fields["type"].default  # type: ignore[attr-defined]
            for event_type in spec.event_types
            if event_type not in self.handlers
        }

    async def handle(self, record: IncomingRecord) -> Outcome:
        """Apply one record; never raises for bad data, only for infrastructure outages."""
        return (await self.handle_batch([record]))[0]

    async def handle_batch(self, records: list[IncomingRecord]) -> list[Outcome]:
        """Apply records in order, in one transaction; each bad one is dead-lettered alone.

        Every event runs in a savepoint, so one that fails leaves no partial write and the
        others still commit together. The records' application is traced in the traces
        they carry (:meth:`_trace`).
        """
        started = time.time_ns()
        outcomes = await self._handle_batch(records)
        self._trace(records, outcomes, started)
        return outcomes

    def _trace(self, records: list[IncomingRecord], outcomes: list[Outcome], started: int) -> None:
        """One consumer span for the records of each trace context they carry (one
        request, one import), a child of the relay's publish in that trace: so one trace
        runs from the request that staged an event to its application by every consumer.
        The span lasts as long as the batch they were applied in, and links to the
        broker's span of that batch (a batch mixes traces, so it starts a trace of its
        own)."""
        ended = time.time_ns()
        batch = trace.get_current_span().get_span_context()
        links = [Link(batch)] if batch.is_valid else []
        by_trace: dict[tuple[tuple[str, str], ...], list[Outcome]] = {}
        for record, outcome in zip(records, outcomes, strict=True):
            carried = tuple(
                (name, value.decode("latin-1"))
                for name, value in record.headers
                if name in ("traceparent", "tracestate")
            )
            if carried:
                by_trace.setdefault(carried, []).append(outcome)
        for carried, traced in by_trace.items():
            span = self._tracer.start_span(
                f"{records[0].topic} apply",
                context=propagate.extract(dict(carried)),
                kind=SpanKind.CONSUMER,
                links=links,
                start_time=started,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": records[0].topic,
                    "messaging.consumer.group.name": self.consumer,
                    "messaging.batch.message_count": len(traced),
                    "interlocality.dead_lettered": traced.count("dead-lettered"),
                },
            )
            span.end(end_time=ended)

    async def _handle_batch(self, records: list[IncomingRecord]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(records)
        decoded: list[tuple[int, Any]] = []
        for position, record in enumerate(records):
            if record.value is None:
                outcomes[position] = self._report(record, "tombstone", None)
                continue
            event_type = _header(record.headers, "ce_type")
            if event_type in self._ignored_types:
                # No effect here, so nothing to apply once: skip without decoding.
                outcomes[position] = self._report(record, "ignored", event_type)
                continue
            try:
                event = decode_event(self.spec, record.headers, record.value)
            except MalformedEvent as exc:
                outcomes[position] = await self._dead_letter(record, f"unparseable: {exc}")
                continue
            if self.region is not None and event.region != self.region:
                outcomes[position] = await self._dead_letter(
                    record,
                    f"another region's event: it is of region {event.region!r}, this "
                    f"consumer applies region {self.region!r}'s only",
                    event.type,
                )
                continue
            decoded.append((position, event))
        if decoded:
            applied = await self._apply_with_retries(
                [event for _, event in decoded], records[0].topic
            )
            for (position, event), (outcome, failure) in zip(decoded, applied, strict=True):
                record = records[position]
                if failure is not None:
                    logger.warning(
                        "event could not be applied",
                        extra={"event_id": event.id, "event_type": event.type, "reason": failure},
                    )
                    outcomes[position] = await self._dead_letter(
                        record, f"not applicable: {failure}", event.type
                    )
                else:
                    outcomes[position] = self._report(record, outcome, event.type)
            if any(outcome == "applied" for outcome, _ in applied) and self.after_commit:
                self.after_commit()
        return [outcome or "ignored" for outcome in outcomes]

    async def _apply_with_retries(
        self, events: list[Any], topic: str
    ) -> list[tuple[Outcome, str | None]]:
        """Apply ``events``, again after a wait while the database refuses the work; on the
        last try the events it still refuses come back as failures. An outage is raised
        after a wait that grows while it lasts: the records come again, never given up."""
        attempt = 1
        while True:
            last_try = attempt >= self.retries.attempts
            try:
                results = await asyncio.to_thread(self._apply_all, events, topic, last_try)
            except OperationalError as error:
                if database_unreachable(error):
                    self._outages += 1
                    await asyncio.sleep(self.retries.delay(self._outages))
                    raise
                logger.warning(
                    "the database refused the work; trying again",
                    extra={"attempt": attempt, "reason": str(error.orig)[:500]},
                )
                await asyncio.sleep(self.retries.delay(attempt))
                attempt += 1
                continue
            self._outages = 0
            return results

    def _apply_all(
        self, events: list[Any], topic: str, last_try: bool = False
    ) -> list[tuple[Outcome, str | None]]:
        with Session(self.engine, expire_on_commit=False) as session:
            ids = [event.id for event in events]
            done = set(
                session.exec(
                    select(ProcessedEvent.event_id).where(
                        ProcessedEvent.consumer == self.consumer,
                        col(ProcessedEvent.event_id).in_(ids),
                    )
                ).all()
            )
            try:
                results = self._apply_together(session, events, done, topic)
            except OperationalError as error:
                self.after_rollback()
                if not last_try or database_unreachable(error):
                    raise
                results = self._apply_one_by_one(session, events, done, topic, last_try)
            except Exception:
                # Some event of the batch fails: apply them one by one, so that only the
                # failing one is dead-lettered and the others still count.
                self.after_rollback()
                results = self._apply_one_by_one(session, events, done, topic, last_try)
            session.commit()
        return results

    def _apply_together(
        self, session: Session, events: list[Any], done: set[str], topic: str
    ) -> list[tuple[Outcome, str | None]]:
        """All events under one savepoint: the fast way when none of them fails."""
        results: list[tuple[Outcome, str | None]] = []
        seen = set(done)
        run: list[Any] = []  # consecutive events for the same batched handler
        with session.begin_nested():
            fresh = list(dict.fromkeys(event.id for event in events if event.id not in done))
            claimed = self._claim(session, fresh, topic)
            for event in events:
                if event.id in seen or event.id not in claimed:
                    results.append(("duplicate", None))
                    continue
                seen.add(event.id)
                handler = self.handlers.get(type(event))
                if run and (
                    not isinstance(handler, Batched) or handler is not self.handlers[type(run[0])]
                ):
                    self._apply_run(run, session)
                if isinstance(handler, Batched):
                    run.append(event)
                elif handler is not None:
                    handler(event, session)
                results.append(("applied" if handler is not None else "ignored", None))
            self._apply_run(run, session)
            session.flush()
        done.update(fresh)
        return results

    def _claim(self, session: Session, event_ids: list[str], topic: str) -> set[str]:
        """Record ``event_ids`` as applied by this consumer before applying them; returns
        those that were not yet. Another consumer of the group may be applying the same
        events (a rebalance hands a partition over while its old owner still works): on
        PostgreSQL the claim waits for that one's transaction, and an event it applied is
        then a duplicate here, not a failure."""
        table = ProcessedEvent.__table__  # type: ignore[attr-defined]
        postgresql = session.get_bind().dialect.name == "postgresql"
        insert = postgresql_insert if postgresql else sqlite_insert
        now = datetime.now(UTC)
        claimed: set[str] = set()
        for start in range(0, len(event_ids), _CLAIMED_AT_ONCE):
            rows = [
                {"consumer": self.consumer, "event_id": event_id, "topic": topic, "applied_at": now}
                for event_id in event_ids[start : start + _CLAIMED_AT_ONCE]
            ]
            statement = insert(table).values(rows).on_conflict_do_nothing()
            claimed.update(session.execute(statement.returning(table.c.event_id)).scalars())
        return claimed

    def _apply_run(self, run: list[Any], session: Session) -> None:
        if run:
            handler = self.handlers[type(run[0])]
            assert isinstance(handler, Batched)
            handler.apply(list(run), session)
            run.clear()

    def _apply_one_by_one(
        self, session: Session, events: list[Any], done: set[str], topic: str, last_try: bool
    ) -> list[tuple[Outcome, str | None]]:
        """Each event under its own savepoint: one that fails leaves nothing behind. On the
        last try an event the database refuses fails like any other."""
        results: list[tuple[Outcome, str | None]] = []
        for event in events:
            if event.id in done:
                results.append(("duplicate", None))
                continue
            handler = self.handlers.get(type(event))
            savepoint = session.begin_nested()
            try:
                if not self._claim(session, [event.id], topic):
                    savepoint.commit()
                    done.add(event.id)
                    results.append(("duplicate", None))
                    continue
                if handler is not None:
                    handler(event, session)
                session.flush()
                savepoint.commit()
            except OperationalError as error:
                savepoint.rollback()
                self.after_rollback()
                if not last_try or database_unreachable(error):
                    raise
                refused = f"{type(error.orig).__name__}: {error.orig}".strip()
                attempts = self.retries.attempts
                results.append(
                    ("dead-lettered", f"the database refused it {attempts} times: {refused}")
                )
                continue
            except Exception as exc:
                savepoint.rollback()
                self.after_rollback()
                results.append(("dead-lettered", f"{type(exc).__name__}: {exc}"))
                continue
            done.add(event.id)
            results.append(("applied" if handler is not None else "ignored", None))
        return results

    async def _dead_letter(
        self, record: IncomingRecord, reason: str, event_type: str | None = None
    ) -> Outcome:
        await self.dead_letters.send(record, reason)
        logger.warning(
            "record dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "reason": reason[:500]},
        )
        return self._report(record, "dead-lettered", event_type)

    def _report(self, record: IncomingRecord, outcome: Outcome, event_type: str | None) -> Outcome:
        if self.on_outcome:
            self.on_outcome(record.topic, outcome, event_type)
        return outcome


def _header(headers: list[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", errors="replace")
    return None
