"""Bulk imports of companies and vacancies: every bad row reported, re-imports idempotent."""

from __future__ import annotations

import io

from interlocality.common.bulk import ImportReport, iter_rows, run_import
from interlocality.common.esco import region_vocabulary
from interlocality.vacancies.domain import CompanyForm
from interlocality.vacancies.importer import CompanyImporter, VacancyImporter
from interlocality.vacancies.service import VacancyService
from interlocality.vacancies.store import CompanyRecord, VacancyRecord, page, vacancies_where

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"


def import_companies(service: VacancyService, body: str) -> ImportReport:
    return run_import(iter_rows(io.BytesIO(body.encode()), "csv"), CompanyImporter(service, "csv"))


def test_import_companies_then_vacancies_by_external_id(service: VacancyService) -> None:
    companies = (
        "external_id,name,employees,sector,country,export_markets,city\n"
        "c-1,Maas Logistics BV,40,52,NL,DE;BE,Venlo\n"
        "c-2,Broken BV,-3,52,NL,,Venlo\n"
    )
    vacancies = (
        "external_id,company_external_id,title,kind,required_skills,languages,curricular\n"
        f"v-1,c-1,Planner,internship,{PYTHON}|2,en:B2;nl:B1:nice,yes\n"
        f"v-2,c-9,Planner,internship,{PYTHON}|2,en:B2,no\n"
        "v-3,c-1,Planner,internship,pyton programing|2,en:B2,\n"
        f"v-4,c-1,Planner,internship,{PYTHON}|2,en:B2,sometimes\n"
    )
    vocabulary = region_vocabulary(service.runtime.settings.esco_labels)

    def import_vacancies() -> ImportReport:
        rows = iter_rows(io.BytesIO(vacancies.encode()), "csv")
        return run_import(rows, VacancyImporter(service, vocabulary, "csv"))

    first = import_companies(service, companies)
    assert (first.created, first.failed) == (1, 1)
    assert first.errors[0].line == 3 and first.errors[0].field == "employees"
    second = import_vacancies()
    assert (second.created, second.failed) == (1, 3)
    assert {(e.line, e.field) for e in second.errors} == {
        (3, "company_external_id"),
        (4, "required_skills.0.uri"),
        (5, "curricular"),
    }
    again = import_vacancies()
    assert (again.created, again.unchanged) == (0, 1)
    with service.runtime.reading() as session:
        listed = page(session, VacancyRecord, None, 50, *vacancies_where("open", None))
        assert [v.document["external_id"] for v in listed] == ["v-1"]
        assert listed[0].document["curricular"] is True
        nice = listed[0].document["languages"][1]
        assert (nice["code"], nice["required"]) == ("nl", False)
        by_own_id = page(session, VacancyRecord, None, 50, *vacancies_where(None, "v-1"))
        assert [v.id for v in by_own_id] == [listed[0].id]
        assert page(session, VacancyRecord, None, 50, *vacancies_where(None, "v-2")) == []


def test_an_import_refuses_a_company_registered_under_another_id_and_stays_idempotent(
    service: VacancyService,
) -> None:
    companies = (
        "external_id,name,city\n"
        "c-1,Müller & Søn GmbH,Leipzig\n"
        "c-2,MULLER & SON GMBH,Leipzig\n"  # the same company under a second own id
        "c-3,Müller & Søn GmbH,Dresden\n"
    )
    registered = service.register_company(CompanyForm(name="Kaffee Kontor", city="Halle"))
    first = import_companies(service, companies + "c-4,Kaffee  Kontor,halle\n")
    assert (first.created, first.failed) == (2, 2)
    errors = {e.line: e for e in first.errors}
    assert {line: e.field for line, e in errors.items()} == {3: "name", 5: "name"}
    assert registered.id in errors[5].message
    again = import_companies(service, companies)
    assert (again.created, again.unchanged, again.failed) == (0, 2, 1)
    renamed = import_companies(service, "external_id,name,city\nc-1,Müller & Söhne GmbH,Leipzig\n")
    assert (renamed.updated, renamed.failed) == (1, 0)
    moved = import_companies(service, "external_id,name,city\nc-3,Müller & Söhne GmbH,Leipzig\n")
    assert (moved.updated, moved.failed) == (0, 1)
    with service.runtime.reading() as session:
        by_name = {c.name: c for c in page(session, CompanyRecord, None, 50)}
    assert by_name["Müller & Söhne GmbH"].version == 2
