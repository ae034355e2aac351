"""A region under a steady load for minutes, no faults: whether each process's memory and
each service's consumer lag stay flat; then the region held to the load's ground truth.

    uv run python bench/soak.py [--minutes 10] [--rate 8] [--population 300]

The region, its processes and its load are chaos.py's (PostgreSQL, fresh databases dropped at
the end; the embedded broker; two replicas of profiles and of matching, one of the others,
forked as the launcher forks them; companies, vacancies and students with names with å, ö,
ñ, ı, consent changes and erasures), but nothing is killed. The load keeps a steady rate of
writes and a steady population: the vacancies are posted first, then students are posted,
change their consents and are erased, the oldest erased whenever more than ``--population``
are live, so what the services hold stays the same size and memory that grows is not data.

Warm-up lasts until the population is reached and at least ``--warmup`` minutes have passed;
then the steady state lasts ``--minutes``. Every ``--every`` seconds a sample is taken: each
process's resident memory (``VmRSS``), each service's consumer lag as the broker has it (the
end of every partition its group reads against what the group committed), each outbox's
backlog (``/metrics``), and every write's answer time (retries included) is kept. At the end:
memory at the start, middle and end of the steady state and its least-squares slope, lag and
backlog per phase, the rate achieved and the answer times, each against the first minute of
the steady state as the reference for its last; and chaos.py's checks of the region against
the ground truth (nothing lost, duplicated or wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).parent))

from chaos import (
    POSTGRES_URL,
    Caller,
    ChaosReport,
    Load,
    Plan,
    Region,
    Student,
    check_region,
    lag_by_service,
    occupation_skills,
    print_differences,
    say,
)
from tables import Row, print_table

from interlocality.operator.services import SERVICES

__all__ = ["Criteria", "SoakReport", "main", "run_soak"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class Criteria:
    """What "flat" means: the verdict each figure is held to."""

    rss_slope_mib_per_minute: float = 1.0  # per process, least squares over the steady state
    rate_share: float = 0.95  # of the rate asked, achieved over the steady state
    # per service, least squares over the steady state: a consumer that keeps up shows a
    # few records in flight at any instant, one falling behind a lag that builds up
    lag_slope_per_minute: float = 10.0
    outbox_oldest_seconds: float = 5.0  # the oldest unpublished row, at any sample


# -- the load -----------------------------------------------------------------------------


@dataclass
class Write:
    """One write of the load, as its caller saw it."""

    at: float  # monotonic time it was sent
    seconds: float  # until its answer, retries included
    what: str  # "POST profiles"


class PacedCaller(Caller):
    """A caller whose writes keep a steady rate, one every ``1 / rate`` seconds (a write
    that finds its slot gone is sent at once, and the slots after it follow from then:
    a late load does not catch up in a burst), each timed."""

    def __init__(self, region: Region, rng: random.Random, rate: float) -> None:
        super().__init__(region, rng)
        self.gap = 1.0 / rate
        self.next_slot = 0.0
        self.writes: list[Write] = []
        self.failed_attempts: list[float] = []  # when a try got no answer or a 5xx

    def call(self, method: str, service: str, path: str, body: Any = None) -> httpx.Response:
        if method == "GET":
            return super().call(method, service, path, body)
        time.sleep(max(0.0, self.next_slot - time.monotonic()))
        sent = time.monotonic()
        self.next_slot = sent + self.gap
        answer = super().call(method, service, path, body)
        self.writes.append(Write(sent, time.monotonic() - sent, f"{method} {service}"))
        return answer

    def attempt(self, method: str, url: str, body: Any) -> httpx.Response | None:
        answer = super().attempt(method, url, body)
        if answer is None or answer.status_code >= 500:
            self.failed_attempts.append(time.monotonic())
        return answer


class SteadyLoad(Load):
    """chaos.py's load at a steady rate and population, for ``warmup`` seconds at least
    (and until the population is reached), then ``steady`` seconds."""

    def __init__(
        self,
        region: Region,
        plan: Plan,
        rate: float,
        population: int,
        warmup: float,
        steady: float,
    ) -> None:
        super().__init__(region, plan, occupation_skills())
        self.caller: PacedCaller = PacedCaller(region, random.Random(plan.seed + 1), rate)
        self.population = population
        self.warmup = warmup
        self.steady = steady
        self.started = 0.0
        self.steady_from: float | None = None
        self.ended: float | None = None

    def _run(self) -> None:
        self.started = time.monotonic()
        self.register_companies()
        for _ in range(self.plan.vacancies):
            self.post_vacancy()
        while self.steady_from is None or time.monotonic() < self.steady_from + self.steady:
            self.post_student()
            self.keep_population()
            self.change_someone()
            if (
                self.steady_from is None
                and len(self.live()) >= self.population
                and time.monotonic() - self.started >= self.warmup
            ):
                self.steady_from = time.monotonic()
                say(f"warm-up over: {len(self.live())} students live; steady state begins")
        self.ended = time.monotonic()
        self.idle.set()

    def live(self) -> list[Student]:
        return [s for s in self.truth.students.values() if not s.erased]

    def keep_population(self) -> None:
        """The oldest live students erased while more than ``population`` are live."""
        live = self.live()
        for student in live[: max(0, len(live) - self.population)]:
            self.erase(student)


# -- the samples --------------------------------------------------------------------------


@dataclass
class Sample:
    """The region at one moment."""

    at: float  # monotonic
    rss_mib: dict[str, float]  # process (replica name, "broker") → resident memory
    lag: dict[str, int]  # service → records its consumer group has not committed
    outbox_pending: dict[str, int]  # service → rows not yet published
    outbox_oldest: dict[str, float]  # service → age of the oldest of them, seconds


def resident_mib(pid: int | None) -> float | None:
    """``VmRSS`` of a process, None once it is gone."""
    if pid is None:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) / 1024


class Sampler(threading.Thread):
    """Takes a :class:`Sample` of the region every ``every`` seconds until stopped."""

    def __init__(self, region: Region, every: float) -> None:
        super().__init__(daemon=True, name="sampler")
        self.region = region
        self.every = every
        self.samples: list[Sample] = []
        self.stopped = threading.Event()
        self.failure: BaseException | None = None
        self.client = httpx.Client(headers=region.headers, timeout=10, trust_env=False)

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                taken = time.monotonic()
                self.samples.append(self.take())
                self.stopped.wait(max(0.0, self.every - (time.monotonic() - taken)))
        except BaseException as exc:
            self.failure = exc

    def take(self) -> Sample:
        at = time.monotonic()
        rss = {
            r.name: resident_mib(r.process.pid if r.process else None) for r in self.region.replicas
        }
        rss["broker"] = resident_mib(self.region.broker.pid)
        pending: dict[str, int] = {}
        oldest: dict[str, float] = {}
        for service in SERVICES:
            # the replicas of a service share its database: any one tells its outbox
            gauges = self.gauges(self.region.of(service)[0].url)
            pending[service] = int(gauges["interlocality_outbox_pending"])
            oldest[service] = gauges["interlocality_outbox_oldest_pending_seconds"]
        lag = asyncio.run(lag_by_service(self.region.bootstrap, self.region.name))
        return Sample(
            at,
            {k: v for k, v in rss.items() if v is not None},
            lag,
            pending,
            oldest,
        )

    def gauges(self, url: str) -> dict[str, float]:
        answer = self.client.get(f"{url}/metrics")
        answer.raise_for_status()
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
            if not sample.labels
        }


# -- the report ---------------------------------------------------------------------------


@dataclass
class SoakReport:
    """What a run sampled and wrote, its check against the ground truth, and the tables
    that judge them."""

    rate: float
    criteria: Criteria
    samples: list[Sample] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    failed_attempts: list[float] = field(default_factory=list)
    started: float = 0.0
    steady_from: float = 0.0
    ended: float = 0.0
    population: int = 0
    lag_after: dict[str, int] = field(default_factory=dict)  # once the region settled
    check: ChaosReport = field(default_factory=ChaosReport)

    def steady(self, start: float = 0.0, end: float | None = None) -> list[Sample]:
        """The samples of the steady state from ``start`` to ``end`` seconds into it."""
        end = self.ended - self.steady_from if end is None else end
        return [s for s in self.samples if start <= s.at - self.steady_from <= end]

    @property
    def minutes(self) -> float:
        return (self.ended - self.steady_from) / 60

    def phases(self) -> dict[str, list[Sample]]:
        last = self.ended - self.steady_from
        return {
            "warm-up": [s for s in self.samples if s.at < self.steady_from],
            "first minute": self.steady(0, 60),
            "steady state": self.steady(),
            "last minute": self.steady(last - 60, last),
        }

    def memory_rows(self) -> list[Row]:
        steady = self.steady()
        rows = []
        for process in steady[0].rss_mib:
            series = [(s.at, s.rss_mib[process]) for s in steady if process in s.rss_mib]
            start, middle, end = (series[i][1] for i in (0, len(series) // 2, -1))
            slope = per_minute_slope(series)
            first = statistics.fmean(v for t, v in series if t < self.steady_from + 60)
            last = statistics.fmean(v for t, v in series if t >= self.ended - 60)
            judged = process != "broker"  # the embedded broker keeps its log in memory
            limit = self.criteria.rss_slope_mib_per_minute
            rows += [
                Row(f"{process}: start / middle / end", f"{start:.1f} / {middle:.1f} / {end:.1f}"),
                Row(
                    f"{process}: slope (least squares)",
                    f"{slope:+.2f} MiB/min",
                    f"< {limit:g} MiB/min" if judged else "(log in memory)",
                    slope < limit if judged else None,
                ),
                Row(f"{process}: first → last minute (mean)", f"{first:.1f} → {last:.1f}"),
            ]
        return rows

    def lag_rows(self) -> list[Row]:
        rows = []
        phases = self.phases()
        for service in SERVICES:
            for phase, samples in phases.items():
                lags = [s.lag[service] for s in samples]
                rows.append(
                    Row(
                        f"{service}: {phase} (max / mean)",
                        f"{max(lags, default=0)} / {statistics.fmean(lags or [0]):.1f}",
                    )
                )
            slope = per_minute_slope([(s.at, s.lag[service]) for s in phases["steady state"]])
            limit = self.criteria.lag_slope_per_minute
            rows += [
                Row(
                    f"{service}: slope (least squares)",
                    f"{slope:+.1f} records/min",
                    f"< {limit:g}/min",
                    slope < limit,
                ),
                Row(
                    f"{service}: once the load ended",
                    f"{self.lag_after.get(service)}",
                    "0",
                    self.lag_after.get(service) == 0,
                ),
            ]
        return rows

    def outbox_rows(self) -> list[Row]:
        rows = []
        limit = self.criteria.outbox_oldest_seconds
        for service in SERVICES:
            steady = self.steady()
            oldest = max(s.outbox_oldest[service] for s in steady)
            pending = max(s.outbox_pending[service] for s in steady)
            rows.append(
                Row(
                    f"{service}: most pending, oldest (s)",
                    f"{pending}, {oldest:.1f} s",
                    f"< {limit:g} s",
                    oldest < limit,
                )
            )
        return rows

    def write_rows(self) -> list[Row]:
        steady = [w for w in self.writes if self.steady_from <= w.at <= self.ended]
        achieved = len(steady) / (self.ended - self.steady_from)
        last = self.ended - 60
        rows = [
            Row("writes acknowledged (warm-up + steady)", f"{len(self.writes)}"),
            Row(
                "steady rate achieved",
                f"{achieved:.2f} writes/s",
                f"≥ {self.criteria.rate_share:.0%} of {self.rate:g}",
                achieved >= self.criteria.rate_share * self.rate,
            ),
            Row(
                "failed tries (no answer, 5xx; retried)",
                f"{len(self.failed_attempts)}",
                "0",
                not self.failed_attempts,
            ),
        ]
        for phase, writes in (
            ("first minute", [w for w in steady if w.at < self.steady_from + 60]),
            ("steady state", steady),
            ("last minute", [w for w in steady if w.at >= last]),
        ):
            seconds = sorted(w.seconds for w in writes)
            rows.append(
                Row(
                    f"answer time, {phase} (p50 / p95 / p99 ms)",
                    " / ".join(f"{quantile(seconds, q) * 1000:.0f}" for q in (0.5, 0.95, 0.99)),
                )
            )
        return rows

    @property
    def clean(self) -> bool:
        tables = (self.memory_rows(), self.lag_rows(), self.outbox_rows(), self.write_rows())
        met = [r.met for rows in tables for r in rows]
        return all(m is not False for m in met) and check_clean(self.check)


def check_clean(check: ChaosReport) -> bool:
    """chaos.py's checks, with no poison put on a topic."""
    return all(row.met is not False for row in check.check_rows(poisoned=False))


def per_minute_slope(series: list[tuple[float, float]]) -> float:
    """Least-squares slope of (monotonic seconds, value) points, per minute."""
    if len(series) < 2:
        return 0.0
    times, values = zip(*series, strict=True)
    return statistics.linear_regression(times, values).slope * 60


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- the run ------------------------------------------------------------------------------


def run_soak(
    *,
    minutes: float,
    rate: float,
    population: int,
    vacancies: int,
    warmup_minutes: float,
    every: float,
    workdir: Path,
    seed: int = 7,
    criteria: Criteria = Criteria(),
    postgres_url: str = POSTGRES_URL,
) -> SoakReport:
    """Start the region, load it steadily for the warm-up and ``minutes``, sampling it every
    ``every`` seconds; then check it against the ground truth and close it."""
    plan = Plan(kills=0, students=0, vacancies=vacancies, seed=seed)
    report = SoakReport(rate=rate, criteria=criteria, population=population)
    started = time.monotonic()
    region = Region(workdir, postgres_url, kind="soak")
    try:
        say(f"region {region.name}: starting")
        region.start()
        say(f"region up; load at {rate:g} writes/s, {population} students live")
        load = SteadyLoad(region, plan, rate, population, warmup_minutes * 60, minutes * 60)
        sampler = Sampler(region, every)
        sampler.start()
        load.start()
        while not load.done.wait(60):
            say(f"{len(load.caller.writes)} writes; lag {sampler.samples[-1].lag}")
        sampler.stopped.set()
        sampler.join()
        if load.failure is not None:
            raise load.failure
        if sampler.failure is not None:
            raise sampler.failure
        assert load.steady_from is not None and load.ended is not None
        report.samples = sampler.samples
        report.writes = load.caller.writes
        report.failed_attempts = load.caller.failed_attempts
        report.started, report.steady_from, report.ended = (
            load.started,
            load.steady_from,
            load.ended,
        )
        truth = load.truth
        report.check.events = sum(truth.events.values())
        say("load ended: " + ", ".join(f"{v} {k}" for k, v in truth.events.items()))
        check_region(region, truth, report.check, plan.settle_timeout)
        report.lag_after = asyncio.run(lag_by_service(region.bootstrap, region.name))
    finally:
        region.close()
    report.check.elapsed_seconds = time.monotonic() - started
    return report


def print_report(report: SoakReport) -> None:
    c = report.criteria
    print(
        f"\nSoak: {report.rate:g} writes/s, {report.population} students live, "
        f"{report.minutes:.1f} min steady after {(report.steady_from - report.started) / 60:.1f}"
        f" min of warm-up, {len(report.samples)} samples.\n"
        f"Flat means: every service process's resident memory grows less than "
        f"{c.rss_slope_mib_per_minute:g} MiB/min (least squares over the steady state), each "
        f"service's consumer lag builds up by less than {c.lag_slope_per_minute:g} records/min "
        f"and is back to 0 once the load ended, no outbox "
        f"row waits {c.outbox_oldest_seconds:g} s, and the rate achieved is at least "
        f"{c.rate_share:.0%} of the rate asked. The reference is the run itself: its first "
        f"steady minute against its last."
    )
    print_table("Resident memory (MiB)", report.memory_rows())
    print_table("Consumer lag (records not committed, by the broker)", report.lag_rows())
    print_table("Outbox backlog", report.outbox_rows())
    print_table("Writes", report.write_rows())
    print_table(
        "The region against the ground truth",
        [
            *report.check.check_rows(poisoned=False),
            Row("whole run", f"{report.check.elapsed_seconds:.1f} s"),
        ],
    )
    print_differences(report.check)
    print(f"\nverdict: {'flat' if report.clean else 'NOT flat'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10, help="of steady state")
    parser.add_argument("--rate", type=float, default=8, help="writes a second")
    parser.add_argument("--population", type=int, default=300, help="students live")
    parser.add_argument("--vacancies", type=int, default=24)
    parser.add_argument("--warmup", type=float, default=1, help="minutes, at least")
    parser.add_argument("--every", type=float, default=10, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep the logs in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="interlocality-soak-") as tmp:
        report = run_soak(
            minutes=args.minutes,
            rate=args.rate,
            population=args.population,
            vacancies=args.vacancies,
            warmup_minutes=args.warmup,
            every=args.every,
            workdir=args.keep or Path(tmp),
            seed=args.seed,
        )
    print_report(report)
    raise SystemExit(0 if report.clean else 1)


if __name__ == "__main__":
    main()
