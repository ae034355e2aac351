"""Idempotent event consumers with dead-lettering.

Each event is applied and its id recorded in one transaction, so a redelivery has no
second effect. A record that cannot be parsed or applied goes to ``<topic>.dlq`` with the
reason and its origin in headers, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, Session, SQLModel

from interlocality.common.cloudevents import MalformedEvent, decode_event
from interlocality.contracts.topics import TopicSpec

__all__ = [
    "DeadLetterPublisher",
    "EventApplier",
    "EventHandler",
    "IncomingRecord",
    "Outcome",
    "ProcessedEvent",
]

logger = logging.getLogger(__name__)

EventHandler = Callable[[Any, Session], None]


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


class DeadLetterPublisher:
    """Sends records that could not be applied to ``<topic>.dlq`` with the reason."""

    def __init__(self, producer: Callable[[], AIOKafkaProducer], consumer_group: str) -> None:
        self.producer = producer
        self.consumer_group = consumer_group

    async def send(self, record: IncomingRecord, reason: str) -> None:
        """Publish ``record`` unchanged to its DLQ, the reason and origin in headers."""
        headers = [
            *record.headers,
            ("dlq_reason", reason[:4000].encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.consumer_group.encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self.producer().send_and_wait(
            f"{record.topic}.dlq", value=record.value, key=record.key, headers=headers
        )


class EventApplier:
    """Applies the events of one topic with per-type handlers, once each.

    ``handlers`` map an event class to a function ``(event, session) -> None`` that runs
    inside the transaction that also records the event id. Event types without a handler
    are recorded and otherwise ignored. Database outages propagate (the record is retried);
    any other failure dead-letters the record.
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
    ) -> None:
        self.spec = spec
        self.consumer = consumer
        self.engine = engine
        self.handlers = dict(handlers)
        self.dead_letters = dead_letters
        self.after_commit = after_commit
        self.on_outcome = on_outcome

    async def handle(self, record: IncomingRecord) -> Outcome:
        """Apply one record; never raises for bad data, only for infrastructure outages."""
        if record.value is None:
            return self._report(record, "tombstone", None)
        try:
            event = decode_event(self.spec, record.headers, record.value)
        except MalformedEvent as exc:
            return await self._dead_letter(record, f"unparseable: {exc}")
        try:
            outcome = await asyncio.to_thread(self._apply, event, record.topic)
        except OperationalError:
            raise
        except Exception as exc:
            logger.warning(
                "event could not be applied",
                extra={"event_id": event.id, "event_type": event.type, "topic": record.topic},
                exc_info=True,
            )
            return await self._dead_letter(
                record, f"not applicable: {type(exc).__name__}: {exc}", event.type
            )
        if outcome == "applied" and self.after_commit:
            self.after_commit()
        return self._report(record, outcome, event.type)

    def _apply(self, event: Any, topic: str) -> Outcome:
        handler = self.handlers.get(type(event))
        with Session(self.engine, expire_on_commit=False) as session:
            if session.get(ProcessedEvent, (self.consumer, event.id)) is not None:
                return "duplicate"
            try:
                if handler is not None:
                    handler(event, session)
                session.add(ProcessedEvent(consumer=self.consumer, event_id=event.id, topic=topic))
                session.commit()
            except IntegrityError:
                session.rollback()
                if session.get(ProcessedEvent, (self.consumer, event.id)) is not None:
                    return "duplicate"
                raise
            except BaseException:
                session.rollback()
                raise
        return "applied" if handler is not None else "ignored"

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
