"""Reading the embedded SMTP sink's Maildir, in Python and at ``/v1/mailbox``."""

from __future__ import annotations

import email.policy
import email.utils
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from interlocality.common.access import OPERATOR, allow
from interlocality.common.pagination import OffsetPage
from interlocality.common.service import Provided, error_answers

__all__ = [
    "MailAttachment",
    "MailPage",
    "MailSummary",
    "Mailbox",
    "mailbox_page",
    "raw_mail",
    "read_mail",
    "router",
]

_PARSER = BytesParser(EmailMessage, policy=email.policy.default)
NO_MESSAGE = "The mailbox holds no message of this key."


class MailAttachment(BaseModel):
    """A file attached to a message."""

    filename: Annotated[str, Field(description="File name the sender gave it.")]
    content_type: Annotated[str, Field(description="Media type, e.g. text/calendar.")]
    size: Annotated[int, Field(description="Size in bytes, decoded.")]


class MailSummary(BaseModel):
    """A message the sink received, decoded."""

    key: Annotated[str, Field(description="Its name in the Maildir; the id in these URLs.")]
    message_id: Annotated[str | None, Field(description="The Message-ID header.")]
    delivery_id: Annotated[
        str | None, Field(description="The delivery it was sent for (Interlocality-Delivery).")
    ]
    from_: Annotated[str, Field(serialization_alias="from", description="The From header.")]
    to: Annotated[str, Field(description="The To header, e.g. 'Søren Ørsted <s@example.dk>'.")]
    subject: Annotated[str, Field(description="The subject, decoded.")]
    date: Annotated[datetime | None, Field(description="The Date header.")]
    text: Annotated[str | None, Field(description="The text/plain body.")]
    html: Annotated[str | None, Field(description="The text/html body.")]
    attachments: Annotated[
        list[MailAttachment], Field(description="Attached files; numbered from 0 in URLs.")
    ]
    list_unsubscribe: Annotated[str | None, Field(description="The List-Unsubscribe header.")]
    list_unsubscribe_post: Annotated[
        str | None, Field(description="The List-Unsubscribe-Post header (RFC 8058).")
    ]


class MailPage(OffsetPage[MailSummary]):
    """One page of the sink's mail, newest first."""


@dataclass(frozen=True)
class _Stored:
    key: str
    path: Path
    delivered_ns: int


def _stored(directory: Path) -> list[_Stored]:
    """Every message file of the Maildir, newest first; none when it does not exist."""
    found: list[_Stored] = []
    for folder in ("new", "cur"):
        try:
            entries = list(os.scandir(directory / folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                delivered_ns = entry.stat().st_mtime_ns
            except FileNotFoundError:
                continue  # a reader moved it from new/ to cur/ meanwhile
            # In cur/ a reader's flags follow the key after ':'.
            found.append(_Stored(entry.name.split(":", 1)[0], Path(entry.path), delivered_ns))
    found.sort(key=lambda stored: (stored.delivered_ns, stored.key), reverse=True)
    return found


def _read(stored: _Stored) -> bytes | None:
    try:
        return stored.path.read_bytes()
    except FileNotFoundError:
        return None


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return None if value is None else str(value)


def _recipients(message: Message) -> set[str]:
    values = [str(v) for name in ("To", "Cc", "Delivered-To") for v in message.get_all(name, [])]
    return {address.lower() for _, address in email.utils.getaddresses(values) if address}


def _date(message: Message) -> datetime | None:
    value = _header(message, "Date")
    try:
        return email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def _text_of(part: MIMEPart) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):  # an unknown or lying charset
        return _payload(part).decode("utf-8", "replace")


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    return None if part is None else _text_of(part)


def _payload(part: MIMEPart) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    inner = part.get_payload(0) if part.is_multipart() else None  # e.g. a message/rfc822
    return inner.as_bytes() if isinstance(inner, Message) else b""


def _attachments(message: MIMEPart) -> list[MIMEPart]:
    return list(message.iter_attachments())


def _summary(key: str, message: EmailMessage) -> MailSummary:
    return MailSummary(
        key=key,
        message_id=_header(message, "Message-ID"),
        delivery_id=_header(message, "Interlocality-Delivery"),
        from_=_header(message, "From") or "",
        to=_header(message, "To") or "",
        subject=_header(message, "Subject") or "",
        date=_date(message),
        text=_body(message, "plain"),
        html=_body(message, "html"),
        attachments=[
            MailAttachment(
                filename=part.get_filename() or f"attachment-{index}",
                content_type=part.get_content_type(),
                size=len(_payload(part)),
            )
            for index, part in enumerate(_attachments(message))
        ],
        list_unsubscribe=_header(message, "List-Unsubscribe"),
        list_unsubscribe_post=_header(message, "List-Unsubscribe-Post"),
    )


def _media_type(data: bytes) -> str:
    """``message/global`` (RFC 6532) for a message whose header fields are UTF-8, as sent
    with SMTPUTF8; ``message/rfc822`` for one in ASCII."""
    head = data.split(b"\n\n", 1)[0]
    return "message/rfc822" if head.isascii() else "message/global"


def _addressed_to(directory: Path, to: str | None) -> Iterator[tuple[str, bytes]]:
    for stored in _stored(directory):
        data = _read(stored)
        if data is None:
            continue
        if to is None or to.lower() in _recipients(_PARSER.parsebytes(data, headersonly=True)):
            yield stored.key, data


def mailbox_page(
    directory: Path, *, to: str | None = None, limit: int = 50, offset: int = 0
) -> MailPage:
    """Mail in the Maildir at ``directory``, newest first, a page at a time with how many
    messages there are in all; ``to`` keeps one recipient's."""
    items: list[MailSummary] = []
    total = 0
    for index, (key, data) in enumerate(_addressed_to(directory, to)):
        total += 1
        if offset <= index < offset + limit:
            items.append(_summary(key, _PARSER.parsebytes(data)))
    return MailPage(items=items, total=total, limit=limit, offset=offset)


def raw_mail(directory: Path, key: str) -> bytes | None:
    """The message ``key`` as stored, or ``None`` when the Maildir has no such message."""
    for stored in _stored(directory):
        if stored.key == key:
            return _read(stored)
    return None


def read_mail(directory: Path, key: str) -> MailSummary | None:
    """The message ``key`` decoded, or ``None`` when the Maildir has no such message."""
    data = raw_mail(directory, key)
    return None if data is None else _summary(key, _PARSER.parsebytes(data))


@dataclass(frozen=True)
class Mailbox:
    """The Maildir the embedded SMTP sink writes, as the mailbox routes read it."""

    directory: Path


Box = Annotated[Mailbox, Depends(Provided(Mailbox))]
router = APIRouter(prefix="/v1", tags=["mailbox"])


def _raw_or_404(box: Mailbox, key: str) -> bytes:
    data = raw_mail(box.directory, key)
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {key} in the mailbox")
    return data


@router.get(
    "/mailbox",
    summary="E-mail the embedded SMTP sink received, newest first",
    dependencies=[allow(OPERATOR)],
)
def list_mail(
    box: Box,
    to: Annotated[str | None, Query(description="Only mail to this address.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MailPage:
    return mailbox_page(box.directory, to=to, limit=limit, offset=offset)


@router.get(
    "/mailbox/{key}",
    dependencies=[allow(OPERATOR)],
    summary="One message the sink received, decoded",
    responses=error_answers({404: NO_MESSAGE}),
)
def get_mail(key: str, box: Box) -> MailSummary:
    summary = read_mail(box.directory, key)
    if summary is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {key} in the mailbox")
    return summary


@router.get(
    "/mailbox/{key}/raw",
    dependencies=[allow(OPERATOR)],
    summary="One message as it arrived",
    response_class=Response,
    responses={
        200: {"content": {"message/rfc822": {}, "message/global": {}}},
        **error_answers({404: NO_MESSAGE}),
    },
)
def get_raw_mail(key: str, box: Box) -> Response:
    data = _raw_or_404(box, key)
    return Response(data, media_type=_media_type(data))


@router.get(
    "/mailbox/{key}/attachments/{index}",
    dependencies=[allow(OPERATOR)],
    summary="One attached file, with its content type",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_answers({404: "No such message, or it has no attachment of this number."}),
    },
)
def get_attachment(key: str, index: int, box: Box) -> Response:
    attachments = _attachments(_PARSER.parsebytes(_raw_or_404(box, key)))
    if not 0 <= index < len(attachments):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"message {key} has no attachment {index}")
    part = attachments[index]
    filename = part.get_filename() or f"attachment-{index}"
    return Response(
        _payload(part),
        media_type=_header(part, "Content-Type") or part.get_content_type(),
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )
