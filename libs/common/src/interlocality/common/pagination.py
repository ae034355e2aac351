"""The one shape of every list answer, and opaque cursors for keyset pagination over
(sort key, id).

Every list is a page: its ``items``, the ``total`` the whole list holds, the ``limit`` asked
for, and where it is in the list — an ``offset``, or a ``next_cursor`` to pass back.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import HTTPException
from pydantic import BaseModel, Field

from interlocality.common.service import problem

__all__ = ["CursorPage", "OffsetPage", "decode_cursor", "encode_cursor"]

ItemT = TypeVar("ItemT")


class OffsetPage(BaseModel, Generic[ItemT]):
    """One page of a list read by position: ``items`` from ``offset`` on."""

    items: list[ItemT]
    total: Annotated[int, Field(description="How many the whole list holds.", ge=0)]
    limit: Annotated[int, Field(description="The most items a page holds.")]
    offset: Annotated[int, Field(description="How many items come before this page.")]


class CursorPage(BaseModel, Generic[ItemT]):
    """One page of a list read by cursor: pass ``next_cursor`` back for the next page."""

    items: list[ItemT]
    total: Annotated[int, Field(description="How many the whole list holds.", ge=0)]
    limit: Annotated[int, Field(description="The most items a page holds.")]
    next_cursor: Annotated[
        str | None, Field(description="Where the next page starts; null on the last page.")
    ]


def encode_cursor(*values: Any) -> str:
    """A cursor pointing after the row whose sort values are ``values``."""
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The values of ``cursor``; a cursor this API did not make is a 422 on ``cursor``."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise HTTPException(
            422, [problem(("query", "cursor"), "not a cursor from this list", "invalid_cursor")]
        )
    return values
