"""Fixtures of the profiles tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from interlocality.common.outbox import OutboxMessage

Snapshots = Callable[[Engine, str], list[tuple[str, dict[str, Any]]]]


@pytest.fixture
def staged_snapshots() -> Snapshots:
    """(event id, data) of every snapshot of a student staged in the outbox, in order."""

    def read(engine: Engine, student_id: str) -> list[tuple[str, dict[str, Any]]]:
        with Session(engine) as session:
            rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        snapshots = []
        for row in rows:
            headers = dict(json.loads(row.headers))
            if headers.get("ce_type") == "org.interlocality.StudentProfileUpserted.v1":
                data = json.loads(row.value or b"null")
                if data["student_id"] == student_id:
                    snapshots.append((headers["ce_id"], data))
        return snapshots

    return read
