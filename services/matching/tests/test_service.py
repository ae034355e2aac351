"""The service layer keeps matching's view and its matches, and stages the events they cause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from interlocality.common.esco import default_vocabulary
from interlocality.contracts.matches import MatchExplanation
from interlocality.contracts.students import Consent, Consents, PermittedWork
from interlocality.matching.domain import COVERAGE_WEIGHT, FIT_WEIGHT, FOCUS_WEIGHT
from interlocality.matching.store import matches_of_student, matches_of_vacancy

NL_STUDENT = PermittedWork(country="NL", unrestricted=False, hours_per_week_term=16.0)
CHEMISTRY = "http://data.europa.eu/esco/skill/cde9911c-f92e-4de1-811f-336e177ac4ce"
DATA_ANALYST = next(
    o.uri for o in default_vocabulary().occupations.values() if o.label == "data analyst"
)


def ranked(matching: Any, vacancy_id: str = "v-1") -> list[tuple[str, float]]:
    """The (student, score) pairs of a vacancy's stored matches, best first."""
    with matching.runtime.reading() as session:
        return [(m.student_id, m.score) for m in matches_of_vacancy(session, vacancy_id)]


def story(matching: Any) -> list[tuple[str, str]]:
    """The staged match events, as (type, student) in order."""
    return [(type(event).__name__, event.subject) for event in matching.staged()]


def test_matches_follow_students_and_vacancies(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching()
    service = m.service
    m.write(service.apply_vacancy, snapshots.vacancy("open", 1))
    m.write(service.apply_student, snapshots.student("s-limited", uris, permitted=NL_STUDENT))
    m.write(service.apply_student, snapshots.student("s-all", uris))
    m.write(service.apply_student, snapshots.student("s-one", uris[:1]))
    m.write(service.apply_student, snapshots.student("s-none", []))
    found = ranked(m)
    assert [student for student, _ in found] == ["s-all", "s-one"]
    assert found[0][1] > found[1][1] >= 0.3
    with m.runtime.reading() as session:
        [one] = matches_of_student(session, "s-one")
    assert (one.matched_skills, one.missing_skills) == (uris[:1], uris[1:])
    explanation = MatchExplanation.model_validate(one.explanation)
    assert [(s.uri, s.relation) for s in explanation.skills] == [
        (uris[0], "exact"),
        (uris[1], None),
        (uris[2], None),
    ]
    # the parts of the score are all there and make the score: coverage from the skills'
    # weights, focus, fit; the vacancy's skills were read as a data analyst's
    parts = explanation.components
    weights = [s.weight or 0.0 for s in explanation.skills]
    assert all(weight > 3 for weight in weights)  # required, and more specific than none
    assert parts.coverage == pytest.approx(weights[0] / sum(weights), abs=1e-4)
    assert parts.focus is not None and 0 < parts.focus < 1
    assert DATA_ANALYST in parts.occupations
    assert one.score == pytest.approx(
        min(1.0, parts.coverage + parts.language_bonus) ** COVERAGE_WEIGHT
        * parts.focus**FOCUS_WEIGHT
        * parts.fit**FIT_WEIGHT,
        abs=2e-4,
    )

    # A late older snapshot changes nothing; a better one updates; erasure and losing
    # every skill withdraw.
    m.write(service.apply_student, snapshots.student("s-one", uris, version=2))
    m.write(service.apply_student, snapshots.student("s-one", uris[:1], version=1))
    assert ranked(m)[1] == ("s-one", found[0][1])
    m.write(service.apply_student, snapshots.student("s-one", [], version=3))
    m.write(service.erase_student, "s-all")
    m.write(service.erase_student, "s-Ilgın-Øre")  # never seen (a replay brings such): a no-op
    assert ranked(m) == []
    assert "s-all" not in service.index.students
    with m.runtime.reading() as session:
        assert service.personal_data(session, "s-all") == {
            "skills": None,
            "view": None,
            "matches": [],
        }

    m.write(service.apply_student, snapshots.student("s-back", uris[:2]))
    assert [s for s, _ in ranked(m)] == ["s-back"]
    m.write(service.apply_vacancy, snapshots.vacancy("closed", 2))
    assert ranked(m) == []

    assert story(m) == [  # s-all's match went from the outbox with his erasure
        ("MatchFound", "s-one"),
        ("MatchUpdated", "s-one"),
        ("MatchWithdrawn", "s-one"),
        ("MatchWithdrawn", "s-all"),
        ("MatchFound", "s-back"),
        ("MatchWithdrawn", "s-back"),
    ]
    reasons = [e.data.reason for e in m.staged() if type(e).__name__ == "MatchWithdrawn"]
    assert reasons == ["no_longer_fits", "student_erased", "vacancy_closed"]
    # each match says which of the student's profiles it was found on (or changed on)
    versions = [e.data.student_version for e in m.staged() if type(e).__name__ != "MatchWithdrawn"]
    assert versions == [1, 2, 1]


def test_a_snapshot_that_changes_nothing_says_nothing(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching()
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1))
    m.write(m.service.apply_student, snapshots.student("s-one", uris[:1]))
    before = ranked(m)
    m.write(m.service.apply_student, snapshots.student("s-one", uris[:1]))  # redelivered
    m.write(m.service.apply_student, snapshots.student("s-one", uris[:1], version=2))
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1))
    assert ranked(m) == before
    assert story(m) == [("MatchFound", "s-one")]


def test_a_student_withdrawing_consent_to_matching_is_forgotten(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching()
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1))
    m.write(m.service.apply_student, snapshots.student("s-one", uris))
    no_consent = Consents(matching=Consent(granted=False))
    m.write(m.service.apply_student, snapshots.student("s-one", uris, 2, consents=no_consent))
    assert ranked(m) == []
    assert "s-one" not in m.service.index.students
    with m.runtime.reading() as session:
        assert m.service.personal_data(session, "s-one")["view"] is None
    [_, withdrawn] = m.staged()
    assert withdrawn.data.reason == "consent_withdrawn"


def test_a_student_who_gave_no_consent_is_not_matched(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching()
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1))
    m.write(m.service.apply_student, snapshots.student("s-silent", uris, consents=Consents()))
    assert ranked(m) == [] and m.staged() == []
    assert "s-silent" not in m.service.index.students
    only_matching = Consents(matching=Consent(granted=True))
    m.write(m.service.apply_student, snapshots.student("s-silent", uris, 2, consents=only_matching))
    assert [s for s, _ in ranked(m)] == ["s-silent"]


def test_pairs_below_the_region_minimum_are_not_matches(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching(match_min_score=0.6)
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1))
    m.write(m.service.apply_student, snapshots.student("s-two", uris[:2]))
    m.write(m.service.apply_student, snapshots.student("s-one", uris[:1]))
    assert [s for s, _ in ranked(m)] == ["s-two"]
    # s-one shares a skill (1/3) but stays under 0.6; once it learns more it matches.
    m.write(m.service.apply_student, snapshots.student("s-one", uris, version=2))
    assert [s for s, _ in ranked(m)] == ["s-one", "s-two"]
    # Falling under the minimum again withdraws the match.
    m.write(m.service.apply_student, snapshots.student("s-one", uris[:1], version=3))
    assert [s for s, _ in ranked(m)] == ["s-two"]
    assert story(m)[-1] == ("MatchWithdrawn", "s-one")


def test_an_uncovered_nice_to_have_skill_is_said_apart_in_the_event(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching()
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1, uris[:2], nice=(CHEMISTRY,)))
    m.write(m.service.apply_student, snapshots.student("s-ana", uris[:2]))
    [found] = m.staged()
    assert (found.data.missing_skills, found.data.missing_nice_to_have) == ([], [CHEMISTRY])


def test_a_companys_export_markets_count_for_its_open_vacancies(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching()
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1))
    m.write(m.service.apply_student, snapshots.student("s-da", uris[:1], languages={"da": "B2"}))
    [(_, before)] = ranked(m)
    m.write(m.service.apply_company, snapshots.company(["DK"]))
    [(_, after)] = ranked(m)
    assert after > before
    with m.runtime.reading() as session:
        [match] = matches_of_student(session, "s-da")
    components = MatchExplanation.model_validate(match.explanation).components
    assert components is not None and components.language_bonus > 0
    # The better score moved less than the update step: stored, not announced.
    assert after - before <= m.runtime.settings.match_update_step
    assert story(m) == [("MatchFound", "s-da")]
    # The same markets again score nothing anew.
    m.write(m.service.apply_company, snapshots.company(["DK"], version=2))
    assert ranked(m) == [("s-da", after)]


def test_a_replay_announces_every_current_match_as_it_was_found(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching()
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1))
    m.write(m.service.apply_student, snapshots.student("s-all", uris))
    m.write(m.service.apply_student, snapshots.student("s-one", uris[:1]))
    with m.runtime.reading() as session:
        replayed = list(m.service.current_matches(session))
    assert sorted(e.id for e in replayed) == sorted(e.id for e in m.staged())


def test_a_rolled_back_change_has_the_view_reloaded_before_its_next_use(
    matching: Callable[..., Any], snapshots: Any, uris: list[str]
) -> None:
    m = matching()
    m.write(m.service.apply_vacancy, snapshots.vacancy("open", 1))
    with pytest.raises(RuntimeError), m.runtime.transaction() as session:
        m.service.apply_student(session, snapshots.student("s-one", uris))
        raise RuntimeError("the batch failed after s-one was applied")
    assert "s-one" in m.service.index.students  # the index went ahead of the database
    m.service.mark_stale()
    m.write(m.service.apply_student, snapshots.student("s-two", uris[:2]))
    assert "s-one" not in m.service.index.students
    assert [s for s, _ in ranked(m)] == ["s-two"]
