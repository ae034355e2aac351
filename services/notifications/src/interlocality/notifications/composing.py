"""A due delivery made into what is sent: the e-mail in the recipient's language, or the
JSON body of a webhook, from the notifications or the agenda it carries as they are now."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from interlocality.common.esco import EscoVocabulary
from interlocality.notifications.links import LinkSigner
from interlocality.notifications.mail import Attachment
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
)

__all__ = ["Composer", "NothingToSend", "Outgoing", "carried", "opportunity_of"]


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
    # (notification id, vacancy id) pairs, or the agenda's (id, None)
    notifications: list[tuple[str, str | None]] = field(default_factory=list)


class NothingToSend(Exception):
    """What a delivery was to carry is gone (a withdrawn match, a closed vacancy, an
    unknown agenda): it is cancelled, for the reason given."""


def carried(delivery: DeliveryRecord) -> list[tuple[str, str | None]]:
    """What ``delivery`` was to carry, as far as it says without its content."""
    if delivery.kind == "agenda":
        return [(delivery.agenda_id, None)] if delivery.agenda_id else []
    return [(notification_id, None) for notification_id in delivery.notification_ids]


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


@dataclass(frozen=True)
class _Reader:
    """Who reads the message, in which language and time zone, with which links."""

    name: str
    locale: str
    zone: str
    links: Links | None


class Composer:
    """Makes the message of a due delivery."""

    def __init__(
        self, signer: LinkSigner, vocabulary: EscoVocabulary, region: str, time_zone: str
    ) -> None:
        """``time_zone``: the region's, for a company's agenda."""
        self.signer = signer
        self.vocabulary = vocabulary
        self.region = region
        self.time_zone = time_zone

    def compose(
        self, session: Session, delivery: DeliveryRecord, recipient: Recipient | None
    ) -> Outgoing:
        """What ``delivery`` carries now, to ``recipient`` (a student) or a company.

        Raises :class:`NothingToSend` when none of it is left to send.
        """
        reader = _Reader("", "en", self.time_zone, None)
        if recipient is not None:
            reader = _Reader(
                recipient.name,
                recipient.locale,
                recipient.time_zone,
                Links(
                    preferences_url=self.signer.preferences_url(recipient.student_id),
                    unsubscribe_url=self.signer.unsubscribe_url(recipient.student_id),
                ),
            )
        outgoing = Outgoing(delivery=delivery, to_name=reader.name or None)
        if delivery.kind == "agenda":
            self._agenda(session, outgoing, reader)
        else:
            self._matches(session, outgoing, reader)
        outgoing.unsubscribe_url = reader.links.unsubscribe_url if reader.links else None
        return outgoing

    def _matches(self, session: Session, outgoing: Outgoing, reader: _Reader) -> None:
        delivery = outgoing.delivery
        links = reader.links
        assert links is not None  # matches go to students only
        records = [
            record
            for record in (session.get(NotificationRecord, i) for i in delivery.notification_ids)
            if record is not None
        ]
        opportunities = []
        for record in records:
            vacancy = session.get(VacancyInfo, record.vacancy_id)
            company = session.get(CompanyInfo, record.company_id)
            opportunity = opportunity_of(record, vacancy, company, self.vocabulary, reader.locale)
            if opportunity.available:
                opportunities.append((record, opportunity))
        if not opportunities:
            raise NothingToSend("the match was withdrawn or the vacancy closed")
        if delivery.kind == "digest":
            frequency = delivery.digest_frequency or "daily"
            included = session.exec(
                select(NotificationRecord.id).where(NotificationRecord.digest == delivery.digest_id)
            ).all()
            more = max(0, len(included) - len(delivery.notification_ids))
            outgoing.message = render_digest(
                reader.locale,
                reader.name,
                frequency,
                [o for _, o in opportunities],
                links,
                reader.zone,
                more,
            )
        else:
            outgoing.message = render_match(
                reader.locale, reader.name, opportunities[0][1], links, reader.zone
            )
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

    def _agenda(self, session: Session, outgoing: Outgoing, reader: _Reader) -> None:
        delivery = outgoing.delivery
        agenda = session.get(AgendaRecord, delivery.agenda_id or "")
        if agenda is None:
            raise NothingToSend("the agenda is no longer known")
        name = reader.name
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
            reader.locale, name, agenda.event_name, agenda.venue, slots, reader.zone, reader.links
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

    def _body(self, delivery: DeliveryRecord, payload: dict[str, Any]) -> bytes:
        """The JSON a webhook receives."""
        document = {
            "delivery_id": delivery.id,
            "kind": delivery.kind,
            "recipient_id": delivery.recipient_id,
            "recipient_kind": delivery.recipient_kind,
            "region": self.region,
            **payload,
        }
        return json.dumps(document, default=_json_default, ensure_ascii=False).encode()


def _json_default(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


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
