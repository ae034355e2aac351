"""E-mail: one delivery as a MIME message, sent to an SMTP relay.

Addresses may be internationalised (RFC 6531), e.g. ``lucía.romero@universität.example``.
A relay that offers SMTPUTF8 gets such an address as it is, the message's header fields in
UTF-8 (RFC 6532). To a relay that does not, the domain goes as IDNA
(``xn--universitt-y5a.example``); an address whose part before the @ is not ASCII cannot
go through it at all, which is a permanent failure of that message.
"""

from __future__ import annotations

import copy
import email.policy
import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message

import aiosmtplib
import idna
from email_validator import EmailNotValidError, validate_email

from interlocality.notifications.settings import NotificationsSettings

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
# With SMTPUTF8 the header fields themselves are UTF-8, not RFC 2047 encoded words.
_UTF8_WIRE_POLICY = email.policy.SMTPUTF8.clone(max_line_length=998)
_ADDRESS_HEADERS = ("From", "To", "Cc", "Bcc")
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
        # A relay replying in another charset than UTF-8 leaves its bytes as surrogates,
        # which no database or Kafka header takes: they are shown as "�".
        super().__init__(reason.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
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
    """A text and HTML message to ``to``; ``MailError`` (permanent) for an unusable address.

    ``to`` may be internationalised; it is kept as it is (normalised), and only
    :func:`send_message` decides, by what the relay offers, how it travels.
    """
    if not _DELIVERY_ID.match(delivery_id):
        raise ValueError(f"delivery id {delivery_id!r} is not a url-safe string")
    try:
        checked = validate_email(to.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise MailError(f"{to!r} is not a usable e-mail address: {exc}", permanent=True) from exc
    recipient = Address(
        display_name=_one_line(to_name or ""),
        username=checked.local_part,
        domain=checked.domain,
    )
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = _one_line(subject)
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


def _one_line(text: str) -> str:
    """``text`` for a header field, which cannot hold a line break: a name imported with
    one keeps its words, one space apart."""
    return " ".join(text.split())


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
    def from_settings(cls, settings: NotificationsSettings) -> SmtpRelay:
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

    An internationalised address goes with SMTPUTF8 when the relay offers it; otherwise its
    domain goes as IDNA, and a part before the @ that is not ASCII is a permanent
    ``MailError`` (for the sender's own address, a temporary one: the operator can fix it).
    ``MailError.permanent`` is set for 5xx replies about this message or its recipients;
    timeouts, lost connections, 4xx replies and refusals of our login or sender address
    (the relay's configuration, which an operator can fix) are worth retrying.
    """
    if not _mailboxes(message, "From") or not _mailboxes(message, "To", "Cc", "Bcc"):
        raise MailError("the message has no From or no recipient address", permanent=True)
    client = aiosmtplib.SMTP(
        hostname=relay.host,
        port=relay.port,
        username=relay.username or None,
        password=relay.password or None,
        start_tls=relay.starttls,
        timeout=relay.timeout,
    )
    try:
        async with client:
            if _international(message) and await _offers_smtputf8(client):
                wire, policy, options = message, _UTF8_WIRE_POLICY, ["SMTPUTF8"]
            else:
                wire, policy, options = _in_ascii(message, relay), _WIRE_POLICY, []
            sender = _mailboxes(wire, "From")[0].addr_spec
            recipients = [m.addr_spec for m in _mailboxes(wire, "To", "Cc", "Bcc")]
            wire = copy.copy(wire)
            del wire["Bcc"]
            await client.sendmail(
                sender, recipients, wire.as_bytes(policy=policy), mail_options=options
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


async def _offers_smtputf8(client: aiosmtplib.SMTP) -> bool:
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            return False  # no ESMTP at all: sendmail falls back to HELO
    return client.supports_extension("smtputf8")


def _international(message: EmailMessage) -> bool:
    return not all(m.addr_spec.isascii() for m in _mailboxes(message, *_ADDRESS_HEADERS))


def _in_ascii(message: EmailMessage, relay: SmtpRelay) -> EmailMessage:
    """``message`` with every address in ASCII, for a relay without SMTPUTF8."""
    if not _international(message):
        return message
    ascii_message = copy.deepcopy(message)
    for header in _ADDRESS_HEADERS:
        mailboxes = _mailboxes(message, header)
        if mailboxes:
            ascii_message.replace_header(
                header, [_ascii_mailbox(mailbox, header, relay) for mailbox in mailboxes]
            )
    return ascii_message


def _ascii_mailbox(mailbox: Address, header: str, relay: SmtpRelay) -> Address:
    if not mailbox.username.isascii():
        raise MailError(
            f"{mailbox.addr_spec} cannot be reached through {relay}: the part before the @ "
            "is not ASCII, which needs SMTPUTF8 (internationalised e-mail), and the relay "
            "does not offer it",
            permanent=header != "From",
        )
    try:
        domain = idna.encode(mailbox.domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise MailError(
            f"{mailbox.addr_spec!r} is not a usable e-mail address: {exc}",
            permanent=header != "From",
        ) from exc
    return Address(display_name=mailbox.display_name, username=mailbox.username, domain=domain)


def _connect_failure(exc: aiosmtplib.SMTPConnectError) -> str:
    cause = exc.__cause__
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(exc)


def _mailboxes(message: EmailMessage, *headers: str) -> list[Address]:
    """The addresses of ``headers``, as parsed when the header field was set."""
    return [
        mailbox
        for header in headers
        for value in message.get_all(header, [])
        for mailbox in getattr(value, "addresses", ())
        if mailbox.username and mailbox.domain
    ]
