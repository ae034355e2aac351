"""The delivery worker: every ``INTERLOCALITY_DELIVERY_POLL_SECONDS``, one round.

1. The digests that are due are made (:mod:`planning`), at most every ``DIGEST_CHECK``.
2. Due deliveries are claimed in one transaction: consent, channel, availability and quiet
   hours are checked *now* and each message made (:mod:`composing`); what may go is marked
   ``sending`` with an attempt counted and a lease, and committed before anything is sent.
   Another instance claiming at the same time skips what this one locked (PostgreSQL).
3. Everything claimed is sent concurrently (:mod:`sending`), each bounded by its timeout,
   so a slow webhook blocks nothing else.
4. Each outcome is recorded as soon as it is known (:mod:`recording`), so a worker that
   crashes mid-send leaves ``sending`` only what was in flight; once their lease ran out
   another worker sends those again, with the same Message-ID or delivery id so receivers
   can tell. An outcome comes too late when the claim was taken over: it is dropped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx

from interlocality.notifications.composing import Outgoing
from interlocality.notifications.sending import Outcome, Transports
from interlocality.notifications.service import NotificationService

__all__ = ["DeliveryWorker"]

DIGEST_CHECK = timedelta(seconds=30)


class DeliveryWorker:
    """Makes digests and sends due deliveries; one per service process."""

    def __init__(self, service: NotificationService, transports: Transports) -> None:
        self.service = service
        self.transports = transports
        self.worker_id = uuid.uuid4().hex
        self._digests_checked = datetime.min.replace(tzinfo=UTC)

    def run(self, now: datetime | None = None) -> int:
        """One round: make due digests, send due deliveries; returns how many were sent."""
        now = now or datetime.now(UTC)
        if now - self._digests_checked >= DIGEST_CHECK:
            self._digests_checked = now
            self.service.make_digests(now)
        claimed = self.service.claim(self.worker_id, now)
        if not claimed:
            return 0
        outcomes = asyncio.run(self.send_all(claimed))
        return sum(1 for outcome in outcomes if outcome.ok)

    async def send_all(self, claimed: Sequence[Outgoing]) -> list[Outcome]:
        """Send everything claimed at once, each bounded by its own timeout, and record
        each outcome as soon as it is known (so a crash resends only what was in flight)."""
        # direct connections only: the URL checks hold for the address actually reached
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:

            async def deliver(outgoing: Outgoing) -> Outcome:
                outcome = await self.transports.send(client, outgoing)
                await asyncio.to_thread(self.service.record, outgoing, outcome)
                return outcome

            return list(await asyncio.gather(*(deliver(o) for o in claimed)))
