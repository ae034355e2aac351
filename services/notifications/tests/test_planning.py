"""What is due and when: holds at send time, quiet hours and digests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import select

from interlocality.common.testing import found, upserted
from interlocality.contracts.students import NotificationPreferences
from interlocality.notifications.planning import (
    PAUSED_ENDPOINT_WAIT,
    Hold,
    digest_state,
    endpoint_hold,
    student_hold,
)
from interlocality.notifications.store import (
    DeliveryRecord,
    NotificationRecord,
    Recipient,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from .conftest import Parts

Build = Callable[..., "Parts"]
NOON = datetime(2027, 3, 4, 11, 0, tzinfo=UTC)  # 12:00 in Copenhagen


def recipient(**fields: object) -> Recipient:
    values: dict[str, object] = {"student_id": "s-1", "name": "Ana", "email": "ana@example.org"}
    return Recipient(**(values | {"channels": ["email"]} | fields))


def test_a_due_delivery_is_held_back_by_what_the_student_says_now() -> None:
    assert student_hold(None, "email", NOON) == Hold("the student is no longer known")
    assert student_hold(recipient(consent=False), "email", NOON) == Hold(
        "the student withdrew consent to notifications"
    )
    assert student_hold(recipient(), "webhook", NOON) == Hold("the student no longer chose webhook")
    quiet = recipient(quiet_hours_start="11:30", quiet_hours_end="13:15")
    assert student_hold(quiet, "email", NOON) == Hold(
        until=datetime(2027, 3, 4, 12, 15, tzinfo=UTC)
    )
    assert student_hold(recipient(), "email", NOON) is None


def test_a_removed_endpoint_cancels_and_a_paused_one_postpones() -> None:
    endpoint = WebhookEndpoint(id="w-1", url="https://hooks.example.org", secret="s")
    assert endpoint_hold(None, NOON) == Hold("the webhook endpoint was removed")
    assert endpoint_hold(endpoint, NOON) is None
    endpoint.paused = True
    assert endpoint_hold(endpoint, NOON) == Hold(until=NOON + PAUSED_ENDPOINT_WAIT)


def test_a_new_notification_waits_for_the_profile_or_the_digest_or_goes_at_once() -> None:
    assert digest_state(None) == "awaiting"
    assert digest_state(recipient(frequency="weekly")) == "pending"
    assert digest_state(recipient()) is None


def test_a_daily_digest_is_best_first_two_per_company_and_none_when_nothing_is_new(
    service_parts: Build, region: str
) -> None:
    parts = service_parts()
    service = parts.service
    daily = NotificationPreferences(
        channels=["email"], frequency="daily", digest_hour=8, digest_max_items=3
    )
    scores = {"v-0": 0.9, "v-1": 0.8, "v-2": 0.7, "v-3": 0.6, "v-4": 0.5}
    companies = {"v-0": "c-a", "v-1": "c-a", "v-2": "c-a", "v-3": "c-b", "v-4": "c-c"}
    matches = [
        found(region, "s-6", v).data.model_copy(update={"score": s, "company_id": companies[v]})
        for v, s in scores.items()
    ]
    with parts.runtime.transaction() as session:
        service.take_profile(session, upserted(region, "s-6", preferences=daily).data)
    with parts.runtime.transaction() as session:
        service.notify(session, matches)

    tomorrow = datetime.now(UTC) + timedelta(days=1, hours=1)
    assert service.make_digests(tomorrow) == 1
    assert service.make_digests(tomorrow) == 0  # once per digest time
    with parts.session() as session:
        (digest,) = session.exec(select(DeliveryRecord)).all()
        records = {r.id: r for r in session.exec(select(NotificationRecord)).all()}
    assert (digest.kind, digest.channel, digest.digest_frequency) == ("digest", "email", "daily")
    assert [records[i].vacancy_id for i in digest.notification_ids] == ["v-0", "v-1", "v-3"]
    assert {r.digest for r in records.values()} == {digest.digest_id}  # all five seen

    # the next day, nothing new: no digest
    assert service.make_digests(tomorrow + timedelta(days=1)) == 0
