"""The ESCO skills hierarchy as analytics reads it: skill groups at a level, related skills,
and the ISCED-F field of education a vacancy's skills point to (pure, no I/O).

The hierarchy's first level is ESCO's four pillars (skills; knowledge; transversal skills and
competences; language skills and knowledge), the second their main groups ("working with
computers", "information skills", or for knowledge the ISCED-F broad fields "06 ICT"), and
so on down. A skill is counted in every group it hangs under at the level asked for (ESCO
puts a few skills under two groups), or in its nearest groups when it hangs higher up.

Related skills are ESCO's narrower, broader and sibling skills by the rule matching scores
with (:class:`~interlocality.common.esco_relations.SkillGraph`), so a "related supply" here
is a student matching would give partial credit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from interlocality.common.esco import EscoVocabulary
from interlocality.common.esco_relations import ISCED_PREFIX, SkillGraph

__all__ = ["DEFAULT_GROUP_LEVEL", "GROUP_LEVELS", "REQUIRED_VOTE", "SkillTaxonomy", "isced_label"]

GROUP_LEVELS = (1, 2, 3, 4)
DEFAULT_GROUP_LEVEL = 2
# A required skill says three times as much about the vacancy as a nice-to-have one, as in
# matching's coverage.
REQUIRED_VOTE = 3.0
NICE_VOTE = 1.0


class SkillTaxonomy:
    """Groups, relations and fields of education of the vocabulary's skills."""

    def __init__(self, vocabulary: EscoVocabulary, graph: SkillGraph) -> None:
        self.vocabulary = vocabulary
        self.graph = graph
        self._depth: dict[str, int] = {}
        for group in vocabulary.groups:
            self._depth_of(group, ())
        self._occupations_of: dict[str, list[str]] = {}
        for uri, occupation in vocabulary.occupations.items():
            for skill in occupation.essential_skills:
                self._occupations_of.setdefault(skill, []).append(uri)
        self.groups_of = cache(self._groups_of)
        self._occupation_fields = cache(self._fields_of_occupation)

    def label(self, uri: str, lang: str = "en") -> str:
        """The preferred label of a skill or group (the URI when ESCO has neither)."""
        return self.vocabulary.label(uri, lang)

    def related(self, uri: str) -> tuple[str, ...]:
        """The skills matching gives partial credit for ``uri``."""
        return tuple(related.uri for related in self.graph.related(uri))

    def level_of(self, group: str) -> int | None:
        """The level of a group in the hierarchy (1 for the pillars), if it is a group."""
        return self._depth.get(group)

    def _depth_of(self, group: str, trail: tuple[str, ...]) -> int:
        known = self._depth.get(group)
        if known is not None:
            return known
        parents = [
            p
            for p in self.vocabulary.group_broader.get(group, ())
            if p in self.vocabulary.groups and p not in trail
        ]
        depth = 1 + min((self._depth_of(p, (*trail, group)) for p in parents), default=0)
        self._depth[group] = depth
        return depth

    def _groups_of(self, uri: str, level: int) -> tuple[str, ...]:
        """The groups of ``uri`` at ``level``, or its deepest groups above it."""
        found: dict[str, int] = {}
        seen = {uri}
        frontier = list(self._parents(uri))
        while frontier:
            parent = frontier.pop()
            if parent in seen:
                continue
            seen.add(parent)
            depth = self._depth.get(parent)
            if depth is not None:
                found[parent] = depth
                if depth <= level:
                    continue
            frontier.extend(self._parents(parent))
        if not found:
            return ()
        # every path ends at a pillar (level 1), so some group is at or above ``level``
        at = max(d for d in found.values() if d <= level)
        return tuple(sorted(g for g, d in found.items() if d == at))

    def _parents(self, uri: str) -> tuple[str, ...]:
        skill = self.vocabulary.skills.get(uri)
        if skill is not None:
            return skill.broader
        return self.vocabulary.group_broader.get(uri, ())

    def field_of_vacancy(self, required: Iterable[str], nice: Iterable[str] = ()) -> str | None:
        """The ISCED-F detailed field (four digits) a vacancy's skills point to most.

        Knowledge concepts hang under ISCED-F fields in ESCO, so each of the vacancy's
        skills that is one votes for its fields (a required skill :data:`REQUIRED_VOTE`, a
        nice-to-have one 1, split between a concept's fields). When none of its skills is
        knowledge, each skill votes through the ESCO occupations that list it as essential:
        the fields of those occupations' essential knowledge, its vote split between them
        in proportion. The field with most votes wins (the lower code on a tie); ``None``
        when neither way finds a field.
        """
        weighted = [(uri, REQUIRED_VOTE) for uri in required] + [(uri, NICE_VOTE) for uri in nice]
        votes: dict[str, float] = {}
        for uri, weight in weighted:
            codes = self.graph.fields(uri)
            for code in codes:
                votes[code] = votes.get(code, 0.0) + weight / len(codes)
        if not votes:
            for uri, weight in weighted:
                through = self._fields_through_occupations(uri)
                total = sum(through.values())
                for code, count in through.items():
                    votes[code] = votes.get(code, 0.0) + weight * count / total
        if not votes:
            return None
        return min(votes, key=lambda code: (-votes[code], code))

    def _fields_through_occupations(self, uri: str) -> Mapping[str, float]:
        fields: dict[str, float] = {}
        for occupation in self._occupations_of.get(uri, ()):
            codes = self._occupation_fields(occupation)
            for code in codes:
                fields[code] = fields.get(code, 0.0) + 1 / len(codes)
        return fields

    def _fields_of_occupation(self, occupation: str) -> tuple[str, ...]:
        codes: dict[str, None] = {}
        for skill in self.vocabulary.occupations[occupation].essential_skills:
            for code in self.graph.fields(skill):
                codes[code] = None
        return tuple(codes)


def isced_label(vocabulary: EscoVocabulary, code: str) -> str:
    """The name of an ISCED-F field by its code (the code when ESCO does not name it)."""
    return vocabulary.groups.get(ISCED_PREFIX + code, code)
