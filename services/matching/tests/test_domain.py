"""The rules of one pair: hard conditions, two-sided score, related skills, explanation."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest

from interlocality.common.esco_relations import OccupationSkills, SkillGraph
from interlocality.matching.domain import (
    COVERAGE_WEIGHT,
    FIT_WEIGHT,
    FOCUS_WEIGHT,
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
    # both of the student's skills are on topic; the prior adds one skill a quarter on it
    assert result.focus == (2 + 0.25) / 3
    assert result.score == round(
        1.0**COVERAGE_WEIGHT * 0.75**FOCUS_WEIGHT * ((1 + 1 + 0.85) / 3) ** FIT_WEIGHT, 4
    )
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


def test_the_best_stand_in_wins_and_the_graphs_order_on_a_tie() -> None:
    asks_python_at_4 = replace(VACANCY, required=(RequiredSkill(PYTHON, 4),))
    # exact Python at 1 of 4 loses a fifth of 3/4 of its credit (0.85); the broader
    # "programming" at 4 earns 0.5: a level short costs less than another skill
    weak_exact = replace(STUDENT, skills={PYTHON: 1, PROGRAMMING: 4})
    best = evaluate_pair(weak_exact, asks_python_at_4, GRAPH).skills[0]
    assert (best.via, best.relation, best.credit) == (PYTHON, "exact", 0.85)
    # two narrower skills: Java at 4 of 4 earns 0.7, Python at 1 of 4 0.7 × 0.85
    asks_programming_at_4 = replace(VACANCY, required=(RequiredSkill(PROGRAMMING, 4),))
    stronger = replace(STUDENT, skills={PYTHON: 1, JAVA: 4})
    best = evaluate_pair(stronger, asks_programming_at_4, GRAPH).skills[0]
    assert (best.via, best.relation, best.credit) == (JAVA, "narrower", 0.7)
    # at the same level they tie: the first in the graph's order is named
    tie = replace(STUDENT, skills={JAVA: 4, PYTHON: 4})
    named = evaluate_pair(tie, asks_programming_at_4, GRAPH).skills[0]
    assert (named.via, named.relation, named.credit) == (PYTHON, "narrower", 0.7)


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
    # Python 1 of 3 → 1 − 0.2 × 2/3; SQL full; Java through its sibling Python at level 1
    # (of 1) → 0.35; without occupations in the graph every skill is as specific as another
    assert result.coverage == round((3 * (1 - 0.2 * 2 / 3) + 3 * 1.0 + 0.35) / 7, 4)
    assert [s.weight for s in result.skills] == [3.0, 3.0, 1.0]
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
    assert result.score < evaluate_pair(STUDENT, VACANCY, GRAPH).score - 0.1
    # a sibling of one of two skills, at a level short, fits well otherwise
    next_to_one = evaluate_pair(replace(STUDENT, skills={JAVA: 1}), VACANCY, GRAPH)
    assert next_to_one.fit > 0.9
    assert next_to_one.score < 0.35


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


# A graph with ESCO-like occupations: SQL is listed by three of four, Python by one.
DEV, ANALYST, CLERK, COOK = "occ/dev", "occ/analyst", "occ/clerk", "occ/cook"
LINUX, GIT, STATS, TEAMWORK, COOKING = "linux", "git", "stats", "teamwork", "cooking"
TRADES = SkillGraph(
    broader={PYTHON: [PROGRAMMING], JAVA: [PROGRAMMING]},
    known=[PROGRAMMING, PYTHON, JAVA, SQL, LINUX, GIT, STATS, TEAMWORK, COOKING],
    occupations=[
        OccupationSkills(DEV, (PYTHON, SQL, LINUX, GIT), (JAVA,)),
        OccupationSkills(ANALYST, (SQL, STATS)),
        OccupationSkills(CLERK, (SQL, TEAMWORK)),
        OccupationSkills(COOK, (COOKING, TEAMWORK)),
    ],
)
DEV_JOB = replace(
    VACANCY,
    required=(RequiredSkill(PYTHON, 1), RequiredSkill(SQL, 1)),
    nice=(RequiredSkill(JAVA, 1),),
    languages=(),
)


def test_a_specific_skill_weighs_more_than_one_many_occupations_list() -> None:
    python = TRADES.specificity(PYTHON)
    sql = TRADES.specificity(SQL)
    assert python == pytest.approx(1 + math.log(4 / 2))
    assert sql == pytest.approx(1 + math.log(4 / 4))
    knows_python = evaluate_pair(replace(STUDENT, skills={PYTHON: 3}), DEV_JOB, TRADES)
    knows_sql = evaluate_pair(replace(STUDENT, skills={SQL: 3}), DEV_JOB, TRADES)
    assert [s.weight for s in knows_python.skills] == pytest.approx(
        [3 * python, 3 * sql, TRADES.specificity(JAVA)]
    )
    assert knows_python.coverage > knows_sql.coverage
    assert knows_python.score > knows_sql.score


def test_focus_prefers_a_student_of_the_vacancys_trade_to_one_with_unrelated_skills() -> None:
    of_the_trade = replace(STUDENT, skills={PYTHON: 3, SQL: 3, LINUX: 2, GIT: 2})
    collector = replace(STUDENT, skills={PYTHON: 3, SQL: 3, COOKING: 2, STATS: 2})
    trade = evaluate_pair(of_the_trade, DEV_JOB, TRADES)
    other = evaluate_pair(collector, DEV_JOB, TRADES)
    # the vacancy's skills are read as the developer's: Linux and Git are on its topic
    assert trade.occupations == other.occupations == (DEV,)
    assert trade.coverage == other.coverage
    assert trade.focus > other.focus
    assert trade.score > other.score
    # a skill next to the vacancy's own counts at its relation's credit: Java, a sibling of
    # Python, is also the job's nice-to-have skill and counts fully; "programming" half
    broader = evaluate_pair(replace(collector, skills={PROGRAMMING: 3}), DEV_JOB, TRADES)
    typical = TRADES.typical_specificity
    own = TRADES.specificity(PROGRAMMING)
    assert broader.focus == round((0.5 * own + 0.25 * typical) / (own + typical), 4)


def test_a_vacancy_of_no_one_occupation_is_read_as_none() -> None:
    mixed = replace(
        DEV_JOB,
        required=(RequiredSkill(COOKING, 1), RequiredSkill(STATS, 1), RequiredSkill(LINUX, 1)),
        nice=(),
    )
    result = evaluate_pair(replace(STUDENT, skills={COOKING: 3, TEAMWORK: 3}), mixed, TRADES)
    assert result.occupations == ()
    # teamwork is the cook's, but the vacancy was not read as a cook's: it is off topic
    typical = TRADES.typical_specificity
    cooking, teamwork = TRADES.specificity(COOKING), TRADES.specificity(TEAMWORK)
    assert result.focus == round((cooking + 0.25 * typical) / (cooking + teamwork + typical), 4)


@pytest.mark.parametrize(
    "skills",
    [{PYTHON: 1}, {PYTHON: 5, SQL: 2, TEAMWORK: 3}, {JAVA: 2, STATS: 4}, {PROGRAMMING: 3}],
)
def test_the_explanation_adds_up_to_the_score(skills: dict[str, int]) -> None:
    result = evaluate_pair(replace(STUDENT, skills=skills, hours_per_week=20), DEV_JOB, TRADES)
    weights = sum(s.weight for s in result.skills)
    assert result.coverage == round(sum(s.weight * s.credit for s in result.skills) / weights, 4)
    recomputed = (
        min(1.0, result.coverage + result.language_bonus) ** COVERAGE_WEIGHT
        * result.focus**FOCUS_WEIGHT
        * result.fit**FIT_WEIGHT
    )
    assert result.score == pytest.approx(recomputed, abs=2e-4)
