"""The rules of one pair: hard conditions, two-sided score, related skills, explanation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from interlocality.common.esco_relations import SkillGraph
from interlocality.matching.domain import (
    LanguageNeed,
    RequiredSkill,
    StudentEntry,
    VacancyEntry,
    VacancyRules,
    evaluate_pair,
    market_languages,
)

PROGRAMMING, PYTHON, JAVA, SQL, UNKNOWN = "prog", "python", "java", "sql", "esco/unknown"
GRAPH = SkillGraph(
    broader={PYTHON: [PROGRAMMING, "isced-group"], JAVA: [PROGRAMMING], SQL: [], PROGRAMMING: []},
    known=[PROGRAMMING, PYTHON, JAVA, SQL],
    fields={PYTHON: ["0613"], JAVA: ["0613"], SQL: ["0612"]},
)
STUDENT = StudentEntry(
    id="s-1",
    version=1,
    skills={PYTHON: 4, SQL: 3},
    languages={"en": 5, "de": 3},
    engagement_kinds=frozenset({"internship", "student_job"}),
    hours_per_week=15,
    study_field="0613",
)
VACANCY = VacancyEntry(
    id="v-1",
    version=1,
    company_id="c-1",
    title="Data intern",
    kind="internship",
    status="open",
    required=(RequiredSkill(PYTHON, 3), RequiredSkill(SQL, 3)),
    languages=(LanguageNeed("en", 4),),
    hours_per_week=15,
)


def test_full_coverage_and_fit_scores_near_one_and_says_why() -> None:
    result = evaluate_pair(STUDENT, VACANCY, GRAPH)
    assert result.conditions_met
    assert (result.coverage, result.location, result.hours) == (1.0, 1.0, 1.0)
    assert result.field == (1.0 + 0.7) / 2  # Python in 0613 like the student; SQL in 0612
    assert result.score == round(((1 + 1 + 0.85) / 3) ** 0.35, 4)
    assert [(s.uri, s.relation, s.credit) for s in result.skills] == [
        (PYTHON, "exact", 1.0),
        (SQL, "exact", 1.0),
    ]
    assert result.missing_required == ()
    assert [(x.code, x.needed, x.has, x.met) for x in result.languages] == [
        ("en", "B2", "C1", True)
    ]


def test_related_skills_earn_partial_credit_stated_as_such() -> None:
    asks_programming = replace(VACANCY, required=(RequiredSkill(PROGRAMMING, 2),))
    narrower = evaluate_pair(STUDENT, asks_programming, GRAPH).skills[0]
    assert (narrower.via, narrower.relation, narrower.credit) == (PYTHON, "narrower", 0.7)
    knows_programming = replace(STUDENT, skills={PROGRAMMING: 5})
    asks_python = replace(VACANCY, required=(RequiredSkill(PYTHON, 2),))
    broader = evaluate_pair(knows_programming, asks_python, GRAPH).skills[0]
    assert (broader.via, broader.relation, broader.credit) == (PROGRAMMING, "broader", 0.5)
    knows_java = replace(STUDENT, skills={JAVA: 5})
    sibling = evaluate_pair(knows_java, asks_python, GRAPH).skills[0]
    assert (sibling.via, sibling.relation, sibling.credit) == (JAVA, "sibling", 0.35)


def test_the_best_stand_in_wins_and_the_exact_skill_on_a_tie() -> None:
    asks_python_at_4 = replace(VACANCY, required=(RequiredSkill(PYTHON, 4),))
    # exact Python at 1 of 4 earns 0.25; the broader "programming" at 4 earns 0.5
    weak_exact = replace(STUDENT, skills={PYTHON: 1, PROGRAMMING: 4})
    best = evaluate_pair(weak_exact, asks_python_at_4, GRAPH).skills[0]
    assert (best.via, best.relation, best.credit) == (PROGRAMMING, "broader", 0.5)
    # exact Python at 2 of 4 earns 0.5, as much as the broader skill: the exact one is named
    tie = replace(STUDENT, skills={PROGRAMMING: 4, PYTHON: 2})
    named = evaluate_pair(tie, asks_python_at_4, GRAPH).skills[0]
    assert (named.via, named.relation, named.credit) == (PYTHON, "exact", 0.5)


def test_a_vacancys_rules_reused_for_many_students_answer_as_for_each_alone() -> None:
    vacancy = replace(VACANCY, nice=(RequiredSkill(JAVA, 2), RequiredSkill(UNKNOWN, 1)))
    students = [
        STUDENT,
        replace(STUDENT, id="s-2", skills={JAVA: 2, PROGRAMMING: 3}, study_field="0612"),
        replace(STUDENT, id="s-3", skills={SQL: 1}, study_field=None, languages={"en": 2}),
        replace(STUDENT, id="s-4", skills={PYTHON: 5}, study_field="0612"),
        # the conditions worded once per vacancy or per permit limit stay the student's own
        replace(STUDENT, id="s-5", permitted_hours=20.0, permit_country="DK"),
        replace(STUDENT, id="s-6", permitted_hours=20.0, permit_country="DE"),
        replace(STUDENT, id="s-7", permitted_hours=10.0, permit_country="DK"),
        replace(STUDENT, id="s-8", engagement_kinds=frozenset({"thesis"})),
        replace(STUDENT, id="s-10", permitted_hours=20.0, curricular_exempt=False),
        replace(STUDENT, id="s-9", skills={}),
    ]
    rules = VacancyRules(vacancy, GRAPH)
    for student in [*students, *reversed(students)]:
        assert rules.evaluate(student) == evaluate_pair(student, vacancy, GRAPH)


def test_an_uncovered_nice_to_have_skill_is_missing_apart_from_the_required_ones() -> None:
    python_only = replace(STUDENT, skills={PYTHON: 4})
    vacancy = replace(VACANCY, required=(RequiredSkill(PYTHON, 3),), nice=(RequiredSkill(SQL),))
    result = evaluate_pair(python_only, vacancy, GRAPH)
    assert result.missing_required == ()
    assert result.missing_nice_to_have == (SQL,)
    asks_sql = replace(vacancy, required=(RequiredSkill(SQL),), nice=(RequiredSkill(PYTHON),))
    flipped = evaluate_pair(python_only, asks_sql, GRAPH)
    assert (flipped.missing_required, flipped.missing_nice_to_have) == ((SQL,), ())


def test_required_skills_weigh_more_than_nice_ones_and_levels_count() -> None:
    low = replace(STUDENT, skills={PYTHON: 1, SQL: 3})
    vacancy = replace(VACANCY, nice=(RequiredSkill(JAVA, 1),))
    result = evaluate_pair(low, vacancy, GRAPH)
    # Python 1 of 3 → 1/3; SQL full; Java through its sibling Python at level 1 → 0.35.
    assert result.coverage == round((3 * (1 / 3) + 3 * 1.0 + 0.35) / 7, 4)
    assert result.missing_required == ()


@pytest.mark.parametrize(
    ("student", "vacancy", "condition", "detail"),
    [
        (STUDENT, replace(VACANCY, status="filled"), "open", "the vacancy is filled"),
        (
            STUDENT,
            replace(VACANCY, kind="thesis"),
            "kind",
            "the student does not look for a thesis",
        ),
        (
            STUDENT,
            replace(VACANCY, languages=(LanguageNeed("de", 4), LanguageNeed("da", 2))),
            "languages",
            "below the required level in de B2 (has B1), da A2 (has none)",
        ),
        (
            replace(STUDENT, permitted_hours=20.0, permit_country="DK"),
            replace(VACANCY, kind="student_job", hours_per_week=37),
            "permit",
            "the job's 37 h a week exceed the 20 h a week in term (DK rules) this student may work",
        ),
        (
            replace(STUDENT, available_from=date(2027, 3, 1)),
            replace(VACANCY, start_date=date(2027, 1, 15)),
            "availability",
            "starts 2027-01-15, before the student is available (2027-03-01)",
        ),
        (
            replace(STUDENT, preferred_locations=frozenset({"aarhus"})),
            replace(VACANCY, location="Leipzig", remote="on_site"),
            "location",
            "Leipzig is not among the student's preferred locations",
        ),
        (
            replace(STUDENT, remote="remote"),
            replace(VACANCY, remote="on_site"),
            "location",
            "the student wants remote work; this one is on site",
        ),
    ],
)
def test_each_hard_condition_fails_alone_and_names_itself(
    student: StudentEntry, vacancy: VacancyEntry, condition: str, detail: str
) -> None:
    result = evaluate_pair(student, vacancy, GRAPH)
    assert [(c.name, c.detail) for c in result.failed] == [(condition, detail)]


def test_curricular_internships_follow_the_rules_on_permitted_hours() -> None:
    limited = replace(STUDENT, permitted_hours=20.0, permit_country="NL")
    long_internship = replace(VACANCY, hours_per_week=37, curricular=True)
    assert evaluate_pair(limited, long_internship, GRAPH).conditions_met
    not_exempt = replace(limited, curricular_exempt=False)
    assert not evaluate_pair(not_exempt, long_internship, GRAPH).conditions_met
    not_curricular = replace(long_internship, curricular=False)
    assert not evaluate_pair(limited, not_curricular, GRAPH).conditions_met
    assert evaluate_pair(
        limited, replace(long_internship, location="Aarhus", remote="remote"), GRAPH
    ).permit == ("a curricular internship is outside the limit (NL rules)")


def test_export_market_languages_count_in_the_students_favour() -> None:
    half = replace(VACANCY, required=(RequiredSkill(PYTHON, 3), RequiredSkill(JAVA, 5)))
    plain = evaluate_pair(STUDENT, half, GRAPH)
    exporting = evaluate_pair(STUDENT, replace(half, export_languages=frozenset({"de"})), GRAPH)
    assert exporting.language_bonus == 0.05
    assert exporting.score > plain.score
    assert market_languages(["DE", "BE"]) == frozenset({"de", "nl", "fr"})


def test_neither_side_can_carry_a_bad_fit() -> None:
    wants_few_hours = replace(STUDENT, hours_per_week=5, study_field="0912")
    full_time = replace(VACANCY, hours_per_week=40)
    result = evaluate_pair(wants_few_hours, full_time, GRAPH)
    assert result.coverage == 1.0
    assert result.score < 0.75  # perfect skills, but the job fits the student badly
    nothing_in_common = replace(STUDENT, skills={JAVA: 1})
    assert evaluate_pair(nothing_in_common, VACANCY, GRAPH).score < 0.3


def test_unknown_skills_are_ignored_and_said_so() -> None:
    vacancy = replace(VACANCY, required=(*VACANCY.required, RequiredSkill(UNKNOWN, 2)))
    result = evaluate_pair(STUDENT, vacancy, GRAPH)
    assert result.ignored_skills == (UNKNOWN,)
    assert result.score == evaluate_pair(STUDENT, VACANCY, GRAPH).score


def test_unstated_hours_hold_but_are_a_caution_for_a_limited_student() -> None:
    limited = replace(STUDENT, permitted_hours=20.0, permit_country="DK")
    result = evaluate_pair(
        limited, replace(VACANCY, kind="student_job", hours_per_week=None), GRAPH
    )
    assert result.conditions_met
    assert result.cautions == (
        "the job's hours are not stated; the student may work 20 h a week in term (DK rules)",
    )
    assert evaluate_pair(limited, VACANCY, GRAPH).cautions == ()
