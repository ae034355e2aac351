"""A service leaves its consumer group when it stops, and the launcher can clear what a killed
one left: both so that the next start is assigned its partitions without waiting for a
session to expire. Through the real broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from sqlmodel import Field, Session, SQLModel

from interlocality.common.consumer_groups import group_members, remove_group_members
from interlocality.common.service import ServiceRuntime
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.students import StudentProfileUpserted
from interlocality.contracts.topics import STUDENTS


class Seen(SQLModel, table=True):
    __tablename__ = "test_group_seen"

    id: int | None = Field(default=None, primary_key=True)
    student_id: str


async def test_a_service_that_stops_leaves_its_consumer_group(
    kafka_bootstrap: str, region: str, tmp_path: Path
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    settings = load_settings(
        ServiceSettings,
        service="matching",
        region=region,
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=f"sqlite:///{tmp_path / 'matching.db'}",
    )
    runtime = ServiceRuntime(settings, [Seen])

    def seen(event: StudentProfileUpserted, session: Session) -> None:
        session.add(Seen(student_id=event.data.student_id))

    runtime.consume(STUDENTS, {StudentProfileUpserted: seen})
    await runtime.start()  # returns once the group assigned its partitions
    try:
        assert len(await group_members(kafka_bootstrap, settings.consumer_group)) == 1
    finally:
        await runtime.stop()

    assert await group_members(kafka_bootstrap, settings.consumer_group) == []


# A member of the group that is killed: it never leaves.
MEMBER = """
import asyncio, sys
from aiokafka import AIOKafkaConsumer

async def main():
    consumer = AIOKafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3],
                                session_timeout_ms=6000, heartbeat_interval_ms=2000)
    await consumer.start()
    print("joined", flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


async def test_the_members_a_killed_consumer_left_are_removed_and_the_next_joins_soon(
    kafka_bootstrap: str, region: str
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    topic = STUDENTS.name(region)
    group = f"{region}.killed-{uuid.uuid4().hex[:6]}"
    member = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MEMBER, kafka_bootstrap, topic, group, stdout=subprocess.PIPE
    )
    assert member.stdout is not None
    assert await member.stdout.readline() == b"joined\n"
    member.kill()
    await member.wait()
    (left,) = await group_members(kafka_bootstrap, group)

    assert await remove_group_members(kafka_bootstrap, group) == [left.member_id]
    assert await group_members(kafka_bootstrap, group) == []

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    started = time.monotonic()
    await consumer.start()  # returns once assigned
    try:
        # With the killed member still listed, the embedded broker took about 11 s (1.8
        # session timeouts); without it, about half a session timeout.
        assert time.monotonic() - started < 8
        assert len(consumer.assignment()) == STUDENTS.partitions
    finally:
        await consumer.stop()
