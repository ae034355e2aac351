"""Services killed under load: how soon the region serves again, and whether anything is
lost or notified twice; against starting a service afresh as its own process.

    uv run python bench/service_restart.py [--rounds 2] [--interval 0.25]

Starts a region of its own (``interlocality up``: embedded broker, five services, SQLite in
a temporary directory), registers a company with vacancies, and posts a student every
``--interval`` seconds throughout. Meanwhile every service in turn is killed with SIGKILL
``--rounds`` times; the time from the kill until its ``/readyz`` answers 200 is measured.
The peer, in the same run: each service started afresh with ``python -m`` (imports, app,
a fresh consumer group) in a region of its own on the same broker, until ``/readyz`` is 200.
When the load ends, every student posted must be counted once by analytics, held by
matching with its matches, and notified at most once per vacancy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from datasets import essential_skills_of
from tables import Row, print_table

from interlocality.common.embedded_broker import free_port
from interlocality.common.esco import default_vocabulary
from interlocality.common.topics_admin import ensure_topics
from interlocality.operator.services import SERVICES
from interlocality.operator.testing import LaunchedRegion

REGION = "soak"
OCCUPATIONS = ("software developer", "data analyst", "chemical engineer")


def ready(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Load(threading.Thread):
    """Posts a student every ``interval`` seconds; a post refused for lack of a connection
    (profiles is being restarted) is sent again."""

    def __init__(self, region: LaunchedRegion, skills: list[list[str]], interval: float) -> None:
        super().__init__(daemon=True)
        self.region = region
        self.skills = skills
        self.interval = interval
        self.student_ids: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        # a client of its own (the main thread reads with ``region.http``), signed alike
        with httpx.Client(timeout=30, auth=self.region.http.auth) as client:
            n = 0
            while not self.stopping.is_set():
                body = {
                    "name": f"Zoë Ðorđević {n}",
                    "email": f"zoe.{n}@students.example.org",
                    "skills": [{"uri": uri, "level": 3} for uri in self.skills[n % 3]],
                    "engagement_kinds": ["internship"],
                    "consents": {"matching": True, "notifications": True, "analytics": True},
                }
                while not self.stopping.is_set():
                    try:
                        answer = client.post(self.region.url("profiles", "/v1/students"), json=body)
                    except httpx.ConnectError:
                        time.sleep(0.1)
                        continue
                    answer.raise_for_status()
                    self.student_ids.append(answer.json()["student_id"])
                    break
                n += 1
                time.sleep(self.interval)


def fresh_start(service: str, bootstrap: str, issuer: str, workdir: Path) -> float:
    """Seconds from ``python -m interlocality.<service>`` until its /readyz answers 200; the
    service trusts ``issuer``, as the launcher's services do."""
    port = free_port()
    env = {
        **os.environ,
        "INTERLOCALITY_REGION": "peer",
        "INTERLOCALITY_OIDC_ISSUER": issuer,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INTERLOCALITY_VAR_DIR": str(workdir / "peer"),
        f"{service.upper()}_PORT": str(port),
    }
    started = time.monotonic()
    with open(workdir / f"peer-{service}.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"interlocality.{service}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client() as client:
            while not ready(client, f"http://127.0.0.1:{port}/readyz"):
                if process.poll() is not None:
                    raise SystemExit(f"{service} ended; see {workdir / f'peer-{service}.log'}")
                time.sleep(0.05)
        return time.monotonic() - started
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="kills of each service")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between posts")
    args = parser.parse_args()
    skills = essential_skills_of(default_vocabulary(), OCCUPATIONS)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        region = LaunchedRegion(
            workdir, name=REGION, env={"INTERLOCALITY_BROKER_PORT": str(free_port())}
        )
        region.start()
        client = region.http  # the region's operator (closed with the region)
        client.timeout = httpx.Timeout(30)
        try:
            company = client.post(
                region.url("vacancies", "/v1/companies"), json={"name": "Soak Oy", "city": "Oulu"}
            ).json()["company_id"]
            for n, needed in enumerate(skills):
                client.post(
                    region.url("vacancies", "/v1/vacancies"),
                    json={
                        "company_id": company,
                        "title": f"Harjoittelija {n}",
                        "kind": "internship",
                        "required_skills": [{"uri": uri, "min_level": 2} for uri in needed],
                    },
                ).raise_for_status()
            load = Load(region, skills, args.interval)
            load.start()
            back: dict[str, list[float]] = {s: [] for s in SERVICES}
            for _ in range(args.rounds):
                for service in SERVICES:
                    time.sleep(3)
                    pid = region.run_file()["services"][service]["pid"]  # type: ignore[index]
                    killed = time.monotonic()
                    os.kill(pid, signal.SIGKILL)
                    time.sleep(0.3)  # the port is free once the process is gone
                    readyz = region.url(service, "/readyz")
                    while not ready(client, readyz):
                        if time.monotonic() - killed > 120:
                            raise SystemExit(f"{service} did not come back; see {region.log_path}")
                        time.sleep(0.05)
                    back[service].append(time.monotonic() - killed)
                    print(
                        f"  {service}: serving {back[service][-1]:.1f} s after kill -9", flush=True
                    )
            load.stopping.set()
            load.join()
            students = load.student_ids
            bootstrap = str(region.run_file()["broker"]["bootstrap"])  # type: ignore[index]
            asyncio.run(ensure_topics(bootstrap, "peer"))
            fresh = {
                service: fresh_start(service, bootstrap, region.issuer_url, workdir)
                for service in SERVICES
            }

            def counted() -> int:
                summary = client.get(region.url("analytics", "/v1/summary")).json()
                return int(summary["by_type"].get("StudentProfileUpserted.v1", 0))

            deadline = time.monotonic() + 300
            while (once := counted()) < len(students) and time.monotonic() < deadline:
                time.sleep(1)
            matched = notified = twice = 0
            for student_id in students:
                matches = client.get(region.url("matching", f"/v1/students/{student_id}/matches"))
                matched += matches.is_success and bool(matches.json()["items"])
                feed = client.get(
                    region.url("notifications", f"/v1/students/{student_id}/notifications")
                )
                vacancies = [n["vacancy_id"] for n in feed.json().get("items", [])]
                notified += bool(vacancies)
                twice += len(vacancies) - len(set(vacancies))
        finally:
            region.close()
    rows = []
    for service in SERVICES:
        rows.append(
            Row(
                f"{service}: kill -9 → /readyz 200 (median, worst)",
                f"{statistics.median(back[service]):.1f} s, {max(back[service]):.1f} s",
                "< 10 s",
                max(back[service]) < 10,
            )
        )
        rows.append(Row(f"{service}: started afresh → /readyz 200", f"{fresh[service]:.1f} s"))
    rows += [
        Row("students posted during the kills", f"{len(students)}"),
        Row("counted once by analytics", f"{once}", f"{len(students)}", once == len(students)),
        Row(
            "held by matching with a match",
            f"{matched}",
            f"{len(students)}",
            matched == len(students),
        ),
        Row("notified", f"{notified}", f"{len(students)}", notified == len(students)),
        Row("notified twice for one vacancy", f"{twice}", "0", twice == 0),
    ]
    print_table(f"Services killed under load, {args.rounds} rounds", rows)


if __name__ == "__main__":
    main()
