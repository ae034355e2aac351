"""After the broker lost its log (the embedded broker restarted empty) and the operator
replayed the services' state, every consumer reads the new log from its start: whether it
ran across the restart or is assigned the partitions later. Through a real embedded broker
of the test's own, which it restarts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from sqlmodel import Field, Session, SQLModel, select

from interlocality.common.embedded_broker import EmbeddedBroker
from interlocality.common.service import ServiceRuntime
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.common.testing import eventually, publish, upserted
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.students import StudentProfileUpserted
from interlocality.contracts.topics import STUDENTS


class Applied(SQLModel, table=True):
    __tablename__ = "test_epoch_applied"

    id: int | None = Field(default=None, primary_key=True)
    student_id: str


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of the test's own: the test restarts it."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as started:
        yield started


async def restarted(broker: EmbeddedBroker, region: str) -> None:
    """The broker killed and started again on its port, empty, its topics created again."""
    broker.stop()
    broker.start()
    await ensure_topics(broker.bootstrap_servers, region)


def settings_of(broker: EmbeddedBroker, region: str, tmp_path: Path) -> ServiceSettings:
    return load_settings(
        ServiceSettings,
        service="matching",
        region=region,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        database_url=f"sqlite:///{tmp_path / 'matching.db'}",
        log_epoch_poll_seconds=0.2,
    )


def students(region: str, prefix: str, count: int) -> list[StudentProfileUpserted]:
    return [upserted(region, f"{prefix}-{i}") for i in range(count)]


async def all_applied(
    runtime: ServiceRuntime[ServiceSettings], events: list[StudentProfileUpserted]
) -> None:
    wanted = [event.data.student_id for event in events]

    def unapplied() -> list[str]:
        with Session(runtime.engine) as session:
            applied = set(session.exec(select(Applied.student_id)).all())
        return [student for student in wanted if student not in applied]

    try:
        await eventually(lambda: not unapplied(), timeout=30)
    except AssertionError:
        missing = unapplied()
        raise AssertionError(f"{len(missing)} of {len(wanted)} never applied: {missing}") from None


@pytest.mark.parametrize(
    ("published", "replayed"),
    [
        # More than the lost log held: the new log passes the positions read in the old one.
        (60, True),
        # Fewer, and no replay yet: the positions lie beyond the new log's end.
        (10, False),
    ],
)
async def test_a_consumer_applying_a_batch_across_the_restart_reads_the_new_log_from_its_start(
    broker: EmbeddedBroker, region: str, tmp_path: Path, published: int, replayed: bool
) -> None:
    await ensure_topics(broker.bootstrap_servers, region)
    settings = settings_of(broker, region, tmp_path)
    runtime = ServiceRuntime(settings, [Applied])
    holding = threading.Event()
    release = threading.Event()

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        if event.data.student_id == "old-29":  # the broker dies while this batch is applied
            holding.set()
            release.wait(30)
        session.add(Applied(student_id=event.data.student_id))

    runtime.consume(STUDENTS, {StudentProfileUpserted: apply})
    await runtime.start()
    try:
        await publish(broker.bootstrap_servers, students(region, "old", 30))
        assert await asyncio.to_thread(holding.wait, 30)
        await restarted(broker, region)
        new = students(region, "new", published)
        await publish(broker.bootstrap_servers, new)
        release.set()  # the batch is applied and committed, on the new broker
        if replayed:  # the operator's replay, answered by another replica of the service
            ServiceRuntime(settings, [Applied]).replay()
        await all_applied(runtime, new)
    finally:
        release.set()
        await runtime.stop()


async def test_a_replica_assigned_the_partitions_later_skips_no_position_of_the_lost_log(
    broker: EmbeddedBroker, region: str, tmp_path: Path
) -> None:
    await ensure_topics(broker.bootstrap_servers, region)
    settings = settings_of(broker, region, tmp_path)
    await restarted(broker, region)
    # What a consumer that read the lost log commits on the new broker: its old positions
    # (30 records a partition), in the group a replica started later resumes.
    stale = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    await stale.start()
    try:
        partitions = [TopicPartition(STUDENTS.name(region), p) for p in range(STUDENTS.partitions)]
        stale.assign(partitions)
        await stale.commit({tp: OffsetAndMetadata(30, "") for tp in partitions})
    finally:
        await stale.stop()
    new = students(region, "new", 12)
    await publish(broker.bootstrap_servers, new)
    runtime = ServiceRuntime(settings, [Applied])
    runtime.migrate()
    runtime.replay()  # the operator's replay, before this replica starts

    def apply(event: StudentProfileUpserted, session: Session) -> None:
        session.add(Applied(student_id=event.data.student_id))

    runtime.consume(STUDENTS, {StudentProfileUpserted: apply})
    await runtime.start()
    try:
        await all_applied(runtime, new)
    finally:
        await runtime.stop()
