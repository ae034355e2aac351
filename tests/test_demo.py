"""The demo region `make run` seeds is what the services accept, and shows every choice a
student has for hearing of matches."""

from __future__ import annotations

from interlocality.common.demo import build_demo_region
from interlocality.common.esco import default_vocabulary
from interlocality.profiles.domain import StudentForm
from interlocality.vacancies.domain import CompanyForm, VacancyForm


def test_demo_bodies_are_valid_forms() -> None:
    region = build_demo_region(default_vocabulary())

    for body in region.companies:
        CompanyForm.model_validate(body)
    for _, body in region.vacancies:
        VacancyForm.model_validate({**body, "company_id": "c-1"})
    students = [StudentForm.model_validate(body) for body in region.students]

    assert len(students) == 12
    assert len({s.email for s in students}) == 12


def test_demo_students_use_every_locale_channel_and_frequency() -> None:
    region = build_demo_region(default_vocabulary())
    choices = [StudentForm.model_validate(b).notification_preferences for b in region.students]

    assert {c.locale for c in choices} == {"en", "da", "de", "nl", "fi", "it"}
    assert {c.frequency for c in choices} == {"instant", "daily", "weekly"}
    instant_mail = [c for c in choices if c.frequency == "instant" and "email" in c.channels]
    assert {c.locale for c in instant_mail} == {"en", "da", "de", "nl", "fi", "it"}
    assert any(c.channels == ["in_app"] for c in choices)
