"""The demo region `make run` seeds is what the services accept, and shows the product at work:
every vacancy matches several students of clearly different quality, some pairs are not
matches for a reason the student can read, and students hear of them in every way there is.

The pairs are scored by matching's own index and rules over the snapshots profiles and
vacancies would publish for the demo's request bodies, under every shipped work-rules file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from interlocality.common.esco import default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.common.work_rules import RULES_DIR, region_work_rules
from interlocality.contracts.students import Consents
from interlocality.matching.dating.models import DatingEventRequest
from interlocality.matching.domain import (
    PairEvaluation,
    evaluate_pair,
    market_languages,
    student_entry_of,
    vacancy_entry_of,
)
from interlocality.matching.index import MatchIndex
from interlocality.matching.settings import MatchingSettings
from interlocality.notifications.domain import digest_due
from interlocality.operator.demo import (
    STUDENTS,
    VACANCIES,
    DemoRegion,
    SeededRegion,
    _applicants,
    build_demo_region,
    dating_event_request,
    demo_accounts,
)
from interlocality.profiles.domain import (
    OutcomeForm,
    StudentForm,
    consents_after,
    snapshot_of_form,
)
from interlocality.vacancies.domain import CompanyForm, VacancyForm, vacancy_of

# The demo's dates count from the moment it is seeded, and forms refuse dates in the past.
SEEDED_AT = datetime.now(UTC).replace(minute=40, second=0, microsecond=0)
MIN_SCORE = MatchingSettings.model_fields["match_min_score"].default
SHIPPED_RULES = sorted(path.stem for path in RULES_DIR.glob("*.toml"))


@dataclass
class ScoredDemo:
    """The demo region as matching sees it once every snapshot has arrived."""

    region: DemoRegion
    matches: dict[str, list[tuple[str, float]]]  # vacancy title -> (student name, score)
    pairs: dict[tuple[str, str], PairEvaluation]  # (student name, vacancy title)


def score_demo(rules_name: str) -> ScoredDemo:
    vocabulary = default_vocabulary()
    region = build_demo_region(vocabulary, now=SEEDED_AT)
    rules = region_work_rules(rules_name)
    forms = [StudentForm.model_validate(body) for body in region.students]
    students = {
        f"s{i}": student_entry_of(
            snapshot_of_form(
                student_id=f"s{i}",
                form=form,
                consents=Consents.model_validate(consents_after({}, form.consents, SEEDED_AT)),
                version=1,
                updated_at=SEEDED_AT,
                rules=rules,
            )
        )
        for i, form in enumerate(forms)
    }
    vacancies = {}
    for i, (company, body) in enumerate(region.vacancies):
        form = VacancyForm.model_validate({**body, "company_id": f"c{company}"})
        snapshot = vacancy_of(
            vacancy_id=f"v{i}",
            status="open",
            document=form.model_dump(mode="json", exclude={"status"}),
            version=1,
            updated_at=SEEDED_AT,
        )
        markets = market_languages(region.companies[company].get("export_markets", []))
        vacancies[f"v{i}"] = vacancy_entry_of(snapshot, markets)
    graph = SkillGraph.from_vocabulary(vocabulary)
    index = MatchIndex(graph, MIN_SCORE)
    index.load(students.values(), vacancies.values())
    name = {sid: region.students[int(sid[1:])]["name"] for sid in students}
    return ScoredDemo(
        region,
        matches={
            vacancy.title: [(name[c.student_id], c.score) for c in index.match_vacancy(vacancy)]
            for vacancy in vacancies.values()
        },
        pairs={
            (name[sid], vacancy.title): evaluate_pair(student, vacancy, graph)
            for sid, student in students.items()
            for vacancy in vacancies.values()
        },
    )


@pytest.fixture(scope="module", params=SHIPPED_RULES)
def scored(request: pytest.FixtureRequest) -> ScoredDemo:
    return score_demo(request.param)


def test_demo_bodies_are_valid_forms() -> None:
    region = build_demo_region(default_vocabulary())

    for body in region.companies:
        CompanyForm.model_validate(body)
    for _, body in region.vacancies:
        VacancyForm.model_validate({**body, "company_id": "c-1"})
    students = [StudentForm.model_validate(body) for body in region.students]

    assert len(region.companies) == 8
    assert len(region.vacancies) == 12
    assert len(students) == 25
    assert len({s.email for s in students}) == len(students)
    emails = {s.name: s.email for s in students}
    assert emails["Lucía Romero"] == "lucía.romero@students.example.org"
    assert emails["Elif Yılmaz"] == "elif.yılmaz@students.example.org"
    # Consent is opt-in: the demo's fictional students say they agreed to everything.
    assert all(
        body["consents"] == {"matching": True, "notifications": True, "analytics": True}
        for body in region.students
    )


def test_demo_is_the_same_for_the_same_seed_and_moment() -> None:
    vocabulary = default_vocabulary()

    assert build_demo_region(vocabulary, now=SEEDED_AT) == build_demo_region(
        vocabulary, now=SEEDED_AT
    )
    assert build_demo_region(vocabulary, now=SEEDED_AT) != build_demo_region(
        vocabulary, seed=8, now=SEEDED_AT
    )


def test_vacancies_cover_every_kind_and_the_partner_regions() -> None:
    region = build_demo_region(default_vocabulary(), now=SEEDED_AT)

    assert {body["kind"] for _, body in region.vacancies} == {
        "internship",
        "thesis",
        "student_job",
        "graduate_job",
        "company_project",
    }
    assert {c["country"] for c in region.companies} == {"DK", "DE", "NL", "BE", "FI", "IT"}
    assert all(body["nice_to_have_skills"] for _, body in region.vacancies)
    assert all(body["hours_per_week"] for _, body in region.vacancies)
    statuses = {body["residence_status"] for body in region.students}
    assert {"eu_eea_citizen", "non_eu_student", "non_eu_graduate_job_seeker"} <= statuses


def test_every_vacancy_has_several_matches_of_clearly_different_quality(
    scored: ScoredDemo,
) -> None:
    for title, matches in scored.matches.items():
        scores = [score for _, score in matches]
        assert len(scores) >= 3, f"{title}: {matches}"
        assert max(scores) - min(scores) >= 0.2, f"{title}: {matches}"
    every_score = [score for matches in scored.matches.values() for _, score in matches]
    assert max(every_score) >= 0.9 and min(every_score) < 0.4


def refused_only_for(scored: ScoredDemo, condition: str) -> dict[tuple[str, str], str]:
    """Pairs that would be matches, but for ``condition``: what the student reads."""
    return {
        pair: evaluation.failed[0].detail
        for pair, evaluation in scored.pairs.items()
        if [c.name for c in evaluation.failed] == [condition] and evaluation.score >= MIN_SCORE
    }


def test_some_good_pairs_are_refused_for_a_language_level(scored: ScoredDemo) -> None:
    refused = refused_only_for(scored, "languages")

    assert refused, "no pair is refused for a language level alone"
    assert refused.get(("Wei Zhang", "Backend developer")) == (
        "below the required level in en C1 (has B2)"
    )
    assert refused.get(("Kwame Mensah", "Werkstudent logistics analytics")) == (
        "below the required level in de B2 (has B1)"
    )
    assert ("Sofia Petrova", "Company project: the Spanish market for our machines") in refused


def test_some_good_pairs_are_refused_for_the_hours_a_non_eu_student_may_work(
    scored: ScoredDemo,
) -> None:
    refused = refused_only_for(scored, "permit")

    assert refused, "no pair is refused for the permitted hours alone"
    assert ("Camila Restrepo", "Marketing internship (full time)") in refused
    assert all("32 h a week exceed" in detail for detail in refused.values()), refused
    # a curricular internship is outside the limit: the same student may take that one
    internship = scored.pairs[("Kwame Mensah", "Curricular internship in green logistics")]
    assert internship.conditions_met
    assert "curricular internship is outside the limit" in internship.permit


def test_a_good_pair_is_refused_because_the_student_is_not_available_yet(
    scored: ScoredDemo,
) -> None:
    refused = refused_only_for(scored, "availability")

    assert ("Björn Håkansson", "Company project: an accessible booking page") in refused
    assert "before the student is available" in next(iter(refused.values()))


def test_every_student_hears_of_at_least_one_match(scored: ScoredDemo) -> None:
    matched = {name for matches in scored.matches.values() for name, _ in matches}

    assert matched == {student.name for student in STUDENTS}


def test_students_hear_in_every_locale_at_once_and_by_digest() -> None:
    region = build_demo_region(default_vocabulary(), now=SEEDED_AT)
    choices = [StudentForm.model_validate(b).notification_preferences for b in region.students]

    instant_mail = [c for c in choices if c.frequency == "instant" and "email" in c.channels]
    assert {c.locale for c in instant_mail} == {"en", "da", "de", "nl", "fi", "it"}
    assert {c.frequency for c in choices} == {"instant", "daily", "weekly"}
    assert any(c.channels == ["in_app"] for c in choices)
    assert any(c.min_score > 0 for c in choices)


def test_a_daily_digest_falls_due_within_the_hour_after_seeding() -> None:
    region = build_demo_region(default_vocabulary(), now=SEEDED_AT)
    daily = [
        StudentForm.model_validate(b).notification_preferences
        for b in region.students
        if b["notification_preferences"].get("frequency") == "daily"
    ]
    # notifications starts a student's digest clock when it hears of them
    heard_of = SEEDED_AT + timedelta(minutes=1)

    assert daily
    for choice in daily:
        due = [
            minutes
            for minutes in range(0, 24 * 60)
            if digest_due(
                heard_of + timedelta(minutes=minutes),
                heard_of,
                choice.time_zone,
                choice.frequency,
                choice.digest_hour,
                choice.digest_weekday,
            )
        ]
        assert due and due[0] <= 60, (choice, due[:1])


def test_dating_event_is_a_weekday_afternoon_soon_with_every_participant() -> None:
    vocabulary = default_vocabulary()
    region = build_demo_region(vocabulary, now=SEEDED_AT)
    seeded = SeededRegion(
        region,
        company_ids=[f"c{i}" for i in range(len(region.companies))],
        vacancy_ids=[f"v{i}" for i in range(len(region.vacancies))],
        student_ids=[f"s{i}" for i in range(len(region.students))],
    )

    today = SEEDED_AT.date()
    request = DatingEventRequest.model_validate(
        dating_event_request(seeded, "Europe/Copenhagen", today=today)
    )

    first = request.slot_starts[0].astimezone(ZoneInfo("Europe/Copenhagen"))
    assert first.weekday() < 5
    assert today + timedelta(days=3) <= first.date() <= today + timedelta(days=9)
    assert first.hour == 14
    assert {c.company_id for c in request.companies} == set(seeded.company_ids)
    assert {s.student_id for s in request.students} == set(seeded.student_ids)
    assert len(request.usable_slots) >= 6


def test_applications_and_a_placement_leave_the_vacancy_open() -> None:
    applied = [v for v in VACANCIES if v.applicants]
    placed = [v for v in VACANCIES if v.placement]

    assert sum(v.applicants for v in applied) >= 5
    assert len(placed) == 1 and placed[0].positions > 1 and placed[0].applicants >= 1


def test_applicants_are_the_best_matches_among_the_demos_own_students() -> None:
    region = build_demo_region(default_vocabulary(), now=SEEDED_AT)
    seeded = SeededRegion(
        region,
        company_ids=[f"c{i}" for i in range(len(region.companies))],
        vacancy_ids=[f"v{i}" for i in range(len(region.vacancies))],
        student_ids=[f"s{i}" for i in range(len(region.students))],
    )
    # a region seeded twice: the other seeding's students match the same vacancies
    matches = {
        vacancy_id: [
            {"student_id": "earlier-1", "score": 0.99},
            {"student_id": "s3", "score": 0.8},
            {"student_id": "earlier-2", "score": 0.7},
            {"student_id": "s1", "score": 0.6},
            {"student_id": "s2", "score": 0.5},
        ]
        for vacancy_id in seeded.vacancy_ids
    }

    applying = {index: students for index, _, students in _applicants(seeded, matches)}

    assert applying
    for index, students in applying.items():
        assert students == ["s3", "s1", "s2"][: VACANCIES[index].applicants]


def test_the_demos_graduates_have_outcomes_profiles_accepts() -> None:
    region = build_demo_region(default_vocabulary(), now=SEEDED_AT)
    this_month = SEEDED_AT.strftime("%Y-%m")
    graduated = [
        i for i, body in enumerate(region.students) if body["expected_graduation"] < this_month
    ]

    assert [index for index, _ in region.outcomes] == graduated and len(graduated) in (2, 3)
    forms = {
        region.students[index]["name"]: OutcomeForm.model_validate(body)
        for index, body in region.outcomes
    }
    assert {name: form.outcome for name, form in forms.items()} == {
        "Oluwaseun Adeyemi": "employed_elsewhere",
        "Priya Natarajan": "further_study",
    }
    for index, body in region.outcomes:
        graduated_on = OutcomeForm.model_validate(body).graduated_on
        assert graduated_on < SEEDED_AT.date()
        assert graduated_on.strftime("%Y-%m") == region.students[index]["expected_graduation"]


def test_everyone_the_demo_seeds_has_an_account_to_sign_in_with() -> None:
    region = build_demo_region(default_vocabulary(), now=SEEDED_AT)
    seeded = SeededRegion(
        region,
        company_ids=[f"c-{n}" for n in range(len(region.companies))],
        vacancy_ids=[],
        student_ids=[f"s-{n}" for n in range(len(region.students))],
    )

    accounts = demo_accounts("nord-jylland", seeded)

    assert accounts[:2] == [
        {"name": "Operator of Nord Jylland", "roles": ["operator"], "region": "nord-jylland"},
        {"name": "Coordinator of Nord Jylland", "roles": ["coordinator"], "region": "nord-jylland"},
    ]
    companies = [a for a in accounts if a["roles"] == ["company"]]
    students = [a for a in accounts if a["roles"] == ["student"]]
    assert [(a["name"], a["company_id"]) for a in companies] == [
        (body["name"], f"c-{n}") for n, body in enumerate(region.companies)
    ]
    assert [(a["name"], a["student_id"]) for a in students] == [
        (body["name"], f"s-{n}") for n, body in enumerate(region.students)
    ]
    assert len(accounts) == 2 + len(region.companies) + len(region.students)
    assert all(a["region"] == "nord-jylland" for a in accounts)
    assert not any("student_id" in a for a in companies)
