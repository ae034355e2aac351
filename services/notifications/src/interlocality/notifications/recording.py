"""How deliveries went, recorded: sent with ``MessageDelivered``; failed, retried with
exponential backoff and jitter until the last attempt, which is ``failed``, a
``NotificationFailed`` event and a copy on the deliveries DLQ with the reason; held back,
cancelled or postponed. An outcome counts only while its worker still holds the claim
(``superseded`` otherwise). A webhook endpoint failing ``INTERLOCALITY_WEBHOOK_PAUSE_AFTER``
deliveries in a row is paused (its deliveries wait) and shown as such by the API."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.notifications.composing import Outgoing
from interlocality.notifications.events import message_delivered, notification_failed
from interlocality.notifications.planning import Hold, holds_claim
from interlocality.notifications.sending import Outcome
from interlocality.notifications.store import DeliveryRecord, WebhookEndpoint
from interlocality.notifications.webhooks import retry_delay

__all__ = ["OutcomeRecorder"]

logger = logging.getLogger(__name__)

MOST_TEXT = 2000  # of a reason stored


class OutcomeRecorder:
    """Marks deliveries sent, to be retried, failed, cancelled or postponed, with their
    events, and counts each outcome by channel."""

    def __init__(self, runtime: ServiceRuntime, rng: random.Random | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.rng = rng or random.Random()
        self.outcomes = Counter(
            "interlocality_deliveries",
            "E-mail and webhook deliveries by channel and outcome.",
            ["channel", "outcome"],
            registry=runtime.metrics.registry,
        )

    def record(self, session: Session, outgoing: Outgoing, outcome: Outcome, now: datetime) -> None:
        """Record how a claimed delivery went, unless its claim is no longer held: its
        lease ran out and another worker claimed it again (that one's outcome counts, and
        only it makes an event), or it was erased meanwhile."""
        delivery = outgoing.delivery
        if not holds_claim(session, delivery):
            logger.warning(
                "outcome of a delivery claimed again since dropped",
                extra={
                    "delivery": delivery.id,
                    "claimed_by": delivery.claimed_by,
                    "ok": outcome.ok,
                },
            )
            self.outcomes.labels(delivery.channel, "superseded").inc()
            return
        session.add(delivery)
        endpoint = (
            session.get(WebhookEndpoint, delivery.target) if delivery.channel == "webhook" else None
        )
        if outcome.ok:
            self._sent(session, outgoing, endpoint, now)
        else:
            self.failed(session, outgoing, outcome, endpoint, now)

    def held(self, delivery: DeliveryRecord, hold: Hold) -> None:
        """A due delivery does not go now: cancelled for ``hold.reason``, or postponed."""
        if hold.until is not None:
            delivery.status, delivery.due_at = "pending", hold.until
            return
        delivery.status = "cancelled"
        delivery.last_error = hold.reason
        self.outcomes.labels(delivery.channel, "cancelled").inc()

    def _sent(
        self,
        session: Session,
        outgoing: Outgoing,
        endpoint: WebhookEndpoint | None,
        now: datetime,
    ) -> None:
        delivery = outgoing.delivery
        delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
        self.outcomes.labels(delivery.channel, "sent").inc()
        if endpoint is not None:
            endpoint.failures_in_row, endpoint.last_success_at = 0, now
            session.add(endpoint)
        self.runtime.emit(
            session, message_delivered(self.runtime, delivery, outgoing.notifications, now)
        )

    def failed(
        self,
        session: Session,
        outgoing: Outgoing,
        outcome: Outcome,
        endpoint: WebhookEndpoint | None,
        now: datetime,
    ) -> None:
        """A failed attempt: retried later, or given up after the last attempt or a
        permanent failure."""
        delivery = outgoing.delivery
        reason = outcome.error or "failed"
        delivery.last_error = reason[:MOST_TEXT]
        if endpoint is not None:
            self._endpoint_failed(session, endpoint, reason)
        if outcome.permanent or delivery.attempts >= self.settings.delivery_max_attempts:
            delivery.status = "failed"
            self.outcomes.labels(delivery.channel, "failed").inc()
            given_up = notification_failed(
                self.runtime, delivery, outgoing.notifications, reason, now
            )
            self.runtime.emit(session, given_up)
            self.runtime.dead_letter(session, given_up, reason)
            return
        delivery.status = "pending"
        delivery.due_at = now + timedelta(
            seconds=retry_delay(
                delivery.attempts,
                self.settings.delivery_retry_seconds,
                self.settings.delivery_retry_cap_seconds,
                self.rng,
            )
        )
        self.outcomes.labels(delivery.channel, "retried").inc()

    def _endpoint_failed(self, session: Session, endpoint: WebhookEndpoint, reason: str) -> None:
        endpoint.failures_in_row += 1
        endpoint.last_error = reason[:MOST_TEXT]
        if endpoint.failures_in_row >= self.settings.webhook_pause_after and not endpoint.paused:
            endpoint.paused = True
            endpoint.paused_reason = (
                f"{endpoint.failures_in_row} deliveries failed in a row; last: {reason}"
            )[:MOST_TEXT]
            logger.warning(
                "webhook endpoint paused",
                extra={"endpoint": endpoint.id, "reason": endpoint.paused_reason},
            )
        session.add(endpoint)
