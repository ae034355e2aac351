"""A region as an operator runs it: ``interlocality up`` starts five service processes on a
real broker; the test drives them over HTTP like a user and reads results back the same way."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from interlocality.common.esco import default_vocabulary
from interlocality.common.testing import fresh_databases, recording_receiver
from interlocality.notifications.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from interlocality.operator.testing import REGION_SERVICES, LaunchedRegion, launched_region

SERVICES = REGION_SERVICES
EVERY_CONSENT = {"matching": True, "notifications": True, "analytics": True}
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running_region(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LaunchedRegion]:
    with launched_region(
        tmp_path_factory.mktemp("region"), kafka_bootstrap=kafka_bootstrap
    ) as region:
        yield region


@pytest.fixture(scope="module")
def region_on_postgresql(
    kafka_bootstrap: str, postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LaunchedRegion, dict[str, str]]]:
    """A region whose five services keep their state in PostgreSQL databases of their own."""
    names = [f"il_e2e_{uuid.uuid4().hex[:10]}_{service}" for service in SERVICES]
    with fresh_databases(postgres_admin_url, names) as created:
        urls = dict(zip(SERVICES, created, strict=True))
        with launched_region(
            tmp_path_factory.mktemp("region-postgresql"),
            kafka_bootstrap=kafka_bootstrap,
            env={f"{service.upper()}_DATABASE_URL": url for service, url in urls.items()},
        ) as region:
            yield region, urls


@pytest.fixture(params=["sqlite", "postgresql"])
def region_and_databases(request: pytest.FixtureRequest) -> tuple[LaunchedRegion, dict[str, str]]:
    """A running region and the URL of each service's database: the SQLite files under its
    var dir, or PostgreSQL databases."""
    if request.param == "postgresql":
        on_postgresql: tuple[LaunchedRegion, dict[str, str]]
        on_postgresql = request.getfixturevalue("region_on_postgresql")
        return on_postgresql
    region: LaunchedRegion = request.getfixturevalue("running_region")
    files = {s: region.var_dir / region.name / f"{s}.db" for s in SERVICES}
    assert all(path.exists() for path in files.values()), files
    return region, {service: f"sqlite:///{path}" for service, path in files.items()}


def rows_naming(database_url: str, *personal: str) -> list[str]:
    """``table.column`` of every value in the database holding one of ``personal``: read raw,
    JSON as stored (its text with non-ASCII letters escaped, or decoded by the driver) and
    bytes as UTF-8."""
    needles = {p for value in personal for p in (value, json.dumps(value)[1:-1])}
    engine = create_engine(database_url)
    found = []
    try:
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                result = connection.execute(text(f'SELECT * FROM "{table}"'))
                columns = list(result.keys())
                for row in result:
                    for column, value in zip(columns, row, strict=True):
                        if any(needle in _as_text(value) for needle in needles):
                            found.append(f"{table}.{column}")
    finally:
        engine.dispose()
    return sorted(set(found))


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="ignore")
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def matches_of(r: LaunchedRegion, path: str) -> list[dict[str, Any]]:
    """A page of matches from matching; none while it has not seen the student or vacancy."""
    response = r.get("matching", path)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return list(response.json()["items"])


def skills_of(occupation_label: str) -> list[str]:
    vocabulary = default_vocabulary()
    occupation = next(o for o in vocabulary.occupations.values() if o.label == occupation_label)
    return [uri for uri in occupation.essential_skills if uri in vocabulary][:4]


def open_vacancy(r: LaunchedRegion, company: str, title: str, kind: str, skills: list[str]) -> str:
    """A new company's vacancy, open, asking for ``skills`` at level 1 or more: its id."""
    company_id = r.post("vacancies", "/v1/companies", {"name": company}).json()["company_id"]
    vacancy = r.post(
        "vacancies",
        "/v1/vacancies",
        {
            "company_id": company_id,
            "title": title,
            "kind": kind,
            "required_skills": [{"uri": uri, "min_level": 1} for uri in skills],
        },
    )
    assert vacancy.status_code == 201, vacancy.text
    return str(vacancy.json()["vacancy_id"])


def test_company_vacancy_student_match_notification_summary(running_region: LaunchedRegion) -> None:
    r = running_region
    skills = skills_of("software developer")
    company = r.post(
        "vacancies", "/v1/companies", {"name": "Nordlys Software ApS", "city": "Aarhus"}
    )
    assert company.status_code == 201, company.text
    vacancy = r.post(
        "vacancies",
        "/v1/vacancies",
        {
            "company_id": company.json()["company_id"],
            "title": "Backend developer intern",
            "kind": "internship",
            "required_skills": [{"uri": uri, "min_level": 2} for uri in skills],
            "languages": [{"code": "en", "min_level": "B2"}],
        },
    )
    assert vacancy.status_code == 201, vacancy.text
    vacancy_id = vacancy.json()["vacancy_id"]
    student = r.post(
        "profiles",
        "/v1/students",
        {
            "name": "Wei Zhang",
            "email": "wei.zhang@students.example.org",
            "skills": [{"uri": uri, "level": 3} for uri in skills[:2]],
            "languages": [{"code": "en", "level": "C1"}],
            "engagement_kinds": ["internship"],
            "consents": EVERY_CONSENT,
        },
    )
    assert student.status_code == 201, student.text
    student_id = student.json()["student_id"]

    matches = r.wait_for(lambda: matches_of(r, f"/v1/students/{student_id}/matches"))
    assert len(matches) == 1
    match = matches[0]
    assert match["vacancy_id"] == vacancy_id
    # two of four skills, each weighing by how specific it is
    weights = {s["uri"]: s["weight"] for s in match["explanation"]["skills"]}
    assert match["explanation"]["components"]["coverage"] == pytest.approx(
        sum(weights[uri] for uri in skills[:2]) / sum(weights.values()), abs=1e-4
    )
    assert 0.5 < match["score"] < 1.0
    assert [s["uri"] for s in match["matched_skills"]] == skills[:2]
    assert [s["uri"] for s in match["missing_skills"]] == skills[2:]
    assert all(s["label"] for s in match["matched_skills"])
    by_vacancy = matches_of(r, f"/v1/vacancies/{vacancy_id}/matches")
    assert [m["student_id"] for m in by_vacancy] == [student_id]

    notifications = r.wait_for(
        lambda: (
            r.get("notifications", f"/v1/students/{student_id}/notifications").json().get("items")
        )
    )
    assert [(n["vacancy_id"], n["available"]) for n in notifications] == [(vacancy_id, True)]

    expected = {
        "CompanyRegistered.v1": 1,
        "VacancyPublished.v1": 1,
        "StudentProfileUpserted.v1": 1,
        "MatchFound.v1": 1,
        "NotificationSent.v1": 1,
    }

    def summary_complete() -> dict[str, int] | None:
        by_type = r.get("analytics", "/v1/summary").json()["by_type"]
        return by_type if by_type == expected else None

    r.wait_for(summary_complete)

    # Replaying every service's state changes nothing downstream: same ids, applied once.
    replayed = {s: r.post(s, "/v1/admin/replay").json()["republished"] for s in SERVICES}
    assert replayed == {
        "profiles": 1,
        "vacancies": 2,
        "matching": 1,
        "notifications": 1,
        "analytics": 0,
    }
    r.wait_for(lambda: all(r.get(s, "/v1/admin/outbox").json()["pending"] == 0 for s in SERVICES))
    time.sleep(2)
    assert r.get("analytics", "/v1/summary").json()["by_type"] == expected
    assert (
        len(r.get("notifications", f"/v1/students/{student_id}/notifications").json().get("items"))
        == 1
    )

    # Closing the vacancy withdraws the match; the notification stays, marked unavailable.
    assert r.post("vacancies", f"/v1/vacancies/{vacancy_id}/close").json()["status"] == "closed"
    r.wait_for(lambda: matches_of(r, f"/v1/students/{student_id}/matches") == [])
    r.wait_for(
        lambda: (
            not r.get("notifications", f"/v1/students/{student_id}/notifications")
            .json()
            .get("items")[0]["available"]
        )
    )

    # Erasure: the profile is gone and notifications delete what they held.
    assert r.delete("profiles", f"/v1/students/{student_id}").status_code == 204
    assert r.get("profiles", f"/v1/students/{student_id}").status_code == 404
    r.wait_for(
        lambda: (
            r.get("notifications", f"/v1/students/{student_id}/notifications").status_code == 404
        )
    )


def test_matches_applications_and_placements_make_the_funnel(
    running_region: LaunchedRegion,
) -> None:
    r = running_region
    skills = skills_of("chemical engineer")
    vacancy_id = open_vacancy(
        r, "Kemi Nord A/S", "Master's thesis: process simulation", "thesis", skills
    )
    students = [
        r.post(
            "profiles",
            "/v1/students",
            {
                "name": name,
                "email": f"{name.split()[0].lower()}@students.example.org",
                "skills": [{"uri": uri, "level": 3} for uri in skills[:2]],
                "engagement_kinds": ["thesis"],
                "consents": EVERY_CONSENT,
            },
        ).json()["student_id"]
        for name in ("Amara Okafor", "Jonas Berg")
    ]
    r.wait_for(lambda: len(matches_of(r, f"/v1/vacancies/{vacancy_id}/matches")) == 2)

    # Both are told before the placement fills the vacancy: a filled vacancy is not
    # notified any more.
    def notified(student_id: str) -> bool:
        feed = r.get("notifications", f"/v1/students/{student_id}/notifications")
        return feed.status_code == 200 and any(
            n["vacancy_id"] == vacancy_id for n in feed.json()["items"]
        )

    try:
        r.wait_for(lambda: all(notified(s) for s in students))
    except AssertionError:
        raise AssertionError(f"not both students notified; {r.trouble()}") from None

    for student_id in students:
        # The vacancies service learns of students from their topic, maybe after matching.
        applied = r.wait_for(
            lambda student_id=student_id: (
                response
                if (
                    response := r.post(
                        "vacancies",
                        f"/v1/vacancies/{vacancy_id}/applications",
                        {"student_id": student_id},
                    )
                ).status_code
                != 422
                else None
            )
        )
        assert applied.status_code == 201, applied.text
    placed = r.post(
        "vacancies", f"/v1/vacancies/{vacancy_id}/placements", {"student_id": students[0]}
    )
    assert placed.status_code == 201, placed.text

    seen: list[object] = []

    def thesis_funnel() -> list[dict[str, object]] | None:
        regions = r.get("analytics", "/v1/funnel", params={"kind": "thesis"}).json()["regions"]
        steps = regions.get(r.name, {}).get("steps", [])
        seen[:] = [steps]
        return steps if steps and steps[-1]["vacancies"] == 1 and steps[2]["events"] == 2 else None

    try:
        steps = r.wait_for(thesis_funnel, timeout=60)
    except AssertionError:
        raise AssertionError(f"the thesis funnel stayed at {seen}; {r.trouble()}") from None
    assert [(s["step"], s["vacancies"], s.get("events")) for s in steps] == [
        ("published", 1, None),
        ("matched", 1, 2),
        ("notified", 1, 2),
        ("applied", 1, 2),
        ("placed", 1, 1),
    ]
    assert r.get("analytics", "/v1/funnel", params={"kind": "apprenticeship"}).status_code == 422


def test_services_report_health_readiness_and_metrics(running_region: LaunchedRegion) -> None:
    r = running_region
    for service in SERVICES:
        assert r.get(service, "/healthz").json()["service"] == service
        ready = r.get(service, "/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"broker": True, "database": True}
        metrics = r.get(service, "/metrics").text
        assert 'interlocality_service_info{region="' in metrics
        assert f'service="{service}"' in metrics


def test_the_token_command_signs_in_whom_it_names(running_region: LaunchedRegion) -> None:
    r = running_region
    created = r.post(
        "profiles",
        "/v1/students",
        {
            "name": "Åsa Ørsted",
            "email": "asa.orsted@students.example.org",
            "skills": [{"uri": uri, "level": 3} for uri in skills_of("data analyst")[:2]],
            "engagement_kinds": ["internship"],
        },
    )
    assert created.status_code == 201, created.text
    student_id = created.json()["student_id"]
    assert r.run_file()["issuer"] == {
        "url": f"http://127.0.0.1:{r.issuer_port}",
        "started": "embedded",
        "pid": r.run_file()["issuer"]["pid"],
    }

    printed = r.cli("token", "--role", "student", "--student", student_id)
    assert printed.returncode == 0, printed.stderr
    as_asa = {"Authorization": f"Bearer {printed.stdout.strip()}"}

    own = httpx.get(r.url("profiles", f"/v1/students/{student_id}"), headers=as_asa)
    assert own.status_code == 200 and own.json()["name"] == "Åsa Ørsted", own.text
    everyone = httpx.get(r.url("profiles", "/v1/students"), headers=as_asa)
    assert everyone.status_code == 403, everyone.text
    operator = r.cli("token", "--role", "operator", "--minutes", "5")
    listed = httpx.get(
        r.url("profiles", "/v1/students"),
        headers={"Authorization": f"Bearer {operator.stdout.strip()}"},
    )
    assert listed.status_code == 200, listed.text

    mismatched = r.cli("token", "--role", "operator", "--student", student_id)
    assert mismatched.returncode != 0
    assert "--student names whose token it is, for --role student only" in mismatched.stderr
    nameless = r.cli("token", "--role", "company")
    assert nameless.returncode != 0 and "--company ID" in nameless.stderr


def test_consent_withdrawal_and_erasure_reach_every_service(running_region: LaunchedRegion) -> None:
    r = running_region
    skills = skills_of("data analyst")
    company_id = r.post("vacancies", "/v1/companies", {"name": "Elbtal Analytics GmbH"}).json()[
        "company_id"
    ]
    vacancy = r.post(
        "vacancies",
        "/v1/vacancies",
        {
            "company_id": company_id,
            "title": "Data analyst (student job)",
            "kind": "student_job",
            "required_skills": [{"uri": uri, "min_level": 1} for uri in skills],
        },
    ).json()
    body = {
        "name": "Lucía Romero",
        "email": "lucia.romero@students.example.org",
        "skills": [{"uri": uri, "level": 3} for uri in skills],
        "engagement_kinds": ["student_job"],
        "consents": EVERY_CONSENT,
    }
    student_id = r.post("profiles", "/v1/students", body).json()["student_id"]
    r.wait_for(lambda: matches_of(r, f"/v1/students/{student_id}/matches"))
    r.wait_for(
        lambda: (
            r.get("notifications", f"/v1/students/{student_id}/notifications").json().get("items")
        )
    )
    # Vacancies learns of the student from the students topic, in its own time.
    applied = r.wait_for(
        lambda: (
            response
            if (
                response := r.post(
                    "vacancies",
                    f"/v1/vacancies/{vacancy['vacancy_id']}/applications",
                    {"student_id": student_id},
                )
            ).status_code
            != 422
            else None
        )
    )
    assert applied.status_code == 201, applied.text

    # Withdrawing consent to matching empties matching's view of the student.
    r.put("profiles", f"/v1/students/{student_id}/consents", {"matching": False}).raise_for_status()
    r.wait_for(lambda: matches_of(r, f"/v1/students/{student_id}/matches") == [])
    answer = r.get("matching", f"/v1/privacy/students/{student_id}").json()
    held = answer["holds"]
    assert held["skills"] is None and held["matches"] == []
    # Beside what is held stands the audit log of who read the student's data: the
    # operator's reads.
    audit = answer["audit_log"]
    assert audit and {entry["actor"] for entry in audit} == {"operator:dev"}, audit
    assert all(value in (None, [], {}) for value in held.values()), held

    # Erasure: every service reports holding nothing on the student but the audit log.
    assert r.delete("profiles", f"/v1/students/{student_id}").status_code == 204

    def holds_nothing() -> bool:
        for service in SERVICES:
            holds = r.get(service, f"/v1/privacy/students/{student_id}").json()["holds"]
            if any(value not in (None, [], {}) for value in holds.values()):
                return False
        return True

    r.wait_for(holds_nothing)


def test_an_erased_student_is_in_no_row_of_any_service_database(
    region_and_databases: tuple[LaunchedRegion, dict[str, str]],
) -> None:
    r, databases = region_and_databases
    name, email = "Åsa Ørsted-Yılmaz", "asa.orsted@example.dk"
    skills = skills_of("data analyst")
    vacancy_id = open_vacancy(
        r, "Øresund Indsigt ApS", "Dataanalytiker (studiejob)", "student_job", skills
    )
    created = r.post(
        "profiles",
        "/v1/students",
        {
            "name": name,
            "email": email,
            "skills": [{"uri": uri, "level": 3} for uri in skills],
            "engagement_kinds": ["student_job"],
            "consents": EVERY_CONSENT,
            "notification_preferences": {"frequency": "instant", "channels": ["email", "in_app"]},
        },
    )
    assert created.status_code == 201, created.text
    student_id = created.json()["student_id"]

    # Matched, notified in the app and by e-mail, applied, and counted by analytics.
    r.wait_for(lambda: matches_of(r, f"/v1/students/{student_id}/matches"))
    r.wait_for(
        lambda: (
            r.get("notifications", f"/v1/students/{student_id}/notifications").json().get("items")
        )
    )
    r.wait_for(lambda: r.get("notifications", "/v1/mailbox", {"to": email}).json()["items"])
    applied = r.wait_for(
        lambda: r.post(
            "vacancies", f"/v1/vacancies/{vacancy_id}/applications", {"student_id": student_id}
        ),
        until=lambda response: response.status_code != 422,
    )
    assert applied.status_code == 201, applied.text
    r.wait_for(
        lambda: r.get("analytics", f"/v1/privacy/students/{student_id}").json()["holds"],
        until=lambda holds: (
            holds["analytics_consent"] is True
            and holds["applications_and_placements"]
            and holds["supply_student"]["contributions"]
        ),
    )
    r.wait_for(lambda: all(r.get(s, "/v1/admin/outbox").json()["pending"] == 0 for s in SERVICES))
    # The search finds what it looks for: before the erasure the student is there, in
    # plain columns, JSON and the outbox's bytes alike.
    before = {service: rows_naming(url, name, email) for service, url in databases.items()}
    assert {"student.name", "student.document", "outbox_message.value"} <= set(
        before["profiles"]
    ), before
    assert "recipient.email" in before["notifications"], before

    assert r.delete("profiles", f"/v1/students/{student_id}").status_code == 204

    def holds_nothing() -> bool:
        for service in SERVICES:
            holds = r.get(service, f"/v1/privacy/students/{student_id}").json()["holds"]
            if any(value not in (None, [], {}) for value in holds.values()):
                return False
        return True

    r.wait_for(holds_nothing)
    r.wait_for(lambda: all(r.get(s, "/v1/admin/outbox").json()["pending"] == 0 for s in SERVICES))
    left = {service: rows_naming(url, name, email) for service, url in databases.items()}
    assert not any(left.values()), f"personal data left after the erasure: {left}"


def test_operator_imports_a_file_and_sees_the_state_downstream(
    running_region: LaunchedRegion, tmp_path: Path
) -> None:
    r = running_region
    skills = skills_of("software developer")
    companies = tmp_path / "companies.csv"
    companies.write_text("external_id,name,city\nco-1,Søndergaard Data ApS,Aarhus\n")
    vacancies = tmp_path / "vacancies.csv"
    vacancies.write_text(
        "external_id,company_external_id,title,kind,required_skills\n"
        f"va-1,co-1,Backend intern,internship,{';'.join(f'{u}|1' for u in skills)}\n"
    )
    students = tmp_path / "students.csv"
    students.write_text(
        "external_id,name,email,skills,engagement_kinds,consent_matching\n"
        f"st-1,Amir Haddad,amir@students.example.org,{skills[0]}|3;{skills[1]}|2,internship,yes\n"
        f"st-2,Broken Row,not-an-email,{skills[0]}|3,internship,yes\n"
    )
    # The commands find the running region by its name and var dir alone.
    assert r.cli("import", "companies", str(companies)).returncode == 0
    assert r.cli("import", "vacancies", str(vacancies)).returncode == 0
    result = r.cli("import", "students", str(students))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "1 created" in result.stdout and "1 failed" in result.stdout
    report = (tmp_path / "students.csv.errors.csv").read_text()
    assert "3,email," in report

    listed = r.get("profiles", "/v1/students?limit=500").json()["items"]
    amir = next(s for s in listed if s["external_id"] == "st-1")
    r.wait_for(lambda: matches_of(r, f"/v1/students/{amir['student_id']}/matches"))
    exported = r.cli("export", amir["student_id"])
    assert exported.returncode == 0
    services = json.loads(exported.stdout)["services"]
    assert services["profiles"]["profile"]["name"] == "Amir Haddad"
    assert services["matching"]["matches"]


def test_a_student_picks_channels_and_frequency_and_gets_exactly_that(
    running_region: LaunchedRegion,
) -> None:
    r = running_region
    skills = skills_of("software developer")
    with recording_receiver() as receiver:
        company_id = r.post(
            "vacancies", "/v1/companies", {"name": "Zeeland Zonne-energie BV"}
        ).json()["company_id"]

        def student(name: str, email: str, preferences: dict[str, Any]) -> str:
            created = r.post(
                "profiles",
                "/v1/students",
                {
                    "name": name,
                    "email": email,
                    "skills": [{"uri": uri, "level": 3} for uri in skills],
                    "engagement_kinds": ["thesis"],
                    "consents": EVERY_CONSENT,
                    "notification_preferences": preferences,
                },
            )
            assert created.status_code == 201, created.text
            return str(created.json()["student_id"])

        instant = student(
            "Daan de Vries",
            "daan.devries@students.example.org",
            {"frequency": "instant", "channels": ["email", "webhook", "in_app"], "locale": "nl"},
        )
        digest = student(
            "Aino Virtanen",
            "aino.virtanen@students.example.org",
            {"frequency": "daily", "channels": ["email"], "locale": "fi"},
        )
        # the student's own tool, signed in as the student, registers its endpoint once
        # notifications knows the student, and follows the student's live stream
        as_daan = r.as_role("student", student_id=instant)
        webhook = r.wait_for(
            lambda: (
                answer
                if (
                    answer := as_daan.post(
                        r.url("notifications", "/v1/webhooks"),
                        json={"url": receiver.base_url + "/hook", "student_id": instant},
                    )
                ).status_code
                == 201
                else None
            )
        ).json()
        stream = StreamReader(
            r.url("notifications", f"/v1/students/{instant}/stream"),
            {"Authorization": f"Bearer {r.token('student', student_id=instant)}"},
        )

        vacancy_id = r.post(
            "vacancies",
            "/v1/vacancies",
            {
                "company_id": company_id,
                "title": "Master thesis: forecasting solar yield",
                "kind": "thesis",
                "required_skills": [{"uri": uri, "min_level": 2} for uri in skills],
            },
        ).json()["vacancy_id"]

        def mail_to(address: str) -> list[dict[str, Any]]:
            return list(r.get("notifications", "/v1/mailbox", {"to": address}).json()["items"])

        (mail,) = r.wait_for(lambda: mail_to("daan.devries@students.example.org"))
        assert "forecasting solar yield" in mail["subject"]
        assert "Zeeland Zonne-energie BV" in mail["text"] and "afstudeer" in mail["text"].lower()
        (posted,) = r.wait_for(lambda: receiver.received("/hook"))
        assert verify(
            webhook["secret"],
            int(posted.headers[TIMESTAMP_HEADER]),
            posted.body,
            posted.headers[SIGNATURE_HEADER],
        )
        assert json.loads(posted.body)["notifications"][0]["vacancy_id"] == vacancy_id
        event, data = stream.first()
        assert (event, data["vacancy_id"]) == ("notification", vacancy_id)

        # the digest student has it in the feed, and no e-mail before their digest time
        feed = r.wait_for(
            lambda: (
                r.get("notifications", f"/v1/students/{digest}/notifications").json().get("items")
            )
        )
        assert [n["vacancy_id"] for n in feed] == [vacancy_id]
        assert mail_to("aino.virtanen@students.example.org") == []

        # a student's own token reads their own feed, and no other student's
        own = as_daan.get(r.url("notifications", f"/v1/students/{instant}/notifications"))
        assert own.status_code == 200, own.text
        assert [n["vacancy_id"] for n in own.json()["items"]] == [vacancy_id]
        other = as_daan.get(r.url("notifications", f"/v1/students/{digest}/notifications"))
        assert other.status_code == 403, other.text
        unsigned = httpx.get(r.url("notifications", f"/v1/students/{instant}/notifications"))
        assert unsigned.status_code == 401
        assert unsigned.headers["WWW-Authenticate"].startswith("Bearer")

        # one click in the e-mail unsubscribes; profiles learns it through the broker
        unsubscribe = mail["list_unsubscribe"].strip("<>")
        assert r.http.post(unsubscribe, content=b"List-Unsubscribe=One-Click").status_code == 200
        r.wait_for(
            lambda: (
                r.get("profiles", f"/v1/students/{instant}").json()["consents"]["notifications"][
                    "granted"
                ]
                is False
            )
        )


class StreamReader:
    """Reads the first event of a live stream in a thread."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.opened.wait(30), "the stream did not open"

    def _read(self) -> None:
        with (
            httpx.Client(timeout=60, headers=self.headers) as client,
            client.stream("GET", self.url) as response,
        ):
            self.opened.set()
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if line.startswith(":"):
                    continue
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif "data" in fields:
                    self.events.append((fields["event"], json.loads(fields["data"])))
                    return

    def first(self) -> tuple[str, dict[str, Any]]:
        self.thread.join(60)
        assert self.events, "no event on the stream"
        return self.events[0]
