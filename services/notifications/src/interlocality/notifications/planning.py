"""What is due, and when: the e-mail and webhook deliveries a notification or an agenda
makes, quiet hours, digests, and whether a due delivery may go now.

Deliveries are recorded under their idempotency keys, due at once (after quiet hours) for
an instant student; a student on a daily or weekly digest whose local digest time has
passed since their last one gets a digest, if anything new is pending — best first, at
most their number of items and at most two per company. Consent, channel, quiet hours and
the webhook endpoint are checked again when a delivery is due: what the student said
since counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select, update

from interlocality.notifications.domain import (
    Quiet,
    choose_digest,
    delivery_id,
    digest_due,
    send_time,
)
from interlocality.notifications.store import (
    AWAITING_PROFILE,
    Addressee,
    DeliveryRecord,
    NotificationRecord,
    Recipient,
    WebhookEndpoint,
)

__all__ = [
    "PENDING_DIGEST",
    "Hold",
    "add_delivery",
    "after_quiet_hours",
    "anything_due",
    "cancel_pending",
    "digest_state",
    "due_deliveries",
    "endpoint_hold",
    "holds_claim",
    "plan_digests",
    "push_deliveries",
    "push_targets",
    "student_hold",
]

PENDING_DIGEST = "pending"
CLAIM_BATCH = 200
PAUSED_ENDPOINT_WAIT = timedelta(minutes=10)


def after_quiet_hours(recipient: Addressee, now: datetime) -> datetime:
    """``now``, or the end of ``recipient``'s quiet hours when ``now`` falls in them."""
    quiet = Quiet(recipient.quiet_hours_start, recipient.quiet_hours_end)
    return send_time(now, recipient.time_zone, quiet)


def digest_state(recipient: Addressee | None) -> str | None:
    """Where a new notification of ``recipient`` waits: for the profile, for the next
    digest, or nowhere (instant)."""
    if recipient is None:
        return AWAITING_PROFILE
    return None if recipient.frequency == "instant" else PENDING_DIGEST


def push_targets(session: Session, recipient: Addressee) -> list[tuple[str, str]]:
    """Where ``recipient``'s notifications are pushed: ``(channel, target)`` pairs, the
    target an e-mail address or a webhook endpoint's id (the student's own or the
    operator's, unless paused)."""
    targets: list[tuple[str, str]] = []
    if "email" in recipient.channels and recipient.email:
        targets.append(("email", recipient.email))
    if "webhook" in recipient.channels:
        endpoints = session.exec(
            select(WebhookEndpoint.id)
            .where(
                or_(
                    col(WebhookEndpoint.student_id) == recipient.student_id,
                    col(WebhookEndpoint.student_id).is_(None),
                ),
                col(WebhookEndpoint.paused).is_(False),
            )
            .order_by(col(WebhookEndpoint.created_at))
        ).all()
        targets.extend(("webhook", endpoint) for endpoint in endpoints)
    return targets


def push_deliveries(
    session: Session, recipient: Addressee, notification_id: str, now: datetime
) -> list[DeliveryRecord]:
    """The e-mail and webhook deliveries of an instant notification, due after quiet hours."""
    if recipient.frequency != "instant":
        return []
    due = after_quiet_hours(recipient, now)
    return [
        DeliveryRecord(
            id=delivery_id("match", notification_id, channel, target),
            recipient_id=recipient.student_id,
            channel=channel,
            target=target,
            kind="match",
            notification_ids=[notification_id],
            due_at=due,
        )
        for channel, target in push_targets(session, recipient)
    ]


def add_delivery(session: Session, delivery: DeliveryRecord) -> bool:
    """Record ``delivery`` unless its idempotency key is already recorded."""
    if session.get(DeliveryRecord, delivery.id) is not None:
        return False
    session.add(delivery)
    return True


def cancel_pending(session: Session, recipient_id: str, reason: str) -> int:
    """Cancel the deliveries of ``recipient_id`` not sent yet; returns how many."""
    result = session.exec(
        update(DeliveryRecord)
        .where(
            col(DeliveryRecord.recipient_id) == recipient_id,
            col(DeliveryRecord.status) == "pending",
        )
        .values(status="cancelled", last_error=reason)
    )
    return int(result.rowcount or 0)


# -- digests ----------------------------------------------------------------------------


def plan_digests(session: Session, now: datetime) -> int:
    """Digests for every student whose digest time has come; returns how many."""
    made = 0
    for recipient, slot in _digests_due(session, now):
        recipient.last_digest_at = slot
        session.add(recipient)
        made += _digest(session, recipient, slot, now)
    return made


def _digests_due(session: Session, now: datetime) -> list[tuple[Recipient, datetime]]:
    """The students whose digest time has come, each with that time, claimed for
    ``session``'s transaction.

    Each is claimed by locking their row until the transaction ends (PostgreSQL); a row
    another instance's round holds is skipped, and a claimed row is read again, so a
    digest another round made meanwhile is seen. Two rounds at once make each digest once,
    and neither files under a digest the other already put together the notifications
    that came since: they wait for the next one. SQLite lets one writer in at a time, so
    its rounds follow one another.
    """
    candidates = session.exec(
        select(Recipient).where(col(Recipient.frequency).in_(["daily", "weekly"]))
    ).all()
    claimed: list[tuple[Recipient, datetime]] = []
    for student_id in [r.student_id for r in candidates if _digest_slot(r, now) is not None]:
        recipient = session.exec(
            select(Recipient)
            .where(Recipient.student_id == student_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()
        slot = _digest_slot(recipient, now) if recipient is not None else None
        if recipient is not None and slot is not None:
            claimed.append((recipient, slot))
    return claimed


def _digest_slot(recipient: Recipient, now: datetime) -> datetime | None:
    """The digest time of ``recipient`` that passed since their last digest, if one did."""
    return digest_due(
        now,
        recipient.last_digest_at,
        recipient.time_zone,
        recipient.frequency,
        recipient.digest_hour,
        recipient.digest_weekday,
    )


def _digest(session: Session, recipient: Recipient, slot: datetime, now: datetime) -> int:
    pending = session.exec(
        select(NotificationRecord).where(
            NotificationRecord.student_id == recipient.student_id,
            NotificationRecord.digest == PENDING_DIGEST,
        )
    ).all()
    fresh = [record for record in pending if record.available]
    if not fresh or not recipient.consent:
        return 0  # no digest when nothing is new
    chosen, _ = choose_digest(
        fresh,
        score=lambda r: r.score,
        company=lambda r: r.company_id,
        most=recipient.digest_max_items,
    )
    key = f"{recipient.frequency}:{slot.isoformat()}"
    digest_id = delivery_id("digest", recipient.student_id, key)
    due = after_quiet_hours(recipient, now)
    for channel, target in push_targets(session, recipient):
        add_delivery(
            session,
            DeliveryRecord(
                id=delivery_id("digest", recipient.student_id, key, channel, target),
                recipient_id=recipient.student_id,
                channel=channel,
                target=target,
                kind="digest",
                notification_ids=[r.id for r in chosen],
                digest_id=digest_id,
                digest_frequency=recipient.frequency,
                due_at=due,
            ),
        )
    for record in fresh:
        record.digest = digest_id
        session.add(record)
    return 1


# -- what is due now --------------------------------------------------------------------


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending and due, or left ``sending`` past its lease (its worker crashed mid-send;
    a row claimed before leases were kept has none and counts as run out)."""
    lease = col(DeliveryRecord.lease_until)
    return or_(
        (col(DeliveryRecord.status) == "pending") & (col(DeliveryRecord.due_at) <= now),
        (col(DeliveryRecord.status) == "sending") & (lease.is_(None) | (lease <= now)),
    )


def anything_due(session: Session, now: datetime) -> bool:
    """Whether any delivery is due."""
    found = session.exec(select(DeliveryRecord.id).where(_due(now)).limit(1))
    return found.first() is not None


def due_deliveries(session: Session, now: datetime) -> list[DeliveryRecord]:
    """The deliveries due, the longest due first, to be claimed in ``session``'s
    transaction.

    On PostgreSQL they stay locked until it ends and rows another worker's claim has
    locked are skipped: two instances claiming at once each get their own, and a row
    claimed meanwhile is due no more when read (its lease runs). SQLite lets one writer
    in at a time, so its claims follow one another.
    """
    return list(
        session.exec(
            select(DeliveryRecord)
            .where(_due(now))
            .order_by(col(DeliveryRecord.due_at))
            .limit(CLAIM_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
    )


def holds_claim(session: Session, delivery: DeliveryRecord) -> bool:
    """Whether ``delivery`` is still ``sending`` under the claim it was sent by (the same
    worker, the same attempt). The row stays locked until ``session``'s transaction ends,
    so no claim slips in between this check and the outcome written."""
    now_held = session.exec(
        select(DeliveryRecord.status, DeliveryRecord.claimed_by, DeliveryRecord.attempts)
        .where(DeliveryRecord.id == delivery.id)
        .with_for_update()
    ).first()
    return now_held is not None and tuple(now_held) == (
        "sending",
        delivery.claimed_by,
        delivery.attempts,
    )


@dataclass(frozen=True)
class Hold:
    """Why a due delivery does not go now: cancelled for good (``reason``), or waiting
    ``until``."""

    reason: str = ""
    until: datetime | None = None


def student_hold(recipient: Recipient | None, channel: str, now: datetime) -> Hold | None:
    """Why a delivery to ``recipient`` by ``channel`` may not go now, if it may not."""
    if recipient is None:
        return Hold("the student is no longer known")
    if not recipient.consent:
        return Hold("the student withdrew consent to notifications")
    if channel not in recipient.channels:
        return Hold(f"the student no longer chose {channel}")
    wake = after_quiet_hours(recipient, now)
    if wake > now:
        return Hold(until=wake)
    return None


def endpoint_hold(endpoint: WebhookEndpoint | None, now: datetime) -> Hold | None:
    """Why a delivery to ``endpoint`` may not go now, if it may not."""
    if endpoint is None:
        return Hold("the webhook endpoint was removed")
    if endpoint.paused:
        return Hold(until=now + PAUSED_ENDPOINT_WAIT)
    return None
