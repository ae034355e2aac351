"""`interlocality up` with its demo, as a new user meets it: the launcher seeds the region and
announces what follows; read over HTTP, every vacancy has matches of varied quality, the
mailbox holds e-mail in several languages and the agendas of a Company Dating event, and the
funnel shows applications and a placement."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from interlocality.common.embedded_broker import free_port

SERVICES = ("profiles", "vacancies", "matching", "notifications", "analytics")
ANNOUNCED = re.compile(r"demo: Company Dating .* (http://\S+/v1/dating-events/(\S+))")
STAGED = re.compile(r"^(demo: daily digest|demo activity not staged)", re.MULTILINE)
pytestmark = pytest.mark.e2e


@dataclass
class DemoRun:
    region: str
    urls: dict[str, str]
    log: Path
    logs: Path
    http: httpx.Client

    def get(self, service: str, path: str, **params: Any) -> Any:
        response = self.http.get(self.urls[service] + path, params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def wait_for(
        self,
        what: Callable[[], Any],
        timeout: float = 60.0,
        until: Callable[[Any], bool] = bool,
    ) -> Any:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = what()
            if until(value):
                return value
            time.sleep(0.3)
        raise AssertionError(f"not within {timeout} s; last value {value!r}\n{self.trouble()}")

    def trouble(self) -> str:
        """The launcher's output and what the services logged above info."""
        lines = [
            f"{path.stem}: {line[:400]}"
            for path in sorted(self.logs.glob("*.log"))
            for line in path.read_text(errors="replace").splitlines()
            if '"level": "info"' not in line and '"level": "debug"' not in line
        ]
        return self.log.read_text() + "\n".join(lines[-20:])

    def mailbox(self) -> list[dict[str, Any]]:
        return list(self.get("notifications", "/v1/mailbox", limit=200)["items"])


@pytest.fixture(scope="module")
def demo_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    region = f"e2edemo{uuid.uuid4().hex[:8]}"
    tmp_path = tmp_path_factory.mktemp("demo-region")
    ports = {service: free_port() for service in SERVICES}
    env = {
        **{k: v for k, v in os.environ.items() if k != "INTERLOCALITY_SMTP_HOST"},
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "INTERLOCALITY_VAR_DIR": str(tmp_path / "var"),
        **{f"{service.upper()}_PORT": str(port) for service, port in ports.items()},
    }
    log = tmp_path / "up.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "interlocality.common.cli",
                "--region",
                region,
                "up",
                "--smtp-port",
                str(free_port()),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    run = DemoRun(
        region,
        {s: f"http://127.0.0.1:{p}" for s, p in ports.items()},
        log,
        tmp_path / "var" / region / "logs",
        httpx.Client(timeout=10),
    )
    try:
        # the launcher says "is up", then what the demo staged once matching scored it
        run.wait_for(
            lambda: process.poll() is not None or STAGED.search(log.read_text()), timeout=180
        )
        assert process.poll() is None, log.read_text()
        yield run
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        run.http.close()
        assert code == 0, log.read_text()


def _vacancy_id(item: dict[str, Any]) -> str:
    return str(item["vacancy_id"])


def test_the_launcher_seeds_the_demo_and_announces_what_follows(demo_run: DemoRun) -> None:
    output = demo_run.log.read_text()

    assert "demo region seeded: 8 companies, 12 vacancies, 25 students" in output
    assert ANNOUNCED.search(output), output
    assert re.search(r"demo: 6 applications, \S.* hired as .*/v1/funnel", output), output
    assert re.search(r"demo: daily digest of Rahul Mehta due at \d\d:00 Europe/", output)


def test_every_vacancy_has_several_matches_of_varied_quality(demo_run: DemoRun) -> None:
    vacancies = demo_run.get("vacancies", "/v1/vacancies", limit=50)["items"]

    assert len(vacancies) == 12
    for vacancy in vacancies:
        matches = demo_run.get("matching", f"/v1/vacancies/{_vacancy_id(vacancy)}/matches")
        scores = [m["score"] for m in matches["items"]]
        assert len(scores) >= 3, (vacancy["vacancy"]["title"], scores)
        assert max(scores) - min(scores) >= 0.2, (vacancy["vacancy"]["title"], scores)
        assert all(m["explanation"]["conditions"] for m in matches["items"])


def test_mail_arrives_in_several_languages_with_the_agendas(demo_run: DemoRun) -> None:
    students = demo_run.get("profiles", "/v1/students", limit=50)["items"]
    locale_of = {s["email"].lower(): s["notification_preferences"]["locale"] for s in students}

    def mailed() -> dict[str, set[str]]:
        mail = demo_run.mailbox()
        agendas = {
            _address(m["to"])
            for m in mail
            if any(a["content_type"] == "text/calendar" for a in m["attachments"])
        }
        return {
            "locales": {locale_of[a] for m in mail if (a := _address(m["to"])) in locale_of},
            "student agendas": agendas & locale_of.keys(),
            "company agendas": agendas - locale_of.keys(),
        }

    def enough(seen: dict[str, set[str]]) -> bool:
        return len(seen["locales"]) >= 3 and all(seen.values())

    seen = demo_run.wait_for(mailed, until=enough)

    assert {"en", "de", "it"} <= seen["locales"], seen


def _address(to: str) -> str:
    return to.rsplit("<", 1)[-1].rstrip(">").strip().lower()


def test_the_daily_digest_student_is_not_mailed_each_match(demo_run: DemoRun) -> None:
    students = demo_run.get("profiles", "/v1/students", limit=50)["items"]
    daily = next(s for s in students if s["notification_preferences"]["frequency"] == "daily")

    feed = demo_run.wait_for(
        lambda: demo_run.get("notifications", f"/v1/students/{daily['student_id']}/notifications")[
            "items"
        ]
    )
    assert feed
    mailed = [m for m in demo_run.mailbox() if _address(m["to"]) == daily["email"]]
    assert all(m["attachments"] for m in mailed), "a match was mailed instead of held"


def test_the_company_dating_event_has_an_agenda_for_everyone(demo_run: DemoRun) -> None:
    announced = ANNOUNCED.search(demo_run.log.read_text())
    assert announced is not None
    event_id = announced.group(2)

    event = demo_run.get("matching", f"/v1/dating-events/{event_id}")

    assert len(event["students"]) == 25 and len(event["companies"]) == 8
    assert all(agenda["dates"] for agenda in event["students"])
    assert event["totals"]["dates"] >= 25
    student = event["students"][0]["participant_id"]
    calendar = demo_run.http.get(
        demo_run.urls["matching"] + f"/v1/dating-events/{event_id}/students/{student}/agenda.ics"
    )
    assert calendar.status_code == 200
    assert calendar.text.startswith("BEGIN:VCALENDAR")


def test_the_funnel_shows_the_applications_and_the_placement(demo_run: DemoRun) -> None:
    def steps() -> dict[str, dict[str, Any]] | None:
        regions = demo_run.get("analytics", "/v1/funnel")["regions"]
        found = {s["step"]: s for s in regions.get(demo_run.region, {}).get("steps", [])}
        return found if found.get("placed", {}).get("events") else None

    funnel = demo_run.wait_for(steps)

    assert funnel["applied"]["vacancies"] == 3 and funnel["applied"]["events"] == 6
    assert funnel["placed"]["vacancies"] == 1 and funnel["placed"]["events"] == 1
    vacancies = demo_run.get("vacancies", "/v1/vacancies", limit=50)["items"]
    filled = [v for v in vacancies if v["positions_filled"]]
    assert [(v["positions_filled"], v["status"]) for v in filled] == [(1, "open")]
