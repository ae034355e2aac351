"""The use cases of notifications, each one transaction that stores what changed and
stages the events it causes.

Notifications follows students (address, language, preferences, consent), companies and
vacancies (what a message says of them), matches and Company Dating agendas. A match makes
at most one notification per student and vacancy, shown in the in-app feed; its e-mail and
webhook deliveries are planned (:mod:`planning`), and each round of the delivery worker
makes the digests that are due, claims what may go now with its message
(:mod:`composing`) and records how each went (:mod:`recording`). Students change their
preferences through signed links, and operators register webhook endpoints.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, delete, or_, select, update

from interlocality.common.db import insert_rows
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.companies import Company
from interlocality.contracts.dating import DatingAgenda
from interlocality.contracts.matches import Match
from interlocality.contracts.notifications import NotificationSent
from interlocality.contracts.students import NotificationPreferences, StudentProfile
from interlocality.contracts.vacancies import Vacancy
from interlocality.notifications.composing import (
    Composer,
    NothingToSend,
    Outgoing,
    carried,
)
from interlocality.notifications.domain import aware, delivery_id, in_app_content
from interlocality.notifications.events import (
    notification_record_sent,
    notification_sent,
    preferences_changed,
)
from interlocality.notifications.planning import (
    PENDING_DIGEST,
    Hold,
    add_delivery,
    after_quiet_hours,
    anything_due,
    cancel_pending,
    digest_state,
    due_deliveries,
    endpoint_hold,
    plan_digests,
    push_deliveries,
    push_targets,
    student_hold,
)
from interlocality.notifications.recording import OutcomeRecorder
from interlocality.notifications.sending import Outcome, failure
from interlocality.notifications.store import (
    AWAITING_PROFILE,
    SHOWN,
    AgendaRecord,
    CompanyInfo,
    DeliveryRecord,
    FeedEvent,
    FeedSequence,
    NotificationRecord,
    Recipient,
    VacancyInfo,
    WebhookEndpoint,
    addressees,
    append_feed,
    notification_for,
    preferences_of,
)
from interlocality.notifications.streams import FeedHub
from interlocality.notifications.webhooks import check_webhook_url

__all__ = ["NotificationService", "UnknownStudent", "UnknownWebhook"]

logger = logging.getLogger(__name__)


class UnknownStudent(LookupError):
    """Notifications knows no student of this id."""


class UnknownWebhook(LookupError):
    """No webhook endpoint has this id."""


class NotificationService:
    """Notifications, their deliveries, preferences and webhook endpoints."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        hub: FeedHub[Any],
        composer: Composer,
        recorder: OutcomeRecorder,
    ) -> None:
        self.runtime = runtime
        self.hub = hub
        self.composer = composer
        self.recorder = recorder

    # -- students -------------------------------------------------------------------------

    def take_profile(self, session: Session, profile: StudentProfile) -> None:
        """A student's profile: address, language, and the preferences and consent it
        says, unless the student changed them through a link since."""
        recipient = session.get(Recipient, profile.student_id)
        if recipient is not None and recipient.profile_version >= profile.version:
            return  # a replay or an older snapshot
        said = aware(profile.updated_at)
        if recipient is None:
            recipient = Recipient(student_id=profile.student_id, name=profile.name, email="")
            said_later = False
        else:
            said_later = aware(recipient.said_at) > said  # changed through a link since
        recipient.name = profile.name
        recipient.email = str(profile.email)
        recipient.profile_version = profile.version
        session.add(recipient)
        if not said_later:
            self._apply_preferences(
                session,
                recipient,
                profile.notification_preferences,
                profile.consents.notifications.granted,
                said,
            )
        session.flush()
        waiting = session.exec(  # those found on this profile or an older one
            select(NotificationRecord).where(
                NotificationRecord.student_id == recipient.student_id,
                NotificationRecord.digest == AWAITING_PROFILE,
                or_(
                    col(NotificationRecord.awaits).is_(None),
                    col(NotificationRecord.awaits) <= profile.version,
                ),
            )
        ).all()
        if not recipient.consent:
            self._drop(session, waiting)
            return
        released = [r for r in waiting if r.score >= recipient.min_score]
        self._drop(session, [r for r in waiting if r not in released])
        now = datetime.now(UTC)
        for record in released:
            record.digest = digest_state(recipient)
            session.add(record)
            for delivery in push_deliveries(session, recipient, record.id, now):
                add_delivery(session, delivery)
        if released:
            append_feed(session, [(r.student_id, "notification", r.id) for r in released], now)
            self.hub.touch(recipient.student_id)
            self.runtime.emit_many(
                session, [notification_record_sent(self.runtime, r) for r in released]
            )

    def _drop(self, session: Session, records: Sequence[NotificationRecord]) -> None:
        """Take away notifications made for a match that came before the student's profile,
        which says no to them (no consent, or a higher minimum score), or whose match was
        withdrawn while they waited."""
        ids = [r.id for r in records]
        if not ids:
            return
        session.exec(delete(FeedEvent).where(col(FeedEvent.notification_id).in_(ids)))
        session.exec(delete(NotificationRecord).where(col(NotificationRecord.id).in_(ids)))

    def erase_student(self, session: Session, student_id: str) -> None:
        """Forget everything held on a student, their rows in the outbox too."""
        self.runtime.forget_in_outbox(session, student_id)
        for table, column in (
            (NotificationRecord, NotificationRecord.student_id),
            (FeedEvent, FeedEvent.student_id),
            (FeedSequence, FeedSequence.student_id),
            (DeliveryRecord, DeliveryRecord.recipient_id),
            (WebhookEndpoint, WebhookEndpoint.student_id),
            (AgendaRecord, AgendaRecord.participant_id),
            (Recipient, Recipient.student_id),
        ):
            session.exec(delete(table).where(col(column) == student_id))

    def change_preferences(
        self, student_id: str, preferences: NotificationPreferences | None, subscribed: bool
    ) -> NotificationPreferences:
        """A student's preferences (``None``: as they are) and consent, said through a
        signed link; profiles is told. Returns the preferences now applied."""
        now = datetime.now(UTC)
        with self.runtime.transaction() as session:
            recipient = session.get(Recipient, student_id)
            if recipient is None:
                raise UnknownStudent("this student is not known here")
            preferences = preferences or preferences_of(recipient)
            self._apply_preferences(session, recipient, preferences, subscribed, now)
            self.runtime.emit(
                session, preferences_changed(self.runtime, student_id, preferences, subscribed, now)
            )
        return preferences

    def _apply_preferences(
        self,
        session: Session,
        recipient: Recipient,
        preferences: NotificationPreferences,
        consent: bool,
        said_at: datetime,
    ) -> None:
        """Take ``preferences`` and ``consent``, said at ``said_at`` (by the profile or
        through a link): withdrawn consent cancels what is not sent yet, and leaving the
        digest takes the notifications waiting for it out of it (they stay in the feed)."""
        if recipient.consent and not consent:
            cancel_pending(session, recipient.student_id, "the student withdrew consent")
        if recipient.frequency != "instant" and preferences.frequency == "instant":
            session.exec(
                update(NotificationRecord)
                .where(
                    col(NotificationRecord.student_id) == recipient.student_id,
                    col(NotificationRecord.digest) == PENDING_DIGEST,
                )
                .values(digest=None)
            )
        for name, value in preferences.model_dump().items():
            setattr(recipient, name, value)
        recipient.consent = consent
        recipient.said_at = said_at
        session.add(recipient)

    # -- companies and vacancies ----------------------------------------------------------

    def take_company(self, session: Session, company: Company) -> None:
        """What messages say of a company, and its contact for agendas."""
        info = session.get(CompanyInfo, company.company_id)
        if info is not None and info.version >= company.version:
            return
        session.merge(
            CompanyInfo(
                company_id=company.company_id,
                name=company.name,
                contact_name=company.contact.name,
                contact_email=company.contact.email,
                version=company.version,
            )
        )

    def take_vacancy(self, session: Session, vacancy: Vacancy) -> None:
        """What messages say of a vacancy; one no longer open makes its notifications
        unavailable."""
        info = session.get(VacancyInfo, vacancy.vacancy_id)
        if info is not None and info.version >= vacancy.version:
            return
        session.merge(
            VacancyInfo(
                vacancy_id=vacancy.vacancy_id,
                company_id=vacancy.company_id,
                title=vacancy.title,
                kind=vacancy.kind,
                status=vacancy.status,
                location=vacancy.location,
                remote=vacancy.remote,
                deadline=vacancy.application_deadline,
                start_date=vacancy.start_date,
                version=vacancy.version,
            )
        )
        if vacancy.status != "open":
            for record in session.exec(
                select(NotificationRecord)
                .where(
                    NotificationRecord.vacancy_id == vacancy.vacancy_id,
                    col(NotificationRecord.available).is_(True),
                )
                .order_by(col(NotificationRecord.student_id))  # feeds are locked in id order
            ).all():
                self._no_longer_available(session, record)

    # -- matches --------------------------------------------------------------------------

    def notify(self, session: Session, matches: list[Match]) -> None:
        """Notifications of ``matches``: one query per table for all of them."""
        students = {m.student_id for m in matches}
        vacancies = {m.vacancy_id for m in matches}
        known = set(
            session.exec(
                select(NotificationRecord.student_id, NotificationRecord.vacancy_id).where(
                    col(NotificationRecord.student_id).in_(students),
                    col(NotificationRecord.vacancy_id).in_(vacancies),
                )
            ).all()
        )
        recipients = addressees(session, students)
        closed = set(
            session.exec(
                select(VacancyInfo.vacancy_id).where(
                    col(VacancyInfo.vacancy_id).in_(vacancies), VacancyInfo.status != "open"
                )
            ).all()
        )
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        deliveries: list[DeliveryRecord] = []
        for match in matches:
            key = (match.student_id, match.vacancy_id)
            recipient = recipients.get(match.student_id)
            if key in known or match.vacancy_id in closed:
                continue  # exactly one notification per student and vacancy; open ones only
            if recipient is not None and recipient.profile_version < (match.student_version or 0):
                # found on a profile not read here yet, which may say yes where the one
                # held says no: the notification waits for it, as for a student not known
                recipient = None
            if recipient is not None and (
                not recipient.consent or match.score < recipient.min_score
            ):
                continue
            known.add(key)
            notification_id = str(uuid.uuid4())
            rows.append(
                {
                    "id": notification_id,
                    "student_id": match.student_id,
                    "vacancy_id": match.vacancy_id,
                    "company_id": match.company_id,
                    "title": match.vacancy_title,
                    "score": match.score,
                    "content": in_app_content(match),
                    "available": True,
                    "digest": digest_state(recipient),
                    "awaits": match.student_version if recipient is None else None,
                    "created_at": now,
                }
            )
            if recipient is not None:
                deliveries.extend(push_deliveries(session, recipient, notification_id, now))
        if not rows:
            return
        insert_rows(session, NotificationRecord, rows)
        shown = [r for r in rows if r["digest"] != AWAITING_PROFILE]  # the rest wait
        append_feed(session, [(r["student_id"], "notification", r["id"]) for r in shown], now)
        for row in shown:
            self.hub.touch(row["student_id"])
        self.runtime.emit_many(
            session,
            [
                notification_sent(self.runtime, r["id"], r["student_id"], r["vacancy_id"], now)
                for r in shown
            ],
        )
        for delivery in deliveries:
            add_delivery(session, delivery)

    def update_match(self, session: Session, match: Match) -> None:
        """A changed match updates its notification, or makes one if it reaches the
        student's threshold only now."""
        record = notification_for(session, match.student_id, match.vacancy_id)
        if record is None:
            self.notify(session, [match])
            return
        record.score = match.score
        record.title = match.vacancy_title
        record.content = in_app_content(match)
        session.add(record)
        if record.digest != AWAITING_PROFILE:
            self._feed(session, record.student_id, "updated", record.id)

    def withdraw_match(self, session: Session, student_id: str, vacancy_id: str) -> None:
        """A withdrawn match leaves its notification in the feed, as unavailable."""
        record = notification_for(session, student_id, vacancy_id)
        if record is not None and record.available:
            self._no_longer_available(session, record)

    def _no_longer_available(self, session: Session, record: NotificationRecord) -> None:
        if record.digest == AWAITING_PROFILE:  # never shown to the student: it just goes
            self._drop(session, [record])
            return
        record.available = False
        session.add(record)
        self._feed(session, record.student_id, "unavailable", record.id)

    def _feed(self, session: Session, student_id: str, kind: str, notification_id: str) -> None:
        append_feed(session, [(student_id, kind, notification_id)], datetime.now(UTC))
        self.hub.touch(student_id)

    def sent_notifications(self, session: Session) -> Iterator[NotificationSent]:
        """The ``NotificationSent`` of every notification held, to publish them again
        (not those still waiting for the student's profile)."""
        for record in session.exec(select(NotificationRecord).where(SHOWN)):
            yield notification_record_sent(self.runtime, record)

    # -- Company Dating -------------------------------------------------------------------

    def take_agenda(
        self, session: Session, agenda: DatingAgenda, event_id: str, issued_at: datetime
    ) -> None:
        """A participant's agenda: kept, shown in a student's feed, and delivered to the
        student by their channels or to the company's contact by e-mail."""
        agenda_id = f"{agenda.dating_event_id}:{agenda.participant_id}"
        session.merge(
            AgendaRecord(
                id=agenda_id,
                participant_kind=agenda.participant_kind,
                participant_id=agenda.participant_id,
                event_name=agenda.dating_event_name,
                venue=agenda.venue,
                slots=[slot.model_dump(mode="json") for slot in agenda.slots],
                icalendar=agenda.icalendar,
                issued_at=issued_at,
            )
        )
        now = datetime.now(UTC)
        if agenda.participant_kind == "company":
            company = session.get(CompanyInfo, agenda.participant_id)
            if company is None or not company.contact_email:
                logger.warning(
                    "no contact address for a company's agenda",
                    extra={"company_id": agenda.participant_id, "agenda": agenda_id},
                )
                return
            targets = [("email", company.contact_email)]
            due = now
        else:
            recipient = session.get(Recipient, agenda.participant_id)
            if recipient is None or not recipient.consent:
                return
            self._feed(session, recipient.student_id, "agenda", agenda_id)
            targets = push_targets(session, recipient)
            due = after_quiet_hours(recipient, now)
        for channel, target in targets:
            add_delivery(
                session,
                DeliveryRecord(
                    id=delivery_id("agenda", event_id, channel, target),
                    recipient_id=agenda.participant_id,
                    recipient_kind=agenda.participant_kind,
                    channel=channel,
                    target=target,
                    kind="agenda",
                    agenda_id=agenda_id,
                    due_at=due,
                ),
            )

    # -- webhook endpoints ----------------------------------------------------------------

    def register_webhook(
        self, url: str, student_id: str | None, description: str
    ) -> WebhookEndpoint:
        """A new endpoint with a fresh secret, for ``student_id`` or (none) every student
        who chose the webhook channel. Raises :class:`WebhookUrlRefused` for a URL that
        may not be called, :class:`UnknownStudent` for a student not known here."""
        url = check_webhook_url(url, self.runtime.settings.deployment)
        with self.runtime.transaction() as session:
            if student_id and session.get(Recipient, student_id) is None:
                raise UnknownStudent("no such student here")
            endpoint = WebhookEndpoint(
                id=str(uuid.uuid4()),
                student_id=student_id,
                url=url,
                secret=secrets.token_urlsafe(32),
                description=description,
            )
            session.add(endpoint)
            session.flush()
        return endpoint

    def resume_webhook(self, webhook_id: str) -> WebhookEndpoint:
        """Un-pause an endpoint and make its waiting deliveries due now."""
        with self.runtime.transaction() as session:
            endpoint = self._endpoint(session, webhook_id)
            endpoint.paused, endpoint.paused_reason, endpoint.failures_in_row = False, None, 0
            session.add(endpoint)
            session.exec(
                update(DeliveryRecord)
                .where(
                    col(DeliveryRecord.target) == endpoint.id,
                    col(DeliveryRecord.status) == "pending",
                )
                .values(due_at=datetime.now(UTC))
            )
            session.flush()
        return endpoint

    def student_of_webhook(self, webhook_id: str) -> str | None:
        """The student whose endpoint ``webhook_id`` is; None for a region-wide one."""
        with self.runtime.reading() as session:
            endpoint = session.get(WebhookEndpoint, webhook_id)
        return endpoint.student_id if endpoint is not None else None

    def remove_webhook(self, webhook_id: str) -> None:
        """Remove an endpoint."""
        with self.runtime.transaction() as session:
            session.delete(self._endpoint(session, webhook_id))

    def _endpoint(self, session: Session, webhook_id: str) -> WebhookEndpoint:
        endpoint = session.get(WebhookEndpoint, webhook_id)
        if endpoint is None:
            raise UnknownWebhook(f"no webhook {webhook_id!r}")
        return endpoint

    # -- delivery rounds ------------------------------------------------------------------

    def make_digests(self, now: datetime | None = None) -> int:
        """Digests for every student whose digest time has come; returns how many."""
        with self.runtime.transaction() as session:
            return plan_digests(session, now or datetime.now(UTC))

    def claim(self, worker_id: str, now: datetime | None = None) -> list[Outgoing]:
        """Check and claim the deliveries due for ``worker_id``, each with its message;
        what may go is committed as ``sending`` under a lease of
        ``INTERLOCALITY_DELIVERY_LEASE_SECONDS``, the rest cancelled or postponed."""
        now = now or datetime.now(UTC)
        with self.runtime.reading() as session:
            # most rounds find nothing: look before taking the write lock the consumers need
            if not anything_due(session, now):
                return []
        lease_until = now + timedelta(seconds=self.runtime.settings.delivery_lease_seconds)
        claimed: list[Outgoing] = []
        with self.runtime.transaction() as session:
            for delivery in due_deliveries(session, now):
                session.add(delivery)
                try:
                    ready = self._ready(session, delivery, now)
                except Exception as exc:  # content that cannot be made fails this one only
                    logger.exception("delivery cannot be prepared", extra={"delivery": delivery.id})
                    delivery.attempts += 1
                    self.recorder.failed(
                        session,
                        Outgoing(delivery=delivery, notifications=carried(delivery)),
                        Outcome(False, f"its message cannot be made: {failure(exc)}"),
                        None,
                        now,
                    )
                    continue
                if isinstance(ready, Hold):
                    self.recorder.held(delivery, ready)
                    continue
                delivery.status = "sending"
                delivery.claimed_by = worker_id
                delivery.lease_until = lease_until
                delivery.attempts += 1
                claimed.append(ready)
        return claimed

    def _ready(self, session: Session, delivery: DeliveryRecord, now: datetime) -> Outgoing | Hold:
        """What ``delivery`` carries now, or why it does not go now."""
        recipient = None
        if delivery.recipient_kind == "student":
            recipient = session.get(Recipient, delivery.recipient_id)
            hold = student_hold(recipient, delivery.channel, now)
            if hold is not None:
                return hold
        try:
            outgoing = self.composer.compose(session, delivery, recipient)
        except NothingToSend as gone:
            return Hold(str(gone))
        if delivery.channel == "webhook":
            endpoint = session.get(WebhookEndpoint, delivery.target)
            hold = endpoint_hold(endpoint, now)
            if hold is not None:
                return hold
            assert endpoint is not None
            outgoing.url, outgoing.secret = endpoint.url, endpoint.secret
        return outgoing

    def record(self, outgoing: Outgoing, outcome: Outcome) -> None:
        """Mark a claimed delivery sent, to be retried, or failed, with its events; the
        outcome of a claim another worker has taken over since is dropped."""
        with self.runtime.transaction() as session:
            self.recorder.record(session, outgoing, outcome, datetime.now(UTC))
