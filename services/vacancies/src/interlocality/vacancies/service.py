"""The service layer of vacancies: every write is one method, one transaction that stores
the state and stages the events it causes. The HTTP routes, the importer, the expiry timer
and the Kafka handlers all call it, so a rule is written once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlmodel import Session

from interlocality.common.bulk import ImportReport, RowError, fingerprint
from interlocality.common.db import insert_missing
from interlocality.common.service import ServiceRuntime
from interlocality.contracts.applications import ApplicationSubmitted, PlacementMade
from interlocality.vacancies.domain import CompanyForm, VacancyForm, company_key
from interlocality.vacancies.events import company_event, funnel_event, vacancy_event
from interlocality.vacancies.store import (
    ApplicationRecord,
    CompanyRecord,
    KnownStudent,
    VacancyRecord,
    application_of,
    applications_of_student,
    applications_to,
    by_external_id,
    company_with_key,
    expired_vacancies,
    holder_of_external_id,
)

__all__ = [
    "AppliedAlready",
    "CompanyRegisteredAlready",
    "ExternalIdTaken",
    "NoSuchCompany",
    "NoSuchStudent",
    "NoSuchVacancy",
    "NotApplied",
    "Refused",
    "TransitionRefused",
    "VacancyService",
    "stored_vacancy",
]

RecordT = TypeVar("RecordT", CompanyRecord, VacancyRecord)
FormT = TypeVar("FormT", CompanyForm, VacancyForm)


class Refused(Exception):
    """A use case that the stored state does not allow; nothing of it is stored."""


class NoSuchVacancy(Refused):
    def __init__(self, vacancy_id: str) -> None:
        super().__init__(f"no vacancy {vacancy_id}")


class NoSuchCompany(Refused):
    def __init__(self, company_id: str) -> None:
        super().__init__(f"no company {company_id!r} is registered in this region")
        self.company_id = company_id


class NoSuchStudent(Refused):
    def __init__(self, student_id: str) -> None:
        super().__init__(f"no student {student_id!r} in this region")


class AppliedAlready(Refused):
    def __init__(self) -> None:
        super().__init__("the student has applied already")


class NotApplied(Refused):
    def __init__(self) -> None:
        super().__init__("the student has not applied to this vacancy")


class TransitionRefused(Refused):
    """A lifecycle step that the vacancy's current status does not allow."""


class CompanyRegisteredAlready(Refused):
    """Another company of the same name is registered in the same city."""

    def __init__(self, form: CompanyForm, existing_id: str) -> None:
        where = f" in {form.city}" if form.city else " without a city"
        super().__init__(f"{form.name!r} is registered{where} already, as company {existing_id}")
        self.name = form.name
        self.existing_id = existing_id


class ExternalIdTaken(Refused):
    """The operator's own id already names another company or vacancy."""

    def __init__(self, kind: str, external_id: str, existing_id: str) -> None:
        super().__init__(f"external_id {external_id!r} belongs to {kind} {existing_id} already")
        self.kind = kind
        self.external_id = external_id
        self.existing_id = existing_id


def stored_vacancy(session: Session, vacancy_id: str, *, to_change: bool = False) -> VacancyRecord:
    """The vacancy ``vacancy_id``, or :class:`NoSuchVacancy`. Read ``to_change``, its row
    stays locked until the transaction ends (PostgreSQL): a second writer of the same
    vacancy waits and reads what the first wrote, so two changes never take one version
    number, nor two placements one free position."""
    record = session.get(
        VacancyRecord, vacancy_id, with_for_update=to_change, populate_existing=to_change
    )
    if record is None:
        raise NoSuchVacancy(vacancy_id)
    return record


class VacancyService:
    """Stores companies, vacancies and the funnel, staging the events they cause."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def company_of_vacancy(self, vacancy_id: str) -> str | None:
        """The company that owns ``vacancy_id``; None for no such vacancy."""
        with self.runtime.reading() as session:
            record = session.get(VacancyRecord, vacancy_id)
        return record.company_id if record is not None else None

    # -- companies ----------------------------------------------------------------------

    def register_company(self, form: CompanyForm) -> CompanyRecord:
        """A new company; one of the same name in the same city is refused."""
        now = datetime.now(UTC)
        digest = fingerprint(form)
        record = _new_company(form, digest, now)
        with self.runtime.transaction() as session:
            self._store_company(session, record, form, digest, now)
        return record

    def import_companies(
        self, forms: Sequence[tuple[int, CompanyForm]], report: ImportReport
    ) -> None:
        """Create or update the companies of a batch of import rows, by external id."""
        self._import(CompanyRecord, forms, report, _new_company, self._store_company)

    def _store_company(
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
        self.runtime.emit(session, company_event(self.runtime, record))

    # -- vacancies ----------------------------------------------------------------------

    def create_vacancy(self, form: VacancyForm) -> VacancyRecord:
        """A new vacancy of a registered company, a draft or open at once."""
        now = datetime.now(UTC)
        digest = fingerprint(form)
        with self.runtime.transaction() as session:
            if session.get(CompanyRecord, form.company_id) is None:
                raise NoSuchCompany(form.company_id)
            record = _new_vacancy(form, digest, now)
            self._store_vacancy(session, record, form, digest, now)
        return record

    def import_vacancies(
        self, forms: Sequence[tuple[int, VacancyForm]], report: ImportReport
    ) -> None:
        """Create or update the vacancies of a batch of import rows, by external id."""
        self._import(VacancyRecord, forms, report, _new_vacancy, self._store_vacancy)

    def _store_vacancy(
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

    def publish(self, vacancy_id: str) -> VacancyRecord:
        """Draft → open."""
        with self.runtime.transaction() as session:
            record = stored_vacancy(session, vacancy_id, to_change=True)
            if record.status == "open":
                return record
            if record.status != "draft":
                raise TransitionRefused(f"a {record.status} vacancy cannot be published again")
            record.status = "open"
            self._changed(session, record, datetime.now(UTC))
        return record

    def close(self, vacancy_id: str) -> VacancyRecord:
        """Draft or open → closed (closing twice is one change)."""
        with self.runtime.transaction() as session:
            record = stored_vacancy(session, vacancy_id, to_change=True)
            if record.status not in ("closed", "filled", "expired"):
                record.status = "closed"
                self._changed(session, record, datetime.now(UTC))
        return record

    def expire_due(self, today: date | None = None) -> int:
        """Open vacancies past their application deadline (by ``today``, else the date
        today) → expired; returns how many."""
        today = today or datetime.now(UTC).date()
        with self.runtime.transaction() as session:
            due = expired_vacancies(session, today)
            for record in due:
                record.status = "expired"
                self._changed(session, record, datetime.now(UTC))
        return len(due)

    # -- the funnel ---------------------------------------------------------------------

    def apply(self, vacancy_id: str, student_id: str) -> ApplicationRecord:
        """A student the region knows applies to an open vacancy, once."""
        with self.runtime.transaction() as session:
            record = stored_vacancy(session, vacancy_id, to_change=True)
            if session.get(KnownStudent, student_id) is None:
                raise NoSuchStudent(student_id)
            if application_of(session, vacancy_id, student_id) is not None:
                raise AppliedAlready()
            if record.status != "open":
                raise TransitionRefused(f"the vacancy is {record.status}: applications are closed")
            application = ApplicationRecord(
                id=str(uuid.uuid4()), vacancy_id=record.id, student_id=student_id
            )
            session.add(application)
            self._funnel(session, ApplicationSubmitted, record, student_id, application.applied_at)
        return application

    def place(self, vacancy_id: str, student_id: str) -> VacancyRecord:
        """A student who applied is hired; the last free position fills the vacancy."""
        with self.runtime.transaction() as session:
            record = stored_vacancy(session, vacancy_id, to_change=True)
            application = application_of(session, vacancy_id, student_id)
            if application is None:
                raise NotApplied()
            if application.placed:
                return record
            if record.status != "open":
                raise TransitionRefused(f"the vacancy is {record.status}: no position is free")
            now = datetime.now(UTC)
            application.placed = True
            application.placed_at = now
            session.add(application)
            self._funnel(session, PlacementMade, record, student_id, now)
            filled = sum(1 for a in applications_to(session, record.id) if a.placed)
            record.positions_filled = filled
            if filled >= record.positions:
                record.status = "filled"
                self._changed(session, record, now)
            else:
                session.add(record)
        return record

    # -- students, told by the profiles service -----------------------------------------

    def know_student(self, session: Session, student_id: str) -> None:
        """A student of the region, who may now apply."""
        insert_missing(session, KnownStudent, [{"id": student_id}])

    def erase_student(self, session: Session, student_id: str) -> None:
        """Forget a student and their applications (the vacancies' counts stay), their
        rows in the outbox too."""
        self.runtime.forget_in_outbox(session, student_id)
        for application in applications_of_student(session, student_id):
            session.delete(application)
        known = session.get(KnownStudent, student_id)
        if known is not None:
            session.delete(known)

    # -- shared steps -------------------------------------------------------------------

    def _import(
        self,
        model: type[RecordT],
        forms: Sequence[tuple[int, FormT]],
        report: ImportReport,
        new: Callable[[FormT, str, datetime], RecordT],
        store: Callable[[Session, RecordT, FormT, str, datetime], None],
    ) -> None:
        """Store the rows of one import batch in one transaction: a row whose external id
        is stored with the same content is unchanged, a company registered under another
        id is a row error."""
        now = datetime.now(UTC)
        with self.runtime.transaction() as session:
            existing = by_external_id(
                session, model, [f.external_id for _, f in forms if f.external_id], to_change=True
            )
            for line, form in forms:
                record = existing.get(form.external_id or "")
                digest = fingerprint(form)
                if record is not None and record.content_hash == digest:
                    report.unchanged += 1
                    continue
                created = record is None
                record = record or new(form, digest, now)
                try:
                    store(session, record, form, digest, now)
                except CompanyRegisteredAlready as exc:
                    report.failed += 1
                    report.add_error(RowError(line, "name", str(exc)))
                    continue
                if created:
                    existing[form.external_id or ""] = record
                    report.created += 1
                else:
                    report.updated += 1

    def _funnel(
        self,
        session: Session,
        event_type: type[ApplicationSubmitted] | type[PlacementMade],
        record: VacancyRecord,
        student_id: str,
        at: datetime,
    ) -> None:
        self.runtime.emit(session, funnel_event(self.runtime, event_type, record, student_id, at))

    def _changed(self, session: Session, record: VacancyRecord, now: datetime) -> None:
        record.version += 1
        record.updated_at = now
        session.add(record)
        event = vacancy_event(self.runtime, record)
        if event is not None:  # drafts stay inside the service
            self.runtime.emit(session, event)


def _new_company(form: CompanyForm, digest: str, now: datetime) -> CompanyRecord:
    """An unsaved company record for ``form``."""
    return CompanyRecord(id=str(uuid.uuid4()), name=form.name, content_hash=digest, version=0)


def _new_vacancy(form: VacancyForm, digest: str, now: datetime) -> VacancyRecord:
    """An unsaved vacancy record for ``form``."""
    return VacancyRecord(
        id=str(uuid.uuid4()),
        company_id=form.company_id,
        status=form.status,
        content_hash=digest,
        version=0,
        created_at=now,
    )
