"""How ESCO skills relate: broader, narrower and sibling skills, and fields of education.

A student without the exact skill a vacancy asks for may have one next to it in the ESCO
hierarchy; matching gives such a skill partial credit and says through which concept, and
analytics counts such a student as related supply of the skill: one rule for both. The
knowledge concepts of ESCO hang under ISCED-F fields of education, which tells how close a
vacancy's knowledge is to what a student studies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from interlocality.common.esco import EscoVocabulary

__all__ = [
    "RELATED_CREDIT",
    "RelatedSkill",
    "Relation",
    "SkillGraph",
    "field_closeness",
]

Relation = Literal["exact", "narrower", "broader", "sibling"]

# A student's skill that is narrower than the one asked for (Python for "computer
# programming") says most about it; a broader one less; a sibling least.
RELATED_CREDIT: Mapping[Relation, float] = {
    "exact": 1.0,
    "narrower": 0.7,
    "broader": 0.5,
    "sibling": 0.35,
}
# A parent with more children than this is a catalogue heading, not a family of skills.
MAX_SIBLINGS = 40
ISCED_PREFIX = "http://data.europa.eu/esco/isced-f/"


@dataclass(frozen=True)
class RelatedSkill:
    """A skill standing in for another, and how."""

    uri: str
    relation: Relation
    credit: float


class SkillGraph:
    """Related skills and fields of education of every skill of a vocabulary (no I/O)."""

    def __init__(
        self,
        broader: Mapping[str, Iterable[str]],
        known: Iterable[str],
        fields: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.known = frozenset(known)
        parents: dict[str, tuple[str, ...]] = {}
        children: dict[str, list[str]] = {}
        for uri, ups in broader.items():
            skill_parents = tuple(p for p in ups if p in self.known)
            parents[uri] = skill_parents
            for parent in skill_parents:
                children.setdefault(parent, []).append(uri)
        self._related: dict[str, tuple[RelatedSkill, ...]] = {}
        for uri in self.known:
            found: dict[str, RelatedSkill] = {}
            family = [
                sibling
                for parent in parents.get(uri, ())
                if len(children.get(parent, ())) <= MAX_SIBLINGS
                for sibling in children.get(parent, ())
            ]
            kinds: tuple[tuple[Relation, Iterable[str]], ...] = (
                ("narrower", children.get(uri, ())),
                ("broader", parents.get(uri, ())),
                ("sibling", family),
            )
            for relation, others in kinds:
                for other in others:
                    if other != uri and other not in found:
                        found[other] = RelatedSkill(other, relation, RELATED_CREDIT[relation])
            self._related[uri] = tuple(found.values())
        credited: dict[str, list[RelatedSkill]] = {}
        for required, skills in self._related.items():
            for skill in skills:
                credited.setdefault(skill.uri, []).append(
                    RelatedSkill(required, skill.relation, skill.credit)
                )
        self._credited = {uri: tuple(found) for uri, found in credited.items()}
        self._fields = {uri: tuple(codes) for uri, codes in (fields or {}).items()}

    @classmethod
    def from_vocabulary(cls, vocabulary: EscoVocabulary) -> SkillGraph:
        """The graph of the shipped ESCO vocabulary."""
        broader = {uri: skill.broader for uri, skill in vocabulary.skills.items()}
        fields: dict[str, list[str]] = {}
        for uri, skill in vocabulary.skills.items():
            codes = _fields_of(skill.broader, vocabulary)
            if codes:
                fields[uri] = codes
        return cls(broader, vocabulary.skills, fields)

    def __contains__(self, uri: object) -> bool:
        return uri in self.known

    def related(self, uri: str) -> tuple[RelatedSkill, ...]:
        """Skills that earn partial credit for ``uri``, best relation first per skill."""
        return self._related.get(uri, ())

    def credited_by(self, uri: str) -> tuple[RelatedSkill, ...]:
        """The skills a student's ``uri`` earns partial credit for (the inverse of
        :meth:`related`: ``relation`` is still said from the asked-for skill's side)."""
        return self._credited.get(uri, ())

    def fields(self, uri: str) -> tuple[str, ...]:
        """ISCED-F codes (detailed, four digits) the skill belongs to, if any."""
        return self._fields.get(uri, ())


def _fields_of(parents: Iterable[str], vocabulary: EscoVocabulary, depth: int = 4) -> list[str]:
    codes: list[str] = []
    frontier = list(parents)
    for _ in range(depth):
        next_frontier: list[str] = []
        for parent in frontier:
            if parent.startswith(ISCED_PREFIX):
                code = parent.removeprefix(ISCED_PREFIX)
                if code not in codes:
                    codes.append(code)
            elif parent in vocabulary.skills:
                next_frontier.extend(vocabulary.skills[parent].broader)
        if codes:
            return codes
        frontier = next_frontier
    return codes


def field_closeness(study_field: str, skill_fields: Iterable[str]) -> float:
    """How close a student's ISCED-F field is to a skill's: same detailed field 1, same
    narrow field 0.7, same broad field 0.4, else 0."""
    best = 0.0
    for code in skill_fields:
        if code == study_field:
            return 1.0
        if len(code) >= 3 and study_field[:3] == code[:3]:
            best = max(best, 0.7)
        elif study_field[:2] == code[:2]:
            best = max(best, 0.4)
    return best
