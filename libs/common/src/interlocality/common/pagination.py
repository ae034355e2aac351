"""Opaque cursors for list endpoints: keyset pagination over (sort key, id)."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import HTTPException

from interlocality.common.service import problem

__all__ = ["decode_cursor", "encode_cursor"]


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
