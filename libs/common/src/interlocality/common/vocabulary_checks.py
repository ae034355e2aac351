"""Request checks against the ESCO vocabulary: unknown skill URIs are a 422 that names them."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException

from interlocality.common.esco import EscoVocabulary
from interlocality.common.service import problem

__all__ = ["require_known_skills"]


def require_known_skills(
    vocabulary: EscoVocabulary, skills: Sequence[tuple[Sequence[str | int], str]]
) -> None:
    """Raise a 422 listing every ``(location, uri)`` whose URI is not an ESCO skill."""
    problems = [
        problem(
            location,
            f"unknown ESCO skill URI {uri!r}: not a skill of ESCO v1.1.1",
            "unknown_esco_skill",
            input=uri,
        )
        for location, uri in skills
        if uri not in vocabulary
    ]
    if problems:
        raise HTTPException(status_code=422, detail=problems)
