"""An operator's import day on the embedded stack, against posting rows one by one.

    uv run python bench/import_region.py [--students 100000] [--vacancies 5000]

Starts a region of its own (embedded broker, five services, SQLite under a temporary
directory) and does what an operator does: imports companies, then vacancies and students
from files with about 1 % of rows broken on purpose; reads the error reports; fixes exactly
the reported lines; imports the fixed files again; and checks that the corrected rows reach
the other services. Each step is timed; the time until analytics has counted every stored
student shows how far the consumers lag behind the import. A sample of the same students
is then posted one by one through `POST /v1/students` (the straightforward way).
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from datasets import write_companies, write_students, write_vacancies

from interlocality.common.embedded_broker import free_port
from interlocality.common.esco import default_vocabulary
from interlocality.operator.credentials import (
    ISSUER_PORT_VARIABLE,
    ISSUER_VARIABLE,
    TOKEN_VARIABLE,
    credentials_for,
)

SERVICES = ("profiles", "vacancies", "matching", "notifications", "analytics")
REGION = "bench"


@dataclass
class Region:
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    var_dir: Path
    # signs each call as the tools do: the operator, the service role on /v1/admin, /metrics
    auth: httpx.Auth

    @property
    def env(self) -> dict[str, str]:
        """What an ``interlocality`` command needs to find the region (and sign its calls)."""
        return {
            "INTERLOCALITY_REGION": REGION,
            "INTERLOCALITY_VAR_DIR": str(self.var_dir),
            **{f"{s.upper()}_PORT": str(p) for s, p in self.ports.items()},
        }

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"


@dataclass
class Step:
    what: str
    rows: int
    seconds: float
    summary: str


def start_region(workdir: Path) -> Region:
    ports = {s: free_port() for s in SERVICES}
    var_dir = workdir / "var"
    env = {
        **os.environ,
        "INTERLOCALITY_VAR_DIR": str(var_dir),
        # the region's own development issuer, on a port of its own
        ISSUER_PORT_VARIABLE: str(free_port()),
        **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()},
    }
    for outside in ("KAFKA_BOOTSTRAP_SERVERS", ISSUER_VARIABLE, TOKEN_VARIABLE):
        env.pop(outside, None)
    log_path = workdir / "up.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "interlocality.operator.cli",
                "--region",
                REGION,
                "up",
                "--no-seed",
                "--broker-port",
                str(free_port()),
                "--smtp-port",
                str(free_port()),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while "is up" not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(log_path.read_text())
        time.sleep(0.2)
    return Region(process, ports, var_dir, credentials_for(REGION, var_dir))


def run_import(region: Region, kind: str, path: Path) -> Step:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "interlocality.operator.cli", "import", kind, str(path)],
        env={**os.environ, **region.env},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 2):
        raise SystemExit(f"import {kind} failed:\n{result.stdout}\n{result.stderr}")
    with open(path, encoding="utf-8") as source:
        rows = sum(1 for _ in source) - 1
    summary = result.stdout.splitlines()[0]
    print(f"  {path.name}: {summary}", file=sys.stderr, flush=True)
    return Step(f"import {kind} ({path.name})", rows, seconds, summary)


def reported_lines(path: Path) -> set[int]:
    report = Path(f"{path}.errors.csv")
    if not report.exists():
        return set()
    with open(report, newline="", encoding="utf-8") as source:
        return {int(row["line"]) for row in csv.DictReader(source)}


def fix_reported_lines(broken: Path, clean: Path, lines: set[int], fixed: Path) -> None:
    """The broken file with exactly the reported lines replaced by their correct version."""
    with (
        open(broken, encoding="utf-8") as bad,
        open(clean, encoding="utf-8") as good,
        open(fixed, "w", encoding="utf-8") as out,
    ):
        for number, (bad_line, good_line) in enumerate(zip(bad, good, strict=True), start=1):
            out.write(good_line if number in lines else bad_line)


def counted(region: Region, client: httpx.Client, event: str) -> int:
    summary = client.get(region.url("analytics", "/v1/summary")).json()
    return int(summary["by_type"].get(event, 0))


def wait_for_count(region: Region, event: str, expected: int, limit: float = 900) -> float:
    """Seconds until analytics has counted ``expected`` events of ``event``."""
    started = time.perf_counter()
    with httpx.Client(timeout=30, auth=region.auth) as client:
        while counted(region, client, event) < expected:
            if time.perf_counter() - started > limit:
                raise SystemExit(f"analytics did not count {expected} {event} in {limit:.0f} s")
            time.sleep(0.5)
    return time.perf_counter() - started


def one_by_one(region: Region, path: Path, count: int, broken: set[int]) -> float:
    with (
        open(path, newline="", encoding="utf-8") as source,
        httpx.Client(timeout=30, auth=region.auth) as client,
    ):
        rows = [
            row for line, row in enumerate(csv.DictReader(source), start=2) if line not in broken
        ][:count]
        started = time.perf_counter()
        for row in rows:
            body = {
                "external_id": "single-" + row["external_id"],
                "name": row["name"],
                "email": row["email"],
                "study_field": row["study_field"],
                "skills": [
                    {"uri": s.split("|")[0], "level": int(s.split("|")[1])}
                    for s in row["skills"].split(";")
                ],
                "languages": [
                    {"code": lang.split(":")[0], "level": lang.split(":")[1]}
                    for lang in row["languages"].split(";")
                ],
                "engagement_kinds": row["engagement_kinds"].split(";"),
                "consents": {
                    name: row[f"consent_{name}"] == "yes"
                    for name in ("matching", "notifications", "analytics")
                },
            }
            client.post(region.url("profiles", "/v1/students"), json=body).raise_for_status()
        return time.perf_counter() - started


def held_by_matching(region: Region, client: httpx.Client, student_id: str) -> bool:
    privacy = client.get(region.url("matching", f"/v1/privacy/students/{student_id}"))
    return privacy.json()["holds"]["skills"] is not None


def corrected_downstream(
    region: Region, external_ids: list[str], limit: float = 1800
) -> tuple[int, int, int, float]:
    """Of the corrected students: how many profiles has, matching holds, and have matches;
    and the seconds until matching held the last of them."""
    started = time.perf_counter()
    stored = held = with_matches = 0
    with httpx.Client(timeout=60, auth=region.auth) as client:
        ids = []
        for external_id in external_ids:
            items = client.get(
                region.url("profiles", "/v1/students"), params={"external_id": external_id}
            ).json()["items"]
            if items:
                ids.append(items[0]["student_id"])
        stored = len(ids)
        waiting = list(ids)
        while waiting and time.perf_counter() - started < limit:
            waiting = [i for i in waiting if not held_by_matching(region, client, i)]
            if waiting:
                time.sleep(2)
        caught_up = time.perf_counter() - started
        held = len(ids) - len(waiting)
        for student_id in ids:
            matches = client.get(region.url("matching", f"/v1/students/{student_id}/matches"))
            with_matches += matches.is_success and bool(matches.json().get("items"))
    return stored, held, with_matches, caught_up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--vacancies", type=int, default=5_000)
    parser.add_argument("--companies", type=int, default=500)
    parser.add_argument("--one-by-one", type=int, default=500)
    parser.add_argument(
        "--students-first",
        action="store_true",
        help="import the students before the vacancies (none open while they arrive)",
    )
    args = parser.parse_args()
    vocabulary = default_vocabulary()
    steps: list[Step] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files = {name: workdir / f"{name}.csv" for name in ("companies", "vacancies", "students")}
        clean = {name: workdir / f"{name}.clean.csv" for name in ("vacancies", "students")}
        write_companies(files["companies"], args.companies)
        write_vacancies(
            files["vacancies"], args.vacancies, args.companies, vocabulary, broken_share=0.01
        )
        write_vacancies(clean["vacancies"], args.vacancies, args.companies, vocabulary)
        broken = write_students(files["students"], args.students, vocabulary, broken_share=0.01)
        write_students(clean["students"], args.students, vocabulary)
        region = start_region(workdir)
        try:
            order = (
                ("companies", "students", "vacancies")
                if args.students_first
                else (
                    "companies",
                    "vacancies",
                    "students",
                )
            )
            students_started = 0.0
            for kind in order:
                if kind == "students":
                    students_started = time.perf_counter()
                steps.append(run_import(region, kind, files[kind]))
            stored = args.students - len(reported_lines(files["students"]))
            wait_for_count(region, "StudentProfileUpserted.v1", stored)
            caught_up = time.perf_counter() - students_started
            for kind in ("vacancies", "students"):
                lines = reported_lines(files[kind])
                fixed = workdir / f"{kind}.fixed.csv"
                fix_reported_lines(files[kind], clean[kind], lines, fixed)
                steps.append(run_import(region, kind, fixed))
            wait_for_count(region, "StudentProfileUpserted.v1", args.students)
            fixed_ids = [f"stu-{line - 2:07d}" for line in sorted(broken)]
            downstream = corrected_downstream(region, fixed_ids)
            single = one_by_one(region, files["students"], args.one_by_one, set(broken))
        finally:
            region.process.send_signal(signal.SIGTERM)
            region.process.wait(60)

    print(
        f"{args.companies:,} companies, {args.vacancies:,} vacancies and {args.students:,} "
        f"students, about 1 % of vacancy and student rows broken on purpose; "
        f"{'students before vacancies' if args.students_first else 'vacancies before students'}"
        "\n"
    )
    print(f"{'step':<52} {'rows':>9} {'seconds':>9} {'rows/s':>9}")
    for step in steps:
        rate = step.rows / step.seconds
        print(f"{step.what:<52} {step.rows:>9,} {step.seconds:>9.1f} {rate:>9,.0f}")
    rate = args.one_by_one / single
    print(
        f"{'POST /v1/students one by one (the peer)':<52} {args.one_by_one:>9,} {single:>9.1f} "
        f"{rate:>9,.0f}"
    )
    print(f"\none by one, {args.students:,} students would take ≈ {args.students / rate:,.0f} s")
    print(
        "from the start of the students' import to analytics having counted every stored "
        f"student: {caught_up:.1f} s"
    )
    print(
        f"corrected students: {downstream[0]} of {len(broken)} stored, {downstream[1]} held by "
        f"matching, {downstream[2]} with matches; matching held them "
        f"{downstream[3]:.1f} s after their import ended (or gave up waiting)"
    )
    for step in steps:
        print(step.summary)


if __name__ == "__main__":
    main()
