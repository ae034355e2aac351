"""Helpers for integration tests against a real broker: publish events, wait for a
condition, read a topic; serve an app on a real socket and find the Chromium that browser
tests drive.

``python -m interlocality.common.testing`` prints that Chromium, or says why there is none
(exit status 1): ``make test`` runs it to decide whether to install one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import Engine, create_engine, make_url, text

from interlocality.common.access import Role
from interlocality.common.cloudevents import encode_event
from interlocality.common.embedded_broker import free_port, tansu_binary
from interlocality.common.issuer import DevelopmentIssuer, issuer_app
from interlocality.common.kafka_security import KafkaSecurity, client_options
from interlocality.contracts.common import SkillLevel
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.matches import Match, MatchFound
from interlocality.contracts.students import (
    Consent,
    Consents,
    NotificationPreferences,
    StudentErasure,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import topic_of_event

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_VARIABLE",
    "DISTRIBUTION_CHROMIUM",
    "EVERY_CONSENT",
    "BrowserMissing",
    "Received",
    "Receiver",
    "authorization",
    "broker_left_behind",
    "chromium_executable",
    "committed_or_waiting",
    "erased",
    "eventually",
    "found",
    "fresh_databases",
    "issuer_of_tests",
    "processes_at_once",
    "publish",
    "read_topic",
    "recording_receiver",
    "served",
    "served_issuer",
    "signed_in",
    "trusting_tests_issuer",
    "upserted",
    "wait_until",
]

EVERY_CONSENT = Consents(
    matching=Consent(granted=True),
    notifications=Consent(granted=True),
    analytics=Consent(granted=True),
)
"""A student who agreed to matching, notifications and analytics (none is given unsaid)."""

CHROMIUM_VARIABLE = "INTERLOCALITY_CHROMIUM"
DISTRIBUTION_CHROMIUM = Path("/usr/bin/chromium")
# Without a sandbox, as tests may run as root; and none of the connections Chromium opens on
# its own (updates, sync, field trials), which a closed network refuses slowly.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


if TYPE_CHECKING:
    from starlette.testclient import TestClient

TESTS_ISSUER_URL = "https://issuer.interlocality.test"


@functools.cache
def _issuer_directory() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="interlocality-issuer-"))


@functools.cache
def issuer_of_tests(url: str = TESTS_ISSUER_URL) -> DevelopmentIssuer:
    """The issuer of this test process's tokens, its key set written beside its key; at
    ``url`` when it is served (:func:`served_issuer`), with the same key."""
    directory = _issuer_directory()
    issuer = DevelopmentIssuer(url, directory / "signing-key.pem")
    issuer.write_jwks(directory / "jwks.json")
    return issuer


def trusting_tests_issuer(issuer: DevelopmentIssuer | None = None) -> dict[str, str]:
    """The settings that make a service under test trust :func:`issuer_of_tests`, or the
    served ``issuer`` (its keys then read from it, as from a production issuer)."""
    if issuer is not None:
        return {"oidc_issuer": issuer.url, "oidc_jwks_url": ""}
    issuer = issuer_of_tests()
    return {
        "oidc_issuer": issuer.url,
        "oidc_jwks_url": (issuer.key_path.parent / "jwks.json").as_uri(),
    }


def authorization(
    region: str,
    *roles: Role | str,
    student_id: str | None = None,
    company_id: str | None = None,
) -> dict[str, str]:
    """The ``Authorization`` header of a token of :func:`issuer_of_tests` for ``region``:
    the operator's unless ``roles`` say otherwise."""
    token = issuer_of_tests().token(
        region=region,
        roles=roles or (Role.OPERATOR,),
        student_id=student_id,
        company_id=company_id,
    )
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def served_issuer(accounts: Path | Sequence[Path] | None = None) -> Iterator[DevelopmentIssuer]:
    """The tests' issuer served on a free port of 127.0.0.1 for the duration of the block,
    signing browsers in as the ``accounts`` (see
    :func:`interlocality.common.issuer.issuer_app`); its URL is its ``iss``, so a service
    trusting it (:func:`trusting_tests_issuer`) discovers it as it would a real one."""
    port = free_port()
    issuer = issuer_of_tests(f"http://127.0.0.1:{port}")
    with served(issuer_app(issuer, accounts), port=port):
        yield issuer


def signed_in(
    client: TestClient,
    *roles: Role | str,
    student_id: str | None = None,
    company_id: str | None = None,
) -> TestClient:
    """``client`` sending a token of :func:`issuer_of_tests` for its app's region: the
    operator's unless ``roles`` say otherwise."""
    region = client.app.state.runtime.settings.region  # type: ignore[attr-defined]
    client.headers.update(
        authorization(region, *roles, student_id=student_id, company_id=company_id)
    )
    return client


def _source(region: str, event_type: type) -> str:
    """The CloudEvents ``source`` of the service that publishes ``event_type``."""
    return f"/interlocality/{region}/{topic_of_event(event_type).service}"


def upserted(
    region: str,
    student_id: str = "s-1",
    version: int = 1,
    *,
    name: str = "Ana Souza",
    preferences: NotificationPreferences | None = None,
    consents: Consents = EVERY_CONSENT,
) -> StudentProfileUpserted:
    """The profile of student ``student_id`` as its publisher announces it: by default one
    who consented to everything."""
    return StudentProfileUpserted(
        source=_source(region, StudentProfileUpserted),
        region=region,
        subject=student_id,
        data=StudentProfile(
            student_id=student_id,
            name=name,
            email="ana.souza@students.example.org",
            consents=consents,
            skills=[
                SkillLevel(
                    uri="http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d",
                    level=4,
                )
            ],
            languages=[],
            engagement_kinds=["internship"],
            version=version,
            updated_at=datetime.now(UTC),
            notification_preferences=preferences or NotificationPreferences(),
        ),
    )


def erased(region: str, student_id: str) -> StudentProfileErased:
    """The erasure of student ``student_id`` as its publisher announces it."""
    return StudentProfileErased(
        source=_source(region, StudentProfileErased),
        region=region,
        subject=student_id,
        data=StudentErasure(student_id=student_id, erased_at=datetime.now(UTC)),
    )


def found(
    region: str,
    student_id: str,
    vacancy_id: str,
    *,
    matched: tuple[str, ...] = ("http://data.europa.eu/esco/skill/a",),
    missing: tuple[str, ...] = ("http://data.europa.eu/esco/skill/b",),
    student_version: int | None = None,
) -> MatchFound:
    """A match of ``student_id`` with ``vacancy_id`` (of company ``c-1``), as its publisher
    announces it, found on version ``student_version`` of the student's profile."""
    return MatchFound(
        source=_source(region, MatchFound),
        region=region,
        subject=student_id,
        data=Match(
            student_id=student_id,
            vacancy_id=vacancy_id,
            company_id="c-1",
            vacancy_title="Thesis on battery logistics",
            score=0.75,
            matched_skills=list(matched),
            missing_skills=list(missing),
            student_version=student_version,
        ),
    )


async def publish(
    bootstrap: str, events: Sequence[CloudEvent[Any]], *, security: KafkaSecurity | None = None
) -> None:
    """Publish ``events`` in order, each on its type's topic in its region, as a service's
    relay would; returns once the broker has every one."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(security))
    await producer.start()
    try:
        for event in events:
            record = encode_event(event, topic_of_event(type(event)).name(event.region))
            await producer.send_and_wait(
                record.topic, value=record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


def wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Wait until ``check()`` returns something truthy and return it; fail with the last
    value (the blocking twin of :func:`eventually`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"condition not met within {timeout} s: {value!r}"
        time.sleep(0.05)


@contextlib.contextmanager
def fresh_databases(server_url: str, names: Sequence[str]) -> Iterator[list[str]]:
    """Empty PostgreSQL databases ``names`` on the server ``server_url`` connects to, as
    URLs in their order; dropped on leaving, connections and all."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []
    try:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
                created.append(name)
        server = make_url(server_url)
        yield [server.set(database=name).render_as_string(hide_password=False) for name in names]
    finally:
        with admin.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def processes_at_once(
    target: Callable[..., None], args: Sequence[Any], count: int, timeout: float = 60.0
) -> list[Any]:
    """Fork ``count`` processes running ``target(*args, start, results)`` and return what
    each put on ``results``: ``start`` is a barrier of all of them, for ``target`` to wait
    on so that they do their work at the same moment (replicas starting together). Every
    process must end well."""
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(count), context.Queue()
    processes = [context.Process(target=target, args=(*args, start, results)) for _ in range(count)]
    for process in processes:
        process.start()
    found = [results.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0, f"a process ended with {process.exitcode}"
    return found


def committed_or_waiting(worker: threading.Thread, engine: Engine, timeout: float = 30.0) -> None:
    """Wait until ``worker`` has finished, or waits for a lock another transaction holds on
    ``engine``'s PostgreSQL database."""
    deadline = time.monotonic() + timeout
    while worker.is_alive() and time.monotonic() < deadline:
        with engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.02)
    assert not worker.is_alive(), "neither finished nor waiting for a lock"


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Wait until ``check()`` returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")


async def read_topic(
    bootstrap: str,
    topic: str,
    count: int,
    timeout: float = 30.0,
    *,
    security: KafkaSecurity | None = None,
) -> list[Any]:
    """The first ``count`` records of ``topic`` (from the beginning)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_options(security),
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
    return records


@dataclass
class Received:
    """One request a :class:`Receiver` got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP server recording the POSTs it is sent (a webhook endpoint).

    The path picks the answer: ``/status/<code>`` answers that code (``302`` with a
    ``Location``), ``/slow`` waits until :attr:`release` is set (at most ``slow_seconds``),
    anything else answers 204.
    """

    base_url: str
    slow_seconds: float = 10.0
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def received(self, path: str) -> list[Received]:
        """The requests sent to ``path``, in order."""
        return [r for r in self.requests if r.path == path]


@contextlib.contextmanager
def recording_receiver(
    slow_seconds: float = 10.0, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """A :class:`Receiver` on a free port of 127.0.0.1, for the duration of the block;
    with ``tls`` (a server context holding its certificate) it answers https."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    recorder = Receiver(f"{scheme}://127.0.0.1:{server.server_address[1]}", slow_seconds)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            recorder.requests.append(Received(self.path, dict(self.headers.items()), body))
            if self.path == "/slow":
                recorder.release.wait(recorder.slow_seconds)
            status = int(self.path.removeprefix("/status/")) if "/status/" in self.path else 204
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "/hook")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

        def handle_one_request(self) -> None:
            with contextlib.suppress(ConnectionError):  # a client gave up on a slow answer
                super().handle_one_request()

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def broker_left_behind(port: int) -> int:
    """Start an embedded broker on ``port`` from a process that ends at once, so that it is
    nobody's child any more, as a broker an older launcher left running when it was killed;
    returns its pid."""
    starter = subprocess.run(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; print(subprocess.Popen(sys.argv[1:], "
            "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)",
            str(tansu_binary()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(starter.stdout)


class BrowserMissing(RuntimeError):
    """No Chromium to drive: the message says where it was looked for."""


def chromium_executable(playwright_build: str | Path) -> Path:
    """The Chromium browser tests drive: ``$INTERLOCALITY_CHROMIUM`` if set, else
    Playwright's own build when installed (``playwright_build``, the path Playwright expects
    it at), else the distribution's ``/usr/bin/chromium``.

    Raises :class:`BrowserMissing` when there is none (a test then fails, never skips).
    """
    configured = os.environ.get(CHROMIUM_VARIABLE)
    if configured:
        if not Path(configured).is_file():
            raise BrowserMissing(f"{CHROMIUM_VARIABLE}={configured} is not a file")
        return Path(configured)
    for candidate in (Path(playwright_build), DISTRIBUTION_CHROMIUM):
        if candidate.is_file():
            return candidate
    raise BrowserMissing(
        f"no Chromium: not at {playwright_build} (Playwright's own) nor at "
        f"{DISTRIBUTION_CHROMIUM}; run `make browser`, or set {CHROMIUM_VARIABLE}"
    )


@contextlib.contextmanager
def served(app: Any, port: int | None = None) -> Iterator[str]:
    """``app`` served by uvicorn (lifespan included) on ``port`` (default: a free one) of
    127.0.0.1 for the duration of the block, in a thread of its own; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive())
        assert server.started, "the app did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _print_chromium() -> int:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        own = playwright.chromium.executable_path
    try:
        print(chromium_executable(own))
    except BrowserMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_print_chromium())
