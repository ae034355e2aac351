"""The shape every service shares: runtime wiring and the FastAPI app around it.

A service's ``create_app()`` builds a :class:`ServiceRuntime` (settings, database, broker,
outbox relay, telemetry, metrics), registers its Kafka handlers and HTTP routes on it, and
returns :func:`create_service_app`. Nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, cast

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from faststream.specification import AsyncAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, SQLModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interlocality.common.access import (
    OPERATOR,
    PUBLIC,
    SERVICE,
    Principal,
    TokenVerifier,
    allow,
    declared_policies,
    the_student,
    undeclared_routes,
)
from interlocality.common.audit import AuditRecord, entries, record_access
from interlocality.common.cloudevents import KafkaRecord, encode_event, snapshot_event_id
from interlocality.common.codes import readable_message
from interlocality.common.consumer import (
    DeadLetterPublisher,
    EventApplier,
    EventHandler,
    IncomingRecord,
    RetryBudget,
    dead_letter_headers,
    lag_after,
)
from interlocality.common.consumer_groups import leave_group, unleft_membership
from interlocality.common.db import (
    create_db_engine,
    database_reachable,
    init_schema,
    read_only,
    transaction,
)
from interlocality.common.kafka_security import client_options
from interlocality.common.leadership import Leadership
from interlocality.common.log_epochs import LogEpochReader, begin_log_epoch
from interlocality.common.logs import configure_logging
from interlocality.common.metrics import ServiceMetrics
from interlocality.common.migrations import COMMON_TABLES, upgrade
from interlocality.common.outbox import (
    OutboxRelay,
    backlog,
    forget_subject,
    pending_count,
    stage_event,
    stage_events,
    stage_record,
)
from interlocality.common.settings import SettingsT
from interlocality.common.telemetry import configure_tracing, instrument_http
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.topics import FEDERATION_TOPICS, TopicSpec, topic_of_event

__all__ = [
    "AUDIT_EXPORTED",
    "ErrorAnswer",
    "KafkaAccess",
    "PersonalDataSource",
    "Problem",
    "Provided",
    "ReplaySource",
    "ServiceRuntime",
    "Tombstone",
    "create_service_app",
    "error_answers",
    "problem",
    "provide",
]

logger = logging.getLogger(__name__)
YOUNG_GENERATION_THRESHOLD = 10_000
NO_ISSUER = (
    "INTERLOCALITY_OIDC_ISSUER is not set: every route but health and documentation needs "
    "callers' access tokens, verified against that issuer (`interlocality up` starts a "
    "development issuer and sets it)"
)
AUDIT_EXPORTED = 10_000  # a student's audit entries exported with their data, newest first

EventT = TypeVar("EventT", bound=CloudEvent[Any])


@dataclasses.dataclass(frozen=True)
class Tombstone:
    """What a replay source yields to publish a tombstone for ``event``'s subject on its
    (compacted) topic, as :meth:`ServiceRuntime.emit_tombstone` stages it: an erasure
    replayed is its event, then its tombstone."""

    event: CloudEvent[Any]


ReplaySource = Callable[[Session], Iterable[CloudEvent[Any] | Tombstone]]
PersonalDataSource = Callable[[Session, str], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class KafkaAccess:
    """The topics a service publishes and consumes, and its consumer groups."""

    publishes: tuple[TopicSpec, ...]
    consumes: tuple[TopicSpec, ...]
    groups: tuple[str, ...]

    def dead_letter_topics(self, region: str) -> list[str]:
        """The dead-letter topics the service writes: those of what it consumes (records it
        cannot apply) and of what it publishes (work it gives up on, see
        :meth:`ServiceRuntime.dead_letter`)."""
        return sorted({spec.dlq_name(region) for spec in (*self.consumes, *self.publishes)})


class ServiceRuntime(Generic[SettingsT]):
    """Everything a service process needs, built from its settings (the service's own
    settings class: its handlers read their fields from ``runtime.settings``).

    Topics shared with partner regions (``FEDERATION_TOPICS``) live on the cluster named by
    ``federation_bootstrap_servers`` (empty: the region's own): the outbox relay publishes
    their events there through a producer of their own, and they are consumed there by a
    consumer of their own (see :meth:`consume`). Every client connects with the settings'
    ``kafka_security`` (the federation cluster's with ``federation_kafka_security`` when
    it has its own).
    """

    def __init__(
        self,
        settings: SettingsT,
        tables: Sequence[type[SQLModel]],
        migrations: Path | None = None,
        *,
        federation_bootstrap_servers: str = "",
        one_active: bool = False,
    ) -> None:
        self.settings = settings
        self.federation_bootstrap_servers = (
            federation_bootstrap_servers or settings.kafka_bootstrap_servers
        )
        self.kafka_security = settings.kafka_security
        self.federation_kafka_security = (
            settings.federation_kafka_security or settings.kafka_security
        )
        self.migrations = migrations
        self.engine = create_db_engine(settings.resolved_database_url)
        self.read_engine = read_only(self.engine)
        self.tables: list[type[SQLModel]] = [*tables, *COMMON_TABLES]
        self.metrics = ServiceMetrics(settings.service, settings.region)
        self.metrics.on_scrape(self._observe_outbox)
        self.tracer_provider = configure_tracing(settings)
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            security=self.kafka_security.faststream(),
            client_id=f"interlocality-{settings.service}",
            middlewares=[
                KafkaTelemetryMiddleware(tracer_provider=self.tracer_provider),
                KafkaPrometheusMiddleware(registry=self.metrics.registry),
            ],
            logger=logging.getLogger(f"interlocality.{settings.service}.kafka"),
            log_level=logging.DEBUG,
            description=f"Interlocality {settings.service} service, region {settings.region}",
        )
        self.producer: AIOKafkaProducer | None = None
        self.federation_producer: AIOKafkaProducer | None = None
        self.federation_broker = self.broker
        if self.federation_bootstrap_servers != settings.kafka_bootstrap_servers:
            self.federation_broker = KafkaBroker(
                self.federation_bootstrap_servers,
                security=self.federation_kafka_security.faststream(),
                client_id=f"interlocality-{settings.service}-federation",
                middlewares=[
                    KafkaTelemetryMiddleware(tracer_provider=self.tracer_provider),
                    KafkaPrometheusMiddleware(registry=self.metrics.registry),
                ],
                logger=logging.getLogger(f"interlocality.{settings.service}.federation"),
                log_level=logging.DEBUG,
                description=f"Federation cluster of region {settings.region}",
            )
        self.relay: OutboxRelay | None = None
        self._published: list[TopicSpec] = []
        self._appliers: dict[str, EventApplier] = {}
        self._shared_appliers: dict[str, EventApplier] = {}
        self._subscribed = False
        self.replay_sources: list[ReplaySource] = []
        self.personal_data: list[PersonalDataSource] = []
        self._on_start: list[Callable[[], object]] = []
        self._after_commit: list[Callable[[], None]] = []
        self._periodic: list[tuple[float, Callable[[], object]]] = []
        self._periodic_tasks: list[asyncio.Task[None]] = []
        self._log_epoch_readers: list[LogEpochReader] = []
        self._log_epoch_watches: list[asyncio.Task[None]] = []
        # One active replica (see interlocality.common.leadership): only it consumes.
        self.leadership = Leadership(self.engine, settings.service) if one_active else None
        self.active = False  # consuming
        self.deposed = False  # was active and lost it: the process should be restarted
        self._when_active: list[Callable[[], object]] = []
        self._while_standby: list[Callable[[], object]] = []
        self._leading: asyncio.Task[None] | None = None

    # -- events -----------------------------------------------------------------------

    def event(
        self,
        event_type: type[EventT],
        *,
        subject: str,
        data: BaseModel,
        version: int | str | None = None,
    ) -> EventT:
        """An event of this service and region; ``version`` makes a snapshot's id stable."""
        values: dict[str, Any] = {
            "source": self.settings.source,
            "region": self.settings.region,
            "subject": subject,
            "data": data,
        }
        if version is not None:
            type_name = event_type.model_fields["type"].default
            values["id"] = snapshot_event_id(type_name, subject, version)
        return event_type(**values)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: state and staged events commit together; the relay is woken."""
        with transaction(self.engine) as session:
            yield session
        self._committed()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for queries only: it sees committed state and never waits for writers."""
        with Session(self.read_engine) as session:
            yield session

    def emit(self, session: Session, event: CloudEvent[Any]) -> None:
        """Stage ``event`` in the outbox within ``session``'s transaction."""
        stage_event(session, event)

    def emit_many(self, session: Session, events: Sequence[CloudEvent[Any]]) -> None:
        """Stage many events at once, in order (bulk imports)."""
        stage_events(session, events)

    def record_access(
        self, principal: Principal, action: str, route: str, student_id: str | None
    ) -> None:
        """Write to the audit log that ``principal`` did ``action`` on a student's data."""
        with transaction(self.engine) as session:
            record_access(
                session,
                actor=principal.subject,
                roles=principal.role_names,
                action=action,
                route=route,
                student_id=student_id,
            )

    def forget_in_outbox(self, session: Session, subject: str) -> None:
        """Delete every outbox row about ``subject`` (an erased student) in ``session``'s
        transaction, before the erasure stages its own events."""
        forget_subject(session, subject)

    def emit_tombstone(self, session: Session, event: CloudEvent[Any]) -> None:
        """Stage a tombstone for ``event``'s subject on its (compacted) topic."""
        topic = topic_of_event(type(event)).name(event.region)
        stage_record(session, KafkaRecord(topic=topic, key=event.subject.encode(), value=None))

    def dead_letter(self, session: Session, event: CloudEvent[Any], reason: str) -> None:
        """Stage a copy of ``event`` on its topic's dead-letter topic within ``session``'s
        transaction, ``reason`` and origin in the headers a consumer's dead letters carry:
        for work the service itself gives up on (a delivery that failed for good)."""
        spec = topic_of_event(type(event))
        record = encode_event(event, spec.dlq_name(event.region))
        record.headers.extend(
            dead_letter_headers(reason, spec.name(event.region), self.settings.consumer_group)
        )
        stage_record(session, record)
        self.metrics.dead_letters.labels(spec.name(event.region)).inc()

    def wake_relay(self) -> None:
        """Ask the outbox relay to publish now."""
        if self.relay is not None:
            self.relay.wake()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every commit of a consumer batch or a :meth:`transaction`
        (from whichever thread committed): to tell in-memory listeners about new state."""
        self._after_commit.append(callback)

    def _committed(self) -> None:
        self.wake_relay()
        for callback in self._after_commit:
            callback()

    # -- Kafka ------------------------------------------------------------------------

    def consume(
        self,
        spec: TopicSpec,
        handlers: Mapping[type, EventHandler],
        after_rollback: Callable[[], None] | None = None,
    ) -> None:
        """Apply ``spec``'s events with idempotent, dead-lettering handlers.

        All topics of a service share one Kafka consumer in the service's group, so the
        group settles in one rebalance. A topic shared with partner regions is read by a
        consumer of its own (group ``<region>.<service>.federation``) on the federation
        cluster, by its :meth:`TopicSpec.mirrored_pattern`, so MirrorMaker 2's copies of the
        partners' topic are read too; its dead letters go to the region's own
        :meth:`TopicSpec.dlq_name`. ``after_rollback`` is told when applied work was rolled
        back (see :class:`EventApplier`).
        """
        if self._subscribed:
            raise RuntimeError("consume() must be called before the service starts")
        topic = spec.name(self.settings.region)
        applier = EventApplier(
            spec=spec,
            consumer=f"{self.settings.service}:{topic}",
            engine=self.engine,
            handlers=handlers,
            dead_letters=DeadLetterPublisher(
                self.started_producer,
                self.settings.consumer_group,
                spec.dlq_name(self.settings.region) if spec.federated else None,
            ),
            after_commit=self._committed,
            on_outcome=self._count_outcome,
            after_rollback=after_rollback,
            # a region's own topics carry its events only; a shared one, every region's
            region=None if spec.federated else self.settings.region,
            retries=RetryBudget(
                attempts=self.settings.consumer_database_attempts,
                first_delay=self.settings.consumer_retry_delay_seconds,
                max_delay=self.settings.consumer_retry_delay_max_seconds,
            ),
            tracer_provider=self.tracer_provider,
        )
        if spec.federated:
            self._shared_appliers[spec.mirrored_pattern()] = applier
        else:
            self._appliers[topic] = applier

    def _subscribe(self) -> None:
        if self._subscribed or not (self._appliers or self._shared_appliers):
            return
        self._subscribed = True
        for pattern, applier in self._shared_appliers.items():
            self._subscribe_shared(pattern, applier)
        if not self._appliers:
            return
        appliers = self._appliers
        reader = self._log_epoch_reader(lambda: subscriber.consumer)

        async def apply(records: list[IncomingRecord]) -> None:
            by_topic: dict[str, list[IncomingRecord]] = {}
            for record in records:
                by_topic.setdefault(record.topic, []).append(record)
            for topic, taken in by_topic.items():
                await appliers[topic].handle_batch(taken)

        async def on_records(message: KafkaMessage) -> None:
            await self._take_batch(message, reader, apply)

        on_records.__name__ = f"on_{self.settings.service}_events"
        subscriber = self.broker.subscriber(
            *appliers,
            group_id=self.settings.consumer_group,
            **self._batch_subscription(reader),
            title=f"{self.settings.consumer_group}",
            description=f"{self.settings.service} applies: "
            + "; ".join(
                f"{topic}: " + ", ".join(t.__name__ for t in applier.handlers)
                for topic, applier in appliers.items()
            ),
        )
        subscriber(on_records)

    def _log_epoch_reader(self, consumer: Callable[[], Any]) -> LogEpochReader:
        reader = LogEpochReader(self.engine, consumer, self.settings.log_epoch_poll_seconds)
        self._log_epoch_readers.append(reader)
        return reader

    async def _take_batch(
        self,
        message: KafkaMessage,
        reader: LogEpochReader,
        apply: Callable[[list[IncomingRecord]], Awaitable[object]],
    ) -> None:
        """Apply a batch, then commit it with its log epoch (see
        :mod:`interlocality.common.log_epochs`); one that fails is read again."""
        records = [IncomingRecord.from_consumer_record(raw) for raw in message.raw_message]
        self._observe_lag(records, message.consumer)
        try:
            await apply(records)
        except BaseException:
            await message.nack()
            raise
        await reader.commit(message.consumer, records)

    def _batch_subscription(self, reader: LogEpochReader) -> dict[str, Any]:
        """How every consumer of the service takes its records: in batches from the
        earliest offset, committed once applied (by ``reader``, with the log epoch they
        were read in), bad records parsed leniently."""
        return {
            "auto_offset_reset": "earliest",
            "ack_policy": AckPolicy.MANUAL,
            "listener": reader,
            "batch": True,
            "max_records": self.settings.consumer_batch_size,
            "batch_timeout_ms": 100,
            "session_timeout_ms": self.settings.consumer_session_timeout_ms,
            "heartbeat_interval_ms": self.settings.consumer_heartbeat_interval_ms,
            "parser": tolerant_batch_parser,
            "decoder": raw_batch_decoder,
        }

    def _subscribe_shared(self, pattern: str, applier: EventApplier) -> None:
        reader = self._log_epoch_reader(lambda: subscriber.consumer)

        async def on_shared_records(message: KafkaMessage) -> None:
            await self._take_batch(message, reader, applier.handle_batch)

        name = applier.spec.name(self.settings.region)
        on_shared_records.__name__ = f"on_{self.settings.service}_{applier.spec.entity}"
        subscriber = self.federation_broker.subscriber(
            pattern=pattern,
            group_id=self.federation_consumer_group,
            **self._batch_subscription(reader),
            title=f"{self.federation_consumer_group}:{name}",
            description=f"{self.settings.service} applies {name} and its mirrored copies: "
            + ", ".join(t.__name__ for t in applier.handlers),
        )
        subscriber(on_shared_records)

    @property
    def federation_consumer_group(self) -> str:
        """The consumer group reading the topics shared with partner regions."""
        return f"{self.settings.consumer_group}.federation"

    def publishes(self, spec: TopicSpec) -> None:
        """Declare that this service publishes ``spec``'s events (for the AsyncAPI document
        and the service's Kafka ACLs, see :meth:`kafka_access`)."""
        self._published.append(spec)
        self.broker.publisher(
            spec.name(self.settings.region),
            title=f"{spec.name(self.settings.region)}:{self.settings.service}",
            description=spec.description,
            schema=spec.event_union,
        )

    def kafka_access(self) -> KafkaAccess:
        """What this service does on Kafka, as :meth:`publishes` and :meth:`consume` were
        told: what the cluster must allow it and nothing more."""
        consumed = [a.spec for a in (*self._appliers.values(), *self._shared_appliers.values())]
        groups = [self.settings.consumer_group] if self._appliers else []
        if self._shared_appliers:
            groups.append(self.federation_consumer_group)
        return KafkaAccess(
            publishes=tuple(self._published), consumes=tuple(consumed), groups=tuple(groups)
        )

    def _observe_lag(self, records: list[IncomingRecord], consumer: Any) -> None:
        """Set the consumer lag of the partitions of a batch just taken: what they hold
        past it (as it is taken, so a consumer stuck on a batch still shows its lag)."""
        highwater = getattr(consumer, "highwater", None)
        if highwater is None:
            return  # a test broker's stand-in consumer knows no watermarks
        for (topic, partition), lag in lag_after(records, highwater).items():
            self.metrics.consumer_lag.labels(topic, str(partition)).set(lag)

    def _observe_outbox(self) -> None:
        """The outbox gauges as the database has them now (before each scrape)."""
        with self.reading() as session:
            pending, oldest = backlog(session)
        self.metrics.outbox_pending.set(pending)
        age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
        self.metrics.outbox_oldest_pending.set(max(0.0, age))

    def _count_outcome(self, topic: str, outcome: str, event_type: str | None) -> None:
        if outcome == "applied":
            self.metrics.events_applied.labels(topic, event_type or "").inc()
        elif outcome == "duplicate":
            self.metrics.events_duplicate.labels(topic).inc()
        elif outcome == "dead-lettered":
            self.metrics.dead_letters.labels(topic).inc()

    def on_start(self, work: Callable[[], object]) -> None:
        """Run ``work`` (blocking, in a worker thread) once the schema is up to date and
        before any event is consumed or request served: to load in-memory state."""
        self._on_start.append(work)

    def when_active(self, work: Callable[[], object]) -> None:
        """Run ``work`` (blocking, in a worker thread) when this replica becomes the active
        one, before it consumes: to load what the previous active replica left."""
        self._when_active.append(work)

    def while_standby(self, work: Callable[[], object]) -> None:
        """Run ``work`` (blocking, in a worker thread) every ``standby_refresh_seconds``
        while this replica stands by: to keep what it serves close to the database."""
        self._while_standby.append(work)

    def every(self, seconds: float, work: Callable[[], object]) -> None:
        """Run ``work`` (blocking, in a worker thread) every ``seconds`` while the service runs."""
        self._periodic.append((seconds, work))

    async def _repeat(self, seconds: float, work: Callable[[], object]) -> None:
        while True:
            try:
                await asyncio.to_thread(work)
            except Exception:
                logger.exception("periodic task failed", extra={"task": work.__name__})
            await asyncio.sleep(seconds)

    def started_producer(self) -> AIOKafkaProducer:
        """The producer shared by the outbox relay and dead-lettering (after start)."""
        if self.producer is None:
            raise RuntimeError("the service is not started")
        return self.producer

    # -- lifecycle --------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the service's database to its newest schema revision (its tables, where
        the service keeps no migrations): at start, and on its own as ``python -m
        interlocality.<service> migrate`` (the migration Job of a region's deployment)."""
        if self.migrations is not None:
            upgrade(self.engine, self.migrations, self.tables)
        else:
            init_schema(self.engine, self.tables)

    async def start(self) -> None:
        """Migrate, start the producer, the outbox relay and the subscribers."""
        await asyncio.to_thread(self.migrate)
        for work in self._on_start:
            await asyncio.to_thread(work)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            **client_options(self.kafka_security),
            client_id=f"interlocality-{self.settings.service}-outbox",
            acks="all",
            linger_ms=2,
        )
        await self.producer.start()
        shared: dict[str, AIOKafkaProducer] = {}
        if self.federation_broker is not self.broker:
            self.federation_producer = AIOKafkaProducer(
                bootstrap_servers=self.federation_bootstrap_servers,
                **client_options(self.federation_kafka_security),
                client_id=f"interlocality-{self.settings.service}-federation-outbox",
                acks="all",
                linger_ms=2,
            )
            await self.federation_producer.start()
            shared = {
                spec.name(self.settings.region): self.federation_producer
                for spec in FEDERATION_TOPICS
            }
        self.relay = OutboxRelay(
            self.engine,
            self.producer,
            tracer_provider=self.tracer_provider,
            poll_seconds=self.settings.outbox_poll_seconds,
            on_published=lambda topic, n: self.metrics.outbox_published.labels(topic).inc(n),
            producers=shared,
            retention_seconds=self.settings.outbox_retention_seconds,
            service=self.settings.service,
        )
        self.relay.start()
        if self.leadership is None or not self.leadership.shared:
            await self._consume()
        else:
            self._leading = asyncio.create_task(self._lead(self.leadership), name="leadership")
        self._periodic_tasks = [
            asyncio.create_task(self._repeat(seconds, work), name=getattr(work, "__name__", "task"))
            for seconds, work in self._periodic
        ]

    async def _consume(self) -> None:
        self._subscribe()
        await asyncio.gather(*(_started(b) for b in {self.broker, self.federation_broker}))
        self._log_epoch_watches = [
            asyncio.create_task(reader.watch(), name="log epoch")
            for reader in self._log_epoch_readers
        ]
        self.active = True

    async def _stop_consuming(self) -> None:
        for task in self._log_epoch_watches:
            task.cancel()
        await asyncio.gather(*self._log_epoch_watches, return_exceptions=True)
        await self.broker.stop()
        if self.federation_broker is not self.broker:
            await self.federation_broker.stop()

    async def _lead(self, leadership: Leadership) -> None:
        """Stand by until this replica may be the active one, then consume while it is.

        A standby refreshes what it serves every ``standby_refresh_seconds``. Losing the
        lock's connection ends the consuming at once (another replica may already be
        active) and marks the process for a restart (``/healthz`` answers 503).
        """
        poll = self.settings.active_replica_poll_seconds
        refreshed = time.monotonic()
        stood_by = False
        while not await asyncio.to_thread(leadership.try_acquire):
            stood_by = True
            if time.monotonic() - refreshed >= self.settings.standby_refresh_seconds:
                for work in self._while_standby:
                    try:
                        await asyncio.to_thread(work)
                    except Exception:
                        logger.exception("standby refresh failed")
                refreshed = time.monotonic()
            await asyncio.sleep(poll)
        if stood_by:  # what start loaded may be old by now
            for work in self._when_active:
                await asyncio.to_thread(work)
        await self._consume()
        while True:  # the lock's connection is checked: no event says it was lost
            await asyncio.sleep(poll)
            if not await asyncio.to_thread(leadership.held):
                break
        self.active = False
        self.deposed = True
        logger.error("no longer the active replica: consuming stopped, restart the process")
        await self._stop_consuming()

    async def stop(self) -> None:
        """Stop consuming and leave the consumer group, flush the outbox, close connections."""
        if self._leading is not None:
            self._leading.cancel()
            await asyncio.gather(self._leading, return_exceptions=True)
        for task in self._periodic_tasks:
            task.cancel()
        await asyncio.gather(*self._periodic_tasks, return_exceptions=True)
        # aiokafka leaves the group on stop only after the first generation (see
        # consumer_groups): a restart must not wait for this member's session to expire.
        unleft = [
            membership
            for subscriber in self.broker.subscribers
            if (consumer := getattr(subscriber, "consumer", None)) is not None
            and (membership := unleft_membership(consumer)) is not None
        ]
        await self._stop_consuming()
        if self.leadership is not None:
            # after the consumers stopped: the next active replica starts where they ended
            await asyncio.to_thread(self.leadership.release)
        for membership in unleft:
            try:
                await leave_group(self.started_producer().client, membership)
            except Exception:
                logger.warning("could not leave the consumer group", exc_info=True)
        if self.relay is not None:
            await self.relay.stop()
        if self.producer is not None:
            await self.producer.stop()
        if self.federation_producer is not None:
            await self.federation_producer.stop()
        self.tracer_provider.shutdown()
        self.engine.dispose()

    async def readiness(self) -> dict[str, bool]:
        """Whether the broker and the database answer (a standby's consumers are not
        connected: its producer asks the broker)."""
        database = await asyncio.to_thread(database_reachable, self.engine)
        try:
            if self.leadership is not None and not self.active and self.producer is not None:
                await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2.0)
                broker = True
            else:
                broker = bool(await self.broker.ping(timeout=2.0))
        except Exception:
            broker = False
        return {"broker": broker, "database": database}

    def replay(self) -> int:
        """Stage the current state this service owns again, source after source; returns
        how many records (events and tombstones).

        It begins a new log epoch: every replica's consumers read their topics again from
        the start (the broker that lost its log holds a new one, see
        :mod:`interlocality.common.log_epochs`).
        """
        count = 0
        with self.transaction() as session:
            begin_log_epoch(session)
            for source in self.replay_sources:
                for record in list(source(session)):
                    if isinstance(record, Tombstone):
                        self.emit_tombstone(session, record.event)
                    else:
                        self.emit(session, record)
                    count += 1
        return count

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI document of this service's Kafka side."""
        self._subscribe()
        spec = AsyncAPI(
            self.broker,
            title=f"Interlocality {self.settings.service}",
            version="1.0.0",
            description=f"Kafka channels of the {self.settings.service} service.",
        )
        return dict(spec.to_specification().to_jsonable())


async def _started(broker: KafkaBroker) -> None:
    """Start ``broker`` with its subscribers side by side: each joins its consumer group,
    which takes seconds, and a service with two groups (its region's and a shared topic's)
    would otherwise wait for them one after the other."""
    await broker.connect()
    await asyncio.gather(*(subscriber.start() for subscriber in broker.subscribers))
    for publisher in broker.publishers:
        await publisher.start()
    broker.running = True


def settle_heap() -> None:
    """Keep the garbage collector off what a service loads once at start.

    The ESCO vocabulary, its search index and the code lists are hundreds of thousands of
    objects that live as long as the process; every full collection would scan them again,
    which costs more than half of a bulk import's time. Frozen, they are never scanned. A
    larger first generation makes the many short-lived objects of validation cheaper too.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])


async def tolerant_batch_parser(message: Any, original: Callable[[Any], Any]) -> Any:
    """FastStream's batch parser, surviving header values that are not UTF-8.

    Such a record must reach the dead-letter logic rather than stall the partition, so the
    parse runs on copies without the undecodable headers and the originals stay attached.
    """
    try:
        return await original(message)
    except UnicodeDecodeError:
        cleaned = tuple(
            dataclasses.replace(
                record,
                headers=tuple((k, v) for k, v in record.headers if _is_utf8(v)),
            )
            for record in message
        )
        parsed = await original(cleaned)
        parsed.raw_message = message
        return parsed


async def raw_batch_decoder(message: Any, original: Callable[[Any], Any]) -> Any:
    """The records stay raw: the consumer decodes and validates each one itself."""
    return None


def _is_utf8(value: bytes | None) -> bool:
    try:
        (value or b"").decode()
        return True
    except UnicodeDecodeError:
        return False


class BodySizeLimit:
    """Refuses request bodies over ``max_bytes`` with 413, whether announced or streamed.

    Bulk imports (paths under ``/v1/imports/``) stream large files: they get ``import_bytes``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, import_bytes: int) -> None:
        self.app = app
        self.default_max = max_bytes
        self.import_max = import_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (
            self.import_max
            if scope.get("path", "").startswith("/v1/imports/")
            else self.default_max
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._refuse(send, limit)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        response = JSONResponse({"detail": f"request body exceeds {limit} bytes"}, status_code=413)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


class _BodyTooLarge(Exception):
    pass


class UnpairedSurrogates:
    """Refuses a JSON request body with a string that escapes half of a surrogate pair
    (``"\\ud800"``) with 422 naming the field.

    JSON text may say it, and Python takes it as a string, but no UTF-8 can carry it: the
    database, Kafka and even the answer echoing the value would fail on it later. Bulk
    imports (read row by row by the services) are left to their own checks.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT", "PATCH")
            or scope.get("path", "").startswith("/v1/imports/")
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        try:
            where = _unpaired_surrogate(json.loads(body), ["body"])
        except (ValueError, RecursionError):
            where = None  # not JSON: the route's own parsing says so
        if where is not None:
            field, value = where
            response = JSONResponse(
                {
                    "detail": [
                        problem(
                            field,
                            "text with half of a UTF-16 surrogate pair (a \\uD800–\\uDFFF "
                            "escape without its partner), which is no character",
                            "string_unicode",
                            input=value.encode("utf-16", "surrogatepass").decode(
                                "utf-16", "replace"
                            ),
                        )
                    ]
                },
                status_code=422,
            )
            await response(scope, receive, send)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False  # FastAPI reads a body as JSON only when it says it is


def _unpaired_surrogate(value: Any, path: list[str | int]) -> tuple[list[str | int], str] | None:
    """Where in ``value`` a string (or key) holds a lone surrogate, and that string."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path, value
        return None
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        for key in value:
            found = _unpaired_surrogate(key, path)
            if found is not None:
                return found
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _unpaired_surrogate(item, [*path, key])
        if found is not None:
            return found
    return None


def problem(field: Sequence[str | int], message: str, kind: str, **extra: Any) -> dict[str, Any]:
    """One entry of a 422 response: where the bad value is and what was expected."""
    return {
        "loc": list(field),
        "field": ".".join(str(part) for part in field),
        "msg": message,
        "type": kind,
        **extra,
    }


class Problem(BaseModel):
    """One thing wrong with a request: where the bad value is and what was expected."""

    model_config = ConfigDict(extra="allow")

    loc: Annotated[
        list[str | int],
        Field(description="Where: 'body', 'query', 'path' or 'header', then the field's path."),
    ]
    field: Annotated[str, Field(description="The same path in dots, e.g. 'body.skills.0.uri'.")]
    msg: Annotated[str, Field(description="What is wrong and what was expected, in words.")]
    type: Annotated[str, Field(description="A stable code of the kind of problem.")]
    input: Annotated[Any, Field(description="The value that was refused, when there is one.")] = (
        None
    )


class ErrorAnswer(BaseModel):
    """The body of every 4xx answer: a sentence, or the problems of the request one by one
    (422, and conflicts about one field)."""

    detail: Annotated[
        str | list[Problem],
        Field(description="What went wrong: in words, or one entry per bad field."),
    ]


_ERROR_MEANINGS = {
    400: "The request body cannot be read: it is not UTF-8 text.",
    401: "No access token, or one that is invalid or expired (see WWW-Authenticate).",
    403: "The caller's token is for another region, or its roles do not grant this.",
    404: "Nothing is known by this id.",
    409: "The request conflicts with what is stored.",
    413: "The request body is larger than the service accepts.",
    422: "The request is malformed: each problem names its field and what was expected.",
}


def error_answers(meanings: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for the error answers it gives, each with its meaning
    and the :class:`ErrorAnswer` body, e.g. ``error_answers({404: "No such vacancy."})``."""
    return {
        code: {"model": ErrorAnswer, "description": meaning or _ERROR_MEANINGS.get(code, "")}
        for code, meaning in meanings.items()
    }


def _document_error_answers(app: FastAPI, ids_never_missing: Iterable[str]) -> None:
    """Document the error answers every route shares: 422 with :class:`ErrorAnswer`
    (FastAPI's default schema lacks ``field`` and ``input``), 400 and 413 where a request body
    is taken, and 404 where the path names something by id — except on ``ids_never_missing``,
    the paths that answer for any id."""
    answer_any_id = set(ids_never_missing)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        answer = ErrorAnswer.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        for name, schema in answer.pop("$defs", {}).items():
            schemas.setdefault(name, schema)
        schemas.setdefault("ErrorAnswer", answer)
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}}
        ref = body["application/json"]["schema"]
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.get("responses", {})
                for response in responses.values():
                    # an error answer is JSON also where the route answers another type
                    if any(c.get("schema") == ref for c in response.get("content", {}).values()):
                        response["content"] = body
                names_an_id = any(p.get("in") == "path" for p in operation.get("parameters", []))
                if names_an_id and path not in answer_any_id:
                    responses.setdefault(
                        "404", {"description": _ERROR_MEANINGS[404], "content": body}
                    )
                if operation.get("security"):
                    for code in ("401", "403"):
                        responses.setdefault(
                            code, {"description": _ERROR_MEANINGS[int(code)], "content": body}
                        )
                if "422" in responses:
                    responses["422"]["content"] = body
                    if responses["422"].get("description") == "Validation Error":
                        responses["422"]["description"] = _ERROR_MEANINGS[422]
                if "requestBody" in operation:
                    for code in ("400", "413"):
                        responses.setdefault(
                            code, {"description": _ERROR_MEANINGS[int(code)], "content": body}
                        )
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        problem(
            error["loc"],
            readable_message(error),
            error["type"],
            **({"input": error["input"]} if "input" in error else {}),
        )
        for error in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(details)}, status_code=422)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTP error, with a 405's ``Allow`` naming every method of the
    path: each method is a route of its own, and Starlette names only the first's."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = [
            method
            for method in _METHODS
            if any(
                route.matches({**request.scope, "method": method})[0] == Match.FULL
                for route in request.app.router.routes
            )
        ]
        exc = StarletteHTTPException(405, exc.detail, headers={"Allow": ", ".join(allowed)})
    return await http_exception_handler(request, exc)


PartT = TypeVar("PartT")


class Provided(Generic[PartT]):
    """A FastAPI dependency answering the part of type ``kind`` the composition root gave
    :func:`create_service_app` in ``provides``, so routers can be module-level::

        Students = Annotated[StudentService, Depends(Provided(StudentService))]
    """

    def __init__(self, kind: type[PartT]) -> None:
        self.kind = kind

    def __call__(self, request: Request) -> PartT:
        parts: dict[type, object] = request.app.state.provided
        part = parts.get(self.kind)
        if part is None:
            raise LookupError(f"the app was not given a {self.kind.__name__} in provides=")
        return cast(PartT, part)


def provide(app: FastAPI, parts: Iterable[object]) -> None:
    """Make ``parts`` what the app's :class:`Provided` dependencies answer, one per type."""
    app.state.provided = {type(part): part for part in parts}


def create_service_app(
    runtime: ServiceRuntime,
    routers: Sequence[APIRouter],
    *,
    title: str,
    description: str,
    provides: Sequence[object] = (),
) -> FastAPI:
    """The HTTP app of a service: its routers plus health, readiness, metrics, replay.

    ``provides`` are the parts the routers' :class:`Provided` dependencies answer (the
    service layer, a vocabulary, …), one per type; the runtime is always provided.
    """
    settings = runtime.settings
    configure_logging(settings.service, settings.region, settings.log_format, settings.log_level)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not settings.oidc_issuer:
            raise ValueError(NO_ISSUER)
        await runtime.start()
        settle_heap()
        logger.info("service started", extra={"port": settings.port})
        try:
            yield
        finally:
            await runtime.stop()
            logger.info("service stopped")

    # /docs and /redoc load Swagger UI and ReDoc from the service, not a CDN: a region may
    # have no internet.
    app: FastAPI = FastAPIOffline(
        title=title, description=description, version="0.1.0", lifespan=lifespan
    )
    app.state.runtime = runtime
    app.state.verifier = TokenVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        region=settings.region,
        jwks_url=settings.oidc_jwks_url,
    )
    provide(app, (runtime, *provides))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(UnpairedSurrogates)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        import_bytes=settings.max_import_bytes,
    )
    runtime.metrics.install(app)
    instrument_http(app, runtime.tracer_provider)

    @app.get("/healthz", tags=["operations"], summary="Liveness", dependencies=[PUBLIC])
    def healthz() -> JSONResponse:
        # a replica that lost its place as the active one stopped consuming: restart it
        alive = not runtime.deposed
        return JSONResponse(
            {
                "status": "ok" if alive else "deposed: restart",
                "service": settings.service,
                "region": settings.region,
            },
            status_code=200 if alive else 503,
        )

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: broker and database reachable",
        dependencies=[PUBLIC],
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.post(
        "/v1/admin/replay",
        tags=["operations"],
        summary="Re-publish the current state this service owns",
        dependencies=[allow(SERVICE)],
    )
    async def replay() -> dict[str, Any]:
        count = await asyncio.to_thread(runtime.replay)
        return {"service": settings.service, "republished": count}

    @app.get(
        "/v1/admin/outbox",
        tags=["operations"],
        summary="Outbox backlog",
        dependencies=[allow(SERVICE)],
    )
    def outbox() -> dict[str, int]:
        with runtime.reading() as session:
            pending = pending_count(session)
        runtime.metrics.outbox_pending.set(pending)
        return {"pending": pending}

    @app.get(
        "/v1/privacy/students/{student_id}",
        tags=["privacy"],
        summary="Everything this service holds on a student (GDPR access and erasure check)",
        dependencies=[allow(SERVICE, OPERATOR, the_student(), audit="export")],
    )
    def personal_data(student_id: str) -> dict[str, Any]:
        holds: dict[str, Any] = {}
        with runtime.reading() as session:
            for source in runtime.personal_data:
                holds.update(source(session, student_id))
            audit_log = entries(session, student_id=student_id, limit=AUDIT_EXPORTED)
        return {
            "service": settings.service,
            "region": settings.region,
            "student_id": student_id,
            "holds": jsonable_encoder(holds),
            "audit_log": audit_log,
        }

    @app.get(
        "/v1/audit",
        tags=["privacy"],
        summary="Who read, exported or erased students' personal data, newest first",
        dependencies=[allow(OPERATOR)],
    )
    def audit_log(
        student_id: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditRecord]:
        with runtime.reading() as session:
            return [
                AuditRecord.model_validate(entry)
                for entry in entries(session, student_id=student_id, limit=limit)
            ]

    @app.get(
        "/asyncapi.json",
        tags=["operations"],
        summary="AsyncAPI document",
        dependencies=[PUBLIC],
    )
    def asyncapi() -> dict[str, Any]:
        return runtime.asyncapi()

    # the API's own documentation is public: it describes the routes, it holds no data
    documentation = {"/docs", "/redoc", app.swagger_ui_oauth2_redirect_url}
    routes = [
        *(r for r in app.router.routes if getattr(r, "path", None) not in documentation),
        *(route for router in routers for route in router.routes),
    ]
    undeclared = undeclared_routes(routes)
    if undeclared:
        raise ValueError(
            f"{settings.service}: routes without an access policy (declare one with "
            f"allow(...) or PUBLIC): {', '.join(undeclared)}"
        )
    app.state.policies = declared_policies(routes)
    for router in routers:
        app.include_router(router)
    _document_error_answers(app, ids_never_missing=["/v1/privacy/students/{student_id}"])
    return app
