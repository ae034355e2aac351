"""Three regions end to end on one broker, each with its own analytics reading its own
region's events and publishing its snapshots to the shared federation topic; then every
record published on that topic during the run is read back raw and held to the promise
that only aggregates cross:

- no id, name, e-mail, free text or URL of any region's student or company appears in any
  byte of any record (key, value, headers), nor any e-mail or non-ESCO URL at all, and every
  record is a valid ``RegionSnapshot``;
- every count is suppressed or built from at least k distinct students or companies, as
  this test's own record of who is behind each cell says;
- one student added between two snapshots of the same month cannot be read off the
  difference: in the cells of that student's skill groups the two counts never differ by
  exactly what the student adds everywhere (noise, or suppression, sees to it).

The check is a function over raw records (:func:`leaks`); the second test publishes one
deliberately leaking snapshot, built past validation, and shows the check names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi.testclient import TestClient

from interlocality.analytics.app import create_app, shipped_taxonomy
from interlocality.analytics.settings import AnalyticsSettings
from interlocality.analytics.supply import month_end
from interlocality.common.cloudevents import encode_event
from interlocality.common.settings import load_settings
from interlocality.common.testing import publish, signed_in, trusting_tests_issuer, wait_until
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.applications import ApplicationSubmitted, FunnelStep
from interlocality.contracts.common import (
    LanguageRequirement,
    LanguageSkill,
    SkillLevel,
    SkillRequirement,
)
from interlocality.contracts.companies import Company, CompanyContact, CompanyRegistered
from interlocality.contracts.dating import AgendaSlot, DatingAgenda, DatingAgendaIssued
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.federation import (
    LanguageDimension,
    RegionSnapshot,
    SnapshotCell,
)
from interlocality.contracts.outcomes import GraduateOutcome, GraduateOutcomeRecorded
from interlocality.contracts.students import (
    Consent,
    Consents,
    StudentProfile,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import SNAPSHOTS
from interlocality.contracts.vacancies import Vacancy, VacancyPublished

pytestmark = pytest.mark.e2e

TOPIC = SNAPSHOTS.name("")
K = 5
ESCO = "http://data.europa.eu/esco/skill/"
SKILLS = (
    ESCO + "ccd0a1d9-afda-43d9-b901-96344886e14d",  # Python
    ESCO + "29d762da-1711-4a3c-b424-f0a404f4bf2d",  # welding
    ESCO + "7111b95d-0ce3-441a-9d92-4c75d05c4388",  # project management
    ESCO + "21d2f96d-35f7-4e3f-9745-c533d2dd6e97",  # computer programming
)
PEOPLE = (
    "Søren Østergaard",
    "Begoña Muñoz",
    "Elif Yılmaz",
    "Łukasz Żółkiewski",
    "Jürgen Weiß",
    "Anaïs Lefèvre",
    "Ólafur Þórsson",
    "Zoë Brontë",
)
FIRMS = ("Ærø Æbleri ApS", "Müller & Söhne GmbH", "Łódź Logística", "Brouwerij Ōtsuka")
FIELDS = ("0613", "0715", "0413", "0588")
RULES = {"aarhus": "dk", "leipzig": "de", "limburg": "be-vlg"}
LANGUAGES = {"aarhus": "da", "leipzig": "de", "limburg": "nl"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
URL = re.compile(r"(https?|ftp)://[^\s\"'\\]+")
ESCO_URL = re.compile(r"^http://data\.europa\.eu/esco/(skill/[0-9a-f-]{36}|isced-f/\d{2,4})$")


# -- what each region holds, and what the test keeps of who is behind each count ----------


@dataclass
class Region:
    """A region's entities as its services would publish them, with everything personal
    about them that must never cross (``personal``) and who is behind each count."""

    name: str
    language: str
    events: list[CloudEvent[Any]] = field(default_factory=list)
    personal: set[str] = field(default_factory=set)
    students: dict[str, dict[str, Any]] = field(default_factory=dict)
    vacancies: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    dates: list[tuple[str, str, datetime]] = field(default_factory=list)
    graduates: dict[str, tuple[date, str]] = field(default_factory=dict)

    def source(self, service: str) -> str:
        return f"/interlocality/{self.name}/{service}"

    def student(
        self, student_id: str, n: int, moment: datetime, skills: dict[str, int], consents: bool
    ) -> StudentProfileUpserted:
        person = PEOPLE[n % len(PEOPLE)]
        email = f"{person.split()[0].lower()}.{n}@universität-{self.name}.example.eu"
        university = f"Universität {person.split()[1]} — see https://uni.example.eu/{student_id}"
        profile = StudentProfile(
            student_id=student_id,
            name=f"{person} {n}",
            email=email,
            external_id=f"ext-{student_id}-Ω",
            home_university=university,
            preferred_locations=[f"Straße der Einheit {n}, {self.name.title()}"],
            skills=[SkillLevel(uri=uri, level=level) for uri, level in skills.items()],
            languages=[
                LanguageSkill(code=self.language, level="B2"),
                LanguageSkill(code="en", level="C1"),
            ],
            engagement_kinds=["internship"],
            study_field=FIELDS[n % len(FIELDS)],
            version=1,
            updated_at=moment,
            consents=Consents(analytics=Consent(granted=consents, at=moment)),
        )
        self.personal |= {
            student_id,
            profile.name,
            profile.email,
            str(profile.external_id),
            profile.home_university,
            *profile.preferred_locations,
        }
        if consents:
            self.students[student_id] = {
                "skills": dict(skills),
                "languages": {self.language: "B2", "en": "C1"},
                "field": profile.study_field,
            }
        return StudentProfileUpserted(
            source=self.source("profiles"), region=self.name, subject=student_id, data=profile
        )


def build_region(name: str, suffix: str, now: datetime) -> Region:
    """Ten companies with a vacancy or two, forty students (a few without analytics
    consent), their applications and placements, a Company Dating event and graduates."""
    region = Region(f"{name}-{suffix}", LANGUAGES[name])
    draw = random.Random(name)
    moment = now - timedelta(minutes=10)
    for c in range(10):
        company_id = f"co-{region.name}-{c:02d}"
        firm = f"{FIRMS[c % len(FIRMS)]} {c}"
        contact = CompanyContact(
            name=f"{PEOPLE[c % len(PEOPLE)]} (HR)",
            email=f"hr.{c}@{firm.split()[0].lower()}.example.eu",
            phone=f"+45 70 {c:02d} 12 34",
        )
        company = Company(
            company_id=company_id,
            name=firm,
            city=f"Ærøskøbing-{c}",
            version=1,
            updated_at=moment,
            employees=5 + 40 * c,
            sector="62.01",
            contact=contact,
        )
        region.personal |= {company_id, firm, company.city, contact.name, contact.email}
        region.personal.add(contact.phone)
        region.events.append(
            CompanyRegistered(
                source=region.source("vacancies"),
                region=region.name,
                subject=company_id,
                data=company,
            )
        )
        for v in range(1 + c % 2):
            vacancy_id = f"va-{region.name}-{c:02d}-{v}"
            required = draw.sample(SKILLS, 2)
            vacancy = Vacancy(
                vacancy_id=vacancy_id,
                company_id=company_id,
                title=f"Praktikant:in bei {firm}",
                kind="internship" if v == 0 else "thesis",
                required_skills=[SkillRequirement(uri=uri, min_level=1) for uri in required],
                languages=[LanguageRequirement(code=region.language, min_level="B1")],
                description=f"Schreib an jobs@{firm.split()[0].lower()}.example.eu oder "
                f"https://karriere.example.eu/{vacancy_id} — wir freuen uns!",
                location=f"Hafenstraße {c}",
                status="open",
                version=1,
                updated_at=moment,
            )
            region.personal |= {vacancy_id, vacancy.title, vacancy.description, vacancy.location}
            region.vacancies[vacancy_id] = {
                "company": company_id,
                "kind": vacancy.kind,
                "required": required,
                "language": (region.language, "B1"),
            }
            region.events.append(
                VacancyPublished(
                    source=region.source("vacancies"),
                    region=region.name,
                    subject=vacancy_id,
                    data=vacancy,
                )
            )
    vacancy_ids = sorted(region.vacancies)
    for n in range(40):
        student_id = f"st-{region.name}-{n:03d}"
        skills = {uri: draw.randint(1, 5) for uri in draw.sample(SKILLS, draw.randint(1, 3))}
        consents = n % 13 != 0
        region.events.append(region.student(student_id, n, moment, skills, consents))
        if n % 2 == 0:
            vacancy_id = vacancy_ids[n % len(vacancy_ids)]
            region.events.append(region_step(region, ApplicationSubmitted, student_id, vacancy_id))
            if consents:
                region.applied[vacancy_id].add(student_id)
        if n % 3 == 0:
            company_id = f"co-{region.name}-{n % 10:02d}"
            region.events.append(agenda(region, student_id, company_id, moment))
            if consents:
                region.dates.append((student_id, company_id, moment))
        graduated = date(2025, 1 + n % 12, 15)
        kind = ("employed_in_region", "employed_elsewhere", "further_study")[n % 3]
        region.events.append(
            GraduateOutcomeRecorded(
                source=region.source("profiles"),
                region=region.name,
                subject=student_id,
                data=GraduateOutcome(
                    student_id=student_id,
                    graduated_on=graduated,
                    outcome=kind,
                    recorded_at=moment,
                ),
            )
        )
        if consents:
            region.graduates[student_id] = (graduated, kind)
    return region


def region_step(
    region: Region, kind: type[ApplicationSubmitted], student_id: str, vacancy_id: str
) -> ApplicationSubmitted:
    facts = region.vacancies[vacancy_id]
    return kind(
        source=region.source("vacancies"),
        region=region.name,
        subject=vacancy_id,
        data=FunnelStep(
            vacancy_id=vacancy_id,
            company_id=facts["company"],
            student_id=student_id,
            kind=facts["kind"],
            at=datetime.now(UTC) - timedelta(minutes=5),
        ),
    )


def agenda(region: Region, student_id: str, company_id: str, at: datetime) -> DatingAgendaIssued:
    return DatingAgendaIssued(
        source=region.source("matching"),
        region=region.name,
        subject=student_id,
        data=DatingAgenda(
            dating_event_id=f"cd-{region.name}",
            dating_event_name=f"Company Dating {region.name.title()} — Ærø & Köln",
            participant_kind="student",
            participant_id=student_id,
            slots=[
                AgendaSlot(
                    slot=1,
                    starts_at=at,
                    ends_at=at + timedelta(minutes=10),
                    table=1,
                    counterpart_kind="company",
                    counterpart_id=company_id,
                    counterpart_name="Ærø Æbleri ApS",
                    score=0.5,
                )
            ],
            icalendar="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        ),
    )


Cell = tuple[str, tuple[tuple[str, str], ...], str]


def who_is_behind(region: Region, month: str, now: datetime) -> dict[Cell, set[str]]:
    """The distinct students and companies behind every cell of ``month``'s tables, from
    what this test published (grand totals under the empty coordinates)."""
    taxonomy = shipped_taxonomy()
    running = month == f"{now.year:04d}-{now.month:02d}"
    cells: dict[Cell, set[str]] = defaultdict(set)
    if running:
        for vacancy_id, facts in region.vacancies.items():
            company = facts["company"]
            for uri in facts["required"]:
                for group in taxonomy.groups_of(uri, 2):
                    cells["skill_groups", (("skill_group", group),), "companies"].add(company)
            code, level = facts["language"]
            where = (("language", code), ("cefr_level", level))
            cells["languages", where, "companies"].add(company)
            found = taxonomy.field_of_vacancy(facts["required"], [])
            if found:
                cells["study_fields", (("isced_field", found[:2]),), "companies"].add(company)
            for step, reached in (("published", True), ("applied", region.applied[vacancy_id])):
                if reached:
                    where = (("engagement_kind", facts["kind"]), ("funnel_step", step))
                    cells["funnel", where, "companies"].add(company)
        for student_id, held in region.students.items():
            for uri in held["skills"]:
                for group in taxonomy.groups_of(uri, 2):
                    cells["skill_groups", (("skill_group", group),), "students"].add(student_id)
            for code, level in held["languages"].items():
                where = (("language", code), ("cefr_level", level))
                cells["languages", where, "students"].add(student_id)
            cells["study_fields", (("isced_field", held["field"][:2]),), "students"].add(student_id)
        applied_to = {
            (student_id, region.vacancies[vacancy_id]["company"])
            for vacancy_id, students in region.applied.items()
            for student_id in students
        }
        for student_id, company_id, _ in region.dates:
            cells["company_dating", (("funnel_step", "dates_held"),), "students"].add(student_id)
            if (student_id, company_id) in applied_to:
                where = (("funnel_step", "applications_after_date"),)
                cells["company_dating", where, "students"].add(student_id)
    after = month_end(month).date()
    for student_id, (graduated, outcome) in region.graduates.items():
        if graduated < after:
            semester = f"{graduated.year}-{'spring' if graduated.month <= 7 else 'autumn'}"
            where = (("graduation_semester", semester), ("outcome", outcome))
            cells["employability", where, "graduates"].add(student_id)
    for (table, _, measure), ids in list(cells.items()):
        cells[table, (), measure] |= ids
    return cells


# -- the check -------------------------------------------------------------------------------


def _forms(text: str) -> set[bytes]:
    """How a string could appear in a record: as UTF-8, and JSON-escaped to ASCII."""
    return {text.encode(), json.dumps(text)[1:-1].encode()}


def leaks(records: Iterable[Any], personal: Iterable[str]) -> list[str]:
    """What in ``records`` (raw Kafka records of the federation topic) must not have left a
    region: any of the ``personal`` strings (ids, names, e-mails, free text, URLs of the
    regions' students and companies), any e-mail address or non-ESCO URL at all, anywhere
    in key, value or headers; and any record that is not a valid ``RegionSnapshot`` (whose
    schema has no place for free text). Empty when nothing leaks."""
    forbidden = {form for text in personal if len(text) >= 3 for form in _forms(text)}
    found = []
    for record in records:
        where = f"offset {record.offset} (key {record.key!r})"
        parts = [("key", record.key or b""), ("value", record.value or b"")]
        parts += [(f"header {name}", value or b"") for name, value in record.headers]
        for part, raw in parts:
            for text in sorted(forbidden):
                if text in raw:
                    found.append(f"{where}: {part} carries {text.decode(errors='replace')!r}")
            text = raw.decode("utf-8", errors="replace")
            for match in EMAIL.finditer(text):
                found.append(f"{where}: {part} carries an e-mail {match.group()!r}")
            for match in URL.finditer(text):
                if not ESCO_URL.match(match.group()):
                    found.append(f"{where}: {part} carries a URL {match.group()!r}")
        try:
            decoded = snapshot_of(record)
        except ValueError as refused:
            found.append(f"{where}: not a valid RegionSnapshot: {str(refused)[:300]}")
            continue
        if decoded.subject != (record.key or b"").decode():
            found.append(f"{where}: keyed {record.key!r}, about {decoded.subject!r}")
    return found


def snapshot_of(record: Any) -> RegionSnapshot:
    from interlocality.common.cloudevents import decode_event

    return decode_event(SNAPSHOTS, list(record.headers), record.value or b"")  # type: ignore[no-any-return]


def counts_from_fewer_than_k(
    snapshot: RegionSnapshot, behind: dict[Cell, set[str]], k: int
) -> list[str]:
    """Every published count of ``snapshot`` built from fewer than ``k`` of those behind it."""
    found = []
    for table in snapshot.data.tables:
        for cell in table.cells:
            coordinates = tuple((d.name, d.value) for d in cell.dimensions)
            if cell.count is None:
                continue
            ids = behind.get((table.name, coordinates, cell.measure), set())
            if len(ids) < k:
                found.append(f"{table.name} {coordinates} {cell.measure}: from {len(ids)}")
    return found


# -- the run -------------------------------------------------------------------------------


async def end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def records_since(bootstrap: str, start: dict[TopicPartition, int]) -> list[Any]:
    """Every record of the federation topic from ``start`` to its end now."""
    end = await end_offsets(bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(list(end))
        for partition in end:
            consumer.seek(partition, start.get(partition, 0))
        while [p for p in end if await consumer.position(p) < end[p]]:
            batch = await consumer.getmany(timeout_ms=500)
            for partition, found in batch.items():
                records.extend(r for r in found if r.offset < end[partition])
    finally:
        await consumer.stop()
    return records


def analytics(bootstrap: str, region: Region, name: str, workdir: Path) -> Any:
    settings = load_settings(
        AnalyticsSettings,
        region=region.name,
        kafka_bootstrap_servers=bootstrap,
        database_url=f"sqlite:///{workdir / f'{region.name}.db'}",
        work_rules=RULES[name],
        log_format="console",
        federation_k=K,
        **trusting_tests_issuer(),
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def suffix() -> str:
    return uuid.uuid4().hex[:6]


@contextlib.contextmanager
def running(apps: Sequence[Any]) -> Iterator[list[TestClient]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(signed_in(TestClient(app))) for app in apps]


def published(client: TestClient, month: str) -> RegionSnapshot:
    answer = client.post("/v1/federation/snapshots", json={"month": month})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return RegionSnapshot(
        id=body["event_id"],
        source=f"/interlocality/{body['key']}/analytics",
        region=body["key"],
        subject=body["key"],
        data=body["snapshot"],
    )


def test_three_regions_publish_only_safe_aggregates(
    kafka_bootstrap: str, tmp_path: Path, suffix: str
) -> None:
    now = datetime.now(UTC)
    month = f"{now.year:04d}-{now.month:02d}"
    regions = {name: build_region(name, suffix, now) for name in RULES}
    for region in regions.values():
        asyncio.run(ensure_topics(kafka_bootstrap, region.name))
    start = asyncio.run(end_offsets(kafka_bootstrap))
    apps = [analytics(kafka_bootstrap, r, n, tmp_path) for n, r in regions.items()]
    newcomer_id = f"st-{regions['aarhus'].name}-new"
    with running(apps) as clients:
        for region in regions.values():
            asyncio.run(publish(kafka_bootstrap, region.events))
        for client, region in zip(clients, regions.values(), strict=True):
            wait_until(
                lambda c=client, r=region: c.get("/v1/summary").json()["total"] >= len(r.events), 60
            )
        first = {name: published(c, month) for name, c in zip(regions, clients, strict=True)}

        # one more student in Aarhus, then Aarhus's snapshot of the same month again
        aarhus, aarhus_client = regions["aarhus"], clients[0]
        newcomer = aarhus.student(
            newcomer_id, 99, now - timedelta(minutes=1), {s: 5 for s in SKILLS[:3]}, True
        )
        asyncio.run(publish(kafka_bootstrap, [newcomer]))
        wait_until(
            lambda: (
                aarhus_client.get(f"/v1/privacy/students/{newcomer_id}")
                .json()["holds"]
                .get("analytics_consent")
            ),
            30,
        )
        second = published(aarhus_client, month)
        # every region sees all three (its own, and its partners')
        for client in clients:
            wait_until(
                lambda c=client: (
                    {r.name for r in regions.values()}
                    <= {r["region"] for r in c.get("/v1/federation/regions").json()["regions"]}
                ),
                30,
            )

    records = asyncio.run(records_since(kafka_bootstrap, start))
    ours = {r.name for r in regions.values()}
    keys = [(r.key or b"").decode() for r in records]
    assert {key for key in keys if key in ours} == ours
    assert keys.count(aarhus.name) >= 2  # on demand twice (and on schedule)

    personal = set().union(*(r.personal for r in regions.values()))
    found = leaks(records, personal)
    assert not found, "\n".join(found)

    for record in records:
        snapshot = snapshot_of(record)
        if snapshot.region not in ours:
            continue
        [region] = [r for r in regions.values() if r.name == snapshot.region]
        behind = who_is_behind(region, snapshot.data.period, now)
        if snapshot.id != second.id:  # published before the newcomer came
            behind = {cell: ids - {newcomer_id} for cell, ids in behind.items()}
        weak = counts_from_fewer_than_k(snapshot, behind, K)
        assert not weak, f"{snapshot.region} {snapshot.data.period}: " + "; ".join(weak)
    assert any(cell.count is not None for t in first["leipzig"].data.tables for cell in t.cells), (
        "a region of forty students publishes some counts"
    )

    # the newcomer's skill groups: the two snapshots never differ by exactly the newcomer
    taxonomy = shipped_taxonomy()
    groups = {g for uri in SKILLS[:3] for g in taxonomy.groups_of(uri, 2)}

    def students_in(snapshot: RegionSnapshot) -> dict[str, int | None]:
        [table] = [t for t in snapshot.data.tables if t.name == "skill_groups"]
        return {
            cell.dimensions[0].value: cell.count
            for cell in table.cells
            if not cell.total and cell.measure == "students"
        }

    before, after = students_in(first["aarhus"]), students_in(second)
    differences = {g: (before.get(g), after.get(g)) for g in groups}
    exact = [
        g for g, (b, a) in differences.items() if b is not None and a is not None and a - b == 1
    ]
    assert len(exact) < len(groups), f"the newcomer shows exactly in every group: {differences}"
    print(
        f"\n{len(records)} records on {TOPIC} during the run; published/suppressed cells: "
        + ", ".join(
            f"{name} {sum(c.count is not None for t in s.data.tables for c in t.cells)}/"
            f"{len(s.data.suppressed)}"
            for name, s in first.items()
        )
        + f"; the newcomer's groups before → after: {differences}"
    )


def test_a_leaking_snapshot_is_caught(kafka_bootstrap: str, suffix: str) -> None:
    """One snapshot that names a student's e-mail in a cell, built past validation and
    published raw: the check of the first test reports it."""
    region = f"leak-{suffix}"
    email = "søren.østergaard@universitet-aarhus.example.dk"
    now = datetime.now(UTC)
    honest = Region(region, "da")
    student = honest.student(f"st-{region}-1", 1, now, {SKILLS[0]: 3}, True)
    asyncio.run(ensure_topics(kafka_bootstrap, region))  # the federation topic among them
    start = asyncio.run(end_offsets(kafka_bootstrap))

    from interlocality.analytics.federation import RegionRows, region_tables
    from interlocality.analytics.privacy import PrivacyBudget, release_snapshot
    from interlocality.analytics.supply import StudentHolding

    holdings = [StudentHolding(f"s-{n}", {SKILLS[0]: 3}) for n in range(8)]
    tables = region_tables(
        RegionRows([], holdings, {}, [], [], [], []), shipped_taxonomy(), "2026-03", now
    )
    aggregates, _ = release_snapshot(
        region=region,
        period="2026-03",
        tables=tables,
        k=K,
        epsilon=1.0,
        budget=PrivacyBudget(region, 24.0, now.year),
        produced_at=now,
    )
    leaking_cell = SnapshotCell.model_construct(
        dimensions=(LanguageDimension.model_construct(name="language", value=email),),
        measure="students",
        total=False,
        count=1,
        suppressed=None,
    )
    table = aggregates.tables[0].model_copy(
        update={"cells": (*aggregates.tables[0].cells, leaking_cell)}
    )
    leaking = RegionSnapshot.model_construct(
        id=str(uuid.uuid4()),
        source=f"/interlocality/{region}/analytics",
        specversion="1.0",
        type="org.interlocality.RegionSnapshot.v1",
        dataschema="urn:interlocality:schema:RegionSnapshot:v1",
        datacontenttype="application/json",
        time=now,
        region=region,
        subject=region,
        data=aggregates.model_copy(update={"tables": (table, *aggregates.tables[1:])}),
    )
    record = encode_event(leaking, TOPIC)

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(TOPIC, record.value, record.key, headers=record.headers)
        finally:
            await producer.stop()

    asyncio.run(send())
    records = asyncio.run(records_since(kafka_bootstrap, start))
    found = leaks([r for r in records if r.key == region.encode()], honest.personal | {email})
    print("\nThe check on the leaking snapshot reports:\n  " + "\n  ".join(found))
    assert any(email in finding and "carries" in finding for finding in found), found
    assert any("an e-mail" in finding for finding in found), found
    assert any("not a valid RegionSnapshot" in finding for finding in found), found
    assert student.data.email not in " ".join(found)  # only what is on the topic is reported
