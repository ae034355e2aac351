"""Pure logic of the vacancies service: records to contract snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from interlocality.contracts.companies import Company
from interlocality.contracts.vacancies import Vacancy
from interlocality.vacancies.store import CompanyRecord, VacancyRecord

__all__ = ["company_of", "vacancy_of"]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def company_of(record: CompanyRecord) -> Company:
    """The wire snapshot of a stored company."""
    return Company(
        company_id=record.id,
        name=record.name,
        city=record.city,
        version=record.version,
        updated_at=_aware(record.updated_at),
    )


def vacancy_of(record: VacancyRecord) -> Vacancy:
    """The wire snapshot of a stored vacancy."""
    return Vacancy.model_validate(
        {
            "vacancy_id": record.id,
            "company_id": record.company_id,
            "title": record.title,
            "kind": record.kind,
            "required_skills": record.required_skills,
            "languages": record.languages,
            "status": record.status,
            "version": record.version,
            "updated_at": _aware(record.updated_at),
        }
    )
