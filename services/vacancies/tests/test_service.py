"""The vacancy lifecycle and the funnel, called on the service layer on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from interlocality.vacancies.domain import CompanyForm, VacancyForm
from interlocality.vacancies.service import (
    AppliedAlready,
    CompanyRegisteredAlready,
    NoSuchCompany,
    NoSuchStudent,
    NotApplied,
    TransitionRefused,
    VacancyService,
    stored_vacancy,
)
from interlocality.vacancies.store import CompanyRecord, count, held_on_student

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
Staged = Callable[[], list[tuple[str, str]]]


def company(service: VacancyService, **changes: Any) -> str:
    form = CompanyForm.model_validate(
        {
            "name": "Oulu Robotics Oy",
            "employees": 35,
            "sector": "28",
            "country": "FI",
            "work_languages": ["en", "fi"],
            "social_languages": ["fi"],
            "export_markets": ["SE", "DE"],
            **changes,
        }
    )
    return service.register_company(form).id


def vacancy(company_id: str, **changes: Any) -> VacancyForm:
    return VacancyForm.model_validate(
        {
            "company_id": company_id,
            "title": "Robotics thesis",
            "kind": "thesis",
            "required_skills": [{"uri": PYTHON, "min_level": 3}],
            "positions": 2,
            **changes,
        }
    )


def test_draft_open_applications_placements_fill_the_vacancy(
    service: VacancyService, staged: Staged
) -> None:
    with service.runtime.transaction() as session:
        for student in ("s-1", "s-2"):
            service.know_student(session, student)
    draft = service.create_vacancy(vacancy(company(service), status="draft"))
    assert draft.status == "draft"
    with pytest.raises(TransitionRefused):
        service.apply(draft.id, "s-1")
    assert service.publish(draft.id).status == "open"
    with pytest.raises(NoSuchStudent):
        service.apply(draft.id, "nobody")
    for student in ("s-1", "s-2"):
        assert service.apply(draft.id, student).student_id == student
    with pytest.raises(AppliedAlready):
        service.apply(draft.id, "s-1")
    with pytest.raises(NotApplied):
        service.place(draft.id, "nobody")
    assert service.place(draft.id, "s-1").status == "open"
    filled = service.place(draft.id, "s-2")
    assert (filled.status, filled.positions_filled) == ("filled", 2)
    with pytest.raises(TransitionRefused):
        service.publish(draft.id)

    assert [event_type for event_type, _ in staged()] == [
        "CompanyRegistered",
        "VacancyPublished",
        "ApplicationSubmitted",
        "ApplicationSubmitted",
        "PlacementMade",
        "PlacementMade",
        "VacancyFilled",
    ]


def test_an_erasure_replayed_or_of_a_student_never_seen_is_a_no_op(
    service: VacancyService, staged: Staged
) -> None:
    with service.runtime.transaction() as session:
        service.know_student(session, "s-Åsa-Muñoz")
    opened = service.create_vacancy(vacancy(company(service)))
    service.apply(opened.id, "s-Åsa-Muñoz")
    # the second one as a replay after the broker lost its log brings it again
    for student in ("s-Åsa-Muñoz", "s-Åsa-Muñoz", "s-Ilgın-Øre"):
        with service.runtime.transaction() as session:
            service.erase_student(session, student)
    with service.runtime.reading() as session:
        assert held_on_student(session, "s-Åsa-Muñoz") == {"applications": []}
    with pytest.raises(NoSuchStudent):
        service.apply(opened.id, "s-Åsa-Muñoz")
    assert [event_type for event_type, _ in staged()] == ["CompanyRegistered", "VacancyPublished"]


def test_vacancies_past_their_deadline_expire_on_their_own(
    service: VacancyService, staged: Staged
) -> None:
    deadline = date.today() + timedelta(days=3)
    company_id = company(service)
    due = service.create_vacancy(vacancy(company_id, application_deadline=deadline))
    later = service.create_vacancy(
        vacancy(company_id, application_deadline=deadline + timedelta(days=30))
    )
    assert service.expire_due(deadline + timedelta(days=1)) == 1
    with service.runtime.reading() as session:
        assert stored_vacancy(session, due.id).status == "expired"
        assert stored_vacancy(session, later.id).status == "open"
    assert [key for event_type, key in staged() if event_type == "VacancyExpired"] == [due.id]


def test_a_vacancy_of_an_unknown_company_is_refused_and_nothing_staged(
    service: VacancyService, staged: Staged
) -> None:
    with pytest.raises(NoSuchCompany):
        service.create_vacancy(vacancy("no-such-company"))
    assert staged() == []


def test_a_second_company_of_one_name_in_one_city_is_refused_naming_the_first(
    service: VacancyService, staged: Staged
) -> None:
    first_id = company(service, name="Ærø Café ApS", city="Århus")
    for name, city in (("Ærø Café ApS", "Århus"), ("aerø  cafe aps", "ARHUS")):
        with pytest.raises(CompanyRegisteredAlready) as refused:
            company(service, name=name, city=city)
        assert refused.value.existing_id == first_id
        assert first_id in str(refused.value)
    company(service, name="Ærø Café ApS", city="Odense")
    company(service, name="Ærø Bageri", city="Århus")
    with service.runtime.reading() as session:
        assert count(session, CompanyRecord) == 3
    assert [event_type for event_type, _ in staged()] == ["CompanyRegistered"] * 3
