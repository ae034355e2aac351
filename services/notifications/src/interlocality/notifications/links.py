"""Signed links in messages: change preferences or unsubscribe without logging in.

A link carries the student id, what it is for and when it was made, signed with HMAC-SHA256
under the service's key; it cannot be altered or used for another student or purpose. Every
link expires: mail is forwarded and archived, and whoever holds a link acts for the student.
A preferences link lets them change how the student is reached, so it lasts
:data:`PREFERENCES_LINK_LIFETIME` (every message carries a fresh one); an unsubscribe link
only stops messages and must work from any message a person still keeps, so it lasts
:data:`UNSUBSCRIBE_LINK_LIFETIME`. Links are signed with the current key
(``INTERLOCALITY_SIGNING_KEY``) and checked against it and the retired ones
(``INTERLOCALITY_RETIRED_SIGNING_KEYS``): a key is rotated by making the old one retired,
and dropping a retired key voids the links it signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from interlocality.common.files import made_once
from interlocality.notifications.settings import NotificationsSettings

__all__ = [
    "LINK_LIFETIMES",
    "PREFERENCES_LINK_LIFETIME",
    "UNSUBSCRIBE_LINK_LIFETIME",
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
# Longer than a year: someone unsubscribes from last year's message, which must still work;
# not for ever, so a link leaked with an archived message stops working some day.
UNSUBSCRIBE_LINK_LIFETIME = timedelta(days=400)
LINK_LIFETIMES: dict[Purpose, timedelta] = {
    "preferences": PREFERENCES_LINK_LIFETIME,
    "unsubscribe": UNSUBSCRIBE_LINK_LIFETIME,
}


class InvalidLink(ValueError):
    """A link that was not signed by this service, or not for this purpose."""


class ExpiredLink(InvalidLink):
    """A genuine link older than its purpose's lifetime (:data:`LINK_LIFETIMES`)."""


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
        """A token naming ``student_id`` for ``purpose``, made at ``made_at`` (default now)."""
        made = str(int((made_at or datetime.now(UTC)).timestamp()))
        payload = _encode("\x1f".join((purpose, student_id, made)).encode())
        return f"{payload}.{self._signature(payload, self._key)}"

    def student_of(self, token: str, purpose: Purpose, now: datetime | None = None) -> str:
        """The student a token names, if it is genuine, for ``purpose`` and not expired at
        ``now`` (default now); else :class:`InvalidLink` or :class:`ExpiredLink`."""
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
        student_id, _, made = named.rpartition("\x1f")
        # a link made before links carried their time (an unsubscribe link) has none: expired
        made_at = datetime.fromtimestamp(int(made), UTC) if made.isdigit() else None
        if made_at is None or (now or datetime.now(UTC)) - made_at > LINK_LIFETIMES[purpose]:
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
    # Replicas starting at once on an empty var/ agree on the first key put in place.
    return made_once(path, lambda: secrets.token_urlsafe(32).encode()).strip()


def retired_signing_keys(settings: NotificationsSettings) -> tuple[bytes, ...]:
    """``INTERLOCALITY_RETIRED_SIGNING_KEYS``: the keys links are still checked against."""
    listed = settings.retired_signing_keys.get_secret_value().split(",")
    return tuple(key.strip().encode() for key in listed if key.strip())


def public_url(settings: NotificationsSettings) -> str:
    """The base URL people reach this service at."""
    return settings.public_url or f"http://{settings.host}:{settings.port}"
