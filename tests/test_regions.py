"""``interlocality up --regions aarhus,leipzig`` as an operator runs it: two partner regions
on one machine, one embedded broker, each region's services on its own ports with its own
files, rules and demo data (graduates' outcomes included, which analytics reports); the
commands find each region by its name; SIGTERM stops all."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from interlocality.common.access import SESSION_COOKIE, Role
from interlocality.common.embedded_broker import free_port
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.processes import is_alive
from interlocality.common.testing import wait_until
from interlocality.operator.accounts import accounts_path, read_accounts
from interlocality.operator.credentials import SignedTokens, issuer_key_path
from interlocality.operator.programmes import PROGRAMMES, build_programme_region
from interlocality.operator.services import SERVICES

pytestmark = pytest.mark.e2e

REGIONS = ("aarhus", "leipzig")
UP = re.compile(r"^region 'leipzig' is up in", re.MULTILINE)


@dataclass
class Regions:
    """The launcher of the two regions and where it runs them."""

    process: subprocess.Popen[bytes]
    var_dir: Path
    log_path: Path
    env: dict[str, str]
    http: httpx.Client
    issuer_port: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def run_file(self, region: str) -> dict[str, Any]:
        return dict(json.loads((self.var_dir / region / "run.json").read_text()))

    def url(self, region: str, service: str) -> str:
        return str(self.run_file(region)["services"][service]["url"])

    def tokens(self, region: str) -> SignedTokens:
        """The region's tokens, signed with the key of the issuer the launcher runs."""
        url = self.run_file(region)["issuer"]["url"]
        return SignedTokens(DevelopmentIssuer(url, issuer_key_path(self.var_dir)), region)

    def read(self, region: str, service: str, path: str, **params: Any) -> Any:
        """The JSON of a GET the region's operator makes, which must answer 200."""
        response = self.http.get(
            self.url(region, service) + path, params=params, auth=self.tokens(region)
        )
        assert response.status_code == 200, response.text
        return response.json()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command given only the region's name (and the var dir)."""
        return subprocess.run(
            [sys.executable, "-m", "interlocality.operator.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    workdir = tmp_path_factory.mktemp("regions")
    var_dir = workdir / "var"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "INTERLOCALITY_SMTP_HOST")
        and not k.endswith("_PORT")
        and not k.startswith("INTERLOCALITY_")
    }
    env["INTERLOCALITY_VAR_DIR"] = str(var_dir)
    # Far from the services' own ports; one that is taken moves, and the run file says where.
    port_base = random.Random().randrange(20_000, 40_000, 1000)
    issuer_port = free_port()
    log_path = workdir / "up.log"
    with open(log_path, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "interlocality.operator.cli",
                "up",
                "--regions",
                ",".join(REGIONS),
                "--demo-size",
                "small",
                "--port-base",
                str(port_base),
                "--broker-port",
                str(free_port()),
                "--issuer-port",
                str(issuer_port),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    launched = Regions(process, var_dir, log_path, env, httpx.Client(timeout=10), issuer_port)
    try:
        deadline = time.monotonic() + 180
        while process.poll() is None and not UP.search(launched.log()):
            assert time.monotonic() < deadline, launched.log()
            time.sleep(0.2)
        assert process.poll() is None, launched.log()
        yield launched
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        launched.http.close()


def test_each_region_serves_on_its_own_ports_with_one_broker(regions: Regions) -> None:
    aarhus, leipzig = (regions.run_file(name) for name in REGIONS)

    assert aarhus["launcher_pid"] == leipzig["launcher_pid"] == regions.process.pid
    assert aarhus["broker"]["bootstrap"] == leipzig["broker"]["bootstrap"]
    urls = {regions.url(r, s) for r in REGIONS for s in SERVICES}
    assert len(urls) == 2 * len(SERVICES)
    assert aarhus["mail_sink"]["smtp"] != leipzig["mail_sink"]["smtp"]
    # One development issuer for both; each region accepts only its own region's tokens.
    assert aarhus["issuer"] == leipzig["issuer"]
    assert aarhus["issuer"]["url"] == f"http://127.0.0.1:{regions.issuer_port}"
    students = "/v1/students"
    aarhus_token = regions.tokens("aarhus").token(Role.OPERATOR)
    for name, expected in (("aarhus", 200), ("leipzig", 403)):
        answer = regions.http.get(
            regions.url(name, "profiles") + students,
            headers={"Authorization": f"Bearer {aarhus_token}"},
        )
        assert answer.status_code == expected, answer.text
    for name in REGIONS:
        for service in SERVICES:
            assert regions.http.get(regions.url(name, service) + "/readyz").status_code == 200
        assert (regions.var_dir / name / "logs" / "profiles.log").exists()
        assert (regions.var_dir / name / "profiles.db").exists()
    log = regions.log()
    assert re.search(r"aarhus\s+rules dk\s+Aarhus international talent programme", log), log
    assert re.search(r"leipzig\s+rules de\s+Fachkräfteallianz Leipzig", log), log


def test_each_region_is_seeded_with_its_own_programme(regions: Regions) -> None:
    for name, country in (("aarhus", "DK"), ("leipzig", "DE")):
        students = regions.read(name, "profiles", "/v1/students", limit=500)
        companies = regions.read(name, "vacancies", "/v1/companies", limit=500)
        vacancies = regions.read(name, "vacancies", "/v1/vacancies", limit=500)

        assert (students["total"], len(companies["items"]), len(vacancies["items"])) == (
            30,
            6,
            10,
        )
        assert all(s["external_id"].startswith(f"{name}-student-") for s in students["items"])
        assert {c["country"] for c in companies["items"]} == {country}
        assert f"{name}: demo region seeded: 6 companies, 10 vacancies, 30 students" in (
            regions.log()
        )
        # Everyone seeded can sign in: the region's operator, a coordinator, each company
        # and each student, with the ids the services gave them.
        accounts = read_accounts(accounts_path(regions.var_dir, name))
        assert accounts[0] == {
            "name": f"Operator of {name.capitalize()}",
            "roles": ["operator"],
            "region": name,
        }
        assert accounts[1]["roles"] == ["coordinator"]
        assert {a["region"] for a in accounts} == {name}
        assert {(a["name"], a["company_id"]) for a in accounts if "company_id" in a} == {
            (c["name"], c["company_id"]) for c in companies["items"]
        }
        assert {(a["name"], a["student_id"]) for a in accounts if "student_id" in a} == {
            (s["name"], s["student_id"]) for s in students["items"]
        }


def test_each_region_applies_its_own_work_rules(regions: Regions) -> None:
    for name, country in (("aarhus", "DK"), ("leipzig", "DE")):
        students = regions.read(name, "profiles", "/v1/students", limit=500)["items"]
        restricted = [s for s in students if s["residence_status"] == "non_eu_student"]

        assert restricted, name
        assert {s["permitted_work"]["country"] for s in restricted} == {country}


def employability_with(regions: Regions, name: str, graduates: int) -> dict[str, Any] | None:
    """The region's employability report once it counts ``graduates`` graduates."""
    report: dict[str, Any] = regions.read(name, "analytics", "/v1/insights/employability")
    return report if report["total"]["graduates"] == graduates else None


def test_each_region_reports_its_graduates_outcomes(regions: Regions) -> None:
    for name in REGIONS:
        built = build_programme_region(PROGRAMMES[name], "small")
        consenting = {row["external_id"] for row in built.students if row["consents"]["analytics"]}
        expected = Counter(
            body["outcome"] for student, body in built.outcomes.items() if student in consenting
        )
        assert built.outcomes and sum(expected.values()) >= 3, built.outcomes
        assert f"{name}: {len(built.outcomes)} outcomes recorded" in regions.log()
        students = regions.read(name, "profiles", "/v1/students", limit=500)["items"]
        graduate, body = next(iter(built.outcomes.items()))
        student_id = next(s["student_id"] for s in students if s["external_id"] == graduate)
        recorded = regions.read(name, "profiles", f"/v1/students/{student_id}/outcome")
        assert (recorded["graduated_on"], recorded["outcome"]) == (
            body["graduated_on"],
            body["outcome"],
        )

        # analytics hears of them on the outcomes topic, and counts the consenting graduates
        report = wait_until(
            partial(employability_with, regions, name, sum(expected.values())), timeout=20
        )
        assert {o["outcome"]: o["count"] for o in report["total"]["outcomes"]} == {
            kind: expected[kind]
            for kind in ("employed_in_region", "employed_elsewhere", "further_study", "unknown")
        }
        assert report["semesters"], report


def test_the_commands_find_each_region_by_its_name(regions: Regions) -> None:
    for name in REGIONS:
        student = regions.read(name, "profiles", "/v1/students", limit=1)["items"][0]

        exported = regions.cli("--region", name, "export", student["student_id"])

        assert exported.returncode == 0, exported.stderr
        holdings = json.loads(exported.stdout)
        assert holdings["student_id"] == student["student_id"]
        assert holdings["services"]["profiles"], holdings


def compare_with_every_region(regions: Regions) -> dict[str, Any] | None:
    """Aarhus's view of the partner regions, once it holds a snapshot of each."""
    compared: dict[str, Any] = regions.read("aarhus", "analytics", "/v1/federation/compare")
    held = {shown["region"] for shown in compared["regions"] if shown["cells"]}
    return compared if held >= set(REGIONS) else None


async def test_each_region_shows_its_partners_side_by_side_in_a_browser(
    regions: Regions, chromium: Browser, screenshots: Path
) -> None:
    # each region publishes its snapshot once its demo activity is counted
    compared = wait_until(partial(compare_with_every_region, regions), timeout=120)
    for name in REGIONS:
        assert f"{name}: snapshot of " in regions.log()
    base_url = regions.url("aarhus", "analytics")
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    # Signed in as Aarhus's coordinator, as the sign-in page leaves a browser.
    coordinator = regions.tokens("aarhus").token(Role.COORDINATOR)
    await context.add_cookies([{"name": SESSION_COOKIE, "value": coordinator, "url": base_url}])
    page = await context.new_page()
    response = await page.goto(base_url + "/dashboard/regions")
    assert response is not None and response.status == 200
    await page.screenshot(path=str(screenshots / "regions-launched-partners.png"), full_page=True)

    budget = page.locator("#privacy table tbody tr")
    named = [await row.locator("th").text_content() for row in await budget.all()]
    assert named[: len(REGIONS)] == [name.capitalize() for name in REGIONS]
    spent = await page.locator("#privacy svg text[data-series]").all_text_contents()
    shown = {s["region"]: s for s in compared["regions"]}
    assert spent[0] == f"{shown['aarhus']['budget']['spent']:g}"
    # the funnel's bars say what the JSON says, a withheld count as a dash
    published = await page.locator('#funnel svg text[data-series="Published"]').all_text_contents()
    expected = [
        "–" if f["published"] is None else str(f["published"])
        for f in compared["funnel"]
        if any(
            f[step] is not None
            for step in ("published", "matched", "notified", "applied", "placed")
        )
    ]
    assert published == expected

    await page.goto(base_url + "/dashboard")
    assert await page.get_by_role("heading", level=1).inner_text() == "Insights of aarhus"
    await page.screenshot(path=str(screenshots / "regions-launched-aarhus.png"), full_page=True)
    await context.close()


def test_sigterm_stops_every_region_and_leaves_no_process(regions: Regions) -> None:
    pids = [
        pid
        for name in REGIONS
        for pid in (
            *(s["pid"] for s in regions.run_file(name)["services"].values()),
            regions.run_file(name)["mail_sink"]["pid"],
            regions.run_file(name)["broker"]["pid"],
            regions.run_file(name)["fork_server_pid"],
        )
    ]

    regions.process.send_signal(signal.SIGTERM)

    assert regions.process.wait(60) == 0, regions.log()
    assert "stopped" in regions.log()
    assert not any((regions.var_dir / name / "run.json").exists() for name in REGIONS)
    deadline = time.monotonic() + 10
    while any(is_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if is_alive(pid)]
