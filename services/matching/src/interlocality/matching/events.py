"""Matching's state as wire events: found, updated and withdrawn matches, and their
explanations as the contracts spell them."""

from __future__ import annotations

from typing import Any, Literal

from interlocality.common.service import ServiceRuntime
from interlocality.contracts.matches import (
    ConditionCheck,
    LanguageCheck,
    Match,
    MatchExplanation,
    MatchFound,
    MatchUpdated,
    MatchWithdrawal,
    MatchWithdrawn,
    ScoreComponents,
    SkillCoverage,
)
from interlocality.matching.domain import PairEvaluation
from interlocality.matching.store import MatchRecord

__all__ = [
    "WithdrawReason",
    "explanation_of",
    "match_found",
    "match_of",
    "match_updated",
    "match_withdrawn",
    "missing_nice_to_have",
]

WithdrawReason = Literal["vacancy_closed", "student_erased", "consent_withdrawn", "no_longer_fits"]


def explanation_of(evaluation: PairEvaluation) -> MatchExplanation:
    """The wire explanation of an evaluated pair."""
    return MatchExplanation(
        skills=[
            SkillCoverage(
                uri=s.uri,
                required=s.required,
                min_level=s.min_level,
                via=s.via,
                relation=s.relation,
                level=s.level,
                credit=round(s.credit, 4),
                weight=round(s.weight, 4),
            )
            for s in evaluation.skills
        ],
        ignored_skills=list(evaluation.ignored_skills),
        languages=[
            LanguageCheck(code=x.code, needed=x.needed, has=x.has, required=x.required, met=x.met)
            for x in evaluation.languages
        ],
        conditions=[
            ConditionCheck(name=c.name, met=c.met, detail=c.detail) for c in evaluation.conditions
        ],
        permit=evaluation.permit,
        components=ScoreComponents(
            coverage=evaluation.coverage,
            language_bonus=evaluation.language_bonus,
            location=evaluation.location,
            hours=evaluation.hours,
            field=evaluation.field,
            fit=round(evaluation.fit, 4),
            focus=evaluation.focus,
            occupations=list(evaluation.occupations),
        ),
    )


def missing_nice_to_have(explanation: MatchExplanation | None) -> list[str]:
    """The nice-to-have skills an explained match leaves uncovered (its stored explanation
    says so for every match, also those found before matches said it apart)."""
    if explanation is None:
        return []
    return [s.uri for s in explanation.skills if not s.required and s.via is None]


def match_of(
    record: MatchRecord | dict[str, Any],
    explanation: MatchExplanation | None = None,
    basis: str | None = None,
) -> Match:
    """The wire match of a stored match (or of the row about to be stored), said on
    ``basis`` (the student and vacancy versions; by default those it was found on)."""
    values = record if isinstance(record, dict) else record.model_dump()
    student_version, _ = (basis or values["found_basis"]).split(".", 1)
    if explanation is None and values["explanation"]:
        explanation = MatchExplanation.model_validate(values["explanation"])
    return Match(
        student_id=values["student_id"],
        vacancy_id=values["vacancy_id"],
        company_id=values["company_id"],
        vacancy_title=values["vacancy_title"],
        score=values["score"],
        matched_skills=values["matched_skills"],
        missing_skills=values["missing_skills"],
        missing_nice_to_have=missing_nice_to_have(explanation),
        permit_flag=values["permit_flag"],
        explanation=explanation,
        student_version=int(student_version),
    )


def match_found(
    runtime: ServiceRuntime,
    record: MatchRecord | dict[str, Any],
    explanation: MatchExplanation | None = None,
) -> MatchFound:
    """The ``MatchFound`` event of a stored match (same id for the same basis)."""
    match = match_of(record, explanation)
    basis = record["found_basis"] if isinstance(record, dict) else record.found_basis
    return runtime.event(
        MatchFound,
        subject=match.student_id,
        data=match,
        version=f"{match.vacancy_id}|{basis}",
    )


def match_updated(runtime: ServiceRuntime, record: MatchRecord, basis: str) -> MatchUpdated:
    """The ``MatchUpdated`` event of a changed match; ``basis`` names the student and
    vacancy versions it changed on (same id for the same basis)."""
    return runtime.event(
        MatchUpdated,
        subject=record.student_id,
        data=match_of(record, basis=basis),
        version=f"{record.vacancy_id}|{basis}|updated",
    )


def match_withdrawn(
    runtime: ServiceRuntime, record: MatchRecord, reason: WithdrawReason
) -> MatchWithdrawn:
    """The ``MatchWithdrawn`` event of a match that is gone, and why."""
    return runtime.event(
        MatchWithdrawn,
        subject=record.student_id,
        data=MatchWithdrawal(
            student_id=record.student_id, vacancy_id=record.vacancy_id, reason=reason
        ),
    )
