"""E-mail, digests, quiet hours, consent at send time, crash safety, webhooks and agendas,
through a real broker, a real SMTP sink and a local webhook receiver."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import col, update

from interlocality.common.cloudevents import decode_event
from interlocality.common.embedded_broker import free_port
from interlocality.common.testing import (
    authorization,
    publish,
    read_topic,
    recording_receiver,
    served,
    signed_in,
    wait_until,
)
from interlocality.contracts.common import SkillLevel
from interlocality.contracts.companies import Company, CompanyContact, CompanyRegistered
from interlocality.contracts.dating import AgendaSlot, DatingAgenda, DatingAgendaIssued
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.matches import (
    Match,
    MatchExplanation,
    MatchFound,
    MatchUpdated,
    MatchWithdrawal,
    MatchWithdrawn,
    SkillCoverage,
)
from interlocality.contracts.students import (
    Consent,
    Consents,
    NotificationPreferences,
    StudentProfile,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import DELIVERIES, PREFERENCES
from interlocality.contracts.vacancies import Vacancy, VacancyClosed, VacancyPublished
from interlocality.notifications.app import create_app
from interlocality.notifications.composing import Outgoing
from interlocality.notifications.deliveries import DeliveryWorker
from interlocality.notifications.links import LinkSigner
from interlocality.notifications.mail_sink import MailSink
from interlocality.notifications.mailbox import MailSummary, mailbox_page
from interlocality.notifications.service import NotificationService
from interlocality.notifications.store import DeliveryRecord, NotificationRecord
from interlocality.notifications.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SKILL = "http://data.europa.eu/esco/skill/"
# ESCO: "use databases" (matched), "Python" (related), "SQL" (missing)
DATABASES = SKILL + "4463a721-69f3-413d-8321-43e3af13a4f1"
PYTHON = SKILL + "ccd0a1d9-afda-43d9-b901-96344886e14d"
JAVA = SKILL + "19a8293b-8e95-4de3-983f-77484079c389"
SQL = SKILL + "598de5b0-5b58-4ea7-8058-a4bc4d18c742"


class Region:
    """Builds the events of one region and publishes them to the real broker."""

    def __init__(self, name: str, bootstrap: str) -> None:
        self.name = name
        self.bootstrap = bootstrap
        self.versions: dict[str, int] = {}

    def _next(self, key: str) -> int:
        self.versions[key] = self.versions.get(key, 0) + 1
        return self.versions[key]

    def publish(self, *events: CloudEvent[Any]) -> None:
        asyncio.run(publish(self.bootstrap, events))

    def student(
        self,
        student_id: str,
        *,
        name: str = "Ana Souza",
        email: str | None = None,
        consent: bool = True,
        updated_at: datetime | None = None,
        **preferences: Any,
    ) -> StudentProfileUpserted:
        return StudentProfileUpserted(
            source=f"/interlocality/{self.name}/profiles",
            region=self.name,
            subject=student_id,
            data=StudentProfile(
                student_id=student_id,
                name=name,
                email=email or f"{student_id}@students.example.org",
                skills=[SkillLevel(uri=PYTHON, level=4)],
                languages=[],
                engagement_kinds=["internship"],
                version=self._next(student_id),
                updated_at=updated_at or datetime.now(UTC),
                consents=Consents(notifications=Consent(granted=consent)),
                notification_preferences=NotificationPreferences(**preferences),
            ),
        )

    def company(self, company_id: str, name: str, contact_email: str = "") -> CompanyRegistered:
        return CompanyRegistered(
            source=f"/interlocality/{self.name}/vacancies",
            region=self.name,
            subject=company_id,
            data=Company(
                company_id=company_id,
                name=name,
                version=self._next(company_id),
                updated_at=datetime.now(UTC),
                contact=CompanyContact(name="Mette Holm", email=contact_email),
            ),
        )

    def vacancy(
        self,
        vacancy_id: str,
        company_id: str,
        title: str,
        *,
        deadline: date | None = None,
        closed: bool = False,
    ) -> VacancyPublished | VacancyClosed:
        kind = VacancyClosed if closed else VacancyPublished
        return kind(
            source=f"/interlocality/{self.name}/vacancies",
            region=self.name,
            subject=vacancy_id,
            data=Vacancy(
                vacancy_id=vacancy_id,
                company_id=company_id,
                title=title,
                kind="internship",
                required_skills=[],
                languages=[],
                status="closed" if closed else "open",
                version=self._next(vacancy_id),
                updated_at=datetime.now(UTC),
                location="Aarhus",
                application_deadline=deadline,
            ),
        )

    def match(
        self,
        student_id: str,
        vacancy_id: str,
        company_id: str,
        title: str,
        score: float = 0.75,
        *,
        updated: bool = False,
    ) -> MatchFound | MatchUpdated:
        kind = MatchUpdated if updated else MatchFound
        return kind(
            source=f"/interlocality/{self.name}/matching",
            region=self.name,
            subject=student_id,
            data=Match(
                student_id=student_id,
                vacancy_id=vacancy_id,
                company_id=company_id,
                vacancy_title=title,
                score=score,
                matched_skills=[DATABASES, PYTHON],
                missing_skills=[SQL],
                explanation=MatchExplanation(
                    skills=[
                        SkillCoverage(
                            uri=DATABASES,
                            required=True,
                            min_level=2,
                            via=DATABASES,
                            relation="exact",
                            level=3,
                            credit=1.0,
                        ),
                        SkillCoverage(
                            uri=PYTHON,
                            required=True,
                            min_level=2,
                            via=JAVA,
                            relation="sibling",
                            level=4,
                            credit=0.35,
                        ),
                        SkillCoverage(uri=SQL, required=True, min_level=2),
                    ]
                ),
            ),
        )

    def agenda(
        self, kind: str, participant: str, counterpart: str, name: str
    ) -> DatingAgendaIssued:
        """A Company Dating agenda of one 10-minute date, on 4 March 2027 at 09:00 UTC."""
        start = datetime(2027, 3, 4, 9, 0, tzinfo=UTC)
        return DatingAgendaIssued(
            source=f"/interlocality/{self.name}/matching",
            region=self.name,
            subject=participant,
            data=DatingAgenda(
                dating_event_id="cd-1",
                dating_event_name="Company Dating Aarhus",
                venue="Navitas",
                participant_kind=kind,  # type: ignore[arg-type]
                participant_id=participant,
                slots=[
                    AgendaSlot(
                        slot=1,
                        starts_at=start,
                        ends_at=start + timedelta(minutes=10),
                        table=3,
                        counterpart_kind="company" if kind == "student" else "student",
                        counterpart_id=counterpart,
                        counterpart_name=name,
                        score=0.7,
                    )
                ],
                icalendar="BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Interlocality//EN\r\n"
                "END:VCALENDAR\r\n",
            ),
        )

    def withdrawn(self, student_id: str, vacancy_id: str) -> MatchWithdrawn:
        return MatchWithdrawn(
            source=f"/interlocality/{self.name}/matching",
            region=self.name,
            subject=student_id,
            data=MatchWithdrawal(
                student_id=student_id, vacancy_id=vacancy_id, reason="no_longer_fits"
            ),
        )


class Notifications:
    """The service under test, its worker, its SMTP sink and helpers to read them."""

    def __init__(
        self, app: FastAPI, client: httpx.Client, sink_dir: Path, region: Region, base_url: str
    ) -> None:
        self.app = app
        self.client = client
        self.sink_dir = sink_dir
        self.region = region
        self.base_url = base_url

    @property
    def worker(self) -> DeliveryWorker:
        worker: DeliveryWorker = self.app.state.delivery_worker
        return worker

    @property
    def service(self) -> NotificationService:
        service: NotificationService = self.app.state.provided[NotificationService]
        return service

    @property
    def signer(self) -> LinkSigner:
        signer: LinkSigner = self.app.state.link_signer
        return signer

    def mail(self, to: str | None = None) -> list[MailSummary]:
        return mailbox_page(self.sink_dir, to=to, limit=500).items

    def feed(self, student_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/v1/students/{student_id}/notifications")
        return response.json()["items"] if response.status_code == 200 else []

    def preferences(self, student_id: str) -> dict[str, Any] | None:
        token = self.signer.token(student_id, "preferences")
        response = self.client.get("/v1/preferences", params={"token": token})
        return response.json() if response.status_code == 200 else None

    def knows(self, student_id: str) -> dict[str, Any]:
        """Wait until the service holds the student; their preferences as it applies them."""
        found: dict[str, Any] = wait_until(lambda: self.preferences(student_id))
        return found

    def applied(self, event: str) -> int:
        """How many events of type ``event`` (e.g. ``MatchFound``) the consumer applied."""
        pattern = rf'interlocality_events_applied_total\{{[^}}]*type="[^"]*\.{event}\.v1"\}} (\S+)'
        scraper = authorization(self.app.state.runtime.settings.region, "service")
        scraped = self.client.get("/metrics", headers=scraper).text
        return int(sum(float(v) for v in re.findall(pattern, scraped)))

    def deliveries(self, student_id: str) -> list[dict[str, Any]]:
        held = self.client.get(f"/v1/privacy/students/{student_id}").json()["holds"]
        deliveries: list[dict[str, Any]] = held["deliveries"]
        return deliveries


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", port=free_port()) as running:
        yield running


@pytest.fixture
def notifications(
    service_settings: Callable[..., Any],
    kafka_bootstrap: str,
    region: str,
    sink: MailSink,
    tmp_path: Path,
) -> Callable[..., Notifications]:
    """Start the service with settings changed by keyword; the worker runs only when a test
    calls it. ``serve=True`` serves it over a real socket (uvicorn), for live streams."""
    stops: list[Callable[[], None]] = []

    def start(serve: bool = False, **overrides: Any) -> Notifications:
        values: dict[str, Any] = {
            "smtp_port": sink.port,
            "mail_sink_dir": str(sink.directory),
            "deployment": "embedded",
            "delivery_poll_seconds": 3600,
            "signing_key": "test-signing-key",
            "public_url": "http://notifications.test",
            "var_dir": tmp_path / "var",
            "delivery_retry_seconds": 0.01,
            "delivery_retry_cap_seconds": 0.02,
        }
        settings = service_settings("notifications", **(values | overrides))
        app = create_app(settings)
        place = Region(region, kafka_bootstrap)
        if not serve:
            client = signed_in(TestClient(app))
            client.__enter__()
            stops.append(lambda: client.__exit__(None, None, None))
            return Notifications(app, client, Path(sink.directory), place, "http://testserver")
        serving = served(app)
        base_url = serving.__enter__()
        http = httpx.Client(
            base_url=base_url,
            timeout=30,
            trust_env=False,
            headers=authorization(settings.region),  # type: ignore[attr-defined]
        )

        def stop() -> None:
            http.close()
            serving.__exit__(None, None, None)

        stops.append(stop)
        return Notifications(app, http, Path(sink.directory), place, base_url)

    yield start  # type: ignore[misc]
    for stop in reversed(stops):
        stop()


Start = Callable[..., Notifications]


def delivery_events(n: Notifications, count: int) -> list[Any]:
    topic = DELIVERIES.name(n.region.name)
    records = asyncio.run(read_topic(n.region.bootstrap, topic, count, timeout=10))
    return [decode_event(DELIVERIES, r.headers, r.value) for r in records]


def test_instant_email_says_what_why_missing_and_deadline_once_however_often_matched(
    notifications: Start,
) -> None:
    n = notifications()
    r = n.region
    deadline = date.today() + timedelta(days=40)
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS"),
        r.vacancy("v-1", "c-1", "Data engineering intern", deadline=deadline),
        r.student("s-1", channels=["email", "in_app"], locale="de"),
    )
    n.knows("s-1")
    found = r.match("s-1", "v-1", "c-1", "Data engineering intern", 0.82)
    # the same event redelivered, and the same match found again under a new event id
    r.publish(found, found, r.match("s-1", "v-1", "c-1", "Data engineering intern", 0.82))
    wait_until(lambda: n.feed("s-1"))
    assert n.worker.run() == 1
    assert n.worker.run() == 0

    mail = n.mail()
    assert len(mail) == 1
    message = mail[0]
    assert message.to.endswith("<s-1@students.example.org>")
    assert "Data engineering intern" in message.subject
    text = message.text or ""
    assert "Nordlys Robotics ApS" in text
    assert "use databases" in text  # why it matches
    assert "Java (computer programming)" in text  # a related skill, named as such
    assert "SQL" in text  # what is missing
    assert "82" in text  # the score as a percentage
    assert str(deadline.year) in text and "Praktikum" in text  # German template
    assert message.list_unsubscribe and "/v1/unsubscribe?token=" in message.list_unsubscribe
    assert message.list_unsubscribe_post == "List-Unsubscribe=One-Click"
    assert "/v1/preferences?token=" in text

    sent = [e for e in delivery_events(n, 2) if e.type.endswith("MessageDelivered.v1")]
    assert [(e.data.channel, e.data.kind, e.data.vacancy_ids) for e in sent] == [
        ("email", "match", ["v-1"])
    ]
    assert message.delivery_id == sent[0].data.delivery_id


def test_one_click_unsubscribe_stops_everything_and_tells_profiles(notifications: Start) -> None:
    n = notifications()
    r = n.region
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS"),
        r.vacancy("v-1", "c-1", "Data engineering intern"),
        r.vacancy("v-2", "c-1", "Thesis on warehouse robots"),
        r.student("s-2", channels=["email"]),
    )
    n.knows("s-2")
    signer = n.signer
    url = signer.unsubscribe_url("s-2").removeprefix("http://notifications.test")
    # a GET (a link scanner) changes nothing; the one-click POST does
    assert "Unsubscribe" in n.client.get(url).text
    assert n.knows("s-2")["subscribed"] is True
    answer = n.client.post(url, content=b"List-Unsubscribe=One-Click")
    assert answer.status_code == 200
    assert n.knows("s-2")["subscribed"] is False
    forged = url[:-3] + "AAA"
    assert n.client.post(forged).status_code == 400

    matches_before = n.applied("MatchFound")
    r.publish(r.match("s-2", "v-2", "c-1", "Thesis on warehouse robots"))
    changes = asyncio.run(read_topic(r.bootstrap, PREFERENCES.name(r.name), 1, timeout=10))
    change = decode_event(PREFERENCES, changes[0].headers, changes[0].value)
    assert (change.data.student_id, change.data.notifications_consent) == ("s-2", False)
    # nothing is made for a student who unsubscribed, once the match has been applied
    wait_until(lambda: n.applied("MatchFound") > matches_before)
    assert n.feed("s-2") == []
    assert n.worker.run() == 0
    assert n.mail() == []


def test_withdrawn_before_sending_is_not_sent_and_after_sending_shown_unavailable(
    notifications: Start,
) -> None:
    n = notifications()
    r = n.region
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS"),
        r.vacancy("v-1", "c-1", "Data engineering intern"),
        r.vacancy("v-2", "c-1", "Thesis on warehouse robots"),
        r.student("s-4", channels=["email", "in_app"]),
    )
    n.knows("s-4")
    r.publish(r.match("s-4", "v-1", "c-1", "Data engineering intern"))
    r.publish(r.withdrawn("s-4", "v-1"))
    wait_until(lambda: [x["available"] for x in n.feed("s-4")] == [False])
    assert n.worker.run() == 0
    assert n.mail() == []
    assert [d["status"] for d in n.deliveries("s-4")] == ["cancelled"]

    r.publish(r.match("s-4", "v-2", "c-1", "Thesis on warehouse robots"))
    wait_until(lambda: len(n.feed("s-4")) == 2)
    assert n.worker.run() == 1
    r.publish(r.vacancy("v-2", "c-1", "Thesis on warehouse robots", closed=True))
    wait_until(lambda: all(not x["available"] for x in n.feed("s-4")))
    assert len(n.mail()) == 1


def test_quiet_hours_postpone_and_consent_is_checked_when_sending(notifications: Start) -> None:
    n = notifications()
    r = n.region
    zone = "Europe/Rome"
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    quiet_from = (local - timedelta(hours=1)).strftime("%H:%M")
    quiet_until = (local + timedelta(hours=1)).strftime("%H:%M")
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS"),
        r.vacancy("v-1", "c-1", "Data engineering intern"),
        r.student(
            "s-5",
            channels=["email"],
            time_zone=zone,
            quiet_hours_start=quiet_from,
            quiet_hours_end=quiet_until,
        ),
    )
    n.knows("s-5")
    r.publish(r.match("s-5", "v-1", "c-1", "Data engineering intern"))
    wait_until(lambda: n.deliveries("s-5"))
    assert n.worker.run() == 0  # quiet now
    (waiting,) = n.deliveries("s-5")
    due = datetime.fromisoformat(waiting["due_at"]).astimezone(ZoneInfo(zone))
    assert waiting["status"] == "pending"
    assert due.strftime("%H:%M") == quiet_until

    # after the quiet hours it would go — but the student withdrew consent a moment ago
    r.publish(r.student("s-5", consent=False, channels=["email"], time_zone=zone))
    wait_until(lambda: n.knows("s-5")["subscribed"] is False)
    assert n.service.claim(n.worker.worker_id, datetime.now(UTC) + timedelta(hours=2)) == []
    assert [d["status"] for d in n.deliveries("s-5")] == ["cancelled"]
    assert n.mail() == []


def test_daily_digest_best_first_two_per_company_and_none_when_nothing_is_new(
    notifications: Start,
) -> None:
    n = notifications()
    r = n.region
    r.publish(
        r.company("c-a", "Aarhus Analytics"),
        r.company("c-b", "Bornholm Batteries"),
        r.company("c-c", "Codan Cloud"),
        *(r.vacancy(f"v-{i}", c, f"Role {i}") for i, c in enumerate("aaabc")),
        r.student("s-6", channels=["email"], frequency="daily", digest_hour=8, digest_max_items=3),
    )
    n.knows("s-6")
    scores = {"v-0": 0.9, "v-1": 0.8, "v-2": 0.7, "v-3": 0.6, "v-4": 0.5}
    companies = {"v-0": "c-a", "v-1": "c-a", "v-2": "c-a", "v-3": "c-b", "v-4": "c-c"}
    r.publish(*(r.match("s-6", v, companies[v], f"Role {v[-1]}", s) for v, s in scores.items()))
    wait_until(lambda: len(n.feed("s-6")) == 5)
    assert n.worker.run() == 0  # not instant: nothing yet
    tomorrow = datetime.now(UTC) + timedelta(days=1, hours=1)
    assert n.service.make_digests(tomorrow) == 1
    assert n.worker.run(tomorrow) == 1
    (digest,) = n.mail()
    text = digest.text or ""
    positions = [text.find(f"Role {i}") for i in (0, 1, 3)]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert "Role 2" not in text and "Role 4" not in text  # a third of c-a; beyond three
    assert "… and 2 more new matches." in text  # Role 2 and Role 4
    # the next day, nothing new: no digest
    assert n.service.make_digests(tomorrow + timedelta(days=1)) == 0
    assert n.worker.run(tomorrow + timedelta(days=1)) == 0
    assert len(n.mail()) == 1


async def send_and_forget(worker: DeliveryWorker, outgoing: Outgoing) -> None:
    """Send one claimed delivery and lose its outcome, as a process dying right after."""
    async with httpx.AsyncClient() as client:
        outcome = await worker.transports.send(client, outgoing)
    assert outcome.ok


def test_a_crash_mid_send_resends_only_what_was_in_flight(notifications: Start) -> None:
    n = notifications()
    r = n.region
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS"),
        r.vacancy("v-1", "c-1", "Data engineering intern"),
        r.vacancy("v-2", "c-1", "Thesis on warehouse robots"),
        r.student("s-7", channels=["email"]),
    )
    n.knows("s-7")
    r.publish(
        r.match("s-7", "v-1", "c-1", "Data engineering intern"),
        r.match("s-7", "v-2", "c-1", "Thesis on warehouse robots"),
    )
    wait_until(lambda: len(n.deliveries("s-7")) == 2)
    crashing = n.worker
    claimed = n.service.claim(crashing.worker_id)
    assert len(claimed) == 2
    # the first is sent and recorded; the second reaches the server, then the process dies
    first, second = claimed
    asyncio.run(crashing.send_all([first]))
    asyncio.run(send_and_forget(crashing, second))

    restarted = DeliveryWorker(n.service, crashing.transports)
    assert restarted.run() == 0  # the crashed worker's lease still holds
    lease = timedelta(seconds=n.app.state.runtime.settings.delivery_lease_seconds)
    after_the_lease = datetime.now(UTC) + lease
    assert restarted.run(after_the_lease) == 1  # only the one left "sending"
    assert restarted.run(after_the_lease) == 0
    ids = [m.delivery_id for m in n.mail()]
    assert sorted(ids) == sorted([first.delivery.id, second.delivery.id, second.delivery.id])
    assert {d["status"] for d in n.deliveries("s-7")} == {"sent"}


def test_webhooks_are_signed_retried_dead_lettered_and_a_failing_endpoint_paused(
    notifications: Start,
) -> None:
    n = notifications(delivery_max_attempts=2, webhook_pause_after=3)
    r = n.region
    with recording_receiver() as receiver:
        r.publish(
            r.company("c-1", "Nordlys Robotics ApS"),
            r.vacancy("v-1", "c-1", "Data engineering intern"),
            r.vacancy("v-2", "c-1", "Thesis on warehouse robots"),
            r.student("s-8", channels=["webhook", "in_app"]),
        )
        n.knows("s-8")
        good = n.client.post(
            "/v1/webhooks", json={"url": receiver.base_url + "/hook", "student_id": "s-8"}
        ).json()
        bad = n.client.post(
            "/v1/webhooks", json={"url": receiver.base_url + "/status/500", "student_id": "s-8"}
        ).json()
        r.publish(r.match("s-8", "v-1", "c-1", "Data engineering intern"))
        wait_until(lambda: len(n.deliveries("s-8")) == 2)

        def settle() -> None:
            for _ in range(50):
                n.worker.run()
                pending = [d for d in n.deliveries("s-8") if d["status"] in ("pending", "sending")]
                if not pending:
                    return
                asyncio.run(asyncio.sleep(0.03))

        settle()
        (delivered,) = receiver.received("/hook")
        body = json.loads(delivered.body)
        assert body["notifications"][0]["title"] == "Data engineering intern"
        assert body["notifications"][0]["missing_skills"] == ["SQL"]
        assert verify(
            good["secret"],
            int(delivered.headers[TIMESTAMP_HEADER]),
            delivered.body,
            delivered.headers[SIGNATURE_HEADER],
        )
        assert len(receiver.received("/status/500")) == 2  # first try and one retry
        statuses = {d["target"]: d["status"] for d in n.deliveries("s-8")}
        assert statuses == {good["webhook_id"]: "sent", bad["webhook_id"]: "failed"}

        events = delivery_events(n, 3)
        failed = [e for e in events if e.type.endswith("NotificationFailed.v1")]
        assert [(e.data.channel, e.data.attempts) for e in failed] == [("webhook", 2)]
        assert "HTTP 500" in failed[0].data.reason
        dead = asyncio.run(read_topic(r.bootstrap, DELIVERIES.dlq_name(r.name), 1, timeout=10))
        assert dict(dead[0].headers)["dlq_reason"].decode().startswith("HTTP 500")

        # a third failure in a row pauses the endpoint; the operator sees why
        r.publish(r.match("s-8", "v-2", "c-1", "Thesis on warehouse robots"))
        wait_until(lambda: len(n.deliveries("s-8")) == 4)
        n.worker.run()
        listed = {e["webhook_id"]: e for e in n.client.get("/v1/webhooks?student_id=s-8").json()}
        assert listed[bad["webhook_id"]]["paused"] is True
        assert "3 deliveries failed in a row" in listed[bad["webhook_id"]]["paused_reason"]
        assert listed[good["webhook_id"]]["paused"] is False
        resumed = n.client.post(f"/v1/webhooks/{bad['webhook_id']}/resume").json()
        assert (resumed["paused"], resumed["failures_in_row"]) == (False, 0)


def test_webhook_urls_are_checked_when_registered(notifications: Start) -> None:
    n = notifications(deployment="production")
    refused = n.client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert problem["field"] == "body.url" and "https" in problem["msg"]
    local = n.client.post("/v1/webhooks", json={"url": "https://127.0.0.1/hook"})
    assert local.status_code == 422 and "loopback" in local.json()["detail"][0]["msg"]


def test_company_dating_agendas_reach_student_and_company_with_the_calendar(
    notifications: Start,
) -> None:
    n = notifications()
    r = n.region
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS", contact_email="mette@nordlys.example.dk"),
        r.student("s-9", name="Søren Ørsted", channels=["email", "in_app"], locale="da"),
    )
    n.knows("s-9")
    r.publish(
        r.agenda("student", "s-9", "c-1", "Nordlys Robotics ApS"),
        r.agenda("company", "c-1", "s-9", "Søren Ørsted"),
    )
    wait_until(lambda: len(n.deliveries("s-9")) == 1)
    wait_until(lambda: n.worker.run() >= 0 and len(n.mail()) == 2)
    by_address = {m.to.rsplit("<", 1)[-1].rstrip(">"): m for m in n.mail()}
    student = by_address["s-9@students.example.org"]
    company = by_address["mette@nordlys.example.dk"]
    for message in (student, company):
        assert [a.content_type for a in message.attachments] == ["text/calendar"]
        assert "Company Dating Aarhus" in (message.text or "")
    # 09:00 UTC is 10.00 in Copenhagen in March, written the Danish way
    assert "10.00" in (student.text or "") and "09.00" not in (student.text or "")
    assert "Nordlys Robotics ApS" in (student.text or "")
    assert student.list_unsubscribe and company.list_unsubscribe is None


def test_internationalised_addresses_get_their_mail_through_a_relay_with_smtputf8(
    notifications: Start,
) -> None:
    n = notifications()
    r = n.region
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS", contact_email="mette.højgaard@nordlys.example.dk"),
        r.vacancy("v-1", "c-1", "Data engineering intern"),
        r.student(
            "s-20",
            name="Lucía Romero",
            email="lucía.romero@students.example.org",
            channels=["email"],
            locale="de",
        ),
        r.student("s-21", name="Ana Müller", email="ana@universität.example", channels=["email"]),
    )
    n.knows("s-20")
    n.knows("s-21")
    r.publish(
        r.match("s-20", "v-1", "c-1", "Data engineering intern"),
        r.agenda("student", "s-21", "c-1", "Nordlys Robotics ApS"),
        r.agenda("company", "c-1", "s-21", "Ana Müller"),
    )
    wait_until(lambda: n.deliveries("s-20") and n.deliveries("s-21"))
    wait_until(lambda: n.worker.run() >= 0 and len(n.mail()) == 3)

    assert sorted(m.to for m in n.mail()) == [
        "Ana Müller <ana@universität.example>",
        "Lucía Romero <lucía.romero@students.example.org>",
        "Mette Holm <mette.højgaard@nordlys.example.dk>",
    ]
    [company] = n.mail(to="mette.højgaard@nordlys.example.dk")
    assert [a.content_type for a in company.attachments] == ["text/calendar"]
    [lucia] = n.mail(to="lucía.romero@students.example.org")
    assert "Data engineering intern" in lucia.subject
    assert {d["status"] for d in n.deliveries("s-20") + n.deliveries("s-21")} == {"sent"}


def test_an_address_the_relay_cannot_take_fails_alone_and_its_batch_is_sent(
    notifications: Start, tmp_path: Path
) -> None:
    with MailSink(tmp_path / "plain-relay", port=free_port(), smtputf8=False) as plain:
        n = notifications(smtp_port=plain.port)
        r = n.region
        r.publish(
            r.company("c-1", "Nordlys Robotics ApS"),
            r.vacancy("v-1", "c-1", "Data engineering intern"),
            r.student(
                "s-22",
                name="Elif Yılmaz",
                email="elif.yılmaz@students.example.org",
                channels=["email"],
            ),
            r.student("s-23", name="Wei Zhang", channels=["email"]),
            r.student(
                "s-24", name="Ana Müller", email="ana@universität.example", channels=["email"]
            ),
        )
        for student in ("s-22", "s-23", "s-24"):
            n.knows(student)
            r.publish(r.match(student, "v-1", "c-1", "Data engineering intern"))
        wait_until(lambda: all(n.deliveries(s) for s in ("s-22", "s-23", "s-24")))

        assert n.worker.run() == 2  # one round, one batch
        mail = mailbox_page(plain.directory).items
    assert sorted(m.to for m in mail) == [
        "Ana Müller <ana@xn--universitt-y5a.example>",
        "Wei Zhang <s-23@students.example.org>",
    ]
    [elif_] = n.deliveries("s-22")
    assert (elif_["status"], elif_["attempts"]) == ("failed", 1)  # permanent: not retried
    assert "the part before the @ is not ASCII, which needs SMTPUTF8" in elif_["last_error"]

    events = delivery_events(n, 3)
    [failed] = [e for e in events if e.type.endswith("NotificationFailed.v1")]
    assert (failed.data.student_id, failed.data.reason) == ("s-22", elif_["last_error"])
    [dead] = asyncio.run(read_topic(r.bootstrap, DELIVERIES.dlq_name(r.name), 1, timeout=10))
    assert dict(dead.headers)["dlq_reason"].decode() == elif_["last_error"]
    assert n.worker.run(datetime.now(UTC) + timedelta(hours=1)) == 0


def test_a_message_that_cannot_be_made_fails_alone_is_retried_then_given_up(
    notifications: Start,
) -> None:
    n = notifications(delivery_max_attempts=2)
    r = n.region
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS"),
        r.vacancy("v-1", "c-1", "Data engineering intern"),
        *(r.student(s, channels=["email"]) for s in ("s-25", "s-26", "s-27")),
    )
    for student in ("s-25", "s-26", "s-27"):
        n.knows(student)
        r.publish(r.match(student, "v-1", "c-1", "Data engineering intern"))
    wait_until(lambda: all(n.deliveries(s) for s in ("s-25", "s-26", "s-27")))
    # rows as an older version may have left them: content it cannot render (s-26), and a
    # delivery id no Message-ID can be made of (s-27)
    with n.service.runtime.transaction() as session:
        session.exec(
            update(NotificationRecord)
            .where(col(NotificationRecord.student_id) == "s-26")
            .values(content={"matched_skills": [PYTHON], "related": {PYTHON: {}}})
        )
        session.exec(
            update(DeliveryRecord)
            .where(col(DeliveryRecord.recipient_id) == "s-27")
            .values(id="dl s-27 <old>")
        )

    assert n.worker.run() == 1  # s-25's, in the same round
    first = {s: n.deliveries(s)[0] for s in ("s-26", "s-27")}
    assert {s: (d["status"], d["attempts"]) for s, d in first.items()} == {
        "s-26": ("pending", 1),
        "s-27": ("pending", 1),
    }
    assert first["s-26"]["last_error"] == "its message cannot be made: KeyError: 'via'"
    assert first["s-27"]["last_error"] == (
        "it failed unexpectedly: ValueError: delivery id 'dl s-27 <old>' is not a url-safe string"
    )

    assert n.worker.run(datetime.now(UTC) + timedelta(seconds=1)) == 0  # the last attempt
    given_up = {s: n.deliveries(s)[0] for s in ("s-26", "s-27")}
    assert {s: (d["status"], d["attempts"]) for s, d in given_up.items()} == {
        "s-26": ("failed", 2),
        "s-27": ("failed", 2),
    }
    events = delivery_events(n, 3)
    failed = {e.data.student_id: e.data for e in events if e.type.endswith("NotificationFailed.v1")}
    assert {s: f.reason for s, f in failed.items()} == {
        s: d["last_error"] for s, d in given_up.items()
    }
    assert failed["s-26"].notification_ids == n.deliveries("s-26")[0]["notification_ids"]
    dead = asyncio.run(read_topic(r.bootstrap, DELIVERIES.dlq_name(r.name), 2, timeout=10))
    assert sorted(dict(d.headers)["dlq_reason"].decode() for d in dead) == sorted(
        d["last_error"] for d in given_up.values()
    )
    assert [m.to for m in n.mail()] == ["Ana Souza <s-25@students.example.org>"]


def test_preferences_by_signed_link_with_clear_errors(notifications: Start) -> None:
    n = notifications()
    r = n.region
    r.publish(r.student("s-10"))
    n.knows("s-10")
    signer = n.signer
    token = signer.token("s-10", "preferences")

    def put(**changes: Any) -> Any:
        body = {**n.knows("s-10")["preferences"], **changes}
        return n.client.put("/v1/preferences", params={"token": token}, json=body)

    for name, value, words in (
        ("locale", "sv", "en"),
        ("channels", ["pigeon"], "email"),
        ("time_zone", "Mars/Olympus", "not an IANA time zone"),
    ):
        answer = put(**{name: value})
        assert answer.status_code == 422, name
        (problem,) = answer.json()["detail"]
        assert problem["field"].startswith(f"body.{name}") and words in problem["msg"]

    changed = put(frequency="weekly", channels=["email"], locale="fi", min_score=0.6)
    assert changed.status_code == 200
    applied = n.knows("s-10")["preferences"]
    assert (applied["frequency"], applied["locale"], applied["min_score"]) == ("weekly", "fi", 0.6)
    page = n.client.get("/v1/preferences", params={"token": token}, headers={"accept": "text/html"})
    assert "<form" in page.text and 'value="weekly" checked' in page.text
    wrong = n.client.put(
        "/v1/preferences", params={"token": signer.token("s-10", "unsubscribe")}, json={}
    )
    assert wrong.status_code == 400

    # a profile older than the change does not undo it; a newer one wins
    profiles_before = n.applied("StudentProfileUpserted")
    r.publish(r.student("s-10", updated_at=datetime.now(UTC) - timedelta(hours=1)))
    wait_until(lambda: n.applied("StudentProfileUpserted") > profiles_before)
    assert n.knows("s-10")["preferences"]["frequency"] == "weekly"
    r.publish(r.student("s-10", frequency="daily"))
    wait_until(lambda: n.knows("s-10")["preferences"]["frequency"] == "daily")


def test_a_student_below_their_threshold_hears_only_once_a_match_reaches_it(
    notifications: Start,
) -> None:
    n = notifications()
    r = n.region
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS"),
        r.vacancy("v-1", "c-1", "Data engineering intern"),
        r.student("s-12", min_score=0.7, channels=["in_app", "email"]),
    )
    n.knows("s-12")
    r.publish(r.match("s-12", "v-1", "c-1", "Data engineering intern", 0.5))
    wait_until(lambda: n.applied("MatchFound") == 1)
    assert n.feed("s-12") == []
    r.publish(r.match("s-12", "v-1", "c-1", "Data engineering intern", 0.75, updated=True))
    wait_until(lambda: n.feed("s-12"))
    assert n.worker.run() == 1
    r.publish(r.match("s-12", "v-1", "c-1", "Data engineering intern", 0.9, updated=True))
    wait_until(lambda: n.feed("s-12")[0]["score"] == 0.9)
    assert n.worker.run() == 0  # an update is shown, not sent again
    assert len(n.mail()) == 1


@dataclass
class Listener:
    """A client of a live stream, in a thread: the events it got, as (id, event, data)."""

    url: str
    headers: dict[str, str]
    count: int
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.connected.wait(30), "the stream did not open"
        assert self.failure is None, self.failure

    def _run(self) -> None:
        try:
            self._listen()
        except BaseException as exc:
            self.failure = exc
            self.connected.set()

    def _listen(self) -> None:
        with (
            httpx.Client(timeout=30, trust_env=False) as client,
            client.stream("GET", self.url, headers=self.headers) as response,
        ):
            if response.status_code != 200:
                raise AssertionError(f"{response.status_code}: {response.read().decode()}")
            assert response.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith(":"):
                    continue
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif "data" in fields:
                    self.events.append((fields["id"], fields["event"], json.loads(fields["data"])))
                    fields = {}
                    if len(self.events) == self.count:
                        return

    def wait(self) -> list[tuple[str, str, dict[str, Any]]]:
        self.thread.join(30)
        assert not self.thread.is_alive(), f"only {len(self.events)} of {self.count} events came"
        assert self.failure is None, self.failure
        return self.events


def test_the_live_stream_pushes_changes_and_resumes_after_the_last_event_id(
    notifications: Start,
) -> None:
    n = notifications(serve=True)
    r = n.region
    r.publish(
        r.company("c-1", "Nordlys Robotics ApS"),
        r.vacancy("v-1", "c-1", "Data engineering intern"),
        r.vacancy("v-2", "c-1", "Thesis on warehouse robots"),
        r.student("s-14"),
    )
    n.knows("s-14")
    url = f"{n.base_url}/v1/students/s-14/stream"
    # the student follows their own feed with their own token
    own = authorization(n.app.state.runtime.settings.region, "student", student_id="s-14")
    live = Listener(url, own, 3)
    r.publish(r.match("s-14", "v-1", "c-1", "Data engineering intern", 0.6))
    r.publish(r.match("s-14", "v-1", "c-1", "Data engineering intern", 0.8, updated=True))
    r.publish(r.withdrawn("s-14", "v-1"))
    got = live.wait()
    assert [(kind, data["vacancy_id"]) for _, kind, data in got] == [
        ("notification", "v-1"),
        ("updated", "v-1"),
        ("unavailable", "v-1"),
    ]
    assert len({data["notification_id"] for _, _, data in got}) == 1
    assert not any("id" in data for _, _, data in got)
    assert got[0][2]["content"]["missing_skills"] == [SQL]
    ids = [int(event_id) for event_id, _, _ in got]
    assert ids == sorted(ids)

    # disconnected meanwhile: a new match; reconnecting resumes exactly after the last id
    r.publish(r.match("s-14", "v-2", "c-1", "Thesis on warehouse robots"))
    wait_until(lambda: len(n.feed("s-14")) == 2)
    again = Listener(url, {**own, "Last-Event-ID": str(ids[-1])}, 1).wait()
    assert [(kind, data["vacancy_id"]) for _, kind, data in again] == [("notification", "v-2")]
    assert int(again[0][0]) > ids[-1]
    assert n.client.get("/v1/students/nobody/stream").status_code == 404
    # resuming names a position, not a student: one who does not exist is not found either
    with n.client.stream(
        "GET", f"{n.base_url}/v1/students/nobody/stream", headers={"Last-Event-ID": "3"}
    ) as resumed:
        assert resumed.status_code == 404
    bad = n.client.get(url, headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 422 and "last-event-id" in bad.json()["detail"][0]["field"]
