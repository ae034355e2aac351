"""E-mail through a real SMTP sink: building, sending, storing in a Maildir and reading back."""

from __future__ import annotations

import asyncio
import mailbox
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import aiosmtplib
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from interlocality.common.access import Role, TokenVerifier
from interlocality.common.embedded_broker import free_port, wait_for_port
from interlocality.common.issuer import DEFAULT_AUDIENCE
from interlocality.common.service import provide
from interlocality.common.testing import signed_in, trusting_tests_issuer
from interlocality.notifications.mail import (
    Attachment,
    MailError,
    SmtpRelay,
    build_message,
    send_message,
)
from interlocality.notifications.mail_sink import MailSink
from interlocality.notifications.mailbox import Mailbox, mailbox_page, router

SENDER = "Interlocality <notifications@interlocality.invalid>"
MAILBOX_REGION = "tmail"
UNSUBSCRIBE_URL = "https://notifications.example.org/v1/unsubscribe?token=" + "t0ken" * 30
CALENDAR = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Interlocality//EN\r\nMETHOD:PUBLISH\r\n"
    b"BEGIN:VEVENT\r\nUID:dating-1@interlocality\r\nDTSTART:20260305T140000Z\r\n"
    b"SUMMARY:Speed dating i Aarhus\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def match_mail(
    delivery_id: str = "dl-0193-a1b2_c3",
    to: str = "soren.orsted@students.example.dk",
    to_name: str = "Søren Ørsted",
) -> EmailMessage:
    return build_message(
        sender=SENDER,
        to=to,
        to_name=to_name,
        subject="Nyt match: Udvikler i Århus – 4 af 5 færdigheder",
        text="Hej Søren,\nDu har 4 af de 5 færdigheder, som stillingen kræver.",
        html="<p>Hej Søren,</p><p>Du har <b>4 af de 5</b> færdigheder.</p>",
        delivery_id=delivery_id,
        unsubscribe_url=UNSUBSCRIBE_URL,
        attachments=[Attachment("speed-dating.ics", "text/calendar; method=PUBLISH", CALENDAR)],
    )


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / "demo" / "mail"


@pytest.fixture
def relay(mail_dir: Path) -> Iterator[SmtpRelay]:
    with MailSink(mail_dir, "127.0.0.1", free_port()) as sink:
        yield SmtpRelay(host=sink.host, port=sink.port, timeout=5.0)


async def test_a_sent_message_is_kept_in_the_maildir_and_read_back_decoded(
    relay: SmtpRelay, mail_dir: Path
) -> None:
    await send_message(relay, match_mail())

    stored = mailbox.Maildir(mail_dir, create=False)
    assert len(stored) == 1
    [mail] = mailbox_page(mail_dir).items
    assert mail.message_id == "<dl-0193-a1b2_c3@interlocality>"
    assert mail.delivery_id == "dl-0193-a1b2_c3"
    assert mail.from_ == SENDER
    assert mail.to == "Søren Ørsted <soren.orsted@students.example.dk>"
    assert mail.subject == "Nyt match: Udvikler i Århus – 4 af 5 færdigheder"
    assert mail.date is not None
    assert mail.text is not None and "Du har 4 af de 5 færdigheder" in mail.text
    assert mail.html is not None and "<b>4 af de 5</b>" in mail.html
    assert [(a.filename, a.content_type, a.size) for a in mail.attachments] == [
        ("speed-dating.ics", "text/calendar", len(CALENDAR))
    ]
    assert mail.list_unsubscribe == f"<{UNSUBSCRIBE_URL}>"
    assert mail.list_unsubscribe_post == "List-Unsubscribe=One-Click"


async def test_the_raw_message_has_encoded_headers_and_an_unbroken_unsubscribe_url(
    relay: SmtpRelay, mail_dir: Path
) -> None:
    await send_message(relay, match_mail())

    [key] = mailbox.Maildir(mail_dir, create=False).keys()
    raw = mailbox.Maildir(mail_dir, create=False).get_bytes(key)
    assert b"To: =?utf-8?q?S=C3=B8ren_=C3=98rsted?= <soren.orsted@students.example.dk>" in raw
    assert f"List-Unsubscribe: <{UNSUBSCRIBE_URL}>\n".encode() in raw
    assert b"Interlocality-Delivery: dl-0193-a1b2_c3\n" in raw
    assert b"Delivered-To: soren.orsted@students.example.dk\n" in raw
    assert raw.isascii()


def test_a_resend_of_a_delivery_has_the_same_message_id() -> None:
    assert match_mail("dl-1")["Message-ID"] == match_mail("dl-1")["Message-ID"]
    assert match_mail("dl-1")["Message-ID"] != match_mail("dl-2")["Message-ID"]


def test_an_unusable_address_is_a_permanent_failure() -> None:
    with pytest.raises(MailError, match="not a usable e-mail address") as failure:
        match_mail(to="soren.orsted")
    assert failure.value.permanent


async def test_an_internationalised_address_arrives_intact_through_a_relay_with_smtputf8(
    relay: SmtpRelay, mail_dir: Path
) -> None:
    await send_message(relay, match_mail("dl-1", "lucía.romero@students.example.org", "Lucía"))
    await send_message(relay, match_mail("dl-2", "Elif.Yılmaz@Students.Example.ORG", "Elif"))
    await send_message(relay, match_mail("dl-3", "ana@xn--universitt-y5a.example", "Ana"))

    mails = {mail.delivery_id: mail for mail in mailbox_page(mail_dir).items}
    assert mails["dl-1"].to == "Lucía <lucía.romero@students.example.org>"
    assert mails["dl-2"].to == "Elif <Elif.Yılmaz@students.example.org>"  # domain lower-cased
    assert mails["dl-3"].to == "Ana <ana@universität.example>"
    assert mails["dl-1"].subject == "Nyt match: Udvikler i Århus – 4 af 5 færdigheder"
    assert mails["dl-1"].text is not None and "Hej Søren" in mails["dl-1"].text
    maildir = mailbox.Maildir(mail_dir, create=False)
    raw = {mail.delivery_id: maildir.get_bytes(mail.key) for mail in mails.values()}
    # the envelope and the header fields in UTF-8 (RFC 6531, 6532), no encoded words
    assert "Delivered-To: lucía.romero@students.example.org\n".encode() in raw["dl-1"]
    assert "To: Lucía <lucía.romero@students.example.org>\n".encode() in raw["dl-1"]
    assert f"List-Unsubscribe: <{UNSUBSCRIBE_URL}>\n".encode() in raw["dl-1"]

    client = mailbox_client(mail_dir)
    [lucia] = client.get("/v1/mailbox", params={"to": "Lucía.Romero@students.example.org"}).json()[
        "items"
    ]
    assert (lucia["delivery_id"], lucia["to"]) == ("dl-1", mails["dl-1"].to)
    as_sent = client.get(f"/v1/mailbox/{lucia['key']}/raw")
    assert as_sent.headers["content-type"] == "message/global"
    assert as_sent.content == raw["dl-1"]


@pytest.fixture
def relay_without_smtputf8(mail_dir: Path) -> Iterator[SmtpRelay]:
    with MailSink(mail_dir, "127.0.0.1", free_port(), smtputf8=False) as sink:
        yield SmtpRelay(host=sink.host, port=sink.port, timeout=5.0)


async def test_without_smtputf8_an_internationalised_domain_goes_as_idna(
    relay_without_smtputf8: SmtpRelay, mail_dir: Path
) -> None:
    await send_message(
        relay_without_smtputf8, match_mail("dl-1", to="ana@universität.example", to_name="Ana")
    )

    [mail] = mailbox_page(mail_dir).items
    assert mail.to == "Ana <ana@xn--universitt-y5a.example>"
    raw = mailbox.Maildir(mail_dir, create=False).get_bytes(mail.key)
    assert b"Delivered-To: ana@xn--universitt-y5a.example\n" in raw
    assert raw.isascii()


async def test_without_smtputf8_a_non_ascii_local_part_is_a_permanent_failure(
    relay_without_smtputf8: SmtpRelay, mail_dir: Path
) -> None:
    with pytest.raises(MailError) as failure:
        await send_message(
            relay_without_smtputf8, match_mail(to="elif.yılmaz@students.example.org")
        )
    assert failure.value.permanent
    assert str(failure.value) == (
        f"elif.yılmaz@students.example.org cannot be reached through {relay_without_smtputf8}: "
        "the part before the @ is not ASCII, which needs SMTPUTF8 (internationalised e-mail), "
        "and the relay does not offer it"
    )
    assert mailbox_page(mail_dir).items == []


def test_a_line_break_in_a_name_is_a_space_in_the_header_fields() -> None:
    mail = match_mail(to="mette.holm@nordlys.example.dk", to_name="Mette\r\nHolm ")
    assert str(mail["To"]) == "Mette Holm <mette.holm@nordlys.example.dk>"


async def test_the_sink_keeps_an_envelope_address_that_is_not_utf8_as_it_came(
    relay: SmtpRelay, mail_dir: Path
) -> None:
    # an old client sending Latin-1 without SMTPUTF8
    async with aiosmtplib.SMTP(hostname=relay.host, port=relay.port, timeout=5.0) as client:
        await client.ehlo()
        await client.execute_command(b"MAIL", b"FROM:<notifications@interlocality.invalid>")
        await client.execute_command(b"RCPT", b"TO:<l\xe9a@students.example.org>")
        reply = await client.data(b"Subject: Hej\r\n\r\nHej L\xe9a\r\n")
    assert reply.code == 250
    [key] = mailbox.Maildir(mail_dir, create=False).keys()
    raw = mailbox.Maildir(mail_dir, create=False).get_bytes(key)
    assert b"Delivered-To: l\xe9a@students.example.org\n" in raw


async def test_the_mailbox_routes_list_filter_and_serve_raw_and_attachments(
    relay: SmtpRelay, mail_dir: Path
) -> None:
    await send_message(relay, match_mail("dl-1", to="soren.orsted@students.example.dk"))
    await send_message(relay, match_mail("dl-2", to="wei.zhang@students.example.org"))
    client = mailbox_client(mail_dir)

    page = client.get("/v1/mailbox").json()
    assert [item["delivery_id"] for item in page["items"]] == ["dl-2", "dl-1"]
    assert (page["total"], page["limit"], page["offset"]) == (2, 50, 0)
    assert page["items"][1]["from"] == SENDER
    assert page["items"][1]["subject"] == "Nyt match: Udvikler i Århus – 4 af 5 færdigheder"
    older = client.get("/v1/mailbox", params={"limit": 1, "offset": 1}).json()
    assert [item["delivery_id"] for item in older["items"]] == ["dl-1"]
    assert older["total"] == 2

    only_soren = client.get("/v1/mailbox", params={"to": "Soren.Orsted@Students.Example.DK"})
    [soren] = only_soren.json()["items"]
    assert only_soren.json()["total"] == 1
    assert soren["delivery_id"] == "dl-1"
    assert client.get("/v1/mailbox", params={"to": "nobody@example.org"}).json()["items"] == []

    one = client.get(f"/v1/mailbox/{soren['key']}")
    assert one.status_code == 200
    assert one.json()["attachments"] == [
        {"filename": "speed-dating.ics", "content_type": "text/calendar", "size": len(CALENDAR)}
    ]
    assert client.get("/v1/mailbox/1700000000.M1P1Q1.nowhere").status_code == 404

    raw = client.get(f"/v1/mailbox/{soren['key']}/raw")
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "message/rfc822"
    assert b"Message-ID: <dl-1@interlocality>" in raw.content

    ics = client.get(f"/v1/mailbox/{soren['key']}/attachments/0")
    assert ics.status_code == 200
    assert ics.content == CALENDAR
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "speed-dating.ics" in ics.headers["content-disposition"]
    assert client.get(f"/v1/mailbox/{soren['key']}/attachments/1").status_code == 404


def test_a_missing_maildir_is_an_empty_mailbox(tmp_path: Path) -> None:
    assert mailbox_page(tmp_path / "never-created").items == []
    client = mailbox_client(tmp_path / "never-created")
    assert client.get("/v1/mailbox").json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    # the mail sent to people is the operator's to read
    student = mailbox_client(tmp_path / "never-created", Role.STUDENT)
    assert student.get("/v1/mailbox").status_code == 403
    del student.headers["Authorization"]
    assert student.get("/v1/mailbox").status_code == 401


async def test_nothing_listening_is_a_temporary_failure_with_the_reason() -> None:
    port = free_port()
    with pytest.raises(MailError) as failure:
        await send_message(SmtpRelay(host="127.0.0.1", port=port, timeout=5.0), match_mail())
    assert not failure.value.permanent
    assert str(failure.value) == (
        f"cannot connect to 127.0.0.1:{port}: connection refused (nothing listens there)"
    )


async def answer_as_a_latin1_relay(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """An SMTP relay that refuses every recipient in Latin-1, not UTF-8."""
    writer.write(b"220 relay.example.de ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-relay.example.de\r\n250 8BITMIME\r\n")
        elif verb == b"RCPT":
            writer.write(b"550 5.1.1 Unbekannter Empf\xe4nger\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 Tsch\xfcss\r\n")
        else:
            writer.write(b"250 Ok\r\n")
        await writer.drain()
    writer.close()


async def test_a_reply_that_is_not_utf8_is_a_reason_that_can_be_stored() -> None:
    server = await asyncio.start_server(answer_as_a_latin1_relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(MailError) as failure:
            await send_message(SmtpRelay(host="127.0.0.1", port=port, timeout=5.0), match_mail())
    finally:
        server.close()
    assert failure.value.permanent
    assert str(failure.value) == (
        f"127.0.0.1:{port} refused the recipient "
        "(soren.orsted@students.example.dk: 550 5.1.1 Unbekannter Empf\ufffdnger)"
    )
    str(failure.value).encode()  # what a database column and a Kafka header need


def test_the_entry_point_runs_until_sigterm(tmp_path: Path) -> None:
    mail_dir = tmp_path / "mail"
    port = free_port()
    log = tmp_path / "mail-sink.log"
    env = {**os.environ, "INTERLOCALITY_LOG_FORMAT": "console"}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "interlocality.notifications.mail_sink",
                "--dir",
                str(mail_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not wait_for_port("127.0.0.1", port, 0.2):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
        asyncio.run(send_message(SmtpRelay(host="127.0.0.1", port=port, timeout=5.0), match_mail()))
        assert [m.delivery_id for m in mailbox_page(mail_dir).items] == ["dl-0193-a1b2_c3"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, log.read_text()
    assert f"mail sink on 127.0.0.1:{port}" in log.read_text()
    assert not wait_for_port("127.0.0.1", port, 0.2)


def mailbox_client(directory: Path, *roles: Role) -> TestClient:
    """The mailbox routes over ``directory``, as notifications mounts them, called by the
    region's operator unless ``roles`` say otherwise."""
    app = FastAPI()
    app.include_router(router)
    provide(app, [Mailbox(directory)])
    trusted = trusting_tests_issuer()
    app.state.runtime = SimpleNamespace(settings=SimpleNamespace(region=MAILBOX_REGION))
    app.state.verifier = TokenVerifier(
        issuer=trusted["oidc_issuer"],
        audience=DEFAULT_AUDIENCE,
        region=MAILBOX_REGION,
        jwks_url=trusted["oidc_jwks_url"],
    )
    return signed_in(TestClient(app), *roles)
