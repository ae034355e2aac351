"""Creates a region's topics (and their dead-letter topics) from the contracts' topic list,
and the topics it shares with its partner regions."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from interlocality.common.kafka_security import KafkaSecurity, client_options
from interlocality.contracts.topics import DLQ_RETENTION_MS, FEDERATION_TOPICS, TOPICS, TopicSpec

__all__ = ["ensure_topics", "planned_topics", "shared_topics"]


def _topic(spec: TopicSpec, region: str) -> NewTopic:
    return NewTopic(
        name=spec.name(region),
        num_partitions=spec.partitions,
        replication_factor=1,
        topic_configs=spec.config(),
    )


def shared_topics(specs: tuple[TopicSpec, ...] = FEDERATION_TOPICS) -> list[NewTopic]:
    """The topics shared by the partner regions (one name in every region)."""
    return [_topic(spec, "") for spec in specs]


def planned_topics(
    region: str,
    specs: tuple[TopicSpec, ...] = TOPICS,
    *,
    with_shared: bool = True,
) -> list[NewTopic]:
    """Every topic of ``region`` on its own cluster: the entity and event topics, the shared
    ones when they live on the same cluster (``with_shared``), then one DLQ for each topic
    the region reads (its dead letters of the shared topics are its own)."""
    topics = [_topic(spec, region) for spec in specs]
    if with_shared:
        topics += shared_topics()
    topics += [
        NewTopic(
            name=spec.dlq_name(region),
            num_partitions=1,
            replication_factor=1,
            topic_configs={"cleanup.policy": "delete", "retention.ms": str(DLQ_RETENTION_MS)},
        )
        for spec in (*specs, *FEDERATION_TOPICS)
    ]
    return topics


async def ensure_topics(
    bootstrap_servers: str,
    region: str,
    replication_factor: int = 1,
    wait_seconds: float = 30.0,
    *,
    federation_bootstrap_servers: str = "",
    security: KafkaSecurity | None = None,
    federation_security: KafkaSecurity | None = None,
) -> list[str]:
    """Create the topics of ``region`` that do not exist yet, and the shared topics on the
    federation cluster (``federation_bootstrap_servers``, empty: the region's own); returns
    the names created. ``security`` is how to reach the region's cluster (None: plaintext),
    ``federation_security`` the federation cluster (None: as the region's)."""
    separate = bool(federation_bootstrap_servers) and (
        federation_bootstrap_servers != bootstrap_servers
    )
    created = await _create(
        bootstrap_servers,
        planned_topics(region, with_shared=not separate),
        replication_factor,
        wait_seconds,
        security,
    )
    if separate:
        created += await _create(
            federation_bootstrap_servers,
            shared_topics(),
            replication_factor,
            wait_seconds,
            federation_security or security,
        )
    return created


async def _create(
    bootstrap_servers: str,
    planned: list[NewTopic],
    replication_factor: int,
    wait_seconds: float,
    security: KafkaSecurity | None,
) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000, **client_options(security)
    )
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
        wanted = [t for t in planned if t.name not in existing]
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
