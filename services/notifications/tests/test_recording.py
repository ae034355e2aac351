"""How deliveries went, recorded: sent, retried with backoff, given up with an event and a
dead letter, held back; a failing webhook endpoint paused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import select

from interlocality.common.testing import found, upserted
from interlocality.contracts.students import NotificationPreferences
from interlocality.contracts.topics import DELIVERIES
from interlocality.notifications.domain import aware
from interlocality.notifications.sending import Outcome
from interlocality.notifications.store import DeliveryRecord, WebhookEndpoint

if TYPE_CHECKING:
    from .conftest import Parts

Build = Callable[..., "Parts"]


def matched(
    parts: Parts, region: str, *students: str, channels: tuple[str, ...] = ("email",)
) -> None:
    """``students`` with the given channels, each matched with vacancy v-1."""
    preferences = NotificationPreferences(channels=list(channels))
    for student in students:
        with parts.runtime.transaction() as session:
            parts.service.take_profile(
                session, upserted(region, student, preferences=preferences).data
            )
    with parts.runtime.transaction() as session:
        parts.service.notify(session, [found(region, s, "v-1").data for s in students])


def delivery(parts: Parts, student_id: str) -> DeliveryRecord:
    with parts.session() as session:
        query = select(DeliveryRecord).where(DeliveryRecord.recipient_id == student_id)
        return session.exec(query).one()


def counted(parts: Parts, outcome: str, channel: str = "email") -> float | None:
    return parts.runtime.metrics.registry.get_sample_value(
        "interlocality_deliveries_total", {"channel": channel, "outcome": outcome}
    )


def test_a_failed_delivery_is_retried_with_backoff_then_given_up_and_dead_lettered(
    service_parts: Build, region: str
) -> None:
    parts = service_parts(delivery_max_attempts=2, delivery_retry_seconds=30)
    matched(parts, region, "s-1")
    service = parts.service

    (first,) = service.claim("w-1")
    assert (delivery(parts, "s-1").status, delivery(parts, "s-1").attempts) == ("sending", 1)
    before = datetime.now(UTC)
    service.record(first, Outcome(False, "HTTP 500: the receiver failed"))
    retried = delivery(parts, "s-1")
    assert (retried.status, retried.last_error) == ("pending", "HTTP 500: the receiver failed")
    assert before + timedelta(seconds=15) <= aware(retried.due_at) <= before + timedelta(seconds=60)
    assert service.claim("w-1") == []  # not due yet

    (second,) = service.claim("w-1", datetime.now(UTC) + timedelta(minutes=5))
    service.record(second, Outcome(False, "HTTP 500: the receiver failed again"))
    failed = delivery(parts, "s-1")
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert (counted(parts, "retried"), counted(parts, "failed")) == (1, 1)

    (given_up,) = parts.staged(DELIVERIES.name(region), "NotificationFailed")
    assert (given_up.data["reason"], given_up.data["attempts"]) == (failed.last_error, 2)
    (dead,) = parts.staged(DELIVERIES.dlq_name(region))
    assert dead.data == given_up.data
    assert dead.headers["dlq_reason"] == failed.last_error
    assert dead.headers["dlq_original_topic"] == DELIVERIES.name(region)


def test_a_permanent_failure_is_not_retried_and_a_sent_delivery_says_so(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    matched(parts, region, "s-1", "s-2")
    service = parts.service
    claimed = {o.delivery.recipient_id: o for o in service.claim("w-1")}
    service.record(claimed["s-1"], Outcome(False, "no such mailbox", permanent=True))
    service.record(claimed["s-2"], Outcome(True))

    assert (delivery(parts, "s-1").status, delivery(parts, "s-1").attempts) == ("failed", 1)
    sent = delivery(parts, "s-2")
    assert (sent.status, sent.last_error, sent.sent_at is not None) == ("sent", None, True)
    (delivered,) = parts.staged(DELIVERIES.name(region), "MessageDelivered")
    assert delivered.data["delivery_id"] == sent.id
    assert (delivered.data["vacancy_ids"], delivered.data["attempts"]) == (["v-1"], 1)
    assert len(parts.staged(DELIVERIES.dlq_name(region))) == 1


def test_what_may_not_go_now_is_cancelled_once_counted_and_never_claimed(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    matched(parts, region, "s-1")
    parts.service.change_preferences("s-1", NotificationPreferences(channels=["in_app"]), True)
    assert parts.service.claim("w-1") == []
    cancelled = delivery(parts, "s-1")
    assert (cancelled.status, cancelled.last_error) == (
        "cancelled",
        "the student no longer chose email",
    )
    assert counted(parts, "cancelled") == 1


def test_a_webhook_endpoint_failing_in_a_row_is_paused_and_its_deliveries_wait(
    service_parts: Build, region: str
) -> None:
    parts = service_parts(webhook_pause_after=2, delivery_max_attempts=5, deployment="embedded")
    service = parts.service
    endpoint = service.register_webhook("http://127.0.0.1:9/hook", None, "")
    matched(parts, region, "s-1", "s-2", channels=("webhook",))
    for outgoing in service.claim("w-1"):
        assert (outgoing.url, outgoing.secret) == (endpoint.url, endpoint.secret)
        service.record(outgoing, Outcome(False, "connection refused"))

    with parts.session() as session:
        paused = session.get_one(WebhookEndpoint, endpoint.id)
    assert (paused.paused, paused.failures_in_row) == (True, 2)
    assert paused.paused_reason == "2 deliveries failed in a row; last: connection refused"
    later = datetime.now(UTC) + timedelta(hours=1)
    assert service.claim("w-1", later) == []  # postponed while paused, not cancelled
    assert {delivery(parts, s).status for s in ("s-1", "s-2")} == {"pending"}
    assert all(aware(delivery(parts, s).due_at) > later for s in ("s-1", "s-2"))
