"""Writes of the vacancies service: each state change and its event in one transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlmodel import Session

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.applications import ApplicationSubmitted, FunnelStep, PlacementMade
from interlocality.contracts.companies import CompanyRegistered
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.vacancies import (
    Vacancy,
    VacancyClosed,
    VacancyExpired,
    VacancyFilled,
    VacancyPublished,
)
from interlocality.vacancies.domain import (
    CompanyForm,
    VacancyForm,
    company_key,
    company_of,
    vacancy_of,
)
from interlocality.vacancies.store import (
    ApplicationRecord,
    CompanyRecord,
    VacancyRecord,
    applications_to,
    company_with_key,
    expired_vacancies,
    holder_of_external_id,
)

__all__ = ["CompanyRegisteredAlready", "ExternalIdTaken", "Lifecycle", "TransitionRefused"]

EVENT_OF_STATUS = {
    "open": VacancyPublished,
    "closed": VacancyClosed,
    "filled": VacancyFilled,
    "expired": VacancyExpired,
}


class TransitionRefused(ValueError):
    """A lifecycle step that the vacancy's current status does not allow."""


class CompanyRegisteredAlready(ValueError):
    """Another company of the same name is registered in the same city."""

    def __init__(self, form: CompanyForm, existing_id: str) -> None:
        where = f" in {form.city}" if form.city else " without a city"
        super().__init__(f"{form.name!r} is registered{where} already, as company {existing_id}")
        self.existing_id = existing_id


class ExternalIdTaken(ValueError):
    """The operator's own id already names another company or vacancy."""

    def __init__(self, kind: str, external_id: str, existing_id: str) -> None:
        super().__init__(f"external_id {external_id!r} belongs to {kind} {existing_id} already")
        self.existing_id = existing_id


class Lifecycle:
    """Stores companies, vacancies and the funnel, staging the events they cause."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def new_company(self, form: CompanyForm) -> CompanyRecord:
        """An unsaved company record for ``form``."""
        return CompanyRecord(id=str(uuid.uuid4()), name=form.name, content_hash="", version=0)

    def store_company(
        self,
        session: Session,
        record: CompanyRecord,
        form: CompanyForm,
        digest: str,
        now: datetime,
    ) -> None:
        """Save a new or changed company and publish its snapshot.

        A second company of the same name in the same city is refused: the operator most
        likely registers one company twice (compared as :func:`company_key` says).
        """
        name_key = company_key(form.name, form.city)
        existing = company_with_key(session, name_key, record.id)
        if existing is not None:
            raise CompanyRegisteredAlready(form, existing.id)
        holder = holder_of_external_id(session, CompanyRecord, form.external_id, record.id)
        if holder is not None:
            raise ExternalIdTaken("company", str(form.external_id), holder)
        record.name_key = name_key
        record.external_id = form.external_id
        record.name = form.name
        record.document = form.model_dump(mode="json")
        record.content_hash = digest
        record.version += 1
        record.updated_at = now
        session.add(record)
        self.runtime.emit(session, self.company_event(record))

    def company_event(self, record: CompanyRecord) -> CompanyRegistered:
        """The snapshot event of a stored company (the same id for the same version)."""
        return self.runtime.event(
            CompanyRegistered,
            subject=record.id,
            data=company_of(
                company_id=record.id,
                document=record.document,
                version=record.version,
                updated_at=record.updated_at,
            ),
            version=record.version,
        )

    def vacancy_event(self, record: VacancyRecord) -> CloudEvent[Vacancy] | None:
        """The snapshot event of a stored vacancy; drafts have none."""
        event_type = EVENT_OF_STATUS.get(record.status)
        if event_type is None:
            return None
        return self.runtime.event(
            event_type,
            subject=record.id,
            data=vacancy_of(
                vacancy_id=record.id,
                status=record.status,
                document=record.document,
                version=record.version,
                updated_at=record.updated_at,
            ),
            version=record.version,
        )

    def new_vacancy(self, form: VacancyForm, digest: str, now: datetime) -> VacancyRecord:
        """An unsaved vacancy record for ``form``."""
        return VacancyRecord(
            id=str(uuid.uuid4()),
            company_id=form.company_id,
            status=form.status,
            content_hash=digest,
            version=0,
            created_at=now,
        )

    def store_vacancy(
        self,
        session: Session,
        record: VacancyRecord,
        form: VacancyForm,
        digest: str,
        now: datetime,
    ) -> None:
        """Save a new or edited vacancy; an edit of a published one republishes it."""
        holder = holder_of_external_id(session, VacancyRecord, form.external_id, record.id)
        if holder is not None:
            raise ExternalIdTaken("vacancy", str(form.external_id), holder)
        record.external_id = form.external_id
        record.company_id = form.company_id
        record.application_deadline = form.application_deadline
        record.positions = form.positions
        record.document = form.model_dump(mode="json", exclude={"status"})
        record.content_hash = digest
        if record.version == 0 or record.status == "draft":
            record.status = form.status
        self._changed(session, record, now)

    def publish(self, session: Session, record: VacancyRecord) -> None:
        """Draft → open."""
        if record.status == "open":
            return
        if record.status != "draft":
            raise TransitionRefused(f"a {record.status} vacancy cannot be published again")
        record.status = "open"
        self._changed(session, record, datetime.now(UTC))

    def close(self, session: Session, record: VacancyRecord) -> None:
        """Draft or open → closed (closing twice is one change)."""
        if record.status in ("closed", "filled", "expired"):
            return
        record.status = "closed"
        self._changed(session, record, datetime.now(UTC))

    def expire_due(self, session: Session, today: date) -> int:
        """Open vacancies past their application deadline → expired; returns how many."""
        due = expired_vacancies(session, today)
        for record in due:
            record.status = "expired"
            self._changed(session, record, datetime.now(UTC))
        return len(due)

    def apply(self, session: Session, record: VacancyRecord, student_id: str) -> ApplicationRecord:
        """A student applies to an open vacancy."""
        if record.status != "open":
            raise TransitionRefused(f"the vacancy is {record.status}: applications are closed")
        application = ApplicationRecord(
            id=str(uuid.uuid4()), vacancy_id=record.id, student_id=student_id
        )
        session.add(application)
        self._funnel(session, ApplicationSubmitted, record, student_id, application.applied_at)
        return application

    def place(
        self, session: Session, record: VacancyRecord, application: ApplicationRecord
    ) -> None:
        """A student who applied is hired; the last free position fills the vacancy."""
        if application.placed:
            return
        if record.status != "open":
            raise TransitionRefused(f"the vacancy is {record.status}: no position is free")
        now = datetime.now(UTC)
        application.placed = True
        application.placed_at = now
        session.add(application)
        self._funnel(session, PlacementMade, record, application.student_id, now)
        filled = sum(1 for a in applications_to(session, record.id) if a.placed)
        record.positions_filled = filled
        if filled >= record.positions:
            record.status = "filled"
            self._changed(session, record, now)
        else:
            session.add(record)

    def _funnel(
        self,
        session: Session,
        event_type: type[ApplicationSubmitted] | type[PlacementMade],
        record: VacancyRecord,
        student_id: str,
        at: datetime,
    ) -> None:
        self.runtime.emit(
            session,
            self.runtime.event(
                event_type,
                subject=record.id,
                data=FunnelStep(
                    vacancy_id=record.id,
                    company_id=record.company_id,
                    student_id=student_id,
                    kind=str(record.document.get("kind", "")),
                    at=at,
                ),
                version=f"{student_id}",
            ),
        )

    def _changed(self, session: Session, record: VacancyRecord, now: datetime) -> None:
        record.version += 1
        record.updated_at = now
        session.add(record)
        event = self.vacancy_event(record)
        if event is not None:  # drafts stay inside the service
            self.runtime.emit(session, event)
