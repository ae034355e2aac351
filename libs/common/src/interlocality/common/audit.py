"""The audit log: who read, exported or erased a student's personal data, and when.

Every service keeps its own, in its own database, written by the route's access policy
(:class:`interlocality.common.access.Policy` with ``audit=``) whenever the caller is not the
student concerned. Entries are only ever added: there is no route or function that changes
or deletes one. An entry names the student by id only, so an erasure leaves it in place —
the record that the data was accessed, and erased, outlives the data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel
from pydantic import Field as Described
from sqlmodel import Field, Session, SQLModel, col, select

__all__ = ["AuditEntry", "AuditRecord", "entries", "record_access"]


class AuditEntry(SQLModel, table=True):
    """One access to a student's personal data by someone other than the student."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=255)
    roles: str = Field(max_length=100)
    action: str = Field(max_length=20)
    route: str = Field(max_length=300)
    student_id: str | None = Field(default=None, max_length=100, index=True)


class AuditRecord(BaseModel):
    """An audit log entry as it is read back."""

    at: Annotated[datetime, Described(description="When (UTC).")]
    actor: Annotated[str, Described(description="The token subject of who did it.")]
    roles: Annotated[str, Described(description="Their roles, comma-separated.")]
    action: Annotated[str, Described(description="read, list, export or erase.")]
    route: Annotated[str, Described(description="The HTTP method and route template.")]
    student_id: Annotated[
        str | None, Described(description="Whose data; null for a list of students.")
    ]


def record_access(
    session: Session,
    *,
    actor: str,
    roles: str,
    action: str,
    route: str,
    student_id: str | None,
) -> None:
    """Add one entry within ``session``'s transaction."""
    session.add(
        AuditEntry(
            at=datetime.now(UTC),
            actor=actor[:255],
            roles=roles[:100],
            action=action,
            route=route[:300],
            student_id=student_id,
        )
    )


def entries(
    session: Session, *, student_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest entries first, of one student when ``student_id`` is given."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if student_id is not None:
        query = query.where(AuditEntry.student_id == student_id)
    return [
        AuditRecord.model_validate(entry, from_attributes=True).model_dump(mode="json")
        for entry in session.exec(query)
    ]
