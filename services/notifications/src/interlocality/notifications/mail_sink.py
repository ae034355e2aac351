"""The embedded SMTP sink: accepts every message, keeps it in a Maildir and relays nothing.

It offers SMTPUTF8 (RFC 6531), so internationalised addresses such as
``lucía.romero@students.example.org`` arrive as they are.

``make run`` starts it so e-mail can be read at ``/v1/mailbox`` of notifications instead of
reaching anybody: ``python -m interlocality.notifications.mail_sink --dir var/demo/mail``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import mailbox
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from interlocality.common.logs import configure_logging
from interlocality.notifications.settings import NotificationsSettings

__all__ = ["MAX_MESSAGE_BYTES", "MailSink", "main", "open_maildir"]

MAX_MESSAGE_BYTES = 25 * 1024 * 1024

# Named outright: under ``python -m`` this module is ``__main__``.
logger = logging.getLogger("interlocality.notifications.mail_sink")


def open_maildir(directory: Path) -> mailbox.Maildir:
    """The Maildir at ``directory``, created with its parents when missing."""
    for folder in ("tmp", "new", "cur"):
        (directory / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    return mailbox.Maildir(directory, factory=None, create=False)


class _MaildirDelivery:
    """aiosmtpd handler: every accepted message becomes one file in the Maildir."""

    def __init__(self, maildir: mailbox.Maildir) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # What a delivering MTA adds, so the envelope (e.g. a Bcc recipient) stays readable.
        trace = [f"Return-Path: <{envelope.mail_from}>"]
        trace += [f"Delivered-To: {recipient}" for recipient in envelope.rcpt_tos]
        content = bytes(envelope.original_content).replace(b"\r\n", b"\n")
        # aiosmtpd keeps bytes that are not UTF-8 as surrogates: they go back as they came
        lines = "\n".join(trace).encode("utf-8", "surrogateescape")
        key = self.maildir.add(lines + b"\n" + content)
        logger.debug("stored message %s for %s", key, ", ".join(envelope.rcpt_tos))
        return f"250 2.0.0 Ok: stored as {key}"


class MailSink:
    """The SMTP sink on ``host:port``; ``start()``/``stop()`` or use as a context manager.

    ``smtputf8=False`` makes it a relay without SMTPUTF8, as many still are.
    """

    def __init__(
        self,
        directory: Path | str,
        host: str = "127.0.0.1",
        port: int = 8025,
        *,
        smtputf8: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self.smtputf8 = smtputf8
        self._controller: Controller | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> MailSink:
        """Listen in a background thread; ``OSError`` when the port cannot be bound."""
        # aiosmtpd logs a line per SMTP command, the raw envelope addresses among them.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        loop = asyncio.new_event_loop()
        controller = Controller(
            _MaildirDelivery(open_maildir(self.directory)),
            hostname=self.host,
            port=self.port,
            loop=loop,
            ready_timeout=10.0,
            server_hostname="interlocality-mail-sink",
            ident="Interlocality mail sink",
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=self.smtputf8,
        )
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            loop.close()
            raise
        self._controller, self._loop = controller, loop
        return self

    def stop(self) -> None:
        """Stop listening; messages already accepted stay in the Maildir."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sink in the foreground until SIGTERM or SIGINT."""
    settings = NotificationsSettings(service="mail-sink")
    parser = argparse.ArgumentParser(
        prog="python -m interlocality.notifications.mail_sink", description=__doc__
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(settings.mail_sink_dir or settings.var_dir / settings.region / "mail"),
        help="Maildir the messages go to (default: %(default)s)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=settings.smtp_port, help="SMTP port")
    args = parser.parse_args(argv)
    configure_logging("mail-sink", settings.region, settings.log_format, settings.log_level)

    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sink = MailSink(args.dir, args.host, args.port).start()
    except OSError as exc:
        logger.error("mail sink cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 1
    logger.info(
        "mail sink on %s:%d keeps every message in %s and relays none",
        args.host,
        args.port,
        args.dir,
    )
    try:
        stopping.wait()
    finally:
        sink.stop()
    logger.info("mail sink stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
