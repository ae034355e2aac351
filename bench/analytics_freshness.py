"""Aggregates under load: how soon analytics' insights show an event while the region sends
it a steady stream, against the same service applying one event per transaction.

    uv run python bench/analytics_freshness.py [--rate 200] [--seconds 60]
        [--students 5000] [--poll 0.2] [--ways batched,per-event]

The analytics service runs alone, as its own process on the embedded broker (SQLite in a
temporary directory, its own free port). A region is seeded first (`--students` student
snapshots, a tenth as many vacancies, companies), then `--rate` events a second are
published for `--seconds`, built with the contracts and sent to the region's topics as
its services' relays would: student snapshots (new and changed, four in five consenting
to analytics, a few erased), companies, vacancies published and closed or filled,
matches, notifications, applications and placements. Every second a probe goes out
besides: by turns a new consenting student holding an ESCO skill nothing else in the
region holds, or a vacancy asking for one nothing else asks for. The figure is the time
from sending a probe until `GET /v1/insights/skills?skill=<its skill>` answers with the
student counted in supply or the vacancy's position in demand (the endpoint is polled
every `--poll` seconds for every probe not yet seen; a probe's time ends when the answer
that shows it arrives). Once a second the service's applied-events counter is read:
events sent but not yet applied is the consumer's lag.

The straightforward way, in the same run, is the same stream applied with one event per
transaction (`INTERLOCALITY_CONSUMER_BATCH_SIZE=1`). That is the alternative to analytics'
design: its handlers already keep the aggregates' sources up to date as events arrive
(counts, funnels, each snapshot's supply and demand rows), and each consumer batch of up to
500 events is applied in one transaction, the counts of a run of events read and written
once. Recomputing the aggregates from the raw events on every read is no alternative here:
analytics does not keep the raw events (a student's snapshot is reduced to what the
aggregates need, and goes when consent does), so it could not do that without holding
personal data it is designed not to hold.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).parent))

from datasets import FIELDS, KINDS, occupation_skills
from service_process import bench_caller, service_process
from tables import Row, print_table

from interlocality.common.cloudevents import encode_event
from interlocality.common.embedded_broker import EmbeddedBroker
from interlocality.common.esco import EscoVocabulary, default_vocabulary
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.applications import ApplicationSubmitted, FunnelStep, PlacementMade
from interlocality.contracts.common import (
    LanguageRequirement,
    LanguageSkill,
    SkillLevel,
    SkillRequirement,
)
from interlocality.contracts.companies import Company, CompanyRegistered
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.matches import Match, MatchFound
from interlocality.contracts.notifications import Delivery, NotificationSent
from interlocality.contracts.students import (
    Consent,
    Consents,
    StudentErasure,
    StudentProfile,
    StudentProfileErased,
    StudentProfileUpserted,
)
from interlocality.contracts.topics import topic_of_event
from interlocality.contracts.vacancies import (
    Vacancy,
    VacancyClosed,
    VacancyFilled,
    VacancyPublished,
)

APPLIED = re.compile(r'interlocality_events_applied_total\{topic="([^"]+)",type="[^"]+"\} (\S+)')
SECTORS = ["C", "F", "G", "J", "M", "Q"]
LANGUAGES = ["en", "da", "de", "fi"]
LATE = 30.0  # a probe not shown this long after it was sent counts as not shown


# -- the region's events ------------------------------------------------------------------


def _source(region: str, event_type: type) -> str:
    return f"/interlocality/{region}/{topic_of_event(event_type).service}"


def _event(event_type: Any, region: str, subject: str, data: Any) -> Any:
    return event_type(source=_source(region, event_type), region=region, subject=subject, data=data)


class RegionStream:
    """The events of a region in operation, drawn at random from ESCO occupations; every
    student, vacancy and company it names was announced by an earlier event of its own."""

    # (what, share of the stream)
    MIX = (
        ("student", 0.25),
        ("erase", 0.005),
        ("company", 0.01),
        ("vacancy", 0.05),
        ("vacancy_ended", 0.015),
        ("match", 0.35),
        ("notification", 0.22),
        ("application", 0.08),
        ("placement", 0.02),
    )

    def __init__(self, region: str, vocabulary: EscoVocabulary, seed: int = 7) -> None:
        self.region = region
        self.rng = random.Random(seed)
        self.occupations = [
            essential + optional for _, essential, optional in occupation_skills(vocabulary)
        ]
        self.students: dict[str, int] = {}  # student id → version
        self.open: dict[str, Vacancy] = {}
        self.companies: list[str] = []
        self.kinds = [kind for kind, _ in self.MIX]
        self.weights = [share for _, share in self.MIX]
        self.made = 0

    def next(self) -> Any:
        """One event of the mix (a company, student or vacancy first while there is none)."""
        if not self.companies:
            return self.company()
        if not self.open:
            return self.vacancy()
        if not self.students:
            return self.student()
        kind = self.rng.choices(self.kinds, self.weights)[0]
        return getattr(self, kind)()

    def _id(self, prefix: str) -> str:
        self.made += 1
        return f"{prefix}-{self.made:07d}"

    def company(self) -> CompanyRegistered:
        company_id = self._id("c")
        self.companies.append(company_id)
        company = Company(
            company_id=company_id,
            name=f"Company {company_id}",
            version=1,
            updated_at=datetime.now(UTC),
            employees=self.rng.choice([4, 30, 120, 900]),
            sector=self.rng.choice(SECTORS),
        )
        return _event(CompanyRegistered, self.region, company_id, company)

    def student(self, skills: list[SkillLevel] | None = None) -> StudentProfileUpserted:
        """A new student, or a known one's changed snapshot; ``skills`` makes a probe: a
        new student holding those, consenting, whom no later event changes or erases."""
        rng = self.rng
        probe = skills is not None
        if not probe and rng.random() < 0.4 and self.students:
            student_id = rng.choice(list(self.students))
        else:
            student_id = self._id("s")
        version = self.students.get(student_id, 0) + 1
        if not probe:  # a probe is left alone: no later event changes or erases it
            self.students[student_id] = version
        if skills is None:
            held = rng.sample(o := rng.choice(self.occupations), k=min(len(o), rng.randint(4, 10)))
            skills = [SkillLevel(uri=uri, level=rng.randint(1, 5)) for uri in held]
        consenting = probe or rng.random() < 0.8
        profile = StudentProfile(
            student_id=student_id,
            name=f"Student {student_id}",
            email=f"{student_id}@students.example.org",
            skills=skills,
            languages=[
                LanguageSkill(code=code, level=rng.choice(["B1", "B2", "C1"]))
                for code in rng.sample(LANGUAGES, k=rng.randint(1, 3))
            ],
            engagement_kinds=rng.sample(KINDS, k=rng.randint(1, 3)),
            study_field=rng.choice(FIELDS),
            version=version,
            updated_at=datetime.now(UTC),
            consents=Consents(analytics=Consent(granted=consenting)),
        )
        return _event(StudentProfileUpserted, self.region, student_id, profile)

    def erase(self) -> StudentProfileErased:
        student_id = self.rng.choice(list(self.students))
        del self.students[student_id]
        erasure = StudentErasure(student_id=student_id, erased_at=datetime.now(UTC))
        return _event(StudentProfileErased, self.region, student_id, erasure)

    def vacancy(self, required: list[str] | None = None) -> VacancyPublished:
        """A new open vacancy of a random occupation; ``required`` makes a probe asking for
        those, which no later event closes."""
        rng = self.rng
        probe = required is not None
        if required is None:
            skills = rng.choice(self.occupations)
            required = rng.sample(skills, k=min(len(skills), rng.randint(3, 7)))
        vacancy_id = self._id("v")
        vacancy = Vacancy(
            vacancy_id=vacancy_id,
            company_id=rng.choice(self.companies) if self.companies else "c-0",
            title=f"Role {vacancy_id}",
            kind=rng.choice(KINDS),
            required_skills=[
                SkillRequirement(uri=u, min_level=rng.randint(1, 4)) for u in required
            ],
            languages=[LanguageRequirement(code="en", min_level="B2")],
            status="open",
            version=1,
            updated_at=datetime.now(UTC),
            positions=rng.choice([1, 1, 1, 2, 3]),
        )
        if not probe:
            self.open[vacancy_id] = vacancy
        return _event(VacancyPublished, self.region, vacancy_id, vacancy)

    def vacancy_ended(self) -> VacancyClosed | VacancyFilled:
        vacancy_id = self.rng.choice(list(self.open))
        vacancy = self.open.pop(vacancy_id)
        filled = self.rng.random() < 0.5
        ended = vacancy.model_copy(
            update={
                "status": "filled" if filled else "closed",
                "version": vacancy.version + 1,
                "updated_at": datetime.now(UTC),
            }
        )
        return _event(VacancyFilled if filled else VacancyClosed, self.region, vacancy_id, ended)

    def _pair(self) -> tuple[str, Vacancy]:
        return self.rng.choice(list(self.students)), self.rng.choice(list(self.open.values()))

    def match(self) -> MatchFound:
        student_id, vacancy = self._pair()
        uris = [s.uri for s in vacancy.required_skills]
        found = Match(
            student_id=student_id,
            vacancy_id=vacancy.vacancy_id,
            company_id=vacancy.company_id,
            vacancy_title=vacancy.title,
            score=round(self.rng.uniform(0.3, 1.0), 3),
            matched_skills=uris[:2],
            missing_skills=uris[2:],
        )
        return _event(MatchFound, self.region, student_id, found)

    def notification(self) -> NotificationSent:
        student_id, vacancy = self._pair()
        delivery = Delivery(
            notification_id=str(uuid.uuid4()),
            student_id=student_id,
            vacancy_id=vacancy.vacancy_id,
            channel="in_app",
            sent_at=datetime.now(UTC),
        )
        return _event(NotificationSent, self.region, student_id, delivery)

    def _step(self, event_type: type[ApplicationSubmitted] | type[PlacementMade]) -> Any:
        student_id, vacancy = self._pair()
        step = FunnelStep(
            vacancy_id=vacancy.vacancy_id,
            company_id=vacancy.company_id,
            student_id=student_id,
            kind=vacancy.kind,
            at=datetime.now(UTC),
        )
        return _event(event_type, self.region, vacancy.vacancy_id, step)

    def application(self) -> ApplicationSubmitted:
        return self._step(ApplicationSubmitted)

    def placement(self) -> PlacementMade:
        return self._step(PlacementMade)


def rare_skills(vocabulary: EscoVocabulary, count: int) -> list[str]:
    """ESCO skills no occupation names, so no student or vacancy of the stream has them."""
    named = {
        uri
        for _, essential, optional in occupation_skills(vocabulary)
        for uri in essential + optional
    }
    return sorted(uri for uri in vocabulary.skills if uri not in named)[:count]


# -- the service --------------------------------------------------------------------------


@contextmanager
def analytics_process(workdir: Path, bootstrap: str, region: str, batch_size: int) -> Iterator[str]:
    """The analytics service of ``region`` as its own process, its ESCO taxonomy built."""
    with service_process("analytics", workdir, bootstrap, region, batch_size, 90) as base:
        # the ESCO taxonomy is built in the background at start: wait for it here, so that
        # the first probe does not
        httpx.get(
            f"{base}/v1/insights/skills", timeout=60, trust_env=False, headers=bench_caller(region)
        ).raise_for_status()
        yield base


async def applied_events(client: httpx.AsyncClient, base: str, region: str) -> int:
    """Events of the region's own topics the service has applied (its counter)."""
    text = (await client.get(f"{base}/metrics")).text
    return int(sum(float(v) for topic, v in APPLIED.findall(text) if topic.startswith(region)))


# -- one run ------------------------------------------------------------------------------


@dataclass
class Probe:
    skill: str
    side: str  # "students" (supply) or "positions" (demand)
    sent: float
    shown: float | None = None


@dataclass
class Run:
    """What one way of applying the stream measured."""

    sent: int = 0
    seconds: float = 0.0
    probes: list[Probe] = field(default_factory=list)
    lags: list[tuple[float, int]] = field(default_factory=list)  # (since start, events behind)
    applied_during: int = 0
    caught_up: float | None = None  # seconds after the last event until every one applied
    behind_at_load_end: int = 0
    behind_at_end: int = 0
    polls: list[float] = field(default_factory=list)  # seconds a skills answer took

    def lag_of(self, probe: Probe) -> float:
        return math.inf if probe.shown is None else probe.shown - probe.sent


class Producer:
    """Sends events to their topics without waiting for each; ``sent`` counts them."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
        self.sent = 0

    async def __aenter__(self) -> Producer:
        await self.producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.producer.stop()

    async def send(self, event: CloudEvent[Any]) -> asyncio.Future[Any]:
        record = encode_event(event, topic_of_event(type(event)).name(event.region))
        self.sent += 1
        return await self.producer.send(
            record.topic, value=record.value, key=record.key, headers=record.headers
        )


async def seed(producer: Producer, stream: RegionStream, students: int) -> None:
    """A region in operation before the load: companies, vacancies and students."""
    sends = [await producer.send(stream.company()) for _ in range(max(1, students // 100))]
    sends += [await producer.send(stream.vacancy()) for _ in range(max(1, students // 10))]
    sends += [await producer.send(stream.student()) for _ in range(students)]
    await asyncio.gather(*sends)


async def watch_probes(
    client: httpx.AsyncClient, base: str, run: Run, poll: float, done: asyncio.Event
) -> None:
    """Ask for the skills of every probe not yet shown, every ``poll`` seconds, until
    ``done`` and every probe is shown or late."""
    while True:
        waiting = [p for p in run.probes if p.shown is None and time.perf_counter() - p.sent < LATE]
        if done.is_set() and not waiting:
            return
        if waiting:
            asked = time.perf_counter()
            answer = await client.get(
                f"{base}/v1/insights/skills",
                params=[("limit", "1"), *(("skill", p.skill) for p in waiting)],
            )
            arrived = time.perf_counter()
            answer.raise_for_status()
            run.polls.append(arrived - asked)
            followed = {row["skill_uri"]: row for row in answer.json()["months"][-1]["followed"]}
            for probe in waiting:
                row = followed.get(probe.skill)
                if row is not None and row[probe.side] >= 1:
                    probe.shown = arrived
        await asyncio.sleep(poll)


async def sample_lag(
    client: httpx.AsyncClient,
    base: str,
    region: str,
    run: Run,
    started: float,
    sent: Callable[[], int],
    done: asyncio.Event,
) -> None:
    """Once a second until ``done``: the events sent but not yet applied."""
    applied_before = await applied_events(client, base, region)
    while not done.is_set():
        await asyncio.sleep(1.0)
        applied = await applied_events(client, base, region) - applied_before
        run.lags.append((time.perf_counter() - started, sent() - applied))


async def one_way(
    bootstrap: str, base: str, region: str, vocabulary: EscoVocabulary, args: argparse.Namespace
) -> Run:
    run = Run()
    stream = RegionStream(region, vocabulary)
    rare = iter(rare_skills(vocabulary, args.seconds + 10))
    async with (
        Producer(bootstrap) as producer,
        httpx.AsyncClient(timeout=60, trust_env=False, headers=bench_caller(region)) as client,
    ):
        await seed(producer, stream, args.students)
        print(f"  seeded {producer.sent:,} events; applying them …", file=sys.stderr, flush=True)
        while True:
            if await applied_events(client, base, region) >= producer.sent:
                break
            await asyncio.sleep(0.5)
        before, seeded = producer.sent, await applied_events(client, base, region)
        done = asyncio.Event()
        watcher = asyncio.create_task(watch_probes(client, base, run, args.poll, done))
        started = time.perf_counter()
        sampler = asyncio.create_task(
            sample_lag(client, base, region, run, started, lambda: producer.sent - before, done)
        )
        tick = 0.05  # events go out in 20 even portions a second
        owed, ticks = 0.0, 0
        while (due := started + ticks * tick) < started + args.seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            owed += args.rate * tick
            while owed >= 1:
                await producer.send(stream.next())
                owed -= 1
            if ticks % round(1 / tick) == round(1 / tick) - 1:  # a probe a second
                skill = next(rare)
                probe: CloudEvent[Any]
                if len(run.probes) % 2 == 0:
                    probe = stream.student([SkillLevel(uri=skill, level=5)])
                    side = "students"
                else:
                    probe = stream.vacancy([skill])
                    side = "positions"
                run.probes.append(Probe(skill, side, time.perf_counter()))
                await producer.send(probe)
            ticks += 1
        await producer.producer.flush()
        ended = time.perf_counter()
        run.seconds = ended - started
        run.sent = producer.sent - before
        applied = await applied_events(client, base, region) - seeded
        run.applied_during = applied
        run.behind_at_load_end = run.sent - applied
        deadline = ended + args.drain
        while applied < run.sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)
            applied = await applied_events(client, base, region) - seeded
        if applied >= run.sent:
            run.caught_up = time.perf_counter() - ended
        run.behind_at_end = run.sent - applied
        done.set()
        await asyncio.gather(watcher, sampler)
    return run


# -- the table ----------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, math.ceil(0.95 * len(values)) - 1)]


def seconds(value: float) -> str:
    return f"> {LATE:.0f} s" if math.isinf(value) else f"{value:.2f} s"


def rows_of(name: str, run: Run, rate: float, target: bool) -> list[Row]:
    lags = [run.lag_of(p) for p in run.probes]
    shown = [lag for lag in lags if not math.isinf(lag)]
    worst_lag = max((behind for _, behind in run.lags), default=0)
    caught = (
        f"{run.caught_up:.1f} s"
        if run.caught_up is not None
        else f"not within the wait ({run.behind_at_end:,} behind)"
    )
    return [
        Row(
            f"{name}: probe sent → shown in /v1/insights/skills, median / p95",
            f"{seconds(statistics.median(lags))} / {seconds(p95(lags))}",
            "≤ 5 s" if target else "",
            p95(lags) <= 5.0 if target else None,
        ),
        Row(
            f"    worst of {len(lags)} probes ({len(shown)} shown within {LATE:.0f} s)",
            seconds(max(lags)),
            "≤ 5 s" if target else "",
            max(lags) <= 5.0 if target else None,
        ),
        Row(
            f"    events sent ({run.sent / run.seconds:.0f}/s for {run.seconds:.0f} s) / "
            "applied meanwhile",
            f"{run.sent:,} / {run.applied_during:,} ({run.applied_during / run.seconds:.0f}/s)",
        ),
        Row(
            "    consumer lag, events sent not yet applied: worst / at the end of the load",
            f"{worst_lag:,} / {run.behind_at_load_end:,}",
            f"≤ {rate * 5:,.0f} (5 s)" if target else "",
            worst_lag <= rate * 5 if target else None,
        ),
        Row("    the last event sent → every event applied", caught),
        Row(
            "    a skills answer while polling: median / worst",
            f"{statistics.median(run.polls) * 1000:.0f} / {max(run.polls) * 1000:.0f} ms"
            if run.polls
            else "—",
        ),
    ]


WAYS = {"batched": 500, "per-event": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="events a second")
    parser.add_argument("--seconds", type=int, default=60, help="how long the load lasts")
    parser.add_argument("--students", type=int, default=5_000, help="students seeded first")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between polls")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait to catch up")
    parser.add_argument("--ways", default=",".join(WAYS), help="batched, per-event or both")
    args = parser.parse_args()
    vocabulary = default_vocabulary()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="analytics-bench-") as tmp:
        workdir = Path(tmp)
        broker = EmbeddedBroker(log_path=workdir / "broker.log").start()
        try:
            for way in args.ways.split(","):
                region = f"a{uuid.uuid4().hex[:8]}"
                asyncio.run(ensure_topics(broker.bootstrap_servers, region))
                print(f"{way}: region {region} …", file=sys.stderr, flush=True)
                with analytics_process(
                    workdir, broker.bootstrap_servers, region, WAYS[way]
                ) as base:
                    run = asyncio.run(
                        one_way(broker.bootstrap_servers, base, region, vocabulary, args)
                    )
                name = (
                    "one transaction per consumer batch"
                    if way == "batched"
                    else "one transaction per event (the peer)"
                )
                rows += rows_of(name, run, args.rate, way == "batched")
        finally:
            broker.stop()
    print_table(
        f"analytics alone, SQLite, embedded broker: {args.rate:.0f} events/s for "
        f"{args.seconds} s after {args.students:,} students seeded",
        rows,
    )


if __name__ == "__main__":
    main()
