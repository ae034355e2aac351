"""Pure logic of the profiles service: records to contract snapshots."""

from __future__ import annotations

from datetime import UTC

from interlocality.contracts.students import StudentProfile
from interlocality.profiles.store import StudentRecord

__all__ = ["profile_of"]


def profile_of(record: StudentRecord) -> StudentProfile:
    """The wire snapshot of a stored student."""
    updated = record.updated_at
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    return StudentProfile.model_validate(
        {
            "student_id": record.id,
            "name": record.name,
            "email": record.email,
            "skills": record.skills,
            "languages": record.languages,
            "engagement_kinds": record.engagement_kinds,
            "version": record.version,
            "updated_at": updated,
        }
    )
