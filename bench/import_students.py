"""Bulk import of 100,000 students on the embedded stack, against posting them one by one.

    uv run python bench/import_students.py [--rows 100000] [--one-by-one 2000]

Starts a region of its own (embedded broker, five services, SQLite under a temporary
directory), imports the file with `interlocality import`, then re-imports it unchanged,
and posts a sample of the same rows one by one through `POST /v1/students` (the
straightforward way) to compare the rates.
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
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from datasets import write_students

from interlocality.common.embedded_broker import free_port
from interlocality.common.esco import default_vocabulary

SERVICES = ("profiles", "vacancies", "matching", "notifications", "analytics")


def start_region(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    ports = {s: free_port() for s in SERVICES}
    env = {
        **os.environ,
        "INTERLOCALITY_VAR_DIR": str(workdir / "var"),
        **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()},
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    log = open(workdir / "up.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "interlocality.common.cli",
            "--region",
            "bench",
            "up",
            "--no-seed",
            "--broker-port",
            str(free_port()),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while "is up" not in (workdir / "up.log").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit((workdir / "up.log").read_text())
        time.sleep(0.2)
    return process, {f"{s.upper()}_PORT": str(p) for s, p in ports.items()}


def run_import(path: Path, ports: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "interlocality.common.cli", "import", "students", str(path)],
        env={**os.environ, **ports},
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - started, result.stdout.strip().splitlines()[0]


def one_by_one(path: Path, ports: dict[str, str], count: int, broken: set[int]) -> float:
    url = f"http://127.0.0.1:{ports['PROFILES_PORT']}/v1/students"
    with open(path, newline="", encoding="utf-8") as source, httpx.Client(timeout=30) as client:
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
            }
            client.post(url, json=body).raise_for_status()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--one-by-one", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data = workdir / "students.csv"
        broken = write_students(data, args.rows, default_vocabulary(), broken_share=0.01)
        process, ports = start_region(workdir)
        try:
            first, first_summary = run_import(data, ports)
            again, again_summary = run_import(data, ports)
            single = one_by_one(data, ports, args.one_by_one, set(broken))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    rate_bulk = args.rows / first
    rate_single = args.one_by_one / single
    print(f"{args.rows:,} student rows, {len(broken):,} broken on purpose\n")
    print(f"{'way':<44} {'rows':>9} {'seconds':>9} {'rows/s':>9}")
    print(
        f"{'bulk import (interlocality import), first':<44} {args.rows:>9,} {first:>9.1f} "
        f"{rate_bulk:>9,.0f}"
    )
    print(
        f"{'bulk import, same file again (unchanged)':<44} {args.rows:>9,} {again:>9.1f} "
        f"{args.rows / again:>9,.0f}"
    )
    print(
        f"{'POST /v1/students one by one':<44} {args.one_by_one:>9,} {single:>9.1f} "
        f"{rate_single:>9,.0f}"
    )
    print(f"\none by one, {args.rows:,} rows would take ≈ {args.rows / rate_single:,.0f} s")
    print(f"first import:  {first_summary}\nsecond import: {again_summary}")


if __name__ == "__main__":
    main()
