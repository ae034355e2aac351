"""Idempotent consumption and dead-lettering, through a real broker and real databases."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Field, Session, SQLModel, create_engine, func, select

from interlocality.common.cloudevents import encode_event
from interlocality.common.consumer import (
    DeadLetterPublisher,
    EventApplier,
    IncomingRecord,
    RetryBudget,
    lag_after,
)
from interlocality.common.db import init_schema
from interlocality.common.outbox import OutboxMessage
from interlocality.common.service import ServiceRuntime
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.common.testing import eventually, read_topic, upserted
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.students import StudentProfileUpserted
from interlocality.contracts.topics import STUDENTS


class Applied(SQLModel, table=True):
    __tablename__ = "test_applied"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    student_id: str


def settings_of(region: str, database_url: str, **values: Any) -> ServiceSettings:
    """A matching service's settings in ``region`` on ``database_url``, and ``values``."""
    return load_settings(
        ServiceSettings, service="matching", region=region, database_url=database_url, **values
    )


def applied_rows(runtime: ServiceRuntime) -> list[Applied]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(Applied)).all())


async def started_runtime(kafka_bootstrap: str, region: str, database_url: str) -> ServiceRuntime:
    await ensure_topics(kafka_bootstrap, region)
    settings = settings_of(region, database_url, kafka_bootstrap_servers=kafka_bootstrap)
    runtime = ServiceRuntime(settings, [Applied])

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        session.add(Applied(event_id=event.id, student_id=event.data.student_id))

    runtime.consume(STUDENTS, {StudentProfileUpserted: apply})
    await runtime.start()
    return runtime


async def send(bootstrap: str, topic: str, records: list[tuple]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def test_a_redelivered_event_has_one_effect(
    kafka_bootstrap: str, region: str, database_url: str
) -> None:
    runtime = await started_runtime(kafka_bootstrap, region, database_url)
    try:
        topic = STUDENTS.name(region)
        record = encode_event(upserted(region, "s-dup"), topic)
        marker = encode_event(upserted(region, "s-after"), topic)
        # Same key, same partition: when the marker is applied, both copies were consumed.
        await send(
            kafka_bootstrap,
            topic,
            [(record.key, record.value, record.headers)] * 2
            + [(record.key, marker.value, marker.headers)],
        )
        rows = await eventually(
            lambda: [r for r in applied_rows(runtime) if r.student_id == "s-after"]
        )
        assert rows
        assert [r.student_id for r in applied_rows(runtime)] == ["s-dup", "s-after"]
    finally:
        await runtime.stop()


async def test_a_malformed_message_goes_to_the_dlq_and_the_next_one_is_applied(
    kafka_bootstrap: str, region: str, database_url: str
) -> None:
    runtime = await started_runtime(kafka_bootstrap, region, database_url)
    try:
        topic = STUDENTS.name(region)
        good = encode_event(upserted(region, "s-good"), topic)
        not_json = [("ce_type", b"org.interlocality.StudentProfileUpserted.v1")]
        bad_profile = encode_event(upserted(region, "s-bad"), topic)
        broken_value = json.dumps({"student_id": "s-bad", "name": ""}).encode()
        await send(
            kafka_bootstrap,
            topic,
            [
                (b"s-x", b"{this is not json", not_json),
                (bad_profile.key, broken_value, bad_profile.headers),
                (good.key, good.value, good.headers),
            ],
        )
        await eventually(lambda: [r for r in applied_rows(runtime) if r.student_id == "s-good"])
        dead = await read_topic(kafka_bootstrap, STUDENTS.dlq_name(region), count=2)
    finally:
        await runtime.stop()

    assert [r.student_id for r in applied_rows(runtime)] == ["s-good"]
    assert sorted(r.value for r in dead) == sorted([b"{this is not json", broken_value])
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["dlq_original_topic"] == topic
        assert headers["dlq_consumer_group"] == f"{region}.matching"
        assert int(headers["dlq_original_offset"]) >= 0
        assert headers["dlq_reason"].startswith("unparseable:")
    reasons = {dict(r.headers)["dlq_reason"].decode() for r in dead}
    assert any("data is not JSON" in reason for reason in reasons)
    assert any("not a valid students event" in reason for reason in reasons)


async def test_another_regions_event_on_this_regions_topic_goes_to_the_dlq(
    kafka_bootstrap: str, region: str, database_url: str
) -> None:
    runtime = await started_runtime(kafka_bootstrap, region, database_url)
    try:
        topic = STUDENTS.name(region)
        stray = encode_event(upserted("elsewhere", "s-stray", name="Ørjan Sæther"), topic)
        own = encode_event(upserted(region, "s-own"), topic)
        await send(
            kafka_bootstrap,
            topic,
            [(stray.key, stray.value, stray.headers), (own.key, own.value, own.headers)],
        )
        await eventually(lambda: [r for r in applied_rows(runtime) if r.student_id == "s-own"])
        [dead] = await read_topic(kafka_bootstrap, STUDENTS.dlq_name(region), count=1)
    finally:
        await runtime.stop()

    assert [r.student_id for r in applied_rows(runtime)] == ["s-own"]
    assert dead.value == stray.value
    assert dict(dead.headers)["dlq_reason"].decode() == (
        f"another region's event: it is of region 'elsewhere', this consumer applies region "
        f"'{region}''s only"
    )


async def test_a_handler_failure_dead_letters_without_partial_writes(
    kafka_bootstrap: str, region: str, database_url: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    settings = settings_of(region, database_url, kafka_bootstrap_servers=kafka_bootstrap)
    runtime = ServiceRuntime(settings, [Applied])

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        session.add(Applied(event_id=event.id, student_id=event.data.student_id))
        session.flush()
        if event.data.student_id == "s-poison":
            raise ValueError("student s-poison cannot be applied")

    runtime.consume(STUDENTS, {StudentProfileUpserted: apply})
    await runtime.start()
    try:
        topic = STUDENTS.name(region)
        poison = encode_event(upserted(region, "s-poison"), topic)
        good = encode_event(upserted(region, "s-fine"), topic)
        await send(
            kafka_bootstrap,
            topic,
            [(poison.key, poison.value, poison.headers), (poison.key, good.value, good.headers)],
        )
        await eventually(lambda: [r for r in applied_rows(runtime) if r.student_id == "s-fine"])
        dead = await read_topic(kafka_bootstrap, STUDENTS.dlq_name(region), count=1)
        with Session(runtime.engine) as session:
            count = session.exec(select(func.count()).select_from(Applied)).one()
    finally:
        await runtime.stop()
    assert count == 1
    reason = dict(dead[0].headers)["dlq_reason"].decode()
    assert reason == "not applicable: ValueError: student s-poison cannot be applied"


async def test_a_header_that_is_not_utf8_is_dead_lettered_not_stuck(
    kafka_bootstrap: str, region: str, database_url: str
) -> None:
    runtime = await started_runtime(kafka_bootstrap, region, database_url)
    try:
        topic = STUDENTS.name(region)
        good = encode_event(upserted(region, "s-after-binary"), topic)
        await send(
            kafka_bootstrap,
            topic,
            [
                (b"s-bin", b"\x00\xff", [("ce_type", b"\xff\xfe not utf-8")]),
                (b"s-bin", good.value, good.headers),
            ],
        )
        await eventually(
            lambda: [r for r in applied_rows(runtime) if r.student_id == "s-after-binary"]
        )
        [dead] = await read_topic(kafka_bootstrap, STUDENTS.dlq_name(region), count=1)
    finally:
        await runtime.stop()
    assert dead.value == b"\x00\xff"
    assert dict(dead.headers)["dlq_reason"].decode().startswith("unparseable:")


class RecordingDeadLetters(DeadLetterPublisher):
    """Keeps dead-lettered records in memory (the applier alone, without a broker)."""

    def __init__(self) -> None:
        super().__init__(producer=lambda: None, consumer_group="test")  # type: ignore[arg-type,return-value]
        self.sent: list[tuple[IncomingRecord, str]] = []

    async def send(self, record: IncomingRecord, reason: str) -> None:
        self.sent.append((record, reason))


async def test_one_failing_event_in_a_batch_leaves_the_others_applied_once(
    region: str, database_url: str
) -> None:
    settings = settings_of(region, database_url)
    runtime = ServiceRuntime(settings, [Applied])
    init_schema(runtime.engine, runtime.tables)

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        session.add(Applied(event_id=event.id, student_id=event.data.student_id))
        if event.data.student_id == "s-poison":
            raise ValueError("student s-poison cannot be applied")

    dead_letters = RecordingDeadLetters()
    rollbacks: list[str] = []
    applier = EventApplier(
        spec=STUDENTS,
        consumer="test",
        engine=runtime.engine,
        handlers={StudentProfileUpserted: apply},
        dead_letters=dead_letters,
        after_rollback=lambda: rollbacks.append("rolled back"),
    )
    topic = STUDENTS.name(region)

    def record(student_id: str, offset: int) -> IncomingRecord:
        encoded = encode_event(upserted(region, student_id), topic)
        return IncomingRecord(topic, 0, offset, encoded.key, encoded.value, encoded.headers)

    first, second = record("s-1", 0), record("s-2", 2)
    outcomes = await applier.handle_batch([first, record("s-poison", 1), second, first])
    again = await applier.handle_batch([second, record("s-3", 3)])

    assert outcomes == ["applied", "dead-lettered", "applied", "duplicate"]
    assert again == ["duplicate", "applied"]
    assert [r.student_id for r in applied_rows(runtime)] == ["s-1", "s-2", "s-3"]
    # The batch as a whole, then the poison event alone: state kept in memory must reload.
    assert rollbacks == ["rolled back"] * 2
    assert [(r.offset, reason) for r, reason in dead_letters.sent] == [
        (1, "not applicable: ValueError: student s-poison cannot be applied")
    ]


def test_work_a_service_gives_up_on_is_staged_for_its_dlq_with_the_reason(
    region: str, database_url: str
) -> None:
    settings = settings_of(region, database_url)
    runtime = ServiceRuntime(settings, [])
    init_schema(runtime.engine, runtime.tables)
    event = upserted(region, "s-given-up")

    with runtime.transaction() as session:
        runtime.dead_letter(session, event, "it cannot be delivered")

    with Session(runtime.engine) as session:
        [staged] = session.exec(select(OutboxMessage)).all()
    topic = STUDENTS.name(region)
    encoded = encode_event(event, topic)
    assert (staged.topic, staged.key, staged.value) == (
        STUDENTS.dlq_name(region),
        encoded.key,
        encoded.value,
    )
    headers = dict(json.loads(staged.headers))
    assert headers["ce_id"] == event.id
    assert headers["dlq_reason"] == "it cannot be delivered"
    assert headers["dlq_original_topic"] == topic
    assert headers["dlq_consumer_group"] == f"{region}.matching"
    assert "dlq_original_offset" not in headers  # it was never on a topic
    counted = runtime.metrics.registry.get_sample_value(
        "interlocality_dead_letters_total", {"topic": topic}
    )
    assert counted == 1


def refused_by_the_database(session: Session) -> None:
    """Work the database itself refuses, as an OperationalError that is no outage: a
    statement timeout on PostgreSQL, a statement naming no table on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL statement_timeout = 1"))
        session.execute(text("SELECT pg_sleep(0.2)"))
    else:
        session.execute(text("SELECT * FROM no_such_table"))


def applier_of(
    runtime: ServiceRuntime, apply: Any, dead_letters: DeadLetterPublisher, attempts: int = 3
) -> EventApplier:
    return EventApplier(
        spec=STUDENTS,
        consumer="test",
        engine=runtime.engine,
        handlers={StudentProfileUpserted: apply},
        dead_letters=dead_letters,
        retries=RetryBudget(attempts=attempts, first_delay=0.01, max_delay=0.04),
    )


def incoming(region: str, student_id: str, offset: int) -> IncomingRecord:
    encoded = encode_event(upserted(region, student_id), STUDENTS.name(region))
    return IncomingRecord(
        STUDENTS.name(region), 0, offset, encoded.key, encoded.value, encoded.headers
    )


def runtime_with_schema(region: str, database_url: str) -> ServiceRuntime:
    settings = settings_of(region, database_url)
    runtime = ServiceRuntime(settings, [Applied])
    init_schema(runtime.engine, runtime.tables)
    return runtime


async def test_work_the_database_always_refuses_is_dead_lettered_after_the_budget(
    region: str, database_url: str
) -> None:
    runtime = runtime_with_schema(region, database_url)
    tries: list[str] = []

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        if event.data.student_id == "s-refused":
            tries.append(event.id)
            refused_by_the_database(session)
        session.add(Applied(event_id=event.id, student_id=event.data.student_id))

    dead_letters = RecordingDeadLetters()
    applier = applier_of(runtime, apply, dead_letters, attempts=3)
    outcomes = await applier.handle_batch(
        [incoming(region, "s-refused", 0), incoming(region, "s-next", 1)]
    )

    assert outcomes == ["dead-lettered", "applied"]
    assert [r.student_id for r in applied_rows(runtime)] == ["s-next"]
    # three tries of the batch, the last one event at a time
    assert len(tries) == 4
    [(record, reason)] = dead_letters.sent
    assert record.offset == 0
    assert reason.startswith("not applicable: the database refused it 3 times: ")
    assert ("QueryCanceled" if "postgresql" in database_url else "OperationalError") in reason


async def test_work_the_database_refuses_twice_is_applied_once_on_the_third_try(
    region: str, database_url: str
) -> None:
    runtime = runtime_with_schema(region, database_url)
    tries: list[str] = []

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        tries.append(event.id)
        if len(tries) <= 2:
            refused_by_the_database(session)
        session.add(Applied(event_id=event.id, student_id=event.data.student_id))

    dead_letters = RecordingDeadLetters()
    outcomes = await applier_of(runtime, apply, dead_letters).handle_batch(
        [incoming(region, "s-flaky", 0)]
    )

    assert outcomes == ["applied"]
    assert len(tries) == 3
    assert [r.student_id for r in applied_rows(runtime)] == ["s-flaky"]
    assert dead_letters.sent == []


@pytest.mark.parametrize(
    "unreachable",
    ["postgresql+psycopg://postgres@127.0.0.1:1/nowhere", "sqlite:////nonexistent/dir/x.db"],
)
async def test_an_outage_is_waited_out_never_dead_lettered(region: str, unreachable: str) -> None:
    dead_letters = RecordingDeadLetters()
    applier = EventApplier(
        spec=STUDENTS,
        consumer="test",
        engine=create_engine(unreachable),
        handlers={StudentProfileUpserted: lambda event, session: None},
        dead_letters=dead_letters,
        retries=RetryBudget(attempts=2, first_delay=0.01, max_delay=0.02),
    )
    for _ in range(4):  # twice the budget: the partition keeps waiting
        with pytest.raises(OperationalError):
            await applier.handle_batch([incoming(region, "s-waiting", 0)])
    assert dead_letters.sent == []


async def test_the_consumer_moves_past_an_event_the_database_refuses(
    kafka_bootstrap: str, region: str, database_url: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    settings = settings_of(
        region,
        database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumer_database_attempts=3,
        consumer_retry_delay_seconds=0.01,
    )
    runtime = ServiceRuntime(settings, [Applied])

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        if event.data.student_id == "s-refused":
            refused_by_the_database(session)
        session.add(Applied(event_id=event.id, student_id=event.data.student_id))

    runtime.consume(STUDENTS, {StudentProfileUpserted: apply})
    await runtime.start()
    try:
        topic = STUDENTS.name(region)
        refused = encode_event(upserted(region, "s-refused"), topic)
        after = encode_event(upserted(region, "s-after"), topic)
        await send(
            kafka_bootstrap,
            topic,
            [
                (refused.key, refused.value, refused.headers),
                (refused.key, after.value, after.headers),
            ],
        )
        await eventually(lambda: [r for r in applied_rows(runtime) if r.student_id == "s-after"])
        [dead] = await read_topic(kafka_bootstrap, STUDENTS.dlq_name(region), count=1)
    finally:
        await runtime.stop()
    assert [r.student_id for r in applied_rows(runtime)] == ["s-after"]
    assert dead.value == refused.value
    reason = dict(dead.headers)["dlq_reason"].decode()
    assert reason.startswith("not applicable: the database refused it 3 times: ")


async def test_an_event_two_consumers_apply_at_once_is_applied_once_never_dead_lettered(
    region: str, postgres_url: str
) -> None:
    # A rebalance hands the partition to a second replica while the first still applies
    # its batch: both hold the same event at once.
    replicas = [runtime_with_schema(region, postgres_url) for _ in range(2)]

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        session.add(Applied(event_id=event.id, student_id=event.data.student_id))
        session.flush()
        time.sleep(0.5)  # both are inside the apply before either commits

    dead_letters = RecordingDeadLetters()
    appliers = [
        EventApplier(
            spec=STUDENTS,
            consumer="matching:students",
            engine=replica.engine,
            handlers={StudentProfileUpserted: apply},
            dead_letters=dead_letters,
        )
        for replica in replicas
    ]
    record = incoming(region, "s-handed-over", 7)

    outcomes = await asyncio.gather(*(applier.handle_batch([record]) for applier in appliers))

    assert sorted(outcome for [outcome] in outcomes) == ["applied", "duplicate"]
    assert [r.student_id for r in applied_rows(replicas[0])] == ["s-handed-over"]
    assert dead_letters.sent == []


def test_the_lag_after_a_batch_is_what_each_partition_holds_past_its_last_record() -> None:
    def record(partition: int, offset: int, topic: str = "demo.students") -> IncomingRecord:
        return IncomingRecord(topic, partition, offset, b"k", b"v", [])

    watermarks = {
        TopicPartition("demo.students", 0): 120,
        TopicPartition("demo.students", 1): 8,
        TopicPartition("demo.vacancies", 0): None,  # nothing fetched from it yet
    }
    batch = [
        record(0, 17),
        record(1, 7),
        record(0, 19),
        record(0, 18),
        record(0, 2, "demo.vacancies"),
    ]

    assert lag_after(batch, watermarks.__getitem__) == {
        ("demo.students", 0): 100,  # offsets 20 to 119 still to come
        ("demo.students", 1): 0,
    }
