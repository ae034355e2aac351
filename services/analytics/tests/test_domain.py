from interlocality.analytics.domain import summarise


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
