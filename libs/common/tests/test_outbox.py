"""The outbox commits state and events together and loses nothing across a crash."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Field, Session, SQLModel, select

from interlocality.common.cloudevents import KafkaRecord
from interlocality.common.db import create_db_engine, init_schema, transaction
from interlocality.common.outbox import (
    OutboxMessage,
    OutboxRelay,
    backlog,
    forget_subject,
    pending_count,
    stage_event,
    stage_events,
    stage_record,
)
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.common.testing import read_topic, signed_in, trusting_tests_issuer, upserted
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.topics import STUDENTS


class Ledger(SQLModel, table=True):
    __tablename__ = "test_ledger"

    id: int | None = Field(default=None, primary_key=True)
    note: str


TABLES = [Ledger, OutboxMessage]


def test_state_and_event_roll_back_together(database_url: str) -> None:
    engine = create_db_engine(database_url)
    init_schema(engine, TABLES)

    with pytest.raises(RuntimeError), transaction(engine) as session:
        session.add(Ledger(note="student created"))
        stage_event(session, upserted("demo"))
        session.flush()
        raise RuntimeError("the request failed after writing")

    with Session(engine) as session:
        assert session.exec(select(Ledger)).all() == []
        assert pending_count(session) == 0


async def test_events_committed_before_a_crash_are_published_after_restart(
    database_url: str, kafka_bootstrap: str, region: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    engine = create_db_engine(database_url)
    init_schema(engine, TABLES)
    events = [upserted(region, f"s-{i}") for i in range(3)]
    # The process commits and dies before any relay runs: the events exist only in the table.
    with transaction(engine) as session:
        session.add(Ledger(note="three students"))
        for event in events:
            stage_event(session, event)

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        relay = OutboxRelay(engine, producer)
        assert await relay.publish_pending() == 3
        assert await relay.publish_pending() == 0
    finally:
        await producer.stop()

    records = await read_topic(kafka_bootstrap, STUDENTS.name(region), count=3)
    published_ids = {dict(r.headers)["ce_id"].decode() for r in records}
    assert published_ids == {event.id for event in events}
    with Session(engine) as session:
        assert pending_count(session) == 0


async def test_relay_running_in_background_publishes_in_commit_order(
    database_url: str, kafka_bootstrap: str, region: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    engine = create_db_engine(database_url)
    init_schema(engine, TABLES)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    relay = OutboxRelay(engine, producer, poll_seconds=0.02)
    relay.start()
    try:
        versions = [upserted(region, "same-student", version=v) for v in range(1, 6)]
        for event in versions:
            with transaction(engine) as session:
                stage_event(session, event)
            relay.wake()
        records = await read_topic(kafka_bootstrap, STUDENTS.name(region), count=5)
    finally:
        await relay.stop()
        await producer.stop()
    # One key, one partition: the log holds the versions in the order they were committed.
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [e.id for e in versions]


async def test_a_large_relay_keeps_each_keys_order_on_the_producers_partition(
    database_url: str, kafka_bootstrap: str, region: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    engine = create_db_engine(database_url)
    init_schema(engine, TABLES)
    students = [f"s-{n}" for n in range(12)]
    # 40 versions of 12 students: several record batches on every partition
    events = [upserted(region, s, version=v) for v in range(1, 41) for s in students]
    with transaction(engine) as session:
        stage_events(session, events)
    topic = STUDENTS.name(region)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        assert await OutboxRelay(engine, producer).publish_pending() == len(events)
        # where the producer itself puts each student's records
        chosen = {
            s: (await producer.send_and_wait(topic, value=b"probe", key=s.encode())).partition
            for s in students
        }
    finally:
        await producer.stop()

    records = await read_topic(kafka_bootstrap, topic, count=len(events) + len(students))
    relayed = [r for r in records if r.value != b"probe"]
    assert len(relayed) == len(events)
    by_student: dict[str, list[tuple[int, int]]] = {}
    for record in sorted(relayed, key=lambda r: (r.partition, r.offset)):
        student = record.key.decode()
        assert record.partition == chosen[student]
        version = json.loads(record.value)["version"]
        by_student.setdefault(student, []).append((record.offset, version))
    for student in students:
        assert [version for _, version in by_student[student]] == list(range(1, 41))
    with Session(engine) as session:
        assert pending_count(session) == 0


def test_published_rows_go_after_the_retention_and_an_erasure_takes_its_subjects_rows(
    database_url: str,
) -> None:
    engine = create_db_engine(database_url)
    init_schema(engine, TABLES)
    now = datetime.now(UTC)
    with transaction(engine) as session:
        old = stage_event(session, upserted("demo", "s-old", name="Ólafur Þórsson"))
        recent = stage_event(session, upserted("demo", "s-recent", name="Ayşe Kaya"))
        stage_event(session, upserted("demo", "s-pending", name="Nuñez Peña"))
        session.flush()
        old.published_at, recent.published_at = now - timedelta(days=8), now - timedelta(hours=1)
    relay = OutboxRelay(engine, producer=None, retention_seconds=7 * 24 * 3600)  # type: ignore[arg-type]

    assert relay.prune() == 1

    with Session(engine) as session:
        kept = [row.key for row in session.exec(select(OutboxMessage).order_by(OutboxMessage.id))]
        assert kept == [b"s-recent", b"s-pending"]
        # a row keyed by another but naming the student in its value goes too
        stage_record(
            session, KafkaRecord(topic="demo.t", key=b"v-1", value=b'{"student_id":"s-pending"}')
        )
        assert forget_subject(session, "s-pending") == 2
        session.commit()
        kept = [row.key for row in session.exec(select(OutboxMessage))]
        assert kept == [b"s-recent"]


class _HeldProducer:
    """A producer whose record batches wait at a gate: a relay slowed down mid-round."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.sending = asyncio.Event()
        self.gate = asyncio.Event()

    async def partitions_for(self, topic: str) -> Any:
        return await self.producer.partitions_for(topic)

    def create_batch(self) -> Any:
        return self.producer.create_batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        self.sending.set()
        await self.gate.wait()
        return await self.producer.send_batch(batch, topic, partition=partition)


async def _started_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    return producer


async def test_two_replicas_relays_publish_every_row_exactly_once(
    postgres_url: str, kafka_bootstrap: str, region: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    replicas = [create_db_engine(postgres_url) for _ in range(2)]
    init_schema(replicas[0], TABLES)
    students = [f"s-{n}" for n in range(10)]
    events = [upserted(region, s, version=v) for v in range(1, 31) for s in students]
    with transaction(replicas[0]) as session:
        stage_events(session, events)
    producers = [await _started_producer(kafka_bootstrap) for _ in replicas]
    relays = [
        OutboxRelay(engine, producer, batch_size=40, service="profiles")
        for engine, producer in zip(replicas, producers, strict=True)
    ]

    async def relay_until_done(relay: OutboxRelay) -> None:
        for _ in range(200):
            await relay.publish_pending()
            with Session(relay.engine) as session:
                if pending_count(session) == 0:
                    return

    try:
        await asyncio.gather(*(relay_until_done(relay) for relay in relays))
    finally:
        for producer in producers:
            await producer.stop()

    # ask for one more than there should be: a second copy of any row would show
    records = await read_topic(
        kafka_bootstrap, STUDENTS.name(region), count=len(events) + 1, timeout=5
    )
    ids = [dict(r.headers)["ce_id"].decode() for r in records]
    assert len(ids) == len(events)
    assert set(ids) == {event.id for event in events}
    for student in students:
        versions = [
            json.loads(r.value)["version"]
            for r in sorted(records, key=lambda r: r.offset)
            if r.key == student.encode()
        ]
        assert versions == list(range(1, 31))


async def test_a_slow_relay_cannot_put_an_old_snapshot_after_an_erasures_tombstone(
    postgres_url: str, kafka_bootstrap: str, region: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    replicas = [create_db_engine(postgres_url) for _ in range(2)]
    init_schema(replicas[0], TABLES)
    topic = STUDENTS.name(region)
    with transaction(replicas[0]) as session:
        stage_event(session, upserted(region, "s-erased", name="Ingrid Ødegaard"))
    slow, quick = await _started_producer(kafka_bootstrap), await _started_producer(kafka_bootstrap)
    held = _HeldProducer(slow)
    slow_relay = OutboxRelay(replicas[0], held, service="profiles")  # type: ignore[arg-type]
    quick_relay = OutboxRelay(replicas[1], quick, service="profiles")
    try:
        # the slow relay has read the snapshot and is sending it when the erasure commits
        slow_round = asyncio.create_task(slow_relay.publish_pending())
        await asyncio.wait_for(held.sending.wait(), timeout=10)
        with transaction(replicas[1]) as session:
            forget_subject(session, "s-erased")
            stage_record(session, KafkaRecord(topic=topic, key=b"s-erased", value=None))
        await quick_relay.publish_pending()
        held.gate.set()
        await slow_round
        await quick_relay.publish_pending()
    finally:
        held.gate.set()
        await slow.stop()
        await quick.stop()

    records = await read_topic(kafka_bootstrap, topic, count=3, timeout=5)
    assert [r.value is None for r in sorted(records, key=lambda r: r.offset)] == [False, True]


async def test_rows_of_one_key_are_published_in_commit_order(
    postgres_url: str, kafka_bootstrap: str, region: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    engine = create_db_engine(postgres_url)
    init_schema(engine, TABLES)
    topic = STUDENTS.name(region)
    # The erasure stages its tombstone first (the lower id) and commits last; an update
    # that had not seen it commits a snapshot in between.
    with Session(engine) as erasure, Session(engine) as update:
        stage_record(erasure, KafkaRecord(topic=topic, key=b"s-erased", value=None))
        erasure.flush()
        stage_event(update, upserted(region, "s-erased", name="Ingrid Ødegaard"))
        update.commit()
        erasure.commit()
    producer = await _started_producer(kafka_bootstrap)
    try:
        assert await OutboxRelay(engine, producer).publish_pending() == 2
    finally:
        await producer.stop()

    records = await read_topic(kafka_bootstrap, topic, count=3, timeout=5)
    # the tombstone is last: compaction leaves nothing of the erased student
    assert [r.value is None for r in sorted(records, key=lambda r: r.offset)] == [False, True]


def test_the_backlog_counts_unpublished_rows_and_dates_the_oldest(database_url: str) -> None:
    engine = create_db_engine(database_url)
    init_schema(engine, TABLES)
    with Session(engine) as session:
        assert backlog(session) == (0, None)
    now = datetime.now(UTC)
    with transaction(engine) as session:
        published = stage_event(session, upserted("demo", "s-1"))
        waiting = stage_event(session, upserted("demo", "s-2"))
        newer = stage_event(session, upserted("demo", "s-3"))
        session.flush()
        published.created_at, published.published_at = now - timedelta(hours=2), now
        waiting.created_at = now - timedelta(minutes=10)
        newer.created_at = now - timedelta(minutes=1)

    with Session(engine) as session:
        pending, oldest = backlog(session)
    assert pending == 2
    # the oldest row still waiting, not the older one already published
    assert oldest == now - timedelta(minutes=10)


def test_a_scrape_reports_the_outbox_backlog_and_the_age_of_its_oldest_row(
    database_url: str,
) -> None:
    settings = load_settings(
        ServiceSettings,
        service="profiles",
        region="scraped",
        kafka_bootstrap_servers="127.0.0.1:1",
        database_url=database_url,
        log_format="console",
        **trusting_tests_issuer(),
    )
    runtime = ServiceRuntime(settings, [])
    init_schema(runtime.engine, runtime.tables)
    client = signed_in(
        TestClient(create_service_app(runtime, [], title="t", description="d")), "service"
    )
    assert scraped(client) == {"pending": 0.0, "oldest": 0.0}

    with transaction(runtime.engine) as session:
        stage_event(session, upserted("scraped", "s-1")).created_at = datetime.now(UTC) - timedelta(
            minutes=20
        )
        stage_event(session, upserted("scraped", "s-2"))

    seen = scraped(client)
    assert seen["pending"] == 2
    assert 20 * 60 <= seen["oldest"] < 21 * 60


def scraped(client: TestClient) -> dict[str, float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
    return {
        "pending": samples["interlocality_outbox_pending"],
        "oldest": samples["interlocality_outbox_oldest_pending_seconds"],
    }
