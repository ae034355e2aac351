"""Scoring: pure functions over plain data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["PairScore", "RequiredSkill", "permit_flag", "score_pair"]


@dataclass(frozen=True)
class RequiredSkill:
    """A skill a vacancy requires, at a minimum level 1–5."""

    uri: str
    min_level: int = 1


@dataclass(frozen=True)
class PairScore:
    """How well a student covers a vacancy's required skills."""

    score: float
    matched: tuple[str, ...]
    missing: tuple[str, ...]


def score_pair(
    student_skills: Mapping[str, int], required: Sequence[RequiredSkill]
) -> PairScore | None:
    """Weighted overlap of the student's skills with the vacancy's required ones.

    Each required skill counts 1 when the student has it at or above the minimum level and
    ``level / min_level`` when below it. No shared skill at all means no match (``None``).
    """
    if not required:
        return None
    matched: list[str] = []
    missing: list[str] = []
    credit = 0.0
    for skill in required:
        level = student_skills.get(skill.uri)
        if level is None:
            missing.append(skill.uri)
            continue
        matched.append(skill.uri)
        credit += min(1.0, level / max(skill.min_level, 1))
    if not matched:
        return None
    return PairScore(
        score=round(credit / len(required), 4), matched=tuple(matched), missing=tuple(missing)
    )


def permit_flag(
    *, kind: str, vacancy_hours: int | None, permitted_hours: float | None, country: str = ""
) -> str | None:
    """Why a student job exceeds what the student may work in term, or ``None``.

    Only student jobs are checked: internships that are part of a curriculum fall outside
    the limits in every partner country's rules, and graduates' limits differ by permit.
    """
    if kind != "student_job" or vacancy_hours is None or permitted_hours is None:
        return None
    if vacancy_hours <= permitted_hours:
        return None
    rules = f" ({country} rules)" if country else ""
    return (
        f"the job's {vacancy_hours} h a week exceed the {permitted_hours:g} h a week "
        f"this student may work in term{rules}"
    )
