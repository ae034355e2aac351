"""Request checks against the ESCO vocabulary: unknown skill URIs are a 422 that names them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException

from interlocality.common.bulk import RowRejected
from interlocality.common.esco import EscoVocabulary, Skill
from interlocality.common.service import problem
from interlocality.contracts.common import ESCO_SKILL_URI_PATTERN

__all__ = [
    "require_known_skills",
    "resolve_skill_labels",
    "unknown_skill_errors",
    "unknown_uri_message",
]


def require_known_skills(
    vocabulary: EscoVocabulary, skills: Sequence[tuple[Sequence[str | int], str]]
) -> None:
    """Raise a 422 listing every ``(location, uri)`` whose URI is not an ESCO skill."""
    problems = []
    for location, uri in skills:
        if uri in vocabulary:
            continue
        close = vocabulary.suggest_for_uri(uri)
        problems.append(
            problem(
                location,
                unknown_uri_message(vocabulary, uri, close),
                "unknown_esco_skill",
                input=uri,
                suggestions=[{"uri": s.uri, "label": s.label} for s in close],
            )
        )
    if problems:
        raise HTTPException(status_code=422, detail=problems)


_URI = re.compile(ESCO_SKILL_URI_PATTERN)


def resolve_skill_labels(vocabulary: EscoVocabulary, skills: list[Any], field: str) -> None:
    """Replace skills given by label (import files) with their URI, in place.

    A label ESCO does not have rejects the row, naming up to three close labels.
    """
    for index, skill in enumerate(skills):
        if not isinstance(skill, dict):
            continue
        name = str(skill.get("uri", ""))
        if _URI.match(name):
            continue
        found = vocabulary.find_by_label(name)
        if found is None:
            close = [repr(s.label) for s in vocabulary.suggest(name, limit=3)]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise RowRejected(f"{field}.{index}.uri", f"unknown ESCO skill {name!r}{hint}")
        skill["uri"] = found.uri


def unknown_uri_message(
    vocabulary: EscoVocabulary, uri: str, close: Sequence[Skill] | None = None
) -> str:
    """Why ``uri`` is refused, with up to three skills it may have been meant as."""
    what = (
        "an ESCO occupation, not a skill"
        if uri in vocabulary.occupations
        else "not a skill of ESCO v1.1.1"
    )
    close = vocabulary.suggest_for_uri(uri) if close is None else close
    hint = "; did you mean " + ", ".join(f"{s.label!r} ({s.uri})" for s in close) + "?"
    return f"unknown ESCO skill URI {uri!r}: {what}" + (hint if close else "")


def unknown_skill_errors(
    vocabulary: EscoVocabulary, uris: Sequence[str], field: str
) -> list[tuple[str, str]]:
    """``(field, message)`` for each URI that is not an ESCO skill."""
    return [
        (f"{field}.{index}.uri", unknown_uri_message(vocabulary, uri))
        for index, uri in enumerate(uris)
        if uri not in vocabulary
    ]
