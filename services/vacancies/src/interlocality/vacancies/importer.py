"""Bulk import of companies and vacancies, idempotent by the operator's external ids: rows
parsed and checked here, stored by :class:`VacancyService`."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from interlocality.common.bulk import (
    ImportFormat,
    ImportReport,
    RowError,
    RowRejected,
    split_list,
    validate_rows,
    yes_or_no,
)
from interlocality.common.esco import EscoVocabulary
from interlocality.common.vocabulary_checks import resolve_skill_labels, unknown_skill_errors
from interlocality.vacancies.domain import CompanyForm, VacancyForm
from interlocality.vacancies.service import VacancyService
from interlocality.vacancies.store import CompanyRecord, by_external_id

__all__ = ["CompanyImporter", "VacancyImporter", "company_row", "vacancy_row"]

LIST_FIELDS = ("work_languages", "social_languages", "export_markets")


def company_row(row: dict[str, str]) -> dict[str, Any]:
    """A company CSV row as form fields (lists ``;``-separated, ``contact_*`` columns)."""
    data: dict[str, Any] = {}
    for key, raw in row.items():
        value = (raw or "").strip()
        if not value:
            continue
        if key in LIST_FIELDS:
            data[key] = split_list(value)
        elif key.startswith("contact_"):
            data.setdefault("contact", {})[key.removeprefix("contact_")] = value
        else:
            data[key] = value
    return data


def _skills(value: str) -> list[dict[str, Any]]:
    skills = []
    for item in split_list(value):
        name, _, level = item.rpartition("|")
        skills.append({"uri": name or item, "min_level": level if name else 1})
    return skills


def vacancy_row(row: dict[str, str]) -> dict[str, Any]:
    """A vacancy CSV row as form fields.

    ``required_skills``/``nice_to_have_skills`` as ``URI-or-label|min_level;…``,
    ``languages`` as ``code:level`` or ``code:level:nice``, ``curricular`` as yes/no;
    ``company_external_id`` may name the company instead of ``company_id``.
    """
    data: dict[str, Any] = {}
    for key, raw in row.items():
        value = (raw or "").strip()
        if not value:
            continue
        if key in ("required_skills", "nice_to_have_skills"):
            data[key] = _skills(value)
        elif key == "languages":
            languages = []
            for item in split_list(value):
                parts = item.split(":")
                entry: dict[str, Any] = dict(zip(("code", "min_level"), parts, strict=False))
                if len(parts) > 2:
                    entry["required"] = parts[2].lower() != "nice"
                languages.append(entry)
            data["languages"] = languages
        elif key == "curricular":
            data[key] = yes_or_no(key, value)
        else:
            data[key] = value
    return data


class CompanyImporter:
    """Applies batches of company rows."""

    csv_columns = (("name",),)

    def __init__(self, service: VacancyService, fmt: ImportFormat) -> None:
        self.service = service
        self.fmt = fmt

    def form_of(self, row: dict[str, Any]) -> CompanyForm:
        return CompanyForm.model_validate(company_row(row) if self.fmt == "csv" else row)

    def __call__(self, batch: list[tuple[int, dict[str, Any]]], report: ImportReport) -> None:
        forms = validate_rows(batch, self.form_of, report)
        if forms:
            self.service.import_companies(forms, report)


class VacancyImporter:
    """Applies batches of vacancy rows; companies are found by id or external id."""

    csv_columns = (
        ("company_external_id", "company_id"),
        ("title",),
        ("kind",),
        ("required_skills",),
    )

    def __init__(
        self, service: VacancyService, vocabulary: EscoVocabulary, fmt: ImportFormat
    ) -> None:
        self.service = service
        self.vocabulary = vocabulary
        self.fmt = fmt
        self._companies: dict[str, str] = {}

    def _company_id(self, session: Session, row: dict[str, Any]) -> None:
        external = row.pop("company_external_id", None)
        if external and "company_id" not in row:
            if external not in self._companies:
                found = by_external_id(session, CompanyRecord, [external]).get(external)
                if found is None:
                    raise RowRejected(
                        "company_external_id", f"no company with external_id {external!r}"
                    )
                self._companies[external] = found.id
            row["company_id"] = self._companies[external]
        elif "company_id" in row and session.get(CompanyRecord, row["company_id"]) is None:
            raise RowRejected("company_id", f"no company {row['company_id']!r} in this region")

    def __call__(self, batch: list[tuple[int, dict[str, Any]]], report: ImportReport) -> None:
        with Session(self.service.runtime.engine) as lookup:

            def parse(row: dict[str, Any]) -> VacancyForm:
                data = vacancy_row(row) if self.fmt == "csv" else dict(row)
                for field in ("required_skills", "nice_to_have_skills"):
                    if isinstance(data.get(field), list):
                        resolve_skill_labels(self.vocabulary, data[field], field)
                self._company_id(lookup, data)
                return VacancyForm.model_validate(data)

            forms = validate_rows(batch, parse, report, self._known_skills)
        if forms:
            self.service.import_vacancies(forms, report)

    def _known_skills(self, form: VacancyForm) -> list[RowError]:
        errors = unknown_skill_errors(
            self.vocabulary, [s.uri for s in form.required_skills], "required_skills"
        ) + unknown_skill_errors(
            self.vocabulary, [s.uri for s in form.nice_to_have_skills], "nice_to_have_skills"
        )
        return [RowError(0, field, message) for field, message in errors]
