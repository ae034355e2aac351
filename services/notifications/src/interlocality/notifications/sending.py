"""Sending a composed delivery by its channel: e-mail through the SMTP relay, or a signed
webhook POST. Whatever goes wrong is the outcome of that one delivery."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from interlocality.notifications.composing import Outgoing
from interlocality.notifications.mail import MailError, SmtpRelay, build_message, send_message
from interlocality.notifications.settings import NotificationsSettings
from interlocality.notifications.webhooks import post_webhook

__all__ = ["Outcome", "Transports", "failure"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """How one delivery went."""

    ok: bool
    error: str | None = None
    permanent: bool = False


def failure(exc: Exception) -> str:
    """An unexpected exception, in words."""
    return f"{type(exc).__name__}: {exc}"


class Transports:
    """The SMTP relay and the webhook client deliveries go by."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self.relay = SmtpRelay.from_settings(settings)

    async def send(self, client: httpx.AsyncClient, outgoing: Outgoing) -> Outcome:
        """Send one claimed delivery (without recording how it went). Whatever goes wrong
        with it, even unexpectedly, is its outcome: a failure of this delivery alone."""
        delivery = outgoing.delivery
        try:
            if delivery.channel == "webhook":
                result = await post_webhook(
                    client,
                    outgoing.url,
                    outgoing.body,
                    secret=outgoing.secret,
                    delivery_id=delivery.id,
                    event=delivery.kind,
                    timeout=self.settings.webhook_timeout_seconds,
                    deployment=self.settings.deployment,
                )
                return Outcome(result.ok, result.error, result.permanent)
            assert outgoing.message is not None
            message = build_message(
                sender=self.settings.mail_from,
                to=delivery.target,
                to_name=outgoing.to_name,
                subject=outgoing.message.subject,
                text=outgoing.message.text,
                html=outgoing.message.html,
                delivery_id=delivery.id,
                unsubscribe_url=outgoing.unsubscribe_url,
                attachments=outgoing.attachments,
            )
            await send_message(self.relay, message)
        except MailError as exc:
            return Outcome(False, str(exc), exc.permanent)
        except Exception as exc:
            logger.exception("delivery failed unexpectedly", extra={"delivery": delivery.id})
            return Outcome(False, f"it failed unexpectedly: {failure(exc)}")
        return Outcome(True)
