"""Faults injected into a running region: replicas killed, the broker lost, poison on a
topic; then every student's matches and notifications held to the ground truth.

    uv run python bench/chaos.py [--kills 50] [--students 300] [--seed 7]

The region runs on PostgreSQL (a fresh database per service, dropped at the end) and the
embedded broker, each service as processes of its own: two replicas of profiles (both
serve), two of matching (one active, one standing by), one of vacancies, notifications and
analytics. A load generator posts companies, vacancies and students (names with å, ö, ñ,
ı) over HTTP, changes consents and erases students, keeping the ground truth of who exists
and what they consented to. Meanwhile a random replica is killed with SIGKILL at random
moments and started again; once, the broker itself is killed and started again (its log is
in memory: the topics come back empty) and every service re-publishes its state, as
``interlocality replay`` does; and a malformed record is put on the students' topic.

When the load ends and the region has settled, the region is read back over HTTP:

- matches: matching's evaluation of every (student, vacancy) pair against the matches it
  holds, and no student held whom it must not hold (erased, or without consent);
- notifications: exactly one per (student, vacancy) the ground truth expects (the match of
  a student consenting to notifications), none for an erased or non-consenting student,
  and none still available for a student who withdrew consent;
- analytics: its count of consenting students holding each skill against a recount of the
  ground truth;
- no outbox row unpublished in any service's database, and no dead letter but the poison's.

Lost, duplicated and wrong notifications are reported as found: nothing is retried away.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).parent))

from datasets import essential_skills_of
from tables import Row, print_table

from interlocality.common.access import Role
from interlocality.common.embedded_broker import EmbeddedBroker, free_port
from interlocality.common.esco import default_vocabulary
from interlocality.common.testing import authorization, trusting_tests_issuer
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.students import StudentProfileUpserted
from interlocality.contracts.topics import topic_of_event
from interlocality.operator.forkserver import ForkedProcess, ForkServer
from interlocality.operator.services import SERVICES

__all__ = [
    "Caller",
    "ChaosReport",
    "GroundTruth",
    "Load",
    "Plan",
    "Region",
    "Student",
    "check_region",
    "lag_by_service",
    "main",
    "occupation_skills",
    "print_differences",
    "run_chaos",
    "say",
]

POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REPLICAS = {"profiles": 2, "vacancies": 1, "matching": 2, "notifications": 1, "analytics": 1}
OCCUPATIONS = (
    "software developer",
    "data analyst",
    "chemical engineer",
    "nurse responsible for general care",
    "accountant",
    "civil engineer",
)
GIVEN = ("Åsa", "Jörg", "Begoña", "Yıldız", "Søren", "Iñaki", "Zoë", "Çağrı", "Märta", "Ñusta")
FAMILY = ("Öztürk", "Ångström", "Muñoz", "Işık", "Ørsted", "Peña", "Kılıç", "Sjöberg")
COMPANIES = ("Fjordlys ApS", "Göta Kanal AB", "Peñalara SL", "Işıklar AŞ", "Ölands Kök")
POISON = b"\xff\xfe not a CloudEvent {"
EVERY_CONSENT = {"matching": True, "notifications": True, "analytics": True}
NO_CONSENT = {"matching": False, "notifications": False, "analytics": False}
TRANSIENT = (httpx.TransportError,)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Plan:
    """How much load and how many faults a run injects."""

    kills: int = 50
    students: int = 300
    vacancies: int = 24
    kill_gap: tuple[float, float] = (1.0, 4.0)
    down: tuple[float, float] = (0.2, 2.0)
    post_gap: float = 0.05
    seed: int = 7
    settle_timeout: float = 240.0
    # The broker killed while the region is quiet (no write in flight, every outbox
    # published) rather than under load: the replay re-publishes what each service holds,
    # so an erasure or a withdrawn match the broker had taken but not yet delivered to every
    # consumer is lost with it (see bench/README.md); a quiet kill leaves nothing in flight.
    quiet_broker_kill: bool = False


# -- the region ---------------------------------------------------------------------------


class Replica:
    """One process of a service, started again on the same port after a kill."""

    def __init__(
        self, service: str, index: int, env: dict[str, str], logs: Path, forks: ForkServer
    ) -> None:
        self.service = service
        self.forks = forks
        self.index = index
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, f"{service.upper()}_PORT": str(self.port)}
        self.logs = logs
        self.process: ForkedProcess | None = None
        self.starts = 0

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    def start(self) -> None:
        self.starts += 1
        self.process = self.forks.fork(self.service, self.env, self.logs / f"{self.name}.log")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def ready(self, client: httpx.Client) -> bool:
        try:
            return client.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


class Region:
    """Five services on PostgreSQL and the embedded broker, as replicas of their own."""

    def __init__(
        self, workdir: Path, postgres_url: str = POSTGRES_URL, kind: str = "chaos"
    ) -> None:
        self.postgres_url = postgres_url
        self.name = f"{kind}{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.databases = {s: f"il_{kind}_{self.name}_{s}" for s in SERVICES}
        self.database_urls = {
            s: make_url(postgres_url).set(database=d).render_as_string(hide_password=False)
            for s, d in self.databases.items()
        }
        self.broker = EmbeddedBroker(log_path=self.logs / "broker.log")
        # as the launcher starts them: forks of a process that imported every service once
        self.forks = ForkServer(SERVICES, self.logs / "fork-server.log")
        self.replicas: list[Replica] = []
        self.headers = authorization(self.name, Role.OPERATOR, Role.SERVICE)
        self.broker_restarts = 0
        self.broker_killed_at: float | None = None

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap_servers

    def of(self, service: str) -> list[Replica]:
        return [r for r in self.replicas if r.service == service]

    def start(self) -> None:
        admin = create_engine(self.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for database in self.databases.values():
                connection.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        self.broker.start()
        asyncio.run(ensure_topics(self.bootstrap, self.name))
        common = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "INTERLOCALITY_REGION": self.name,
            "INTERLOCALITY_VAR_DIR": str(self.workdir / "var"),
            "INTERLOCALITY_DEPLOYMENT": "embedded",
            "INTERLOCALITY_LOG_LEVEL": "WARNING",
            "INTERLOCALITY_ACTIVE_REPLICA_POLL_SECONDS": "0.5",
            "INTERLOCALITY_STANDBY_REFRESH_SECONDS": "5",
            # every match kept: the ground truth is every pair, not a vacancy's best 100
            "INTERLOCALITY_MATCH_LIMIT_PER_VACANCY": "100000",
            "INTERLOCALITY_MATCH_LIMIT_PER_STUDENT": "100000",
            **{
                f"INTERLOCALITY_{name.upper()}": value
                for name, value in trusting_tests_issuer().items()
            },
        }
        for service in SERVICES:
            env = {**common, "DATABASE_URL": self.database_urls[service]}
            for index in range(REPLICAS[service]):
                self.replicas.append(Replica(service, index, env, self.logs, self.forks))
        # all at once: the replicas of a service take turns migrating its database
        self.forks.start()
        for replica in self.replicas:
            replica.start()
        self.wait_ready(self.replicas, timeout=240)

    def wait_ready(self, replicas: list[Replica], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False) as client:
            for replica in replicas:
                while not replica.ready(client):
                    if replica.process is not None and replica.process.poll() is not None:
                        replica.start()  # it ended on its own (a lost lock, a full start)
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{replica.name} not ready; see {self.logs}")
                    time.sleep(0.2)

    def restart_broker(self) -> None:
        """Kill the broker, start it on the same port (empty: its log was in memory), and
        have every service re-publish its state once they are all back."""
        pid = self.broker.pid
        assert pid is not None
        self.broker_killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.broker.stop()
        time.sleep(1.0)
        self.broker.start()
        self.broker_restarts += 1
        asyncio.run(ensure_topics(self.bootstrap, self.name))
        self.wait_ready(self.replicas, timeout=180)
        counts = self.replay()
        say("state re-published: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    def replay(self) -> dict[str, int]:
        counts = {}
        with httpx.Client(headers=self.headers, timeout=120, trust_env=False) as client:
            for service in SERVICES:
                for replica in self.of(service):
                    try:
                        answer = client.post(f"{replica.url}/v1/admin/replay")
                    except TRANSIENT:
                        continue
                    answer.raise_for_status()
                    counts[service] = int(answer.json()["republished"])
                    break
                else:
                    raise SystemExit(f"no replica of {service} re-published its state")
        return counts

    def unpublished(self) -> dict[str, int]:
        found = {}
        for service, url in self.database_urls.items():
            engine = create_engine(url)
            with engine.connect() as connection:
                found[service] = int(
                    connection.execute(
                        text("SELECT count(*) FROM outbox_message WHERE published_at IS NULL")
                    ).scalar_one()
                )
            engine.dispose()
        return found

    def close(self) -> None:
        for replica in self.replicas:
            replica.stop()
        self.forks.close()
        self.broker.stop()
        admin = create_engine(self.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for database in self.databases.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


# -- the load and its ground truth --------------------------------------------------------


@dataclass
class Student:
    student_id: str
    occupation: int
    consents: dict[str, bool]
    erased: bool = False
    withdrew: bool = False  # consented, was perhaps notified, then withdrew every consent
    history: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, what)

    def story(self, broker_killed_at: float | None) -> str:
        """What happened to the student, timed from the broker's kill: to tell a fault's
        victim from a steady defect."""
        origin = broker_killed_at if broker_killed_at is not None else self.history[0][0]
        return ", ".join(f"{what} {at - origin:+.1f} s" for at, what in self.history)


@dataclass
class GroundTruth:
    students: dict[str, Student] = field(default_factory=dict)
    vacancies: dict[str, int] = field(default_factory=dict)  # vacancy id → occupation
    events: Counter[str] = field(default_factory=Counter)
    broker_killed_at: float | None = None


class Caller:
    """Calls a service over HTTP, trying its replicas in turn while one is down: every write
    the load makes is safe to send again (an external id names a new record; consents and
    erasure are the same the second time)."""

    def __init__(self, region: Region, rng: random.Random) -> None:
        self.region = region
        self.rng = rng
        self.client = httpx.Client(headers=region.headers, timeout=30, trust_env=False)

    def call(self, method: str, service: str, path: str, body: Any = None) -> httpx.Response:
        deadline = time.monotonic() + 180
        while True:
            replicas = self.region.of(service)
            replica = self.rng.choice(replicas)
            answer = self.attempt(method, f"{replica.url}{path}", body)
            if answer is not None and answer.status_code < 500:
                return answer
            if time.monotonic() > deadline:
                raise SystemExit(f"{service} {method} {path} kept failing: {answer}")
            time.sleep(0.2)

    def attempt(self, method: str, url: str, body: Any) -> httpx.Response | None:
        """One try at one replica; None when it could not be reached."""
        try:
            return self.client.request(method, url, json=body)
        except TRANSIENT:
            return None

    def create(self, service: str, path: str, body: dict[str, Any], id_field: str) -> str:
        answer = self.call("POST", service, path, body)
        if answer.status_code == 409:  # the first try was stored before its answer was lost
            if service == "profiles":
                found = self.call("GET", service, f"{path}?external_id={body['external_id']}")
                return str(found.json()["items"][0][id_field])
            detail = answer.json()["detail"]
            problems = detail if isinstance(detail, list) else [detail]
            for problem in problems:
                if isinstance(problem, dict) and id_field in problem:
                    return str(problem[id_field])
            raise SystemExit(f"409 without the {id_field}: {answer.text}")
        if answer.status_code != 201:
            raise SystemExit(f"POST {path}: {answer.status_code} {answer.text}")
        return str(answer.json()[id_field])


class Load(threading.Thread):
    """Posts the region's companies, vacancies and students, changes consents and erases
    students, recording each acknowledged write in the ground truth."""

    def __init__(self, region: Region, plan: Plan, skills: list[list[str]]) -> None:
        super().__init__(daemon=True, name="load")
        self.region = region
        self.plan = plan
        self.skills = skills
        self.rng = random.Random(plan.seed)
        self.caller = Caller(region, random.Random(plan.seed + 1))
        self.truth = GroundTruth()
        self.companies: list[str] = []
        self.failure: BaseException | None = None
        self.done = threading.Event()
        # the share of the faults injected so far: the load keeps pace with it, so its
        # writes are spread over the whole time of the faults
        self.progress = 0.0
        self.paused = threading.Event()  # set: no new write is begun
        self.idle = threading.Event()  # set: no write is under way

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.failure = exc
        finally:
            self.done.set()

    def _run(self) -> None:
        self.register_companies()
        # vacancies spread among the students; half of them open before any student
        steps = ["student"] * self.plan.students + ["vacancy"] * (self.plan.vacancies // 2)
        self.rng.shuffle(steps)
        steps = ["vacancy"] * (self.plan.vacancies - self.plan.vacancies // 2) + steps
        for k, step in enumerate(steps):
            while True:  # idle cleared before paused is read again: the pause sees it
                self.idle.set()
                while self.progress < k / len(steps) or self.paused.is_set():
                    time.sleep(0.05)
                self.idle.clear()
                if not self.paused.is_set():
                    break
            if step == "vacancy":
                self.post_vacancy()
            else:
                self.post_student()
            self.change_someone()
            time.sleep(self.plan.post_gap)
        self.idle.set()

    def register_companies(self) -> None:
        for n, name in enumerate(COMPANIES):
            company_id = self.caller.create(
                "vacancies",
                "/v1/companies",
                {"name": name, "city": "Aarhus", "external_id": f"c-{n}"},
                "company_id",
            )
            self.companies.append(company_id)
            self.truth.events["company registered"] += 1

    def post_vacancy(self) -> None:
        n = len(self.truth.vacancies)
        occupation = n % len(self.skills)
        vacancy_id = self.caller.create(
            "vacancies",
            "/v1/vacancies",
            {
                "company_id": self.companies[n % len(self.companies)],
                "external_id": f"v-{n}",
                "title": f"Praktik {n}: {OCCUPATIONS[occupation]}",
                "kind": "internship",
                "required_skills": [
                    {"uri": uri, "min_level": 2} for uri in self.skills[occupation][:3]
                ],
            },
            "vacancy_id",
        )
        self.truth.vacancies[vacancy_id] = occupation
        self.truth.events["vacancy published"] += 1

    def post_student(self) -> None:
        n = len(self.truth.students)
        occupation = self.rng.randrange(len(self.skills))
        # most consent to everything; some to matching but not notifications; some to
        # nothing at first (they may consent later)
        roll = self.rng.random()
        consents = (
            EVERY_CONSENT
            if roll < 0.7
            else {"matching": True, "notifications": False, "analytics": True}
            if roll < 0.85
            else NO_CONSENT
        )
        name = f"{self.rng.choice(GIVEN)} {self.rng.choice(FAMILY)} {n}"
        student_id = self.caller.create(
            "profiles",
            "/v1/students",
            {
                "external_id": f"s-{n}",
                "name": name,
                "email": f"student.{n}@students.example.org",
                "skills": [{"uri": uri, "level": 3} for uri in self.skills[occupation]],
                "engagement_kinds": ["internship"],
                "consents": consents,
            },
            "student_id",
        )
        student = Student(student_id, occupation, dict(consents))
        student.history.append((time.monotonic(), f"created {_consents(consents)}"))
        self.truth.students[student_id] = student
        self.truth.events["student posted"] += 1

    def change_someone(self) -> None:
        """Now and then: a consent given late, a consent withdrawn, an erasure."""
        roll = self.rng.random()
        live = [s for s in self.truth.students.values() if not s.erased]
        if roll < 0.08:
            waiting = [s for s in live if s.consents == NO_CONSENT and not s.withdrew]
            if waiting:
                self.set_consents(self.rng.choice(waiting), EVERY_CONSENT)
                self.truth.events["consent given"] += 1
        elif roll < 0.13:
            consenting = [s for s in live if s.consents == EVERY_CONSENT]
            if consenting:
                student = self.rng.choice(consenting)
                self.set_consents(student, NO_CONSENT)
                student.withdrew = True
                self.truth.events["consent withdrawn"] += 1
        elif roll < 0.19 and live:
            self.erase(self.rng.choice(live))

    def erase(self, student: Student) -> None:
        answer = self.caller.call("DELETE", "profiles", f"/v1/students/{student.student_id}")
        assert answer.status_code in (204, 404), answer.text  # 404: a retry's answer
        student.erased = True
        student.history.append((time.monotonic(), "erased"))
        self.truth.events["student erased"] += 1

    def set_consents(self, student: Student, consents: dict[str, bool]) -> None:
        answer = self.caller.call(
            "PUT", "profiles", f"/v1/students/{student.student_id}/consents", consents
        )
        assert answer.status_code == 200, answer.text
        student.consents = dict(consents)
        student.history.append((time.monotonic(), f"consents {_consents(consents)}"))


def _consents(consents: dict[str, bool]) -> str:
    return "".join(k[0] if v else "-" for k, v in consents.items())  # "mna", "m-a", "---"


# -- faults -------------------------------------------------------------------------------


def put_poison(region: Region) -> None:
    """A record no consumer can read, on the students' topic."""
    topic = topic_of_event(StudentProfileUpserted).name(region.name)

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=region.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value=POISON, key=b"poison")
        finally:
            await producer.stop()

    asyncio.run(send())
    say(f"poison put on {topic}")


async def dead_letters(bootstrap: str, region: str) -> list[tuple[str, bytes | None, str]]:
    """Every record on the region's dead-letter topics: (topic, value, consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[str, bytes | None, str]] = []
    try:
        topics = [
            t for t in await consumer.topics() if t.startswith(f"{region}.") and t.endswith(".dlq")
        ]
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        if not partitions:
            return found
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while True:
            positions = [await consumer.position(tp) for tp in partitions]
            if all(at >= ends[tp] for at, tp in zip(positions, partitions, strict=True)):
                break
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    group = dict(record.headers).get("dlq_consumer_group", b"").decode()
                    found.append((record.topic, record.value, group))
    finally:
        await consumer.stop()
    return found


# -- the check ----------------------------------------------------------------------------


@dataclass
class ChaosReport:
    """What a run did and what the region held at its end."""

    kills: int = 0
    broker_restarts: int = 0
    events: int = 0
    expected_notifications: int = 0
    lost: list[tuple[str, str, str]] = field(default_factory=list)
    duplicated: list[tuple[str, str]] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    match_differences: list[str] = field(default_factory=list)
    analytics_differences: list[str] = field(default_factory=list)
    unpublished: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    unexpected_dead_letters: list[str] = field(default_factory=list)
    poison_dead_letters: int = 0
    settled_seconds: float = 0.0
    elapsed_seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.wrong
            or self.match_differences
            or self.analytics_differences
            or any(self.unpublished.values())
            or self.unexpected_dead_letters
            or not self.poison_dead_letters
        )

    def rows(self) -> list[Row]:
        return [
            Row("replicas killed (SIGKILL) and restarted", f"{self.kills}"),
            Row("broker killed and restarted (state replayed)", f"{self.broker_restarts}"),
            *self.check_rows(),
            Row("whole run", f"{self.elapsed_seconds:.1f} s"),
        ]

    def check_rows(self, poisoned: bool = True) -> list[Row]:
        """The region held to the ground truth; ``poisoned``: the poison was put on a topic
        (its dead letters expected, and only them)."""
        unpublished = sum(self.unpublished.values())
        return [
            Row("writes acknowledged over HTTP", f"{self.events}"),
            Row("notifications expected", f"{self.expected_notifications}"),
            Row("lost", f"{len(self.lost)}", "0", not self.lost),
            Row("duplicated", f"{len(self.duplicated)}", "0", not self.duplicated),
            Row("wrong (erased, no consent, no match)", f"{len(self.wrong)}", "0", not self.wrong),
            Row(
                "matches differing from a fresh evaluation",
                f"{len(self.match_differences)}",
                "0",
                not self.match_differences,
            ),
            Row(
                "analytics counts differing from a recount",
                f"{len(self.analytics_differences)}",
                "0",
                not self.analytics_differences,
            ),
            Row("unpublished outbox rows", f"{unpublished}", "0", unpublished == 0),
            Row(
                "dead letters (of them the poison's)",
                f"{self.dead_letters} ({self.poison_dead_letters})",
                "poison only" if poisoned else "0",
                not self.unexpected_dead_letters and (self.poison_dead_letters > 0) == poisoned,
            ),
            Row("load end → region settled", f"{self.settled_seconds:.1f} s"),
        ]


class Reader:
    """Reads the region's state back over HTTP, from any replica that answers."""

    def __init__(self, region: Region) -> None:
        self.caller = Caller(region, random.Random(0))

    def get(self, service: str, path: str, **params: Any) -> httpx.Response:
        query = ("?" + "&".join(f"{k}={v}" for k, v in params.items())) if params else ""
        return self.caller.call("GET", service, path + query)

    def paged(self, service: str, path: str) -> list[dict[str, Any]] | None:
        """Every item of a paged list; None when the service does not know the subject."""
        items: list[dict[str, Any]] = []
        while True:
            answer = self.get(service, path, limit=200, offset=len(items))
            if answer.status_code == 404:
                return None
            answer.raise_for_status()
            page = answer.json()
            items.extend(page["items"])
            if len(items) >= page["total"] or not page["items"]:
                return items

    def notified(self, truth: GroundTruth) -> dict[str, list[dict[str, Any]] | None]:
        return {
            s: self.paged("notifications", f"/v1/students/{s}/notifications")
            for s in truth.students
        }


def expected_pairs(reader: Reader, truth: GroundTruth, report: ChaosReport) -> set[tuple[str, str]]:
    """The matches a fresh evaluation of every pair finds, each student matching may hold
    against every vacancy; and what matching holds that it must not, or misses."""
    matches: set[tuple[str, str]] = set()
    held: set[tuple[str, str]] = set()
    for vacancy_id in truth.vacancies:
        for item in reader.paged("matching", f"/v1/vacancies/{vacancy_id}/matches") or []:
            held.add((item["student_id"], vacancy_id))
    for student in truth.students.values():
        may_hold = not student.erased and student.consents["matching"]
        for vacancy_id in truth.vacancies:
            path = f"/v1/students/{student.student_id}/vacancies/{vacancy_id}/evaluation"
            answer = reader.get("matching", path)
            if not may_hold:
                if answer.status_code != 404:
                    report.match_differences.append(
                        f"matching holds {student.student_id}: {answer.status_code} "
                        f"({student.story(truth.broker_killed_at)})"
                    )
                break
            if answer.status_code != 200:
                report.match_differences.append(
                    f"no evaluation of {student.student_id} × {vacancy_id}: "
                    f"{answer.status_code} ({student.story(truth.broker_killed_at)})"
                )
                continue
            if answer.json()["is_match"]:
                matches.add((student.student_id, vacancy_id))
    for pair in sorted(matches - held):
        report.match_differences.append(f"match {pair} evaluated but not held")
    for pair in sorted(held - matches):
        report.match_differences.append(f"match {pair} held but not evaluated a match")
    return matches


def check_notifications(
    truth: GroundTruth,
    matches: set[tuple[str, str]],
    feeds: dict[str, list[dict[str, Any]] | None],
    report: ChaosReport,
) -> None:
    expected = {
        (s, v)
        for s, v in matches
        if truth.students[s].consents["notifications"] and not truth.students[s].erased
    }
    report.expected_notifications = len(expected)
    report.lost, report.duplicated, report.wrong = [], [], []
    for student_id, feed in feeds.items():
        student = truth.students[student_id]
        items = feed or []
        story = student.story(truth.broker_killed_at)
        if student.erased and feed is not None:
            report.wrong.append(f"{student_id} erased but notifications still knows them ({story})")
        counts = Counter(item["vacancy_id"] for item in items)
        for vacancy_id, count in counts.items():
            pair = (student_id, vacancy_id)
            if count > 1:
                report.duplicated.append(pair)
            if student.withdrew:
                if any(i["available"] for i in items if i["vacancy_id"] == vacancy_id):
                    report.wrong.append(f"{pair}: available after consent withdrawn ({story})")
            elif pair not in expected:
                report.wrong.append(f"{pair}: notified, a match: {pair in matches} ({story})")
        for vacancy_id in (v for s, v in expected if s == student_id):
            if vacancy_id not in counts:
                report.lost.append((student_id, vacancy_id, story))


def check_analytics(reader: Reader, truth: GroundTruth, report: ChaosReport) -> None:
    """This month's consenting students and open vacancies as analytics counts them,
    against a recount of the ground truth."""
    month = datetime.now(UTC).strftime("%Y-%m")
    answer = reader.get("analytics", "/v1/insights/skills", month=month)
    answer.raise_for_status()
    (counted,) = answer.json()["months"]
    recount = {
        "students": sum(
            1 for s in truth.students.values() if not s.erased and s.consents["analytics"]
        ),
        "vacancies": len(truth.vacancies),
    }
    report.analytics_differences = [
        f"{what}: analytics {counted[what]}, ground truth {expected}"
        for what, expected in recount.items()
        if counted[what] != expected
    ]


def settle(
    region: Region, reader: Reader, truth: GroundTruth, report: ChaosReport, timeout: float
) -> None:
    """Wait until no outbox row is left and the notifications hold still for a while."""
    started = time.monotonic()
    last: Any = None
    steady_since = time.monotonic()
    while time.monotonic() - started < timeout:
        unpublished = region.unpublished()
        feeds = reader.notified(truth)
        state = (sorted(unpublished.items()), sorted((k, len(v or [])) for k, v in feeds.items()))
        if state != last:
            last, steady_since = state, time.monotonic()
        elif not any(unpublished.values()) and time.monotonic() - steady_since > 8:
            break
        time.sleep(1)
    report.settled_seconds = time.monotonic() - started


def quieten(region: Region, load: Load, timeout: float = 90.0) -> None:
    """Pause the load and wait until every outbox is published and every consumer group has
    committed the end of every partition it reads."""
    load.paused.set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not load.done.is_set():
        if (
            load.idle.is_set()
            and not any(region.unpublished().values())
            and asyncio.run(lag(region.bootstrap, region.name)) == 0
        ):
            return
        time.sleep(0.5)
    say("the region did not quieten: the broker is killed regardless")


async def lag(bootstrap: str, region: str) -> int:
    """Records of the region's topics not yet committed by the services' consumer groups
    reading them (after a restart a group resumes from what it committed)."""
    return sum((await lag_by_service(bootstrap, region)).values())


async def lag_by_service(bootstrap: str, region: str) -> dict[str, int]:
    """Per service, the records of the region's topics its consumer group has not committed."""
    behind = dict.fromkeys(SERVICES, 0)
    for service in SERVICES:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=f"{region}.{service}", enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in await consumer.topics()
                if topic.startswith(f"{region}.") and not topic.endswith(".dlq")
                for p in consumer.partitions_for_topic(topic) or ()
            ]
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                committed = await consumer.committed(tp)
                if committed is not None:  # None: a topic the service does not read
                    behind[service] += max(0, ends[tp] - committed)
        finally:
            await consumer.stop()
    return behind


def occupation_skills() -> list[list[str]]:
    """Per occupation of :data:`OCCUPATIONS`, four of its essential skills."""
    return essential_skills_of(default_vocabulary(), OCCUPATIONS)


def check_region(region: Region, truth: GroundTruth, report: ChaosReport, timeout: float) -> None:
    """Once the load ended: wait (up to ``timeout``) for the region to settle, then hold its
    matches, notifications, analytics, outboxes and dead letters to the ground truth."""
    reader = Reader(region)
    settle(region, reader, truth, report, timeout)
    say(f"settled in {report.settled_seconds:.1f} s; checking")
    matches = expected_pairs(reader, truth, report)
    check_notifications(truth, matches, reader.notified(truth), report)
    check_analytics(reader, truth, report)
    report.unpublished = region.unpublished()
    letters = asyncio.run(dead_letters(region.bootstrap, region.name))
    report.dead_letters = len(letters)
    report.poison_dead_letters = sum(1 for _, value, _ in letters if value == POISON)
    report.unexpected_dead_letters = [
        f"{topic} ({group}): {(value or b'')[:120]!r}"
        for topic, value, group in letters
        if value != POISON
    ]


def run_chaos(plan: Plan, workdir: Path, postgres_url: str = POSTGRES_URL) -> ChaosReport:
    """Run the region, the load and the faults of ``plan``; the region's state checked.
    ``postgres_url``: a server the run creates its databases on (and drops them)."""
    started = time.monotonic()
    rng = random.Random(plan.seed + 2)
    report = ChaosReport()
    skills = occupation_skills()
    region = Region(workdir, postgres_url)
    try:
        say(
            f"region {region.name}: starting {len(REPLICAS)} services, "
            f"{sum(REPLICAS.values())} replicas"
        )
        region.start()
        say("region up")
        load = Load(region, plan, skills)
        load.start()
        broker_at = max(1, plan.kills // 2)
        poisoned = False
        with httpx.Client(trust_env=False) as probe:
            while report.kills < plan.kills and not load.done.is_set():
                time.sleep(rng.uniform(*plan.kill_gap))
                if report.kills == broker_at and not region.broker_restarts:
                    if plan.quiet_broker_kill:
                        quieten(region, load)
                    say("broker killed")
                    region.restart_broker()
                    load.paused.clear()
                    # after the restart: the dead letters of its new life are counted
                    put_poison(region)
                    poisoned = True
                # a replica serving now (one still starting is left to start)
                serving = [r for r in region.replicas if r.ready(probe)]
                if not serving:
                    continue
                replica = rng.choice(serving)
                replica.kill()
                report.kills += 1
                load.progress = report.kills / plan.kills
                say(f"kill {report.kills}: {replica.name}")
                time.sleep(rng.uniform(*plan.down))
                replica.start()
        load.progress = 1.0
        if not region.broker_restarts:
            region.restart_broker()
        if not poisoned:
            put_poison(region)
        region.wait_ready(region.replicas)
        say(f"{report.kills} kills done; waiting for the load to end")
        load.join()
        if load.failure is not None:
            raise load.failure
        truth = load.truth
        truth.broker_killed_at = region.broker_killed_at
        report.events = sum(truth.events.values())
        report.broker_restarts = region.broker_restarts
        say("load ended: " + ", ".join(f"{v} {k}" for k, v in truth.events.items()))
        check_region(region, truth, report, plan.settle_timeout)
    finally:
        region.close()
    report.elapsed_seconds = time.monotonic() - started
    return report


def print_report(plan: Plan, report: ChaosReport) -> None:
    print_table(
        f"Chaos: {plan.students} students, {plan.vacancies} vacancies, {report.kills} kills",
        report.rows(),
    )
    print_differences(report)


def print_differences(report: ChaosReport) -> None:
    """The first ten of each kind of difference from the ground truth."""
    for title, found in (
        ("lost", report.lost),
        ("duplicated", report.duplicated),
        ("wrong", report.wrong),
        ("matches", report.match_differences),
        ("analytics", report.analytics_differences),
        ("unexpected dead letters", report.unexpected_dead_letters),
    ):
        for line in list(found)[:10]:
            print(f"  {title}: {line}")
        if len(found) > 10:
            print(f"  {title}: … {len(found) - 10} more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--vacancies", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep the logs in this directory")
    parser.add_argument(
        "--quiet-broker-kill",
        action="store_true",
        help="kill the broker only once the load is paused and every outbox published",
    )
    args = parser.parse_args()
    plan = Plan(
        kills=args.kills,
        students=args.students,
        vacancies=args.vacancies,
        seed=args.seed,
        quiet_broker_kill=args.quiet_broker_kill,
    )
    if args.keep is not None:
        report = run_chaos(plan, args.keep)
        (args.keep / "report.json").write_text(json.dumps(asdict(report), indent=1))
    else:
        with tempfile.TemporaryDirectory(prefix="interlocality-chaos-") as tmp:
            report = run_chaos(plan, Path(tmp))
    print_report(plan, report)
    raise SystemExit(0 if report.clean else 1)


if __name__ == "__main__":
    main()
