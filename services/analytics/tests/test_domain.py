from typing import Any

from interlocality.analytics.domain import FunnelEntry, funnel, funnel_entry, summarise
from interlocality.common.testing import upserted
from interlocality.contracts.envelope import CloudEvent


def test_summary_counts_by_type_and_region_with_totals() -> None:
    summary = summarise(
        [
            ("aarhus", "org.interlocality.MatchFound.v1", 3),
            ("aarhus", "org.interlocality.VacancyPublished.v1", 2),
            ("leipzig", "org.interlocality.MatchFound.v1", 4),
        ]
    )
    assert summary == {
        "total": 9,
        "by_type": {"MatchFound.v1": 7, "VacancyPublished.v1": 2},
        "by_region": {
            "aarhus": {"MatchFound.v1": 3, "VacancyPublished.v1": 2},
            "leipzig": {"MatchFound.v1": 4},
        },
    }


def test_the_funnel_follows_vacancies_step_by_step_overall_and_by_kind() -> None:
    # region, kind, published, then (vacancies, events) for matched/notified/applied/placed
    rows = [
        ("aarhus", "internship", 4, 3, 30, 2, 12, 2, 5, 1, 1),
        ("aarhus", "thesis", 1, 0, 0, 0, 0, 0, 0, 0, 0),
        ("aarhus", None, 0, 1, 2, 0, 0, 0, 0, 0, 0),
    ]
    report = funnel(rows)["aarhus"]
    assert report["steps"] == [
        {"step": "published", "vacancies": 5, "share_of_previous": None},
        {"step": "matched", "vacancies": 4, "share_of_previous": 0.8, "events": 32},
        {"step": "notified", "vacancies": 2, "share_of_previous": 0.5, "events": 12},
        {"step": "applied", "vacancies": 2, "share_of_previous": 1.0, "events": 5},
        {"step": "placed", "vacancies": 1, "share_of_previous": 0.5, "events": 1},
    ]
    assert report["by_kind"]["thesis"][1] == {
        "step": "matched",
        "vacancies": 0,
        "share_of_previous": 0.0,
        "events": 0,
    }
    assert report["by_kind"]["thesis"][2]["share_of_previous"] is None
    assert set(report["by_kind"]) == {"internship", "thesis", "unknown"}


def test_each_funnel_event_is_a_step_of_its_vacancy_with_the_kind_it_says(
    region: str, region_events: list[CloudEvent[Any]]
) -> None:
    steps = [entry for event in region_events if (entry := funnel_entry(event)) is not None]
    assert len(steps) == len(region_events)
    # each step with its company and when it happened, for the regional funnel's medians
    at = [event.data.at if hasattr(event.data, "at") else event.time for event in region_events]
    assert steps[0] == FunnelEntry(region, "v-1", "published", "internship", "c-1", at[0])
    assert steps[2] == FunnelEntry(region, "v-1", "matched", None, "c-1", at[2])
    assert steps[-5].at == region_events[-5].data.sent_at
    assert steps[-3:] == [
        FunnelEntry(region, "v-1", "applied", "internship", "c-1", at[-3]),
        FunnelEntry(region, "v-1", "placed", "internship", "c-1", at[-2]),
        FunnelEntry(region, "v-3", "applied", "student_job", "c-1", at[-1]),
    ]
    assert funnel_entry(upserted(region)) is None
