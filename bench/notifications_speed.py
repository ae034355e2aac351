"""Notifications speed: in-app notifications of one vacancy's 10,000 matches, and the time
from posting a vacancy to its notification on an open live stream.

    uv run python bench/notifications_speed.py [--students 10000] [--streams 1000]
        [--rounds 5] [--region-students 50000] [--background 10,30,100] [--probes 40]
        [--parts ab]

(a) The notifications service alone, as its own process on the embedded broker (SQLite):
    `--students` students are known to it (in-app channel), `--streams` of them hold an
    open live stream (`GET /v1/students/{id}/stream`, Server-Sent Events). One vacancy's
    `MatchFound` for every student is published at once; the figure is the time from the
    first publish until every notification is stored (the consumer's applied-events
    counter) and every open stream has received its event; the median of `--rounds`
    rounds, each with a fresh service and region. The straightforward way, in the same
    run, is the same service applying one event per transaction
    (`INTERLOCALITY_CONSUMER_BATCH_SIZE=1`).
(b) A whole region (`interlocality up`, five services) with `--region-students` students.
    While vacancies of random occupations are posted from another thread at each rate of
    `--background` in turn, a probe student keeps a live stream open and `--probes`
    vacancies made for them are posted one by one; the figure is the time from
    `POST /v1/vacancies` returning to the probe's notification arriving on the stream
    (p50 / p95). A probe not notified within 30 s means the region fell behind at that rate;
    probing stops there. The peer is the same probe with no background load. Rates go
    from low to high, and the region catches up before the next, so each figure is of its
    own rate. For the first rate the bench also prints the CPU time each process of the
    region used per posted vacancy, from the start of the load until the region caught up:
    what a vacancy costs the whole region, and so how many a second two cores can take.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).parent))

from datasets import occupation_skills, write_companies, write_students
from import_region import Region, run_import, start_region, wait_for_count
from service_process import bench_caller, service_process
from tables import Row, print_table

from interlocality.common.cloudevents import encode_event
from interlocality.common.embedded_broker import EmbeddedBroker
from interlocality.common.esco import default_vocabulary
from interlocality.common.testing import found, upserted
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.topics import topic_of_event

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
APPLIED = re.compile(r'interlocality_events_applied_total\{topic="([^"]+)",type="([^"]+)"\} (\S+)')


# -- (a) the service alone ------------------------------------------------------------


async def publish(bootstrap: str, region: str, events: list[CloudEvent[object]]) -> float:
    """Publish ``events`` as fast as the producer goes; returns when it started."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    records = [encode_event(e, topic_of_event(type(e)).name(region)) for e in events]
    started = time.perf_counter()
    try:
        sends = [
            await producer.send(r.topic, value=r.value, key=r.key, headers=r.headers)
            for r in records
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return started


def applied(client: httpx.Client, base: str, topic_part: str) -> int:
    text = client.get(f"{base}/metrics").text
    return int(sum(float(v) for topic, _, v in APPLIED.findall(text) if topic_part in topic))


async def open_streams(
    base: str,
    headers: dict[str, str],
    student_ids: list[str],
    arrived: dict[str, float],
    opened: asyncio.Event,
) -> None:
    """Hold a live stream per student; note when its first notification arrives."""
    ready = 0
    limits = httpx.Limits(max_connections=len(student_ids) + 10)
    async with httpx.AsyncClient(
        timeout=None, limits=limits, trust_env=False, headers=headers
    ) as client:

        async def listen(student_id: str) -> None:
            nonlocal ready
            url = f"{base}/v1/students/{student_id}/stream"
            async with client.stream("GET", url) as response:
                async for line in response.aiter_lines():
                    if line.startswith(": connected"):
                        ready += 1
                        if ready == len(student_ids):
                            opened.set()
                    elif line.startswith("event: notification"):
                        arrived[student_id] = time.perf_counter()
                        return

        await asyncio.gather(*(listen(s) for s in student_ids))


def one_vacancy(
    workdir: Path, bootstrap: str, students: int, streams: int, batch_size: int
) -> dict[str, float]:
    region = f"n{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(bootstrap, region))
    ids = [f"s-{n:06d}" for n in range(students)]
    with service_process("notifications", workdir, bootstrap, region, batch_size) as base:
        asyncio.run(publish(bootstrap, region, [upserted(region, s) for s in ids]))
        with httpx.Client(timeout=10, trust_env=False, headers=bench_caller(region)) as client:
            while applied(client, base, "students") < students:
                time.sleep(0.2)
        listening = ids[:: max(1, students // streams)][:streams]
        arrived: dict[str, float] = {}
        loop = asyncio.new_event_loop()
        opened = asyncio.Event()

        def listen() -> None:
            loop.run_until_complete(
                open_streams(base, bench_caller(region), listening, arrived, opened)
            )
            loop.run_until_complete(loop.shutdown_asyncgens())  # close the streams' readers

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        while not opened.is_set():
            time.sleep(0.05)
        matches = [found(region, s, "v-1", matched=(PYTHON,), missing=()) for s in ids]
        started = asyncio.run(publish(bootstrap, region, matches))
        published = time.perf_counter()
        with httpx.Client(timeout=10, trust_env=False, headers=bench_caller(region)) as client:
            # every 50 ms: rendering /metrics costs the service CPU it would otherwise spend
            while applied(client, base, "matches") < students:
                time.sleep(0.05)
        stored = time.perf_counter()
        thread.join(120)
        loop.close()
        pushed = max(arrived.values()) if len(arrived) == len(listening) else float("nan")
    return {
        "publish": published - started,
        "stored": stored - started,
        "pushed": pushed - started,
        "streams": len(arrived),
    }


def part_a(args: argparse.Namespace, workdir: Path, bootstrap: str) -> list[Row]:
    """The median of ``--rounds`` rounds (a round's time varies by a fifth or more on a
    shared two-core machine), against one round of the peer."""
    rounds = [
        one_vacancy(workdir, bootstrap, args.students, args.streams, args.batch)
        for _ in range(args.rounds)
    ]
    peer = one_vacancy(workdir, bootstrap, args.students, args.streams, 1)
    times = [max(r["stored"], r["pushed"]) for r in rounds]
    done = statistics.median(times)
    ours = rounds[times.index(sorted(times)[(len(times) - 1) // 2])]
    peer_done = max(peer["stored"], peer["pushed"])
    return [
        Row(
            f"one vacancy × {args.students:,} students: stored and pushed to "
            f"{ours['streams']:,.0f} open streams (median of {len(times)})",
            f"{done:.2f} s",
            "≤ 2 s",
            done <= 2.0,
        ),
        Row("    each round", " / ".join(f"{t:.2f}" for t in times) + " s"),
        Row("    of which publishing the match events (median round)", f"{ours['publish']:.2f} s"),
        Row(
            "    every notification stored / every stream pushed (median round)",
            f"{ours['stored']:.2f} / {ours['pushed']:.2f} s",
        ),
        Row("    one event per transaction (the peer)", f"{peer_done:.2f} s"),
        Row("    speed-up over the peer", f"{peer_done / done:.1f}×"),
    ]


# -- (b) a whole region ---------------------------------------------------------------


class StreamClock:
    """Holds a live stream open in a thread; notes when each vacancy's notification came."""

    def __init__(self, url: str, auth: httpx.Auth) -> None:
        self.url = url
        self.auth = auth
        self.arrived: dict[str, float] = {}
        self.opened = threading.Event()
        self.stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if not self.opened.wait(30):
            raise SystemExit("the probe's stream did not open")

    def _read(self) -> None:
        try:
            self._follow()
        except httpx.TransportError:
            if not self.stop:  # the region stopping ends the stream: not worth a traceback
                raise

    def _follow(self) -> None:
        with (
            httpx.Client(timeout=None, trust_env=False, auth=self.auth) as client,
            client.stream("GET", self.url) as response,
        ):
            kind = ""
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    self.opened.set()
                elif line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind == "notification":
                    self.arrived[json.loads(line.removeprefix("data: "))["vacancy_id"]] = (
                        time.perf_counter()
                    )
                if self.stop:
                    return


def vacancy_body(company_id: str, title: str, skills: list[str]) -> dict[str, object]:
    return {
        "company_id": company_id,
        "title": title,
        "kind": "internship",
        "required_skills": [{"uri": uri, "min_level": 2} for uri in skills],
    }


def probe_latencies(
    region: Region, company_id: str, skills: list[str], clock: StreamClock, probes: int
) -> list[float]:
    """Post vacancies made for the probe student one by one; seconds from each POST
    returning to its notification on the probe's stream."""
    latencies = []
    with httpx.Client(timeout=30, trust_env=False, auth=region.auth) as client:
        for n in range(probes):
            answer = client.post(
                region.url("vacancies", "/v1/vacancies"),
                json=vacancy_body(company_id, f"Probe {n} {uuid.uuid4().hex[:6]}", skills),
            )
            returned = time.perf_counter()
            answer.raise_for_status()
            vacancy_id = answer.json()["vacancy_id"]
            deadline = returned + 30
            while vacancy_id not in clock.arrived and time.perf_counter() < deadline:
                time.sleep(0.002)
            if vacancy_id not in clock.arrived:
                latencies.append(math.inf)  # fell behind: stop probing this load
                break
            latencies.append(clock.arrived[vacancy_id] - returned)
            time.sleep(0.2)
    return latencies


def background_posts(
    region: Region,
    company_ids: list[str],
    occupations: list[list[str]],
    rate: float,
    stop: threading.Event,
    posted: list[int],
) -> None:
    """Post ``rate`` vacancies a second (of random occupations) until ``stop``."""
    rng = random.Random(5)
    started = time.perf_counter()
    with httpx.Client(timeout=30, trust_env=False, auth=region.auth) as client:
        while not stop.is_set():
            due = started + posted[0] / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            skills = rng.choice(occupations)[:4]
            client.post(
                region.url("vacancies", "/v1/vacancies"),
                json=vacancy_body(rng.choice(company_ids), f"Role {posted[0]}", skills),
            ).raise_for_status()
            posted[0] += 1


def wait_until_idle(region: Region, limit: float = 900) -> None:
    """Until every service's outbox is published and notifications has applied every match
    event (its applied count holds still for 3 s), so one load does not leave a backlog to
    the next."""
    deadline = time.monotonic() + limit
    base = region.url("notifications", "")
    with httpx.Client(timeout=30, trust_env=False, auth=region.auth) as client:
        last, still = -1, 0.0
        while time.monotonic() < deadline:
            pending = sum(
                client.get(region.url(s, "/v1/admin/outbox")).json()["pending"]
                for s in ("vacancies", "matching", "notifications")
            )
            count = applied(client, base, "matches")
            still = still + 1.0 if pending == 0 and count == last else 0.0
            if still >= 3.0:
                return
            last = count
            time.sleep(1.0)


def processes_cpu(root: int) -> dict[str, float]:
    """CPU seconds used so far by each process the launcher ``root`` started (the broker,
    the mail sink, the issuer, the fork server) and by each service the fork server forked,
    by name; Linux ``/proc`` only, empty elsewhere."""
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, tuple[str, float]] = {}  # the launcher's: pid → name, CPU seconds
    forks: list[tuple[int, str, float]] = []  # their children: parent, name, CPU seconds
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        parent, cpu = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if parent == root:
            name = Path(command[0].decode()).name
            if b"-m" in command:
                name = command[command.index(b"-m") + 1].decode().removeprefix("interlocality.")
            children[int(entry.name)] = (name, cpu)
        else:
            # a service forked by the fork server has the server's command line, and the
            # service's name as its process name
            forks.append((parent, stat[stat.index("(") + 1 : stat.rindex(")")], cpu))
    used = dict(children.values())
    for parent, name, cpu in forks:
        if parent in children:
            used[name] = cpu
    return used


def idle_use(root: int, seconds: float = 10.0) -> dict[str, float]:
    """CPU milliseconds a second each process uses while nothing is posted (polls,
    heartbeats, keepalives), so that a load's cost can be counted without it."""
    before, started = processes_cpu(root), time.perf_counter()
    time.sleep(seconds)
    after, elapsed = processes_cpu(root), time.perf_counter() - started
    return {name: 1000 * (after[name] - before.get(name, 0.0)) / elapsed for name in after}


def part_b(args: argparse.Namespace, workdir: Path) -> list[Row]:
    vocabulary = default_vocabulary()
    companies, students = workdir / "companies.csv", workdir / "students.csv"
    write_companies(companies, 50)
    write_students(students, args.region_students, vocabulary)
    region = start_region(workdir)
    try:
        run_import(region, "companies", companies)
        run_import(region, "students", students)
        print("  waiting for the region to hold every student …", file=sys.stderr, flush=True)
        wait_for_count(region, "StudentProfileUpserted.v1", args.region_students)
        with httpx.Client(timeout=30, trust_env=False, auth=region.auth) as client:
            base = region.url("notifications", "")
            while applied(client, base, "students") < args.region_students:
                time.sleep(0.5)
            company_ids = [
                c["company_id"]
                for c in client.get(region.url("vacancies", "/v1/companies?limit=50")).json()[
                    "items"
                ]
            ]
            occupations = [essential for _, essential, _ in occupation_skills(vocabulary)]
            # the probe has skills of two occupations: only they cover all of a probe vacancy
            skills = occupations[0][:3] + occupations[1][:3]
            probe = client.post(
                region.url("profiles", "/v1/students"),
                json={
                    "name": "Probe Student",
                    "email": "probe@students.example.org",
                    "skills": [{"uri": uri, "level": 5} for uri in skills],
                    "engagement_kinds": ["internship"],
                    "consents": {"matching": True, "notifications": True, "analytics": True},
                },
            )
            probe.raise_for_status()
            probe_id = probe.json()["student_id"]
            held = region.url("notifications", f"/v1/privacy/students/{probe_id}")
            while client.get(held).json()["holds"]["recipient"] is None:
                time.sleep(0.1)
        clock = StreamClock(
            region.url("notifications", f"/v1/students/{probe_id}/stream"), region.auth
        )
        print("  probes without background load …", file=sys.stderr, flush=True)
        quiet = probe_latencies(region, company_ids[0], skills, clock, args.probes)
        print("  the region's idle use …", file=sys.stderr, flush=True)
        idle = idle_use(region.process.pid)
        loads: list[tuple[float, float, list[float]]] = []
        # CPU ms per vacancy by process, at the first rate (with its catch-up), idle use
        # subtracted
        cost: tuple[float, dict[str, float]] | None = None
        rates = [float(r) for r in args.background.split(",")]
        for wanted in rates:
            stop, posted = threading.Event(), [0]
            background = threading.Thread(
                target=background_posts,
                args=(region, company_ids, occupations, wanted, stop, posted),
                daemon=True,
            )
            print(f"  probes with {wanted:g} vacancies/s …", file=sys.stderr, flush=True)
            started = time.perf_counter()
            before = processes_cpu(region.process.pid)
            background.start()
            time.sleep(3.0)
            loaded = probe_latencies(region, company_ids[0], skills, clock, args.probes)
            stop.set()
            background.join(30)
            loads.append((wanted, posted[0] / (time.perf_counter() - started), loaded))
            if wanted != rates[-1] or cost is None:
                print("  waiting for the region to catch up …", file=sys.stderr, flush=True)
                wait_until_idle(region)
                if cost is None:
                    after = processes_cpu(region.process.pid)
                    elapsed = time.perf_counter() - started
                    vacancies = posted[0] + len(loaded)
                    cost = (
                        wanted,
                        {
                            name: (
                                1000 * (after[name] - before.get(name, 0.0))
                                - idle.get(name, 0.0) * elapsed
                            )
                            / vacancies
                            for name in sorted(after)
                        },
                    )
        clock.stop = True
    finally:
        region.process.send_signal(signal.SIGTERM)
        region.process.wait(60)

    def p95(values: list[float]) -> float:
        return sorted(values)[max(0, math.ceil(0.95 * len(values)) - 1)]

    def ms(value: float) -> str:
        return "> 30 s" if math.isinf(value) else f"{value * 1000:.0f} ms"

    rows = [
        Row(
            f"POST /v1/vacancies → live stream, {args.region_students:,} students, no other "
            "load (the peer): p50 / p95",
            f"{ms(statistics.median(quiet))} / {ms(p95(quiet))}",
        )
    ]
    if cost is not None:
        cost_rate, per_process = cost
        per_vacancy, idle_total = sum(per_process.values()), sum(idle.values())
        cores = os.cpu_count() or 1
        rows.append(
            Row(
                f"CPU time per vacancy at {cost_rate:g}/s, until the region caught up "
                "(idle use taken out)",
                f"{per_vacancy:.1f} ms",
            )
        )
        rows += [
            Row(f"    {name}", f"{ms:.1f} ms")
            for name, ms in sorted(per_process.items(), key=lambda item: -item[1])
            if ms >= 0.05
        ]
        rows.append(Row("    the region idle, CPU a second", f"{idle_total:.0f} ms"))
        rows.append(
            Row(
                f"    so {cores} cores carry at most (all busy, no headroom for latency)",
                f"{(cores * 1000 - idle_total) / per_vacancy:.0f} vacancies/s",
            )
        )
    for wanted, rate, loaded in loads:
        behind = math.isinf(loaded[-1])
        rows.append(
            Row(
                f"    while {wanted:g} vacancies/s are posted ({rate:.0f}/s reached): p50 / p95"
                + (f" — fell behind at probe {len(loaded)}" if behind else ""),
                f"{ms(statistics.median(loaded))} / {ms(p95(loaded))}",
                "p95 ≤ 500 ms" if wanted >= 100 else "",
                p95(loaded) <= 0.5 if wanted >= 100 else None,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--region-students", type=int, default=50_000)
    parser.add_argument(
        "--background",
        default="10,30,100",
        help="vacancies a second besides, one run each, the region idle in between",
    )
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--parts", default="ab")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of part (a)")
    parser.add_argument("--batch", type=int, default=500, help="consumer batch size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="notifications-bench-") as tmp:
        workdir = Path(tmp)
        broker = EmbeddedBroker(log_path=workdir / "broker.log").start()
        try:
            if "b" in args.parts:
                print("(b) a whole region …", file=sys.stderr, flush=True)
                print_table("a whole region, embedded", part_b(args, workdir))
            if "a" in args.parts:
                print("(a) one vacancy's matches …", file=sys.stderr, flush=True)
                print_table(
                    "notifications alone, SQLite, embedded broker",
                    part_a(args, workdir, broker.bootstrap_servers),
                )
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
