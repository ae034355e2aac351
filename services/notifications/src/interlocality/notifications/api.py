"""HTTP API of notifications: a student's in-app feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from interlocality.common.service import ServiceRuntime
from interlocality.notifications.store import notifications_of

__all__ = ["NotificationPublic", "create_router"]


class NotificationPublic(BaseModel):
    """An in-app notification."""

    id: str
    student_id: str
    vacancy_id: str
    company_id: str
    title: str
    score: float
    content: dict[str, Any]
    available: bool
    created_at: datetime


class NotificationPage(BaseModel):
    """One page of a student's feed, newest first."""

    items: list[NotificationPublic]
    limit: int
    offset: int


def create_router(runtime: ServiceRuntime) -> APIRouter:
    """Routes for a student's notifications."""
    router = APIRouter(prefix="/v1", tags=["notifications"])

    @router.get("/students/{student_id}/notifications", summary="A student's in-app feed")
    def student_notifications(
        student_id: str,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> NotificationPage:
        with runtime.reading() as session:
            records = notifications_of(session, student_id, limit, offset)
        return NotificationPage(
            items=[NotificationPublic.model_validate(r, from_attributes=True) for r in records],
            limit=limit,
            offset=offset,
        )

    return router
