"""Reading the log again from its start once the broker lost it.

The embedded broker keeps its log in memory: restarted, every partition starts again at
offset 0 and every group's committed offsets are gone, and the operator replays every
service's state onto it. Measured on Tansu 0.6 with aiokafka 0.14, a consumer's position in
the lost log (say 1500) outlives it: the broker answers a fetch beyond its log end with no
records and no OFFSET_OUT_OF_RANGE, so the consumer waits until the new log passes 1500 and
skips everything below; and a batch applied across the restart commits its position on the
new broker (Tansu numbers every group's generations from 0 again, so it accepts the commit),
where the group resumes from it after its rejoin, as does a replica assigned the partition
later. The partitions keep their names and offsets are plain numbers: Kafka cannot tell a
consumer that the log it read is gone.

The replay can, and every replica of a service sees it: it begins a new *log epoch* in the
service's database (:func:`begin_log_epoch`). A :class:`LogEpochReader` watches it for its
consumer: when a new epoch begins it reads every partition it holds from the start, and it
commits each offset with the epoch it was read in (the commit's metadata), so a partition
assigned later whose committed offset was read in an earlier epoch is read from the start
too. Reading twice is harmless, every consumer being idempotent; a replay on a broker that
lost nothing costs a full re-read. Until the replay, a partition whose position lies beyond
its log end (the log shrank) is read from the start as well.

Tansu keeps a commit's offset but drops its metadata, so on the embedded broker every
offset reads as committed before the epoch: after a replay, every partition a consumer is
assigned (a start, a rebalance) is read from the start again. That is safe, and costs a
re-read of what the consumer already applied; on Apache Kafka the metadata is kept and a
partition is read from the start once per epoch.

The epochs are recorded as events applied by the consumer ``log-epoch`` (in
:class:`ProcessedEvent`), ordered by their ids: no table of their own to migrate in every
service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from interlocality.common.consumer import IncomingRecord, ProcessedEvent

__all__ = ["LOG_EPOCHS", "LogEpochReader", "begin_log_epoch", "current_log_epoch"]

logger = logging.getLogger(__name__)
LOG_EPOCHS = "log-epoch"  # the consumer name the epochs are recorded under
NO_EPOCH = ""  # before the first replay: what commits without metadata carry


def begin_log_epoch(session: Session) -> str:
    """Begin a new log epoch in ``session``'s transaction (a replay's); returns its id."""
    epoch = f"{time.time_ns():020d}"
    session.add(ProcessedEvent(consumer=LOG_EPOCHS, event_id=epoch, topic=""))
    return epoch


def current_log_epoch(engine: Engine) -> str:
    """The id of the newest log epoch (:data:`NO_EPOCH` before the first)."""
    with Session(engine) as session:
        newest = session.exec(
            select(func.max(ProcessedEvent.event_id)).where(ProcessedEvent.consumer == LOG_EPOCHS)
        ).one()
    return newest or NO_EPOCH


class LogEpochReader(ConsumerRebalanceListener):
    """Keeps one Kafka consumer reading the log of the current epoch (see the module).

    It is the consumer's rebalance listener (:meth:`on_partitions_assigned`), runs
    :meth:`watch` while the consumer runs, and commits the consumer's applied batches
    (:meth:`commit`). ``consumer`` gives the consumer once it exists.
    """

    def __init__(
        self,
        engine: Engine,
        consumer: Callable[[], AIOKafkaConsumer | None],
        poll_seconds: float,
    ) -> None:
        self._engine = engine
        self._consumer = consumer
        self._poll_seconds = poll_seconds
        self.epoch: str | None = None  # the epoch the consumer's positions were read in

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to do: what was applied is committed."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Read from the start each assigned partition whose offset was committed in an
        earlier epoch."""
        consumer = self._consumer()
        if consumer is None or not assigned:
            return
        epoch = await asyncio.to_thread(current_log_epoch, self._engine)
        # aiokafka's committed() drops the metadata the epoch is in
        committed = await consumer._coordinator.fetch_committed_offsets(assigned)
        earlier = [
            tp
            for tp, offset in committed.items()
            if offset.offset >= 0 and (offset.metadata or NO_EPOCH) != epoch
        ]
        if earlier:
            logger.warning(
                "offsets committed in an earlier log epoch: reading from the start",
                extra={"partitions": sorted(str(tp) for tp in earlier)},
            )
            await consumer.seek_to_beginning(*earlier)
        self.epoch = epoch

    async def watch(self) -> None:
        """Every ``poll_seconds``: when a new epoch began, read every partition held from the
        start; otherwise read from the start each whose position lies beyond its log end."""
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                await self._check()
            except Exception:
                logger.exception("could not check the log epoch")

    async def _check(self) -> None:
        consumer = self._consumer()
        if consumer is None or self.epoch is None:
            return  # not assigned yet
        epoch = await asyncio.to_thread(current_log_epoch, self._engine)
        held = consumer.assignment()
        if epoch != self.epoch:
            logger.warning("a new log epoch began: reading every partition from the start")
            self.epoch = epoch
            if held:
                await consumer.seek_to_beginning(*held)
            return
        shrunk = [
            tp
            for tp in held
            if (end := consumer.highwater(tp)) is not None and await consumer.position(tp) > end
        ]
        if shrunk:
            logger.warning(
                "positions beyond the log end (the broker lost its log): reading from the start",
                extra={"partitions": sorted(str(tp) for tp in shrunk)},
            )
            await consumer.seek_to_beginning(*shrunk)

    async def commit(self, consumer: AIOKafkaConsumer, records: Sequence[IncomingRecord]) -> None:
        """Commit the offsets after ``records`` (applied) with the epoch they were read in;
        not those of a partition read from the start meanwhile (its position moved back)."""
        after: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            after[tp] = max(after.get(tp, 0), record.offset + 1)
        held = consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(offset, self.epoch or NO_EPOCH)
            for tp, offset in after.items()
            if tp in held and await consumer.position(tp) >= offset
        }
        if offsets:
            await consumer.commit(offsets)
