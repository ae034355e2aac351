"""`interlocality up` with its demo, as a new user meets it: the launcher seeds the region and
announces what follows; read over HTTP, every vacancy has matches of varied quality, the
mailbox holds e-mail in several languages and the agendas of a Company Dating event, and the
funnel shows applications and a placement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from interlocality.operator.accounts import accounts_path, read_accounts
from interlocality.operator.testing import LaunchedRegion, launched_region

ANNOUNCED = re.compile(r"demo: Company Dating .* (http://\S+/v1/dating-events/(\S+))")
STAGED = r"^(demo: daily digest|demo activity not staged)"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_run(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LaunchedRegion]:
    # The launcher says "is up", then what the demo staged once matching scored it.
    with launched_region(
        tmp_path_factory.mktemp("demo-region"),
        kafka_bootstrap=kafka_bootstrap,
        seed=True,
        up_when=STAGED,
    ) as region:
        yield region


def mailbox(demo_run: LaunchedRegion) -> list[dict[str, Any]]:
    return list(demo_run.read("notifications", "/v1/mailbox", limit=200)["items"])


def _vacancy_id(item: dict[str, Any]) -> str:
    return str(item["vacancy_id"])


def test_the_launcher_seeds_the_demo_and_announces_what_follows(demo_run: LaunchedRegion) -> None:
    output = demo_run.log()

    assert "demo region seeded: 8 companies, 12 vacancies, 25 students" in output
    assert ANNOUNCED.search(output), output
    assert re.search(r"demo: 6 applications, \S.* hired as .*/v1/funnel", output), output
    assert re.search(r"demo: daily digest of Rahul Mehta due at \d\d:00 Europe/", output)


def test_everyone_seeded_has_an_account_and_a_student_sees_their_own(
    demo_run: LaunchedRegion,
) -> None:
    accounts = read_accounts(accounts_path(demo_run.var_dir, demo_run.name))
    students = demo_run.read("profiles", "/v1/students", limit=50)["items"]
    companies = demo_run.read("vacancies", "/v1/companies", limit=50)["items"]

    assert [a["roles"] for a in accounts[:2]] == [["operator"], ["coordinator"]]
    assert accounts[0]["name"] == f"Operator of {demo_run.name.capitalize()}"
    assert {(a["name"], a.get("student_id")) for a in accounts if a["roles"] == ["student"]} == {
        (s["name"], s["student_id"]) for s in students
    }
    assert {(a["name"], a.get("company_id")) for a in accounts if a["roles"] == ["company"]} == {
        (c["name"], c["company_id"]) for c in companies
    }
    # Signed in as one of them, a student reads their own profile and nobody else's.
    own, other = students[0], students[1]
    as_student = demo_run.as_role("student", student_id=own["student_id"])
    mine = as_student.get(demo_run.url("profiles", f"/v1/students/{own['student_id']}"))
    assert mine.status_code == 200 and mine.json()["name"] == own["name"]
    theirs = as_student.get(demo_run.url("profiles", f"/v1/students/{other['student_id']}"))
    assert theirs.status_code == 403


def test_every_vacancy_has_several_matches_of_varied_quality(demo_run: LaunchedRegion) -> None:
    vacancies = demo_run.read("vacancies", "/v1/vacancies", limit=50)["items"]

    assert len(vacancies) == 12
    for vacancy in vacancies:
        matches = demo_run.read("matching", f"/v1/vacancies/{_vacancy_id(vacancy)}/matches")
        scores = [m["score"] for m in matches["items"]]
        assert len(scores) >= 3, (vacancy["vacancy"]["title"], scores)
        assert max(scores) - min(scores) >= 0.2, (vacancy["vacancy"]["title"], scores)
        assert all(m["explanation"]["conditions"] for m in matches["items"])


def test_mail_arrives_in_several_languages_with_the_agendas(demo_run: LaunchedRegion) -> None:
    students = demo_run.read("profiles", "/v1/students", limit=50)["items"]
    locale_of = {s["email"].lower(): s["notification_preferences"]["locale"] for s in students}

    def mailed() -> dict[str, set[str]]:
        mail = mailbox(demo_run)
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
    # Internationalised addresses get their mail like everyone else.
    addressed = {_address(m["to"]) for m in mailbox(demo_run)}
    assert {"lucía.romero@students.example.org", "elif.yılmaz@students.example.org"} <= addressed


def _address(to: str) -> str:
    return to.rsplit("<", 1)[-1].rstrip(">").strip().lower()


def test_the_daily_digest_student_is_not_mailed_each_match(demo_run: LaunchedRegion) -> None:
    students = demo_run.read("profiles", "/v1/students", limit=50)["items"]
    daily = next(s for s in students if s["notification_preferences"]["frequency"] == "daily")
    feed = demo_run.read("notifications", f"/v1/students/{daily['student_id']}/notifications")
    assert feed["total"] >= 1, "the daily digest student has no match in the feed"

    # The Company Dating agenda is mailed to everyone after the matches: once the student's
    # has arrived, a match mailed at once would have arrived before it.
    mailed = demo_run.wait_for(
        lambda: [m for m in mailbox(demo_run) if _address(m["to"]) == daily["email"]]
    )
    assert all(m["attachments"] for m in mailed), "a match was mailed instead of held"


def test_the_company_dating_event_has_an_agenda_for_everyone(demo_run: LaunchedRegion) -> None:
    announced = ANNOUNCED.search(demo_run.log())
    assert announced is not None
    event_id = announced.group(2)

    event = demo_run.read("matching", f"/v1/dating-events/{event_id}")

    assert len(event["students"]) == 25 and len(event["companies"]) == 8
    assert all(agenda["dates"] for agenda in event["students"])
    assert event["totals"]["dates"] >= 25
    student = event["students"][0]["participant_id"]
    calendar = demo_run.http.get(
        demo_run.urls["matching"] + f"/v1/dating-events/{event_id}/students/{student}/agenda.ics"
    )
    assert calendar.status_code == 200
    assert calendar.text.startswith("BEGIN:VCALENDAR")


def test_the_funnel_shows_the_applications_and_the_placement(demo_run: LaunchedRegion) -> None:
    def steps() -> dict[str, dict[str, Any]] | None:
        regions = demo_run.read("analytics", "/v1/funnel")["regions"]
        found = {s["step"]: s for s in regions.get(demo_run.name, {}).get("steps", [])}
        return found if found.get("placed", {}).get("events") else None

    funnel = demo_run.wait_for(steps)

    assert funnel["applied"]["vacancies"] == 3 and funnel["applied"]["events"] == 6
    assert funnel["placed"]["vacancies"] == 1 and funnel["placed"]["events"] == 1
    vacancies = demo_run.read("vacancies", "/v1/vacancies", limit=50)["items"]
    filled = [v for v in vacancies if v["positions_filled"]]
    assert [(v["positions_filled"], v["status"]) for v in filled] == [(1, "open")]
