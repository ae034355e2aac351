"""Profiles' state as wire events: the only place that builds them."""

from __future__ import annotations

import hashlib
from datetime import datetime

from interlocality.common.service import ServiceRuntime
from interlocality.common.work_rules import WorkRules
from interlocality.contracts.outcomes import GraduateOutcome, GraduateOutcomeRecorded
from interlocality.contracts.students import (
    StudentErasure,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.profiles.domain import profile_of
from interlocality.profiles.store import GraduateOutcomeRecord, StudentRecord

__all__ = ["erasure_event", "outcome_event", "outcome_of", "snapshot_event", "snapshot_of"]


def snapshot_of(record: StudentRecord, rules: WorkRules) -> StudentProfile:
    """The wire snapshot of a stored student."""
    return profile_of(
        student_id=record.id,
        document=record.document,
        consents=record.consents,
        version=record.version,
        updated_at=record.updated_at,
        rules=rules,
    )


def snapshot_event(runtime: ServiceRuntime, profile: StudentProfile) -> StudentProfileUpserted:
    """The event publishing ``profile``.

    Its id is derived from the version and the content: the same state published again
    (``replay``) keeps its id, so consumers skip it; two different snapshots never share
    one, so no consumer drops a change as a duplicate.
    """
    content = hashlib.sha256(profile.model_dump_json().encode()).hexdigest()
    return runtime.event(
        StudentProfileUpserted,
        subject=profile.student_id,
        data=profile,
        version=f"{profile.version}:{content}",
    )


def erasure_event(
    runtime: ServiceRuntime, student_id: str, erased_at: datetime
) -> StudentProfileErased:
    """The event telling every service to delete what it holds on the student.

    Its id is derived from the time of the erasure: published again from the ledger of
    erasures (``replay``) it keeps its id, so consumers that applied it skip it.
    """
    return runtime.event(
        StudentProfileErased,
        subject=student_id,
        data=StudentErasure(student_id=student_id, erased_at=erased_at),
        version=erased_at.isoformat(),
    )


def outcome_of(record: GraduateOutcomeRecord) -> GraduateOutcome:
    """The wire form of a stored outcome."""
    return GraduateOutcome.model_validate(record, from_attributes=True)


def outcome_event(runtime: ServiceRuntime, outcome: GraduateOutcome) -> GraduateOutcomeRecorded:
    """The event publishing ``outcome``; like a snapshot's, its id is derived from the
    content (the time it was recorded included), so a replay has no second effect."""
    content = hashlib.sha256(outcome.model_dump_json().encode()).hexdigest()
    return runtime.event(
        GraduateOutcomeRecorded, subject=outcome.student_id, data=outcome, version=content
    )
