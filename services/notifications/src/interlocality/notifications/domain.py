"""What a notification says: pure functions over the match."""

from __future__ import annotations

from typing import Any

from interlocality.contracts.matches import Match

__all__ = ["in_app_content"]


def in_app_content(match: Match) -> dict[str, Any]:
    """Title and explanation of an in-app notice about ``match``."""
    covered = len(match.matched_skills)
    needed = covered + len(match.missing_skills)
    return {
        "headline": f"New match: {match.vacancy_title}",
        "why": f"You have {covered} of the {needed} skills this vacancy asks for.",
        "score": match.score,
        "matched_skills": list(match.matched_skills),
        "missing_skills": list(match.missing_skills),
    }
