"""Profiles' state as wire events: the only place that builds them."""

from __future__ import annotations

import hashlib
from datetime import datetime

from interlocality.common.service import ServiceRuntime
from interlocality.common.work_rules import WorkRules
from interlocality.contracts.students import (
    StudentErasure,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.profiles.domain import profile_of
from interlocality.profiles.store import StudentRecord

__all__ = ["erasure_event", "snapshot_event", "snapshot_of"]


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
    """The event telling every service to delete what it holds on the student."""
    return runtime.event(
        StudentProfileErased,
        subject=student_id,
        data=StudentErasure(student_id=student_id, erased_at=erased_at),
    )
