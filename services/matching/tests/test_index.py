"""The in-memory view: skill lookups follow every change, and it reloads from the store."""

from __future__ import annotations

from sqlmodel import Session

from interlocality.common.db import init_schema
from interlocality.common.service import ServiceRuntime
from interlocality.common.settings import load_settings
from interlocality.matching.domain import RequiredSkill
from interlocality.matching.index import MatchIndex, StudentEntry, VacancyEntry
from interlocality.matching.store import (
    TABLES,
    delete_student,
    load_index,
    save_student,
    save_vacancy,
)

SQL, PY, GIT = "skill/sql", "skill/python", "skill/git"


def vacancy(
    vacancy_id: str, uris: list[str], status: str = "open", version: int = 1
) -> VacancyEntry:
    return VacancyEntry(
        id=vacancy_id,
        version=version,
        company_id="c-1",
        title="Analyst",
        kind="internship",
        status=status,
        required=tuple(RequiredSkill(uri, 2) for uri in uris),
        hours_per_week=20,
    )


def test_lookups_follow_puts_replacements_and_removals() -> None:
    index = MatchIndex()
    index.load(
        [], [vacancy("v-1", [SQL, PY]), vacancy("v-2", [GIT]), vacancy("v-3", [SQL], "closed")]
    )
    index.put_student(StudentEntry("s-1", 1, {SQL: 3}))
    index.put_student(StudentEntry("s-2", 1, {GIT: 2, SQL: 1}))

    assert [v.id for v in index.open_vacancies_sharing([SQL])] == ["v-1"]
    assert [v.id for v in index.open_vacancies_sharing([SQL, GIT])] == ["v-1", "v-2"]
    assert [s.id for s in index.students_sharing([SQL])] == ["s-1", "s-2"]

    index.put_student(StudentEntry("s-1", 2, {PY: 4}))
    assert [s.id for s in index.students_sharing([SQL])] == ["s-2"]
    assert [s.id for s in index.students_sharing([PY])] == ["s-1"]

    index.put_vacancy(vacancy("v-1", [SQL, PY], "closed", version=2))
    assert index.open_vacancies_sharing([SQL, PY]) == []
    assert index.vacancies["v-1"].version == 2

    index.remove_student("s-2")
    assert index.students_sharing([SQL, GIT]) == []
    index.remove_student("s-unknown")


def test_the_view_reloads_from_the_store_as_it_was_saved(region: str, database_url: str) -> None:
    runtime = ServiceRuntime(
        load_settings("matching", region=region, database_url=database_url), TABLES
    )
    init_schema(runtime.engine, runtime.tables)
    student = StudentEntry("s-1", 3, {SQL: 3, PY: 5}, ("thesis",), 20.0, "DE")
    with Session(runtime.engine) as session:
        save_student(session, StudentEntry("s-1", 2, {GIT: 1}))
        save_student(session, student)
        save_student(session, StudentEntry("s-gone", 1, {SQL: 2}))
        delete_student(session, "s-gone")
        save_vacancy(session, vacancy("v-1", [SQL]))
        save_vacancy(session, vacancy("v-1", [SQL, GIT], "closed", version=2))
        session.commit()

    index = MatchIndex()
    assert index.stale
    with Session(runtime.engine) as session:
        load_index(session, index)
    assert not index.stale
    assert index.students == {"s-1": student}
    assert index.vacancies == {"v-1": vacancy("v-1", [SQL, GIT], "closed", version=2)}
    assert [s.id for s in index.students_sharing([PY])] == ["s-1"]
    assert index.open_vacancies_sharing([SQL, GIT]) == []
