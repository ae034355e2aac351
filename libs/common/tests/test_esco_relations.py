"""ESCO's skills as the shipped graph knows them: how specific each is, and which
occupations list it."""

from __future__ import annotations

import math
from functools import cache

from interlocality.common.esco import EscoVocabulary, default_vocabulary
from interlocality.common.esco_relations import OccupationSkills, SkillGraph


@cache
def vocabulary() -> EscoVocabulary:
    return default_vocabulary()


@cache
def graph() -> SkillGraph:
    return SkillGraph.from_vocabulary(vocabulary())


def skill(label: str) -> str:
    found = vocabulary().find_by_label(label)
    assert found is not None, label
    return found.uri


def test_a_skill_hundreds_of_occupations_list_weighs_less_than_a_trades_own() -> None:
    problems = skill("create solutions to problems")
    heat_pumps = skill("install heat pump")
    assert len(graph().listed_in(problems)) > 300
    assert graph().specificity(problems) < 4 < 7 < graph().specificity(heat_pumps)
    every = len(graph().occupations)
    assert every == len(vocabulary().occupations)
    assert graph().specificity(heat_pumps) == 1 + math.log(
        every / (1 + len(graph().listed_in(heat_pumps)))
    )
    assert 6 < graph().typical_specificity < 9


def test_an_occupation_lists_its_essential_and_optional_skills_once() -> None:
    analyst = next(o for o in vocabulary().occupations.values() if o.label == "data analyst")
    number = next(n for n, o in enumerate(graph().occupations) if o.uri == analyst.uri)
    for uri in analyst.essential_skills:
        assert (number, True) in graph().listed_in(uri)
    for uri in set(analyst.optional_skills) - set(analyst.essential_skills):
        assert (number, False) in graph().listed_in(uri)


def test_without_occupations_every_skill_weighs_one_and_unknown_ones_nothing() -> None:
    plain = SkillGraph({}, ["a", "b"])
    assert plain.specificity("a") == plain.typical_specificity == 1.0
    assert plain.total_specificity(["a", "b", "not known"]) == 2.0
    listed = SkillGraph({}, ["a", "b", "c"], occupations=[OccupationSkills("o", ("a", "x"))])
    assert listed.occupations == (OccupationSkills("o", ("a",), ()),)  # unknown x dropped
    assert listed.specificity("a") == 1 + math.log(1 / 2)
    assert listed.specificity("b") == 1 + math.log(1)  # listed nowhere: the most specific
