"""Two instances of notifications on one database: each due delivery is claimed by one
worker at a time, a crashed worker's deliveries are taken over once its lease ran out, and
a worker whose claim was taken over cannot overwrite the outcome of the one that took it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session, select

from interlocality.common.testing import found, upserted
from interlocality.contracts.students import NotificationPreferences
from interlocality.contracts.topics import DELIVERIES
from interlocality.notifications.composing import Composer, Outgoing
from interlocality.notifications.sending import Outcome
from interlocality.notifications.store import DeliveryRecord, Recipient

if TYPE_CHECKING:
    from .conftest import Parts

Build = Callable[..., "Parts"]
LEASE = timedelta(seconds=60)


def instances(service_parts: Build, region: str, *students: str) -> tuple[Parts, Parts]:
    """Two instances of the service on one database, ``students`` each matched with v-1."""
    first = service_parts(delivery_lease_seconds=LEASE.total_seconds())
    second = service_parts(delivery_lease_seconds=LEASE.total_seconds())
    preferences = NotificationPreferences(channels=["email"])
    for student in students:
        with first.runtime.transaction() as session:
            first.service.take_profile(
                session, upserted(region, student, preferences=preferences).data
            )
    with first.runtime.transaction() as session:
        first.service.notify(session, [found(region, s, "v-1").data for s in students])
    return first, second


def delivery(parts: Parts, student_id: str) -> DeliveryRecord:
    with parts.session() as session:
        query = select(DeliveryRecord).where(DeliveryRecord.recipient_id == student_id)
        return session.exec(query).one()


def ids(claimed: list[Outgoing]) -> set[str]:
    return {outgoing.delivery.id for outgoing in claimed}


def test_a_delivery_another_worker_is_sending_is_not_claimed_again(
    service_parts: Build, region: str
) -> None:
    one, two = instances(service_parts, region, "s-1", "s-2")
    now = datetime.now(UTC)
    claimed = one.service.claim("w-1", now)
    assert len(claimed) == 2

    assert two.service.claim("w-2", now) == []
    assert two.service.claim("w-2", now + LEASE / 2) == []
    assert {delivery(two, s).claimed_by for s in ("s-1", "s-2")} == {"w-1"}


def test_a_crashed_workers_deliveries_are_taken_over_once_its_lease_ran_out(
    service_parts: Build, region: str
) -> None:
    one, two = instances(service_parts, region, "s-1")
    now = datetime.now(UTC)
    (lost,) = one.service.claim("w-1", now)  # its process dies before recording

    assert two.service.claim("w-2", now + LEASE - timedelta(seconds=1)) == []
    (taken,) = two.service.claim("w-2", now + LEASE + timedelta(seconds=1))
    assert taken.delivery.id == lost.delivery.id
    again = delivery(two, "s-1")
    assert (again.status, again.claimed_by, again.attempts) == ("sending", "w-2", 2)
    two.service.record(taken, Outcome(True))
    assert delivery(two, "s-1").status == "sent"


def test_a_worker_whose_claim_was_taken_over_cannot_overwrite_the_outcome(
    service_parts: Build, region: str
) -> None:
    one, two = instances(service_parts, region, "s-1", "s-2")
    now = datetime.now(UTC)
    slow = {o.delivery.recipient_id: o for o in one.service.claim("w-1", now)}
    later = now + LEASE + timedelta(seconds=1)
    took_over = {o.delivery.recipient_id: o for o in two.service.claim("w-2", later)}
    assert took_over.keys() == {"s-1", "s-2"}

    # s-1: the new claimant records first, then the slow worker's failure comes in
    two.service.record(took_over["s-1"], Outcome(True))
    one.service.record(slow["s-1"], Outcome(False, "timed out"))
    # s-2: the slow worker's outcome comes in while the new claimant is still sending
    one.service.record(slow["s-2"], Outcome(True))
    assert (delivery(one, "s-2").status, delivery(one, "s-2").claimed_by) == ("sending", "w-2")
    two.service.record(took_over["s-2"], Outcome(False, "HTTP 500", permanent=True))

    first, second = delivery(one, "s-1"), delivery(one, "s-2")
    assert (first.status, first.claimed_by, first.last_error) == ("sent", "w-2", None)
    assert (second.status, second.last_error) == ("failed", "HTTP 500")
    (delivered,) = one.staged(DELIVERIES.name(region), "MessageDelivered")
    assert delivered.data["delivery_id"] == first.id
    assert len(one.staged(DELIVERIES.name(region), "NotificationFailed")) == 1
    superseded = one.runtime.metrics.registry.get_sample_value(
        "interlocality_deliveries_total", {"channel": "email", "outcome": "superseded"}
    )
    assert superseded == 2


class HeldComposer:
    """A composer that stops at its first message, inside the claim's transaction, until
    let go."""

    def __init__(self, composer: Composer) -> None:
        self.composer = composer
        self.inside = threading.Event()
        self.go = threading.Event()

    def compose(
        self, session: Session, delivery: DeliveryRecord, recipient: Recipient | None
    ) -> Any:
        if not self.inside.is_set():
            self.inside.set()
            assert self.go.wait(30)
        return self.composer.compose(session, delivery, recipient)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_claiming_at_the_same_time_never_get_the_same_delivery(
    service_parts: Build, region: str
) -> None:
    """PostgreSQL: while one claim is still deciding, the other skips what it locked."""
    one = service_parts(delivery_lease_seconds=LEASE.total_seconds())
    two = service_parts(delivery_lease_seconds=LEASE.total_seconds())
    preferences = NotificationPreferences(channels=["email"])
    students = [f"s-{n}" for n in range(6)]
    for student in students:
        with one.runtime.transaction() as session:
            one.service.take_profile(
                session, upserted(region, student, preferences=preferences).data
            )
    with one.runtime.transaction() as session:
        one.service.notify(session, [found(region, s, "v-1").data for s in students])
    held = HeldComposer(one.service.composer)
    one.service.composer = held  # type: ignore[assignment]
    first: list[Outgoing] = []
    claiming = threading.Thread(target=lambda: first.extend(one.service.claim("w-1")))
    claiming.start()
    assert held.inside.wait(30)

    second = two.service.claim("w-2")  # does not wait for the first either
    held.go.set()
    claiming.join(30)

    assert ids(first).isdisjoint(ids(second))
    assert len(ids(first) | ids(second)) == len(students)
    with one.session() as session:
        rows = session.exec(select(DeliveryRecord)).all()
    owner = {o.delivery.id: "w-1" for o in first} | {o.delivery.id: "w-2" for o in second}
    assert {row.id: row.claimed_by for row in rows} == owner
