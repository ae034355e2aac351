"""Helpers for integration tests against a real broker: wait for a condition, read a topic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer

from interlocality.contracts.common import SkillLevel
from interlocality.contracts.students import StudentProfile, StudentProfileUpserted

__all__ = ["eventually", "read_topic", "upserted"]


def upserted(region: str, student_id: str = "s-1", version: int = 1) -> StudentProfileUpserted:
    return StudentProfileUpserted(
        source=f"/interlocality/{region}/profiles",
        region=region,
        subject=student_id,
        data=StudentProfile(
            student_id=student_id,
            name="Ana Souza",
            email="ana.souza@students.example.org",
            skills=[
                SkillLevel(
                    uri="http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d",
                    level=4,
                )
            ],
            languages=[],
            engagement_kinds=["internship"],
            version=version,
            updated_at=datetime.now(UTC),
        ),
    )


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Wait until ``check()`` returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
    """The first ``count`` records of ``topic`` (from the beginning)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
    return records
