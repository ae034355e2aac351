"""Creates a region's topics (and their dead-letter topics) from the contracts' topic list."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from interlocality.contracts.topics import DLQ_RETENTION_MS, TOPICS, TopicSpec

__all__ = ["ensure_topics", "planned_topics"]


def planned_topics(region: str, specs: tuple[TopicSpec, ...] = TOPICS) -> list[NewTopic]:
    """Every topic of ``region``: the entity and event topics, then one DLQ for each."""
    topics = [
        NewTopic(
            name=spec.name(region),
            num_partitions=spec.partitions,
            replication_factor=1,
            topic_configs=spec.config(),
        )
        for spec in specs
    ]
    topics += [
        NewTopic(
            name=spec.dlq_name(region),
            num_partitions=1,
            replication_factor=1,
            topic_configs={"cleanup.policy": "delete", "retention.ms": str(DLQ_RETENTION_MS)},
        )
        for spec in specs
    ]
    return topics


async def ensure_topics(
    bootstrap_servers: str, region: str, replication_factor: int = 1, wait_seconds: float = 30.0
) -> list[str]:
    """Create the topics of ``region`` that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in planned_topics(region) if t.name not in existing]
        for topic in wanted:
            topic.replication_factor = replication_factor
        created: list[str] = []
        for topic in wanted:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        await admin.close()
