"""Settings of the matching service: the common ones and how matches are kept."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from interlocality.common.settings import ServiceSettings

__all__ = ["MatchingSettings"]


class MatchingSettings(ServiceSettings):
    """What configures one matching process (``INTERLOCALITY_*``); ``MATCHING_PORT`` and
    ``MATCHING_DATABASE_URL`` name its port and database in a region's environment."""

    service: str = "matching"
    port: int = 8003
    match_min_score: Annotated[
        float,
        Field(
            ge=0.0,
            le=1.0,
            description="Lowest score a pair needs to be a match; below it a match is withdrawn.",
        ),
    ] = 0.3
    match_limit_per_vacancy: Annotated[
        int,
        Field(
            ge=1,
            description="A vacancy, when scored, keeps at most this many of its best students.",
        ),
    ] = 100
    match_limit_per_student: Annotated[
        int,
        Field(
            ge=1,
            description="A student, when scored, keeps at most this many of their best vacancies.",
        ),
    ] = 50
    match_update_step: Annotated[
        float,
        Field(
            ge=0.0,
            le=1.0,
            description="How far a match's score must move to be published as updated.",
        ),
    ] = 0.05
    dating_solve_seconds: Annotated[
        float,
        Field(
            gt=0.0,
            description="Longest the exact Company Dating solver may run; past it the "
            "schedule is the greedy baseline's, marked as not proven optimal.",
        ),
    ] = 20.0
