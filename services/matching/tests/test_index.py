"""The vectorised index finds exactly the pairs, and the scores, of the per-pair rules."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from functools import cache

import pytest

from interlocality.common.esco import default_vocabulary
from interlocality.common.esco_relations import SkillGraph
from interlocality.matching.domain import (
    LanguageNeed,
    RequiredSkill,
    StudentEntry,
    VacancyEntry,
    evaluate_pair,
)
from interlocality.matching.gaps import skill_gaps
from interlocality.matching.index import MatchIndex

KINDS = ["internship", "thesis", "student_job", "graduate_job", "company_project"]
PLACES = ["aarhus", "leipzig", "hasselt", "oulu"]
LANGUAGES = ["en", "da", "de", "nl", "fi", "it"]
FIELDS = ["0613", "0612", "0413", "0715", "0714", "061", "04", None]


@cache
def graph() -> SkillGraph:
    return SkillGraph.from_vocabulary(default_vocabulary())


@cache
def occupations() -> list[tuple[list[str], list[str]]]:
    vocabulary = default_vocabulary()
    found = []
    for occupation in vocabulary.occupations.values():
        essential = [u for u in occupation.essential_skills if u in vocabulary]
        if len(essential) >= 6:
            optional = [u for u in occupation.optional_skills if u in vocabulary]
            found.append((essential, optional))
    return found[:40]  # a few families, so that pairs share skills often


def random_student(rng: random.Random, number: int) -> StudentEntry:
    essential, optional = rng.choice(occupations())
    skills = rng.sample(essential, k=rng.randint(2, 6)) + rng.sample(
        optional, k=min(len(optional), rng.randint(0, 3))
    )
    today = date(2027, 1, 1)
    return StudentEntry(
        id=f"s-{number:04d}",
        version=1,
        skills={uri: rng.randint(1, 5) for uri in skills},
        languages={code: rng.randint(1, 6) for code in rng.sample(LANGUAGES, k=rng.randint(1, 3))},
        engagement_kinds=frozenset(rng.sample(KINDS, k=rng.randint(1, 4))),
        hours_per_week=rng.choice([None, 10, 20, 37]),
        available_from=rng.choice([None, today, today + timedelta(days=90)]),
        available_until=rng.choice([None, today + timedelta(days=200)]),
        preferred_locations=frozenset(rng.sample(PLACES, k=rng.randint(0, 2))),
        remote=rng.choice([None, "on_site", "hybrid", "remote"]),
        study_field=rng.choice(FIELDS),
        permitted_hours=rng.choice([None, 20.0, 15.0]),
        permit_country="DK",
        curricular_exempt=rng.random() < 0.8,
    )


def random_vacancy(rng: random.Random, number: int, status: str = "open") -> VacancyEntry:
    essential, optional = rng.choice(occupations())
    required = rng.sample(essential, k=rng.randint(2, 6))
    nice = rng.sample(optional, k=min(len(optional), rng.randint(0, 3)))
    return VacancyEntry(
        id=f"v-{number:04d}",
        version=1,
        company_id="c-1",
        title="Role",
        kind=rng.choice(KINDS),
        status=status,
        required=tuple(RequiredSkill(u, rng.randint(1, 4)) for u in required)
        + (RequiredSkill("http://data.europa.eu/esco/skill/not-known", 2),) * (number % 7 == 0),
        nice=tuple(RequiredSkill(u, 1) for u in nice if u not in required),
        languages=tuple(
            LanguageNeed(code, rng.randint(1, 5), rng.random() < 0.6)
            for code in rng.sample(LANGUAGES, k=rng.randint(0, 2))
        ),
        hours_per_week=rng.choice([None, 15, 20, 37]),
        start_date=rng.choice([None, date(2027, 2, 1), date(2027, 9, 1)]),
        location=rng.choice(["", "Aarhus", "Leipzig"]),
        remote=rng.choice([None, "on_site", "hybrid", "remote"]),
        curricular=rng.random() < 0.5,
        export_languages=frozenset(rng.sample(LANGUAGES, k=rng.randint(0, 2))),
    )


def reference(student: StudentEntry, vacancy: VacancyEntry, minimum: float) -> float | None:
    evaluation = evaluate_pair(student, vacancy, graph())
    if not evaluation.conditions_met or not evaluation.matched or evaluation.score < minimum:
        return None
    return evaluation.score


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_matches_equal_the_per_pair_rules(seed: int) -> None:
    rng = random.Random(seed)
    students = [random_student(rng, n) for n in range(300)]
    vacancies = [random_vacancy(rng, n) for n in range(60)]
    index = MatchIndex(graph(), min_score=0.2)
    index.load(students, vacancies)
    for vacancy in vacancies[:20]:
        expected = {
            s.id: score for s in students if (score := reference(s, vacancy, 0.2)) is not None
        }
        found = {c.student_id: c.score for c in index.match_vacancy(vacancy)}
        assert found.keys() == expected.keys()
        for student_id, score in expected.items():
            assert found[student_id] == pytest.approx(score, abs=1e-4)
    for student in students[:40]:
        expected = {
            v.id: score for v in vacancies if (score := reference(student, v, 0.2)) is not None
        }
        found = {c.vacancy_id: c.score for c in index.match_student(student)}
        assert found.keys() == expected.keys()
        for vacancy_id, score in expected.items():
            assert found[vacancy_id] == pytest.approx(score, abs=1e-4)


def test_changes_are_followed_and_closed_vacancies_are_not_found() -> None:
    rng = random.Random(7)
    students = [random_student(rng, n) for n in range(200)]
    vacancies = [random_vacancy(rng, n) for n in range(30)]
    index = MatchIndex(graph())
    index.load(students, vacancies)
    vacancy = max(vacancies, key=lambda v: len(index.match_vacancy(v)))
    before = index.match_vacancy(vacancy)
    assert len(before) >= 2, "the random region should hold matches"
    gone, kept = before[0].student_id, before[1].student_id
    index.remove_student(gone)
    assert gone not in {c.student_id for c in index.match_vacancy(vacancy)}
    kept_student = index.students[kept]
    assert vacancy.id in {c.vacancy_id for c in index.match_student(kept_student)}
    closed = VacancyEntry(**{**vacancy.__dict__, "status": "closed", "version": 2})
    index.put_vacancy(closed)
    assert index.match_vacancy(closed) == []
    assert vacancy.id not in {c.vacancy_id for c in index.match_student(kept_student)}


def test_ranked_best_first_with_a_limit() -> None:
    rng = random.Random(11)
    students = [random_student(rng, n) for n in range(200)]
    vacancies = [random_vacancy(rng, n) for n in range(30)]
    index = MatchIndex(graph())
    index.load(students, vacancies)
    vacancy = max(vacancies, key=lambda v: len(index.match_vacancy(v)))
    everyone = index.match_vacancy(vacancy)
    top = index.match_vacancy(vacancy, limit=5)
    assert top == everyone[:5]
    assert [c.score for c in everyone] == sorted((c.score for c in everyone), reverse=True)


def test_skill_gaps_name_the_skills_that_unlock_most_and_the_vacancies() -> None:
    rng = random.Random(5)
    students = [random_student(rng, n) for n in range(200)]
    vacancies = [random_vacancy(rng, n) for n in range(40)]
    index = MatchIndex(graph(), min_score=0.35)
    index.load(students, vacancies)
    # the student nearest to most vacancies without matching them all
    student = max(students, key=lambda s: len(index.match_student(s, min_score=0.2)))
    now = {c.vacancy_id: c.score for c in index.match_student(student)}
    gaps = skill_gaps(index, student, limit=3)
    assert gaps, "a student near many vacancies has something to learn"
    assert any(g.new_matches for g in gaps), "a skill to learn makes a new match"
    assert [(g.new_matches, g.gain) for g in gaps] == sorted(
        ((g.new_matches, g.gain) for g in gaps), key=lambda x: (-x[0], -x[1])
    )
    for gap in gaps:
        assert gap.uri not in student.skills
        learned = replace(student, skills={**student.skills, gap.uri: 5})
        after = {c.vacancy_id: c.score for c in index.match_student(learned)}
        for vacancy_id, before, score in gap.vacancies:
            assert before == now.get(vacancy_id)
            assert score > (before or 0.0)
            assert vacancy_id in after


def test_a_reload_with_fewer_or_reordered_vacancies_scores_as_a_fresh_index() -> None:
    rng = random.Random(13)
    students = [random_student(rng, n) for n in range(150)]
    vacancies = [random_vacancy(rng, n) for n in range(60)]
    index = MatchIndex(graph())
    index.load(students, vacancies)
    index.match_student(students[0])
    fewer = [replace(v, status="closed") if n % 2 else v for n, v in enumerate(vacancies)]
    rng.shuffle(fewer)
    index.load(students, fewer)
    fresh = MatchIndex(graph())
    fresh.load(students, fewer)
    for student in students[:50]:
        assert index.match_student(student) == fresh.match_student(student)


def test_a_region_speaking_many_languages_widens_the_tables() -> None:
    rng = random.Random(17)
    many = ["en", "da", "de", "nl", "fi", "it", "es", "fr", "pt", "pl", "sv", "zh", "hi"]
    students = [
        replace(random_student(rng, n), languages={code: 4 for code in many[n % 5 : n % 5 + 9]})
        for n in range(100)
    ]
    vacancies = [
        replace(random_vacancy(rng, n), languages=(LanguageNeed(many[n % 13], 3),))
        for n in range(30)
    ]
    index = MatchIndex(graph())
    index.load(students, vacancies)
    for vacancy in vacancies[:10]:
        expected = {s.id for s in students if reference(s, vacancy, 0.0) is not None}
        assert {c.student_id for c in index.match_vacancy(vacancy)} == expected
