"""Skill-gap advice: the few skills that would unlock the most, and the best, vacancies.

Candidates are the required skills missing from the open vacancies a student already shares
something with and meets every hard condition of; each is tried by scoring the student
again as if they had it (at the level those vacancies ask for, at least 3) against every
open vacancy. No I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from interlocality.matching.domain import StudentEntry
from interlocality.matching.index import MatchIndex

__all__ = ["SkillGap", "skill_gaps"]

TRIED_SKILLS = 25
SHOWN_VACANCIES = 10
ASSUMED_LEVEL = 3


@dataclass(frozen=True)
class SkillGap:
    """A skill to learn, with the vacancies it would make matches or better matches."""

    uri: str
    new_matches: int
    better_matches: int
    gain: float
    vacancies: tuple[tuple[str, float | None, float], ...]  # id, score now, score with it


def skill_gaps(index: MatchIndex, student: StudentEntry, limit: int = 5) -> list[SkillGap]:
    """The ``limit`` skills worth most to ``student``, best first."""
    now = {c.vacancy_id: c.score for c in index.match_student(student)}
    near = index.match_student(student, min_score=0.0)
    missing: Counter[str] = Counter()
    levels: dict[str, int] = {}
    for candidate in near:
        vacancy = index.vacancies[candidate.vacancy_id]
        for skill in vacancy.required:
            if skill.uri not in student.skills and skill.uri in index.graph:
                missing[skill.uri] += 1
                levels[skill.uri] = max(levels.get(skill.uri, ASSUMED_LEVEL), skill.min_level)
    gaps = []
    for uri, _ in missing.most_common(TRIED_SKILLS):
        learned = replace(student, skills={**student.skills, uri: levels[uri]})
        after = {c.vacancy_id: c.score for c in index.match_student(learned)}
        changed = [
            (vacancy_id, now.get(vacancy_id), score)
            for vacancy_id, score in after.items()
            if score > now.get(vacancy_id, 0.0)
        ]
        if not changed:
            continue
        changed.sort(key=lambda item: (item[1] is not None, -item[2], item[0]))
        gaps.append(
            SkillGap(
                uri=uri,
                new_matches=sum(1 for _, before, _ in changed if before is None),
                better_matches=sum(1 for _, before, _ in changed if before is not None),
                gain=round(sum(score - (before or 0.0) for _, before, score in changed), 4),
                vacancies=tuple(changed[:SHOWN_VACANCIES]),
            )
        )
    gaps.sort(key=lambda gap: (-gap.new_matches, -gap.gain, gap.uri))
    return gaps[:limit]
