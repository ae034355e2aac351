from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from interlocality.common.work_rules import RULES_DIR, load_work_rules
from interlocality.contracts.students import Consents
from interlocality.profiles.domain import (
    ConsentChoices,
    StudentForm,
    consents_after,
    form_from_csv_row,
    profile_of,
    snapshot_of_form,
)

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
DK = load_work_rules(RULES_DIR / "dk.toml")


def form(**changes: object) -> StudentForm:
    data: dict[str, object] = {
        "external_id": "au-1",
        "name": "Mei Tanaka",
        "email": "mei.tanaka@students.example.org",
        "study_field": "0613",
        "degree_level": "master",
        "expected_graduation": "2027-06",
        "skills": [{"uri": PYTHON, "level": 4}],
        "languages": [{"code": "en", "level": "C1", "speaking": "B2"}],
        "engagement_kinds": ["thesis", "internship", "thesis"],
        "residence_status": "non_eu_student",
    }
    data.update(changes)
    return StudentForm.model_validate(data)


def fields_of(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in error.errors()}


def test_a_valid_form_keeps_each_kind_once() -> None:
    assert form().engagement_kinds == ["thesis", "internship"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"study_field": "9x"}, "study_field"),
        ({"languages": [{"code": "xx", "level": "B2"}]}, "languages.0.code"),
        ({"languages": [{"code": "en", "level": "B3"}]}, "languages.0.level"),
        ({"hours_per_week": 61}, "hours_per_week"),
        ({"expected_graduation": "2027-13"}, "expected_graduation"),
        ({"available_from": "2030-05-01", "available_until": "2030-04-01"}, "available_until"),
        ({"available_until": str(date.today() - timedelta(days=1))}, "available_until"),
        (
            {"notification_preferences": {"time_zone": "Mars/Olympus"}},
            "notification_preferences.time_zone",
        ),
        ({"notification_preferences": {"locale": "sv"}}, "notification_preferences.locale"),
        ({"email": "no-at-sign"}, "email"),
        ({"skills": [{"uri": PYTHON, "level": 2}, {"uri": PYTHON, "level": 3}]}, "skills"),
    ],
)
def test_bad_values_are_named_by_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        form(**changes)
    assert field in fields_of(caught.value)


def test_consent_times_change_only_when_the_answer_changes() -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    later = datetime(2026, 2, 1, tzinfo=UTC)
    given = consents_after(
        {}, ConsentChoices(matching=True, notifications=True, analytics=True), first
    )
    withdrawn = consents_after(given, ConsentChoices(matching=False), later)
    assert withdrawn["matching"] == {"granted": False, "at": later.isoformat()}
    assert withdrawn["analytics"] == given["analytics"]


def test_a_student_who_says_nothing_has_given_no_consent() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    unsaid = {"granted": False, "at": None}
    assert consents_after({}, ConsentChoices(), now) == dict.fromkeys(
        ("matching", "notifications", "analytics"), unsaid
    )
    assert form().consents.model_fields_set == set()
    only_analytics = consents_after({}, ConsentChoices(analytics=True), now)
    assert only_analytics["analytics"] == {"granted": True, "at": now.isoformat()}
    assert only_analytics["matching"] == only_analytics["notifications"] == unsaid
    # Saying nothing later keeps what was said.
    assert consents_after(only_analytics, ConsentChoices(), now) == only_analytics


def test_the_bulk_snapshot_equals_the_one_built_from_the_stored_record() -> None:
    student = form()
    now = datetime(2026, 3, 1, tzinfo=UTC)
    consents = consents_after({}, student.consents, now)
    stored = profile_of(
        student_id="s-1",
        document=student.model_dump(mode="json", exclude={"consents"}),
        consents=consents,
        version=3,
        updated_at=now,
        rules=DK,
    )
    bulk = snapshot_of_form(
        student_id="s-1",
        form=student,
        consents=Consents.model_validate(consents),
        version=3,
        updated_at=now,
        rules=DK,
    )
    assert bulk.model_dump_json() == stored.model_dump_json()
    assert stored.permitted_work is not None
    assert stored.permitted_work.hours_per_week_term == 20.8
    assert stored.permitted_work.source.startswith("nyidanmark.dk")


def test_csv_cells_become_lists_consents_and_preferences() -> None:
    data = form_from_csv_row(
        {
            "external_id": "au-2",
            "skills": f"{PYTHON}|4; Java (computer programming)|2",
            "languages": "en:C1;da:A2",
            "engagement_kinds": "thesis;internship",
            "consent_matching": "no",
            "notify_channels": "email;in_app",
            "hours_per_week": "",
        },
        str,
    )
    assert data["skills"] == [
        {"uri": PYTHON, "level": "4"},
        {"uri": "Java (computer programming)", "level": "2"},
    ]
    assert data["languages"] == [{"code": "en", "level": "C1"}, {"code": "da", "level": "A2"}]
    assert data["consents"] == {"matching": False}
    assert data["notification_preferences"] == {"channels": ["email", "in_app"]}
    assert "hours_per_week" not in data
