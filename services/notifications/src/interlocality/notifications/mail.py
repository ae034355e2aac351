"""E-mail: one delivery as a MIME message, sent to an SMTP relay."""

from __future__ import annotations

import copy
import email.errors
import email.policy
import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message

import aiosmtplib

from interlocality.common.settings import ServiceSettings

__all__ = [
    "Attachment",
    "MailError",
    "SmtpRelay",
    "build_message",
    "message_id_of",
    "send_message",
]

# Bodies are encoded for 78-character lines, but headers may run to the hard limit of 998:
# under the usual 78 a long List-Unsubscribe URL would be folded into encoded words that
# mail clients no longer recognise as a URL.
_WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._~-]{1,200}$")


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message, e.g. an .ics invitation."""

    filename: str
    content_type: str
    data: bytes


class MailError(Exception):
    """A message was not handed over; ``permanent`` when sending it again cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


def message_id_of(delivery_id: str) -> str:
    """The Message-ID of every attempt of ``delivery_id``, so resends are recognisable."""
    return f"<{delivery_id}@interlocality>"


def build_message(
    *,
    sender: str,
    to: str,
    to_name: str | None,
    subject: str,
    text: str,
    html: str,
    delivery_id: str,
    unsubscribe_url: str | None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """A text and HTML message to ``to``; ``MailError`` (permanent) for an unusable address."""
    if not _DELIVERY_ID.match(delivery_id):
        raise ValueError(f"delivery id {delivery_id!r} is not a url-safe string")
    try:
        recipient = Address(display_name=to_name or "", addr_spec=to)
    except (ValueError, IndexError, email.errors.HeaderParseError) as exc:
        raise MailError(f"{to!r} is not a usable e-mail address: {exc}", permanent=True) from exc
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id_of(delivery_id)
    message["Interlocality-Delivery"] = delivery_id
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in attachments:
        maintype, subtype, params = _split_content_type(attachment.content_type)
        message.add_attachment(
            attachment.data, maintype, subtype, filename=attachment.filename, params=params
        )
    message.policy = _WIRE_POLICY
    return message


def _split_content_type(content_type: str) -> tuple[str, str, dict[str, str]]:
    parsed = Message()
    parsed["Content-Type"] = content_type
    params = {key: str(value) for key, value in parsed.get_params(failobj=[])[1:]}
    return parsed.get_content_maintype(), parsed.get_content_subtype(), params


@dataclass(frozen=True)
class SmtpRelay:
    """Where e-mail is handed over: the embedded sink or an operator's relay."""

    host: str
    port: int
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> SmtpRelay:
        """The relay of ``INTERLOCALITY_SMTP_*``."""
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            timeout=settings.smtp_timeout_seconds,
        )

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


async def send_message(relay: SmtpRelay, message: EmailMessage) -> None:
    """Hand ``message`` to ``relay`` for its To, Cc and Bcc addresses.

    ``MailError.permanent`` is set for 5xx replies about this message or its recipients;
    timeouts, lost connections, 4xx replies and refusals of our login or sender address
    (the relay's configuration, which an operator can fix) are worth retrying.
    """
    sender = _addresses(message, "From")[:1]
    recipients = _addresses(message, "To", "Cc", "Bcc")
    if not sender or not recipients:
        raise MailError("the message has no From or no recipient address", permanent=True)
    wire = copy.copy(message)
    del wire["Bcc"]
    try:
        await aiosmtplib.send(
            wire.as_bytes(policy=_WIRE_POLICY),
            sender=sender[0],
            recipients=recipients,
            hostname=relay.host,
            port=relay.port,
            username=relay.username or None,
            password=relay.password or None,
            start_tls=relay.starttls,
            timeout=relay.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        replies = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        permanent = all(r.code >= 500 for r in exc.recipients)
        raise MailError(f"{relay} refused the recipient ({replies})", permanent=permanent) from exc
    except (aiosmtplib.SMTPAuthenticationError, aiosmtplib.SMTPSenderRefused) as exc:
        what = "login" if isinstance(exc, aiosmtplib.SMTPAuthenticationError) else "sender"
        raise MailError(
            f"{relay} refused our {what}: {exc.code} {exc.message}", permanent=False
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise MailError(
            f"{relay} answered {exc.code} {exc.message}", permanent=500 <= exc.code < 600
        ) from exc
    except aiosmtplib.SMTPTimeoutError as exc:
        raise MailError(
            f"{relay} did not answer within {relay.timeout:g} s: {exc}", permanent=False
        ) from exc
    except aiosmtplib.SMTPConnectError as exc:
        raise MailError(
            f"cannot connect to {relay}: {_connect_failure(exc)}", permanent=False
        ) from exc
    except aiosmtplib.SMTPServerDisconnected as exc:
        raise MailError(f"{relay} closed the connection: {exc}", permanent=False) from exc
    except aiosmtplib.SMTPNotSupported as exc:
        raise MailError(f"{relay} does not support {exc}", permanent=False) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"sending to {relay} failed: {exc}", permanent=False) from exc


def _connect_failure(exc: aiosmtplib.SMTPConnectError) -> str:
    cause = exc.__cause__
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(exc)


def _addresses(message: EmailMessage, *headers: str) -> list[str]:
    values = [str(value) for header in headers for value in message.get_all(header, [])]
    return [address for _, address in email.utils.getaddresses(values) if address]
