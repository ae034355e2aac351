"""The pure rules of the regional insights: size classes, medians, semesters, the 90-day
window after a Company Dating date, and how the reports group their rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from interlocality.analytics.funnel import (
    VacancyJourney,
    days_between,
    funnel_insights,
    median,
    month_of,
    size_class,
)
from interlocality.analytics.outcomes import (
    DatingDate,
    FollowUp,
    Graduate,
    dating_outcomes,
    employability,
    semester_of,
    within_window,
)

T0 = datetime(2025, 3, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("employees", "declared", "expected"),
    [
        (1, None, "micro"),
        (9, None, "micro"),
        (10, None, "small"),
        (49, "micro", "small"),  # the headcount wins over the declared class
        (50, None, "medium"),
        (249, None, "medium"),
        (250, None, "large"),
        (None, "medium", "medium"),
        (None, None, "unknown"),
    ],
)
def test_size_class_follows_the_eu_headcount_limits(
    employees: int | None, declared: str | None, expected: str
) -> None:
    assert size_class(employees, declared) == expected


def test_medians_of_odd_and_even_counts_in_tenths_of_days() -> None:
    assert median([]) is None
    assert median([4.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0]) == 1.5
    assert median([1 / 3]) == 0.3


def test_days_between_never_runs_backwards_and_takes_naive_times_as_utc() -> None:
    assert days_between(T0, T0 + timedelta(hours=36)) == 1.5
    assert days_between(T0, T0 - timedelta(minutes=5)) == 0.0
    assert days_between(T0, None) is None
    assert days_between(T0.replace(tzinfo=None), T0 + timedelta(days=2)) == 2.0
    assert month_of(datetime(2025, 1, 31, 23, 30, tzinfo=UTC) + timedelta(hours=1)) == "2025-02"


@pytest.mark.parametrize(
    ("day", "semester"),
    [
        (date(2025, 1, 1), "2025-spring"),
        (date(2025, 7, 31), "2025-spring"),
        (date(2025, 8, 1), "2025-autumn"),
        (date(2025, 12, 31), "2025-autumn"),
    ],
)
def test_graduation_semesters_split_at_the_end_of_july(day: date, semester: str) -> None:
    assert semester_of(day) == semester


def test_a_step_follows_a_date_from_its_start_for_ninety_days() -> None:
    assert within_window(T0, T0)
    assert within_window(T0, T0 + timedelta(days=90))
    assert not within_window(T0, T0 + timedelta(days=90, seconds=1))
    assert not within_window(T0, T0 - timedelta(seconds=1))


def journey(vacancy_id: str, published: datetime, **facts: object) -> VacancyJourney:
    return VacancyJourney(region="aarhus", vacancy_id=vacancy_id, published_at=published, **facts)  # type: ignore[arg-type]


def test_the_funnel_groups_vacancies_by_cut_and_month_with_medians_of_those_that_got_there() -> (
    None
):
    journeys = [
        journey(
            "v-1",
            T0,
            kind="internship",
            size_class="micro",
            matched=True,
            first_matched_at=T0 + timedelta(days=2),
            notified=True,
            applied=True,
            first_placed_at=T0 + timedelta(days=20),
        ),
        journey(
            "v-2",
            T0 + timedelta(days=3),
            kind="internship",
            matched=True,
            first_matched_at=T0 + timedelta(days=4),
        ),
        journey("v-3", T0 + timedelta(days=40), kind="thesis", size_class="micro"),
        # matched before analytics knew when: counted, but in no median
        journey("v-4", T0 + timedelta(days=41), kind="thesis", matched=True),
    ]
    report = funnel_insights(journeys, "kind")
    [region] = report.regions
    assert region.total.model_dump() == {
        "published": 4,
        "matched": 3,
        "notified": 1,
        "applied": 1,
        "placed": 1,
        "median_days_to_first_match": 1.5,
        "median_days_to_placement": 20.0,
    }
    assert [(g.group, g.total.published) for g in region.groups] == [
        ("internship", 2),
        ("thesis", 2),
    ]
    assert [(m.month, m.published, m.matched) for m in region.months] == [
        ("2025-03", 2, 2),
        ("2025-04", 2, 1),
    ]
    thesis = region.groups[1]
    assert thesis.total.median_days_to_first_match is None
    by_size = funnel_insights(journeys, "size_class", "2025-04", "2025-04").regions[0]
    assert [(g.group, g.total.published) for g in by_size.groups] == [
        ("micro", 1),
        ("unknown", 1),
    ]


def test_dating_outcomes_count_dates_held_and_what_followed_between_the_same_pair() -> None:
    dates = [
        DatingDate("de-1", "s-1", "c-1", T0),
        DatingDate("de-1", "s-2", "c-1", T0),
        DatingDate("de-1", "s-1", "c-2", T0 + timedelta(minutes=10)),
        DatingDate("de-2", "s-3", "c-1", T0 + timedelta(days=400)),  # not held yet
    ]
    follow_ups = [
        FollowUp("s-1", "c-1", "applied", T0 + timedelta(days=3)),
        FollowUp("s-1", "c-1", "placed", T0 + timedelta(days=91)),  # too late
        FollowUp("s-2", "c-2", "applied", T0 + timedelta(days=1)),  # another company
        FollowUp("s-1", "c-2", "applied", T0 - timedelta(days=1)),  # before the date
    ]
    report = dating_outcomes("aarhus", dates, follow_ups, now=T0 + timedelta(days=100))
    assert report.total.model_dump() == {
        "dates_held": 3,
        "students": 2,
        "companies": 2,
        "dates_with_application": 1,
        "dates_with_placement": 0,
        "application_rate": 0.3333,
        "placement_rate": 0.0,
    }
    assert [m.month for m in report.months] == ["2025-03"]
    empty = dating_outcomes("aarhus", dates, follow_ups, T0, from_month="2025-04")
    assert empty.total.dates_held == 0
    assert empty.total.application_rate is None
    assert empty.months == []


def test_employability_lists_every_outcome_per_semester_in_time_order() -> None:
    graduates = [
        Graduate(date(2025, 9, 1), "employed_in_region"),
        Graduate(date(2025, 2, 1), "employed_in_region"),
        Graduate(date(2025, 3, 1), "further_study"),
        Graduate(date(2024, 12, 1), "unknown"),
    ]
    report = employability("leipzig", graduates, from_month="2025-01")
    assert [s.semester for s in report.semesters] == ["2025-spring", "2025-autumn"]
    spring = {o.outcome: (o.count, o.share) for o in report.semesters[0].outcomes}
    assert spring == {
        "employed_in_region": (1, 0.5),
        "employed_elsewhere": (0, 0.0),
        "further_study": (1, 0.5),
        "unknown": (0, 0.0),
    }
    assert report.total.semester == "all"
    assert report.total.graduates == 3
    assert [o.share for o in employability("leipzig", []).total.outcomes] == [None] * 4
