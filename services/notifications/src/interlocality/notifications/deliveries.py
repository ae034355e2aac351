"""Sending e-mail and webhook deliveries, and making digests.

Each round (every ``INTERLOCALITY_DELIVERY_POLL_SECONDS``):

1. Digests: every student on a daily or weekly digest whose local digest time has passed
   since their last one gets one, if anything new is pending — best first, at most their
   number of items and at most two per company.
2. Due deliveries are claimed in one transaction: consent, channel, availability and quiet
   hours are checked *now*; what may go is marked ``sending`` with an attempt counted and
   committed before anything is sent.
3. Everything claimed is sent concurrently, each bounded by its timeout, so a slow webhook
   blocks nothing else.
4. Each outcome is recorded as soon as it is known, so a worker that crashes mid-send
   leaves ``sending`` only what was in flight; the next worker sends those again, with
   the same Message-ID or delivery id so receivers can tell. ``MessageDelivered`` for what
   went; a retry with exponential backoff and jitter for what failed, until the last attempt,
   which is ``failed``, a ``NotificationFailed`` event and a copy on the deliveries DLQ
   with the reason. A webhook endpoint failing ``INTERLOCALITY_WEBHOOK_PAUSE_AFTER``
   deliveries in a row is paused (its deliveries wait) and shown as such by the API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import Counter
from sqlmodel import Session, col, or_, select, update

from interlocality.common.cloudevents import encode_event
from interlocality.common.consumer import dead_letter_headers
from interlocality.common.esco import EscoVocabulary
from interlocality.common.outbox import stage_record
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.notifications import (
    DeliveryFailure,
    MessageDelivered,
    MessageDelivery,
    NotificationFailed,
)
from interlocality.contracts.topics import DELIVERIES
from interlocality.notifications.domain import (
    choose_digest,
    delivery_id,
    digest_due,
)
from interlocality.notifications.handlers import (
    PENDING_DIGEST,
    add_delivery,
    after_quiet_hours,
    push_targets,
)
from interlocality.notifications.links import LinkSigner
from interlocality.notifications.mail import Attachment, MailError, SmtpRelay, build_message
from interlocality.notifications.mail import send_message as send_mail
from interlocality.notifications.messages import (
    AgendaLine,
    Links,
    Opportunity,
    RenderedMessage,
    SkillLine,
    render_agenda,
    render_digest,
    render_match,
)
from interlocality.notifications.store import (
    AgendaRecord,
    CompanyInfo,
    DeliveryRecord,
    NotificationRecord,
    Recipient,
    VacancyInfo,
    WebhookEndpoint,
)
from interlocality.notifications.webhooks import post_webhook, retry_delay

__all__ = ["DeliveryWorker", "Outcome", "Outgoing", "opportunity_of", "resume_endpoint"]

logger = logging.getLogger(__name__)

CLAIM_BATCH = 200
DIGEST_CHECK = timedelta(seconds=30)
PAUSED_ENDPOINT_WAIT = timedelta(minutes=10)


@dataclass
class Outgoing:
    """A claimed delivery with what it carries, ready to go."""

    delivery: DeliveryRecord
    message: RenderedMessage | None = None
    to_name: str | None = None
    unsubscribe_url: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    body: bytes = b""
    url: str = ""
    secret: str = ""
    notifications: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """How one delivery went."""

    ok: bool
    error: str | None = None
    permanent: bool = False


def opportunity_of(
    record: NotificationRecord,
    vacancy: VacancyInfo | None,
    company: CompanyInfo | None,
    vocabulary: EscoVocabulary,
    locale: str,
) -> Opportunity:
    """What a message says of one notification."""
    content = record.content or {}
    related: dict[str, dict[str, str]] = content.get("related", {})

    def label(uri: str) -> str:
        return vocabulary.label(uri, locale)

    matched = tuple(
        SkillLine(
            label=label(uri),
            via_label=label(related[uri]["via"]) if uri in related else None,
            relation=related[uri]["relation"] if uri in related else "exact",
        )
        for uri in content.get("matched_skills", [])
    )
    return Opportunity(
        vacancy_id=record.vacancy_id,
        title=record.title,
        company_name=company.name if company else "",
        kind=vacancy.kind if vacancy else "",
        location=vacancy.location if vacancy else "",
        remote=vacancy.remote if vacancy else None,
        deadline=vacancy.deadline if vacancy else None,
        start_date=vacancy.start_date if vacancy else None,
        score=record.score,
        matched=matched,
        missing=tuple(label(uri) for uri in content.get("missing_skills", [])),
        cautions=tuple(content.get("cautions", [])),
        available=record.available and (vacancy is None or vacancy.status == "open"),
    )


def _failure(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _carried(delivery: DeliveryRecord) -> list[tuple[str, str | None]]:
    """What ``delivery`` was to carry, as far as it says without its content."""
    if delivery.kind == "agenda":
        return [(delivery.agenda_id, None)] if delivery.agenda_id else []
    return [(notification_id, None) for notification_id in delivery.notification_ids]


def _json_default(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


class DeliveryWorker:
    """Makes digests and sends due deliveries; one per service process."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        signer: LinkSigner,
        vocabulary: EscoVocabulary,
        rng: random.Random | None = None,
        outcomes: Counter | None = None,
    ) -> None:
        """``outcomes``: the deliveries counter of a worker this one takes over from."""
        self.runtime = runtime
        self.settings = runtime.settings
        self.signer = signer
        self.vocabulary = vocabulary
        self.relay = SmtpRelay.from_settings(runtime.settings)
        self.worker_id = uuid.uuid4().hex
        self.rng = rng or random.Random()
        self._digests_checked = datetime.min.replace(tzinfo=UTC)
        self.outcomes = outcomes or Counter(
            "interlocality_deliveries",
            "E-mail and webhook deliveries by channel and outcome.",
            ["channel", "outcome"],
            registry=runtime.metrics.registry,
        )

    # -- one round --------------------------------------------------------------------

    def run(self, now: datetime | None = None) -> int:
        """One round: make due digests, send due deliveries; returns how many were sent."""
        now = now or datetime.now(UTC)
        if now - self._digests_checked >= DIGEST_CHECK:
            self._digests_checked = now
            self.make_digests(now)
        claimed = self.claim(now)
        if not claimed:
            return 0
        outcomes = asyncio.run(self.send_all(claimed))
        return sum(1 for outcome in outcomes if outcome.ok)

    # -- digests ----------------------------------------------------------------------

    def make_digests(self, now: datetime | None = None) -> int:
        """Digests for every student whose digest time has come; returns how many."""
        now = now or datetime.now(UTC)
        made = 0
        with self.runtime.transaction() as session:
            recipients = session.exec(
                select(Recipient).where(col(Recipient.frequency).in_(["daily", "weekly"]))
            ).all()
            for recipient in recipients:
                slot = digest_due(
                    now,
                    recipient.last_digest_at,
                    recipient.time_zone,
                    recipient.frequency,
                    recipient.digest_hour,
                    recipient.digest_weekday,
                )
                if slot is None:
                    continue
                recipient.last_digest_at = slot
                session.add(recipient)
                made += self._digest(session, recipient, slot, now)
        return made

    def _digest(self, session: Session, recipient: Recipient, slot: datetime, now: datetime) -> int:
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

    # -- claiming ---------------------------------------------------------------------

    def claim(self, now: datetime | None = None) -> list[Outgoing]:
        """Check and claim due deliveries; what may go is committed as ``sending``."""
        now = now or datetime.now(UTC)
        is_due = or_(
            (col(DeliveryRecord.status) == "pending") & (col(DeliveryRecord.due_at) <= now),
            (col(DeliveryRecord.status) == "sending")
            & (col(DeliveryRecord.claimed_by) != self.worker_id),
        )
        with self.runtime.reading() as session:
            # most rounds find nothing: look before taking the write lock the consumers need
            if session.exec(select(DeliveryRecord.id).where(is_due).limit(1)).first() is None:
                return []
        claimed: list[Outgoing] = []
        with self.runtime.transaction() as session:
            due = session.exec(
                select(DeliveryRecord)
                .where(is_due)
                .order_by(col(DeliveryRecord.due_at))
                .limit(CLAIM_BATCH)
            ).all()
            for delivery in due:
                try:
                    outgoing = self._prepare(session, delivery, now)
                except Exception as exc:  # content that cannot be made fails this one only
                    logger.exception("delivery cannot be prepared", extra={"delivery": delivery.id})
                    delivery.attempts += 1
                    self._failed(
                        session,
                        Outgoing(delivery=delivery, notifications=_carried(delivery)),
                        Outcome(False, f"its message cannot be made: {_failure(exc)}"),
                        None,
                        now,
                    )
                    continue
                if outgoing is None:
                    continue
                delivery.status = "sending"
                delivery.claimed_by = self.worker_id
                delivery.attempts += 1
                session.add(delivery)
                claimed.append(outgoing)
        return claimed

    def _cancel(self, delivery: DeliveryRecord, reason: str) -> None:
        delivery.status = "cancelled"
        delivery.last_error = reason
        self.outcomes.labels(delivery.channel, "cancelled").inc()

    def _prepare(
        self, session: Session, delivery: DeliveryRecord, now: datetime
    ) -> Outgoing | None:
        """What ``delivery`` carries now, or ``None`` when it is not to be sent now
        (cancelled or postponed, and so recorded)."""
        session.add(delivery)
        name, locale, zone = "", "en", self.settings.time_zone
        links: Links | None = None
        if delivery.recipient_kind == "student":
            recipient = session.get(Recipient, delivery.recipient_id)
            if recipient is None:
                self._cancel(delivery, "the student is no longer known")
                return None
            if not recipient.consent:
                self._cancel(delivery, "the student withdrew consent to notifications")
                return None
            if delivery.channel not in recipient.channels:
                self._cancel(delivery, f"the student no longer chose {delivery.channel}")
                return None
            wake = after_quiet_hours(recipient, now)
            if wake > now:
                delivery.status, delivery.due_at = "pending", wake
                return None
            name, locale, zone = recipient.name, recipient.locale, recipient.time_zone
            links = Links(
                preferences_url=self.signer.preferences_url(recipient.student_id),
                unsubscribe_url=self.signer.unsubscribe_url(recipient.student_id),
            )
        outgoing = Outgoing(delivery=delivery, to_name=name or None)
        if delivery.kind == "agenda":
            ready = self._agenda(session, outgoing, name, locale, zone, links)
        else:
            assert links is not None
            ready = self._matches(session, outgoing, name, locale, zone, links)
        if not ready:
            return None
        outgoing.unsubscribe_url = links.unsubscribe_url if links else None
        if delivery.channel == "webhook":
            endpoint = session.get(WebhookEndpoint, delivery.target)
            if endpoint is None:
                self._cancel(delivery, "the webhook endpoint was removed")
                return None
            if endpoint.paused:
                delivery.status = "pending"
                delivery.due_at = now + PAUSED_ENDPOINT_WAIT
                return None
            outgoing.url, outgoing.secret = endpoint.url, endpoint.secret
        return outgoing

    def _matches(
        self,
        session: Session,
        outgoing: Outgoing,
        name: str,
        locale: str,
        zone: str,
        links: Links,
    ) -> bool:
        delivery = outgoing.delivery
        records = [
            record
            for record in (session.get(NotificationRecord, i) for i in delivery.notification_ids)
            if record is not None
        ]
        opportunities = []
        for record in records:
            vacancy = session.get(VacancyInfo, record.vacancy_id)
            company = session.get(CompanyInfo, record.company_id)
            opportunity = opportunity_of(record, vacancy, company, self.vocabulary, locale)
            if opportunity.available:
                opportunities.append((record, opportunity))
        if not opportunities:
            self._cancel(delivery, "the match was withdrawn or the vacancy closed")
            return False
        if delivery.kind == "digest":
            frequency = delivery.digest_frequency or "daily"
            included = session.exec(
                select(NotificationRecord.id).where(NotificationRecord.digest == delivery.digest_id)
            ).all()
            more = max(0, len(included) - len(delivery.notification_ids))
            outgoing.message = render_digest(
                locale, name, frequency, [o for _, o in opportunities], links, zone, more
            )
        else:
            outgoing.message = render_match(locale, name, opportunities[0][1], links, zone)
        outgoing.notifications = [(r.id, r.vacancy_id) for r, _ in opportunities]
        outgoing.body = self._body(
            delivery,
            {
                "notifications": [
                    {"notification_id": r.id, **_opportunity_json(o)} for r, o in opportunities
                ],
                "preferences_url": links.preferences_url,
            },
        )
        return True

    def _agenda(
        self,
        session: Session,
        outgoing: Outgoing,
        name: str,
        locale: str,
        zone: str,
        links: Links | None,
    ) -> bool:
        delivery = outgoing.delivery
        agenda = session.get(AgendaRecord, delivery.agenda_id or "")
        if agenda is None:
            self._cancel(delivery, "the agenda is no longer known")
            return False
        if delivery.recipient_kind == "company":
            company = session.get(CompanyInfo, delivery.recipient_id)
            name = (company.contact_name or company.name) if company else ""
            outgoing.to_name = name or None
        slots = [
            AgendaLine(
                starts_at=datetime.fromisoformat(slot["starts_at"]),
                ends_at=datetime.fromisoformat(slot["ends_at"]),
                table=int(slot["table"]),
                counterpart_name=slot.get("counterpart_name") or slot["counterpart_id"],
            )
            for slot in agenda.slots
        ]
        outgoing.message = render_agenda(
            locale, name, agenda.event_name, agenda.venue, slots, zone, links
        )
        outgoing.attachments = [
            Attachment(
                filename="company-dating.ics",
                content_type="text/calendar; method=PUBLISH",
                data=agenda.icalendar.encode(),
            )
        ]
        outgoing.notifications = [(agenda.id, None)]
        outgoing.body = self._body(
            delivery,
            {
                "agenda": {
                    "event_name": agenda.event_name,
                    "venue": agenda.venue,
                    "slots": agenda.slots,
                    "icalendar": agenda.icalendar,
                }
            },
        )
        return True

    def _body(self, delivery: DeliveryRecord, payload: dict[str, Any]) -> bytes:
        document = {
            "delivery_id": delivery.id,
            "kind": delivery.kind,
            "recipient_id": delivery.recipient_id,
            "recipient_kind": delivery.recipient_kind,
            "region": self.settings.region,
            **payload,
        }
        return json.dumps(document, default=_json_default, ensure_ascii=False).encode()

    # -- sending ----------------------------------------------------------------------

    async def send_all(self, claimed: Sequence[Outgoing]) -> list[Outcome]:
        """Send everything claimed at once, each bounded by its own timeout, and record
        each outcome as soon as it is known (so a crash resends only what was in flight)."""
        # direct connections only: the URL checks hold for the address actually reached
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:

            async def deliver(outgoing: Outgoing) -> Outcome:
                outcome = await self.send(client, outgoing)
                await asyncio.to_thread(self.record, outgoing, outcome)
                return outcome

            return list(await asyncio.gather(*(deliver(o) for o in claimed)))

    async def send(self, client: httpx.AsyncClient, outgoing: Outgoing) -> Outcome:
        """Send one claimed delivery (without recording how it went). Whatever goes wrong
        with it, even unexpectedly, is its outcome: a failure of this delivery alone."""
        delivery = outgoing.delivery
        try:
            if delivery.channel == "webhook":
                result = await post_webhook(
                    client,
                    outgoing.url,
                    outgoing.body,
                    secret=outgoing.secret,
                    delivery_id=delivery.id,
                    event=delivery.kind,
                    timeout=self.settings.webhook_timeout_seconds,
                    deployment=self.settings.deployment,
                )
                return Outcome(result.ok, result.error, result.permanent)
            assert outgoing.message is not None
            message = build_message(
                sender=self.settings.mail_from,
                to=delivery.target,
                to_name=outgoing.to_name,
                subject=outgoing.message.subject,
                text=outgoing.message.text,
                html=outgoing.message.html,
                delivery_id=delivery.id,
                unsubscribe_url=outgoing.unsubscribe_url,
                attachments=outgoing.attachments,
            )
            await send_mail(self.relay, message)
        except MailError as exc:
            return Outcome(False, str(exc), exc.permanent)
        except Exception as exc:
            logger.exception("delivery failed unexpectedly", extra={"delivery": delivery.id})
            return Outcome(False, f"it failed unexpectedly: {_failure(exc)}")
        return Outcome(True)

    # -- outcomes ---------------------------------------------------------------------

    def record(self, outgoing: Outgoing, outcome: Outcome) -> None:
        """Mark a claimed delivery sent, to be retried, or failed, with its events."""
        now = datetime.now(UTC)
        with self.runtime.transaction() as session:
            delivery = outgoing.delivery
            session.add(delivery)
            endpoint = (
                session.get(WebhookEndpoint, delivery.target)
                if delivery.channel == "webhook"
                else None
            )
            if outcome.ok:
                self._sent(session, outgoing, endpoint, now)
            else:
                self._failed(session, outgoing, outcome, endpoint, now)

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
            session,
            self.runtime.event(
                MessageDelivered,
                subject=delivery.recipient_id,
                data=MessageDelivery(
                    delivery_id=delivery.id,
                    recipient_id=delivery.recipient_id,
                    recipient_kind=delivery.recipient_kind,
                    channel=delivery.channel,
                    kind=delivery.kind,
                    notification_ids=[n for n, _ in outgoing.notifications],
                    vacancy_ids=[v for _, v in outgoing.notifications if v is not None],
                    attempts=delivery.attempts,
                    sent_at=now,
                ),
                version=delivery.id,
            ),
        )

    def _failed(
        self,
        session: Session,
        outgoing: Outgoing,
        outcome: Outcome,
        endpoint: WebhookEndpoint | None,
        now: datetime,
    ) -> None:
        delivery = outgoing.delivery
        reason = outcome.error or "failed"
        delivery.last_error = reason[:2000]
        if endpoint is not None:
            endpoint.failures_in_row += 1
            endpoint.last_error = reason[:2000]
            if (
                endpoint.failures_in_row >= self.settings.webhook_pause_after
                and not endpoint.paused
            ):
                endpoint.paused = True
                endpoint.paused_reason = (
                    f"{endpoint.failures_in_row} deliveries failed in a row; last: {reason}"
                )[:2000]
                logger.warning(
                    "webhook endpoint paused",
                    extra={"endpoint": endpoint.id, "reason": endpoint.paused_reason},
                )
            session.add(endpoint)
        if outcome.permanent or delivery.attempts >= self.settings.delivery_max_attempts:
            delivery.status = "failed"
            self.outcomes.labels(delivery.channel, "failed").inc()
            self._give_up(session, outgoing, reason, now)
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

    def _give_up(self, session: Session, outgoing: Outgoing, reason: str, now: datetime) -> None:
        delivery = outgoing.delivery
        event = self.runtime.event(
            NotificationFailed,
            subject=delivery.recipient_id,
            data=DeliveryFailure(
                delivery_id=delivery.id,
                student_id=delivery.recipient_id,
                recipient_kind=delivery.recipient_kind,
                channel=delivery.channel,
                kind=delivery.kind,
                notification_ids=[n for n, _ in outgoing.notifications],
                attempts=delivery.attempts,
                reason=reason,
                failed_at=now,
            ),
            version=delivery.id,
        )
        self.runtime.emit(session, event)
        region = self.settings.region
        dead = encode_event(event, DELIVERIES.dlq_name(region))
        dead.headers.extend(
            dead_letter_headers(reason, DELIVERIES.name(region), self.settings.consumer_group)
        )
        stage_record(session, dead)
        self.runtime.metrics.dead_letters.labels(DELIVERIES.name(region)).inc()


def resume_endpoint(session: Session, endpoint: WebhookEndpoint) -> int:
    """Un-pause ``endpoint`` and make its waiting deliveries due now; returns how many."""
    endpoint.paused, endpoint.paused_reason, endpoint.failures_in_row = False, None, 0
    session.add(endpoint)
    result = session.exec(
        update(DeliveryRecord)
        .where(
            col(DeliveryRecord.target) == endpoint.id,
            col(DeliveryRecord.status) == "pending",
        )
        .values(due_at=datetime.now(UTC))
    )
    return int(result.rowcount or 0)


def _opportunity_json(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "vacancy_id": opportunity.vacancy_id,
        "title": opportunity.title,
        "company": opportunity.company_name,
        "kind": opportunity.kind,
        "location": opportunity.location,
        "remote": opportunity.remote,
        "deadline": opportunity.deadline,
        "start_date": opportunity.start_date,
        "score": opportunity.score,
        "matched_skills": [
            {"skill": s.label, "via": s.via_label, "relation": s.relation}
            for s in opportunity.matched
        ],
        "missing_skills": list(opportunity.missing),
        "cautions": list(opportunity.cautions),
    }
