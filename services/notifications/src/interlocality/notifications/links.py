"""Signed links in messages: change preferences or unsubscribe without logging in.

A link carries the student id and what it is for, signed with HMAC-SHA256 under the
service's key; it cannot be altered or used for another student or purpose. Unsubscribe
links do not expire (an unsubscribe link in a year-old e-mail still works). A preferences
link lets whoever holds it change how the student is reached, and mail is forwarded and
archived: it carries the time it was made and expires after
:data:`PREFERENCES_LINK_LIFETIME`; every message carries a fresh one. Links are signed
with the current key (``INTERLOCALITY_SIGNING_KEY``) and checked against it and the retired
ones (``INTERLOCALITY_RETIRED_SIGNING_KEYS``): a key is rotated by making the old one retired,
and dropping a retired key voids the links it signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from interlocality.notifications.settings import NotificationsSettings

__all__ = [
    "PREFERENCES_LINK_LIFETIME",
    "ExpiredLink",
    "InvalidLink",
    "LinkSigner",
    "Purpose",
    "public_url",
    "retired_signing_keys",
    "signing_key",
]

Purpose = Literal["preferences", "unsubscribe"]
PREFERENCES_LINK_LIFETIME = timedelta(days=90)


class InvalidLink(ValueError):
    """A link that was not signed by this service, or not for this purpose."""


class ExpiredLink(InvalidLink):
    """A genuine preferences link older than :data:`PREFERENCES_LINK_LIFETIME`."""


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Makes and checks the signed links of one service."""

    def __init__(self, key: bytes, base_url: str, retired: Sequence[bytes] = ()) -> None:
        self._key = key
        self._keys = (key, *retired)  # the current one first: what signs
        self.base_url = base_url.rstrip("/")

    @staticmethod
    def _signature(payload: str, key: bytes) -> str:
        return _encode(hmac.new(key, payload.encode(), hashlib.sha256).digest())

    def token(self, student_id: str, purpose: Purpose, made_at: datetime | None = None) -> str:
        """A token naming ``student_id`` for ``purpose``; a preferences token also carries
        when it was made (``made_at``, default now)."""
        fields = [purpose, student_id]
        if purpose == "preferences":
            fields.append(str(int((made_at or datetime.now(UTC)).timestamp())))
        payload = _encode("\x1f".join(fields).encode())
        return f"{payload}.{self._signature(payload, self._key)}"

    def student_of(self, token: str, purpose: Purpose, now: datetime | None = None) -> str:
        """The student a token names, if it is genuine, for ``purpose`` and, for a
        preferences token, not expired at ``now`` (default now)."""
        payload, _, signature = token.partition(".")
        if not payload or not any(
            hmac.compare_digest(signature.encode(), self._signature(payload, key).encode())
            for key in self._keys
        ):
            raise InvalidLink("this link is not valid: it was changed or is not ours")
        try:
            said, _, named = _decode(payload).decode().partition("\x1f")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidLink("this link is not valid") from exc
        if said != purpose or not named:
            raise InvalidLink(f"this link is not a {purpose} link")
        if purpose == "unsubscribe":
            return named
        student_id, _, made = named.rpartition("\x1f")
        made_at = datetime.fromtimestamp(int(made), UTC) if made.isdigit() else None
        if made_at is None or (now or datetime.now(UTC)) - made_at > PREFERENCES_LINK_LIFETIME:
            raise ExpiredLink("this link has expired: use the one in the latest message")
        return student_id

    def preferences_url(self, student_id: str) -> str:
        """Where the student changes how they are notified."""
        return f"{self.base_url}/v1/preferences?token={self.token(student_id, 'preferences')}"

    def unsubscribe_url(self, student_id: str) -> str:
        """The one-click unsubscribe link (RFC 8058: a POST unsubscribes, a GET asks)."""
        return f"{self.base_url}/v1/unsubscribe?token={self.token(student_id, 'unsubscribe')}"


def signing_key(settings: NotificationsSettings) -> bytes:
    """``INTERLOCALITY_SIGNING_KEY``, or a key generated once and kept under var/<region>/.

    Production with several replicas must set the key, so that every replica accepts the
    links any of them sent.
    """
    configured = settings.signing_key.get_secret_value()
    if configured:
        return configured.encode()
    path = (settings.var_dir / settings.region / f"{settings.service}.key").resolve()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(32))
    return Path(path).read_text().strip().encode()


def retired_signing_keys(settings: NotificationsSettings) -> tuple[bytes, ...]:
    """``INTERLOCALITY_RETIRED_SIGNING_KEYS``: the keys links are still checked against."""
    listed = settings.retired_signing_keys.get_secret_value().split(",")
    return tuple(key.strip().encode() for key in listed if key.strip())


def public_url(settings: NotificationsSettings) -> str:
    """The base URL people reach this service at."""
    return settings.public_url or f"http://{settings.host}:{settings.port}"
