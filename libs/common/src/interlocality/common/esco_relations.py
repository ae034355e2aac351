"""How ESCO skills relate: broader, narrower and sibling skills, fields of education, and
the occupations that list them.

A student without the exact skill a vacancy asks for may have one next to it in the ESCO
hierarchy; matching gives such a skill partial credit and says through which concept, and
analytics counts such a student as related supply of the skill: one rule for both. The
knowledge concepts of ESCO hang under ISCED-F fields of education, which tells how close a
vacancy's knowledge is to what a student studies. ESCO's occupations say which skills each
one needs (essential) or may use (optional): how many occupations list a skill tells how
specific it is, and which occupation a vacancy's skills belong to tells what else a
student of that trade would know.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Literal

from interlocality.common.esco import EscoVocabulary

__all__ = [
    "RELATED_CREDIT",
    "OccupationSkills",
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
class OccupationSkills:
    """An ESCO occupation's skills: those it needs and those it may use."""

    uri: str
    essential: tuple[str, ...]
    optional: tuple[str, ...] = ()


@dataclass(frozen=True)
class RelatedSkill:
    """A skill standing in for another, and how."""

    uri: str
    relation: Relation
    credit: float


class SkillGraph:
    """Related skills, fields of education and occupations of every skill of a vocabulary
    (no I/O)."""

    def __init__(
        self,
        broader: Mapping[str, Iterable[str]],
        known: Iterable[str],
        fields: Mapping[str, Iterable[str]] | None = None,
        occupations: Iterable[OccupationSkills] = (),
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
        self.occupations = tuple(
            OccupationSkills(
                o.uri,
                tuple(u for u in o.essential if u in self.known),
                tuple(u for u in o.optional if u in self.known and u not in o.essential),
            )
            for o in occupations
        )
        listed: dict[str, list[tuple[int, bool]]] = {}
        for number, occupation in enumerate(self.occupations):
            for uri in occupation.essential:
                listed.setdefault(uri, []).append((number, True))
            for uri in occupation.optional:
                listed.setdefault(uri, []).append((number, False))
        self._listed_in = {uri: tuple(found) for uri, found in listed.items()}
        count = len(self.occupations)
        self._unlisted = 1.0 + math.log(count) if count else 1.0
        self._specificity = dict.fromkeys(self.known, self._unlisted)
        self._specificity.update(
            (uri, 1.0 + math.log(count / (1 + len(found)))) for uri, found in listed.items()
        )
        # the median specificity of the skills occupations list (1 without occupations)
        weights = sorted(self._specificity[uri] for uri in listed)
        self.typical_specificity = weights[len(weights) // 2] if weights else 1.0

    @classmethod
    def from_vocabulary(cls, vocabulary: EscoVocabulary) -> SkillGraph:
        """The graph of the shipped ESCO vocabulary."""
        broader = {uri: skill.broader for uri, skill in vocabulary.skills.items()}
        fields: dict[str, list[str]] = {}
        for uri, skill in vocabulary.skills.items():
            codes = _fields_of(skill.broader, vocabulary)
            if codes:
                fields[uri] = codes
        occupations = (
            OccupationSkills(o.uri, o.essential_skills, o.optional_skills)
            for o in sorted(vocabulary.occupations.values(), key=lambda o: o.uri)
        )
        return cls(broader, vocabulary.skills, fields, occupations)

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

    def specificity(self, uri: str) -> float:
        """How much having ``uri`` says about someone: ``1 + ln(N / (1 + n))`` for a skill
        that ``n`` of the graph's ``N`` occupations list (an inverse document frequency
        over ESCO's occupations). A transversal skill such as teamwork, listed by hundreds
        of occupations, weighs about 3; one a single occupation lists, about 8. Without
        occupations every skill weighs 1."""
        return self._specificity.get(uri, self._unlisted)

    def total_specificity(self, uris: Iterable[str]) -> float:
        """The specificity of the skills among ``uris`` the graph knows, summed."""
        return sum(map(self._specificity.get, uris, repeat(0.0)))

    def listed_in(self, uri: str) -> tuple[tuple[int, bool], ...]:
        """The occupations listing ``uri``, by number in :attr:`occupations`, and whether
        each needs it (essential) rather than may use it (optional)."""
        return self._listed_in.get(uri, ())


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
