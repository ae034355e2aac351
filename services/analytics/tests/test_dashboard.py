"""The region's dashboard, read in a real browser (Chromium) against analytics served on a
real socket, its database filled through the service layer; and over HTTP what an empty
region, a language or a CSV answer."""

from __future__ import annotations

import asyncio
import base64
import csv
import html
import io
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from babel.messages.extract import extract
from fastapi.testclient import TestClient
from playwright.async_api import Browser, Page, Response

from interlocality.analytics import dashboard as dashboard_module
from interlocality.analytics.app import create_app
from interlocality.analytics.dashboard import CATALOGUES, CHARTS
from interlocality.analytics.funnel import month_of
from interlocality.analytics.service import AnalyticsService, SupplyAndDemand
from interlocality.analytics.skills import SkillTaxonomy
from interlocality.common.access import SESSION_COOKIE, Role
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.service import ServiceRuntime
from interlocality.common.sign_in import FLOW_COOKIE
from interlocality.common.testing import served, signed_in, trusting_tests_issuer, wait_until
from interlocality.common.translations import read_catalogue
from interlocality.contracts.applications import ApplicationSubmitted, PlacementMade
from interlocality.contracts.envelope import CloudEvent

from .conftest import Skills, Snapshots, agenda, company, matched_at, notified, outcome, step
from .test_insights_service import apply

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
VIEWPORTS = (("desktop", DESKTOP), ("phone", PHONE))


def months_ago(months: int) -> datetime:
    """Noon on the 5th, ``months`` months before this one."""
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 5, 12, tzinfo=UTC)


def small_region(region: str, esco: Skills) -> list[CloudEvent[Any]]:
    """Two companies, three consenting students and one who refused, two vacancies asking
    for five positions, a placement, two Company Dating dates and three graduates.

    The shortages: Python asked for 3 positions (min. level 2), held by Søren and Begoña;
    welding 2 positions, held by Elif. Danish (B2) is required by the Python vacancy, and
    only Søren speaks it that well; the welding vacancy needs English only.
    """
    snapshots = Snapshots(region)
    now = datetime.now(UTC) - timedelta(minutes=5)
    return [
        company(region, "c-aero", "Ærø Søfart ApS", 12, sector="50.20"),
        company(region, "c-muller", "Müller & Søhne GmbH", 900, sector="62.01"),
        snapshots.student(
            "s-soren",
            "Søren Østergaard",
            months_ago(5),
            skills={esco.python: 3},
            languages={"da": "C1", "en": "C1"},
            study_field="0613",
        ),
        snapshots.student(
            "s-begona",
            "Begoña Muñoz",
            months_ago(2),
            skills={esco.python: 4, esco.project_management: 3},
            languages={"en": "C2", "da": "A2"},
            study_field="0613",
        ),
        snapshots.student(
            "s-elif",
            "Elif Yılmaz",
            now,
            skills={esco.welding: 3},
            languages={"en": "B2"},
            study_field="0715",
        ),
        snapshots.student("s-nadia", "Nadia Ñúñez", now, skills={esco.python: 5}, analytics=False),
        snapshots.vacancy(
            "v-python",
            months_ago(3),
            company_id="c-muller",
            required={esco.python: 2},
            languages={"da": ("B2", True)},
            positions=3,
        ),
        snapshots.vacancy(
            "v-welding",
            months_ago(1),
            company_id="c-aero",
            required={esco.welding: 2},
            languages={"en": ("B2", True)},
            positions=2,
        ),
        matched_at(region, "s-soren", "v-python", now),
        notified(region, "s-soren", "v-python"),
        agenda(region, "s-begona", [("c-aero", "Ærø Søfart ApS", now - timedelta(days=2))]),
        agenda(region, "s-soren", [("c-muller", "Müller & Søhne GmbH", now - timedelta(days=2))]),
        step(ApplicationSubmitted, region, "v-python", "internship", "s-soren", "c-muller", now),
        step(PlacementMade, region, "v-python", "internship", "s-soren", "c-muller", now),
        step(ApplicationSubmitted, region, "v-welding", "internship", "s-begona", "c-aero", now),
        outcome(region, "s-soren", date(2025, 6, 30), "employed_in_region", now),
        outcome(region, "s-begona", date(2025, 6, 15), "further_study", now),
        outcome(region, "s-elif", date(2025, 12, 19), "employed_elsewhere", now),
    ]


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """The page is read from PostgreSQL, as in production (the stores run on both)."""
    return postgres_url


@dataclass
class Site:
    """Analytics served on 127.0.0.1 over a region's data, trusting a served issuer."""

    base_url: str
    region: str
    issuer: DevelopmentIssuer

    def json(self, path: str) -> Any:
        token = self.issuer.token(region=self.region, roles=[Role.OPERATOR])
        answer = httpx.get(
            self.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def site(
    service_settings: Callable[..., Any],
    runtime: ServiceRuntime,
    supply: SupplyAndDemand,
    region: str,
    esco: Skills,
    browser_issuer: DevelopmentIssuer,
) -> Iterator[Site]:
    apply(runtime, AnalyticsService(supply), small_region(region, esco))
    settings = service_settings(
        "analytics", work_rules="dk", **trusting_tests_issuer(browser_issuer)
    )
    with served(create_app(settings)) as base_url:
        yield Site(base_url, region, browser_issuer)


async def opened(chromium: Browser, viewport: dict[str, int], locale: str = "en-GB") -> Page:
    context = await chromium.new_context(viewport=viewport, locale=locale, accept_downloads=True)  # type: ignore[arg-type]
    return await context.new_page()


async def signed_in_to(page: Page, url: str, account: str = "Åsa Ørsted") -> Response:
    """Open ``url`` and sign in at the development issuer's page as ``account``, as a person
    would; the answer to ``url`` once signed in."""
    await page.goto(url)
    assert await page.get_by_role("heading", level=1).inner_text() == "Development sign-in"
    async with page.expect_navigation(url=url) as arrived:
        await page.get_by_role("button", name=account).click()
    response = await arrived.value
    assert response is not None
    return response


async def shown_values(page: Page, chart: str) -> dict[str, list[str]]:
    """The values written beside the bars or lines of ``chart``, by series."""
    found: dict[str, list[str]] = {}
    for text in await page.locator(f"#{chart} svg text[data-series]").all():
        series = await text.get_attribute("data-series")
        found.setdefault(series or "", []).append(await text.text_content() or "")
    return found


async def table(page: Page, chart: str) -> list[list[str]]:
    """The chart's table, opened from the keyboard as a person would."""
    summary = page.locator(f"#{chart} summary")
    await summary.focus()
    await page.keyboard.press("Enter")
    rows = []
    for row in await page.locator(f"#{chart} table tr").all():
        rows.append([c.strip() for c in await row.locator("th, td").all_inner_texts()])
    return rows


async def test_the_regions_dashboard_shows_its_numbers_on_a_laptop_and_a_phone(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    skills = site.json("/v1/insights/skills?limit=8")["months"][-1]
    shortages = {r["label"]: (r["positions"], r["students"]) for r in skills["top_shortages"]}
    python = next(label for label in shortages if label.startswith("Python"))
    assert shortages[python] == (3, 2)  # Nadia refused analytics: she is not counted
    for name, viewport in VIEWPORTS:
        page = await opened(chromium, viewport)
        response = await signed_in_to(page, site.base_url + "/dashboard")
        assert response.status == 200
        path = screenshots / f"analytics-dashboard-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        if name == "phone":  # each chart as a phone shows it, to look at closely
            for chart in CHARTS:
                await page.locator(f"#{chart}").screenshot(
                    path=str(screenshots / f"analytics-dashboard-phone-{chart}.png")
                )
        assert await page.locator("html").get_attribute("lang") == "en"
        assert await page.get_by_role("heading", level=1).inner_text() == (
            f"Insights of {site.region}"
        )
        headings = await page.get_by_role("heading", level=2).all_inner_texts()
        assert len(headings) == len(CHARTS) and "Largest skill shortages" in headings
        for svg in await page.locator("svg.chart").all():
            assert await svg.get_attribute("role") == "img"
            title = await svg.locator("title").first.text_content()
            assert title and title in headings

        shortage_values = await shown_values(page, "skill-shortages")
        assert shortage_values == {
            "Open positions": [str(p) for p, _ in shortages.values()],
            "Students": [str(s) for _, s in shortages.values()],
        }
        description = await page.locator("#skill-shortages svg desc").text_content()
        assert f"{python}: Open positions 3, Students 2" in (description or "")
        rows = await table(page, "skill-shortages")
        assert rows[0] == [
            "Skill",
            "Open positions",
            "Vacancies",
            "Students",
            "Students with a related skill",
            "Positions per student",
            "Gap",
        ]
        assert [python, "3", "1", "2"] == rows[1 + list(shortages).index(python)][:4]

        # Søren speaks Danish at C1, Begoña at A2, Elif not at all
        assert await shown_values(page, "languages") == {
            "Vacancies requiring it": ["0", "0", "0", "1", "0", "0"],
            "Students at this level or better": ["2", "2", "1", "1", "1", "0"],
        }
        headline = await page.locator("#languages .headline").inner_text()
        assert headline.startswith("1 of 2 open vacancies (50%) need no language but English")
        assert await table(page, "languages") == [
            [
                "CEFR level",
                "Vacancies requiring it",
                "Open positions",
                "Students at this level or better",
            ],
            ["A1", "0", "0", "2"],
            ["A2", "0", "0", "2"],
            ["B1", "0", "0", "1"],
            ["B2", "1", "3", "1"],
            ["C1", "0", "0", "1"],
            ["C2", "0", "0", "0"],
        ]

        funnel = await shown_values(page, "funnel")
        assert {series: values[0] for series, values in funnel.items()} == {
            "Published": "2",
            "Matched": "1",
            "Notified": "1",
            "Applied": "2",
            "Placed": "1",
        }
        assert await shown_values(page, "company-dating") == {
            "Dates held": ["2"],
            "Followed by an application": ["2"],
            "Followed by a placement": ["1"],
        }
        employability = await table(page, "employability")
        assert employability[1:] == [
            ["Spring 2025", "2", "1", "0", "1", "0"],
            ["Autumn 2025", "1", "0", "1", "0", "0"],
        ]
        trend = await shown_values(page, "trend")
        assert trend == {"Open positions": ["5"], "Students": ["3"]}
        points = await page.locator("#trend circle title").all_text_contents()
        this_month = await page.locator("#trend table tbody tr").last.locator("th").text_content()
        assert this_month == datetime.now(UTC).strftime("%b %Y")
        assert len(points) == 24 and points[11].endswith("Open positions: 5")
        assert points[8].endswith("Open positions: 3")  # three months ago: Python's 3 only

        if name == "phone":
            widths = await page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1] == PHONE["width"], widths
        await page.context.close()

    page = await opened(chromium, PHONE, locale="da-DK")  # a Danish browser reads Danish
    await signed_in_to(page, site.base_url + "/dashboard")
    assert await page.locator("html").get_attribute("lang") == "da"
    assert await page.get_by_role("heading", level=1).inner_text() == f"Indsigt for {site.region}"
    assert await shown_values(page, "languages") == {
        "Stillinger, der kræver det": ["0", "0", "0", "1", "0", "0"],
        "Studerende på niveauet eller bedre": ["2", "2", "1", "1", "1", "0"],
    }
    assert "Forår 2025" in await page.locator("#employability svg").text_content() or ""
    await page.screenshot(
        path=str(screenshots / "analytics-dashboard-phone-da.png"), full_page=True
    )
    await page.locator("#languages").screenshot(
        path=str(screenshots / "analytics-dashboard-phone-da-languages.png")
    )
    await page.context.close()


async def test_a_charts_csv_downloads_with_a_readable_name_and_parses_back(
    chromium: Browser, site: Site
) -> None:
    page = await opened(chromium, DESKTOP)
    await signed_in_to(page, site.base_url + "/dashboard", "Iñaki Yılmaz")  # a coordinator
    async with page.expect_download() as started:
        await page.locator("#skill-shortages a[download]").click()
    download = await started.value
    month = month_of(datetime.now(UTC))
    assert download.suggested_filename == f"{site.region}-skill-shortages-{month}.csv"
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    json_rows = site.json("/v1/insights/skills?limit=8")["months"][-1]["top_shortages"]
    assert [
        (r["skill_uri"], r["label"], int(r["positions"]), int(r["students"])) for r in rows
    ] == [(r["skill_uri"], r["label"], r["positions"], r["students"]) for r in json_rows]
    json_link = await page.locator("#skill-shortages a", has_text="JSON").get_attribute("href")
    assert json_link == f"/v1/insights/skills?month={month}&limit=8"
    await page.context.close()


async def test_a_person_signs_in_at_the_issuer_and_a_student_is_told_the_page_is_not_theirs(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    dashboard = site.base_url + "/dashboard?lang=en"
    page = await opened(chromium, DESKTOP)
    await page.goto(dashboard)
    # sent to the development issuer, which says what it is and lists whom it signs in
    assert page.url.startswith(site.issuer.url + "/authorize?")
    await page.screenshot(path=str(screenshots / "sign-in-page.png"), full_page=True)
    assert await page.get_by_role("heading", level=1).inner_text() == "Development sign-in"
    assert "For development only" in await page.locator(".development").inner_text()
    assert await page.get_by_role("heading", level=2).all_inner_texts() == [f"Region {site.region}"]
    names = [n.split("\n")[0] for n in await page.locator("li button").all_inner_texts()]
    assert names == ["Åsa Ørsted", "Iñaki Yılmaz", "Begoña Muñoz", "Ærø Søfart ApS"]

    async with page.expect_navigation(url=dashboard) as arrived:
        await page.get_by_role("button", name="Åsa Ørsted").click()
    assert (await arrived.value).status == 200  # type: ignore[union-attr]
    await page.screenshot(path=str(screenshots / "signed-in-dashboard.png"), full_page=True)
    assert await page.get_by_role("heading", level=1).inner_text() == f"Insights of {site.region}"
    [session] = [c for c in await page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert (session["httpOnly"], session["sameSite"], session["secure"]) == (True, "Lax", False)
    # as long as the token lives: eight hours
    assert abs(session["expires"] - (time.time() + 8 * 3600)) < 120
    assert [c["name"] for c in await page.context.cookies()] == [SESSION_COOKIE]

    # the cookie opens the pages, their CSVs and the JSON they link to — reading only: a
    # change wants a token, whatever cookie rides along
    other = await page.request.get(site.base_url + "/dashboard/trend.csv")
    assert other.status == 200 and other.headers["content-type"].startswith("text/csv")
    linked = await page.request.get(site.base_url + "/v1/insights/skills")
    assert linked.status == 200 and (await linked.json())["region"] == site.region
    change = await page.request.post(site.base_url + "/v1/federation/snapshots", data={})
    assert change.status == 401 and "access token" in (await change.json())["detail"]

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{site.issuer.url}/authorize?**")
    assert SESSION_COOKIE not in [c["name"] for c in await page.context.cookies()]

    # a student signs in, and reads that the page is not for them (in a page, not JSON)
    async with page.expect_navigation(url=site.base_url + "/dashboard") as arrived:
        await page.get_by_role("button", name="Begoña Muñoz").click()
    assert (await arrived.value).status == 403  # type: ignore[union-attr]
    await page.screenshot(path=str(screenshots / "dashboard-refused.png"), full_page=True)
    assert await page.get_by_role("heading", level=1).inner_text() == (
        "This page is not for your account"
    )
    assert "student may not do this" in await page.locator("main").inner_text()
    await page.get_by_role("button", name="Sign in as someone else").click()
    await page.wait_for_url(f"{site.issuer.url}/authorize?**")
    await page.context.close()


def test_a_program_is_answered_401_and_a_browser_is_sent_to_sign_in(site: Site) -> None:
    program = httpx.get(site.base_url + "/dashboard", timeout=30)
    assert program.status_code == 401 and program.headers["www-authenticate"].startswith("Bearer")
    assert "access token" in program.json()["detail"]

    browser = httpx.get(
        site.base_url + "/dashboard/regions?month=2026-05",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
        timeout=30,
    )
    assert browser.status_code == 302
    where = urllib.parse.urlsplit(browser.headers["location"])
    assert f"{where.scheme}://{where.netloc}{where.path}" == site.issuer.url + "/authorize"
    asked = dict(urllib.parse.parse_qsl(where.query))
    assert asked["response_type"] == "code" and asked["client_id"] == "interlocality-dashboard"
    assert asked["redirect_uri"] == site.base_url + "/auth/callback"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    flow = browser.cookies[FLOW_COOKIE]
    assert "/dashboard/regions?month=2026-05" in base64.urlsafe_b64decode(flow).decode()
    set_cookie = browser.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "path=/auth/callback" in set_cookie

    # a code without the sign-in's cookie, or for another state, signs nobody in
    stray = httpx.get(
        site.base_url + "/auth/callback",
        params={"code": "c", "state": asked["state"]},
        headers={"Accept": "text/html"},
        timeout=30,
    )
    assert stray.status_code == 400 and "This sign-in has expired" in stray.text
    assert SESSION_COOKIE not in stray.cookies


@pytest.fixture
def client(service_settings: Callable[..., Any], runtime: ServiceRuntime) -> TestClient:
    """Analytics over a migrated, empty database of a Danish region; no consumer runs."""
    return signed_in(TestClient(create_app(service_settings("analytics", work_rules="dk"))))


def test_an_empty_region_shows_nothing_yet_in_every_chart(client: TestClient) -> None:
    answer = client.get("/dashboard", headers={"accept-language": "en"})
    assert answer.status_code == 200
    assert answer.text.count("Nothing yet") == len(CHARTS)
    assert "<svg" not in answer.text
    for chart in CHARTS:
        csv_answer = client.get(f"/dashboard/{chart}.csv")
        assert csv_answer.status_code == 200
        assert csv_answer.headers["content-type"] == "text/csv; charset=utf-8"
        header, *rows = list(csv.reader(io.StringIO(csv_answer.text)))
        assert header  # rows, if any, are CEFR levels or months, every count zero
        assert all(cell in ("0", "") for row in rows for cell in row[1:]), (chart, rows)


def test_the_page_speaks_the_regions_language_or_english_as_asked(client: TestClient) -> None:
    danish = client.get("/dashboard", headers={"accept-language": "da-DK,da;q=0.9,en;q=0.5"})
    assert danish.headers["content-language"] == "da"
    assert '<html lang="da">' in danish.text and "Største mangel på kompetencer" in danish.text
    english = client.get("/dashboard", params={"lang": "en"}, headers={"accept-language": "da"})
    assert english.headers["content-language"] == "en" and "Largest skill shortages" in english.text
    # a browser asking for neither reads the region's language
    assert (
        client.get("/dashboard", headers={"accept-language": "ja"}).headers["content-language"]
        == "da"
    )


def chart_titles(page: str) -> dict[str, str]:
    """The charts' headings of a page, by chart, as a person reads them."""
    found = re.findall(r'<h2 id="([\w-]+)-heading">(.*?)</h2>', page)
    return {chart: html.unescape(title) for chart, title in found}


@pytest.mark.parametrize(
    ("language", "title", "titles", "words"),
    [
        (
            "fi",
            "Alueen {region} tilannekuva",
            {
                "skill-shortages": "Taidot, joista on suurin pula",
                "skill-groups": "Kysyntä ja tarjonta taitoryhmittäin",
                "languages": "Paikkailmoitusten kielitaitovaatimus (suomi) ja kieltä puhuvat "
                "opiskelijat",
                "employability": "Valmistuneiden sijoittuminen valmistumislukukauden mukaan",
            },
            (
                '<th scope="row">Harjoittelu</th>',
                "Avoimet paikkailmoitukset, joissa ei vaadita muuta kieltä kuin englantia: "
                "1 / 2 (50\xa0%).",
                '<th scope="row">Kevät 2025</th>',
                "Näytä luvut taulukkona",
            ),
        ),
        (
            "it",
            "Panoramica della regione {region}",
            {
                "skill-shortages": "Maggiori carenze di competenze",
                "skill-groups": "Domanda e offerta per gruppo di competenze",
                "languages": "Annunci con requisito linguistico (italiano) e studenti che "
                "parlano la lingua",
                "employability": "Esiti dei laureati per semestre di laurea",
            },
            (
                '<th scope="row">Tirocinio</th>',
                "Annunci aperti senza requisiti linguistici oltre all'inglese: 1 su 2 (50%).",
                '<th scope="row">Primavera 2025</th>',
                "Mostra i dati in tabella",
            ),
        ),
    ],
)
def test_a_finnish_or_italian_region_reads_its_page_in_its_language(
    service_settings: Callable[..., Any],
    runtime: ServiceRuntime,
    taxonomy: SkillTaxonomy,
    region: str,
    esco: Skills,
    language: str,
    title: str,
    titles: dict[str, str],
    words: tuple[str, ...],
) -> None:
    supply = SupplyAndDemand(language, lambda: taxonomy)
    apply(runtime, AnalyticsService(supply), small_region(region, esco))
    # the shipped work rules of Finland and Italy give the region its language
    client = signed_in(TestClient(create_app(service_settings("analytics", work_rules=language))))

    page = client.get("/dashboard", params={"lang": language})
    assert page.status_code == 200 and page.headers["content-language"] == language
    assert f'<html lang="{language}">' in page.text
    assert re.findall("<h1>(.*?)</h1>", page.text) == [title.format(region=region)]
    shown = chart_titles(page.text)
    assert list(shown) == list(CHARTS)
    assert {chart: shown[chart] for chart in titles} == titles
    text = html.unescape(page.text)
    for word in words:
        assert word in text, word
    assert "Largest skill shortages" not in page.text

    # English and the region's language are offered, and a browser asking for neither
    # reads the region's
    english = client.get("/dashboard", params={"lang": "en"})
    assert "Largest skill shortages" in english.text
    assert (
        client.get("/dashboard", headers={"accept-language": "ja"}).headers["content-language"]
        == language
    )
    assert client.get("/dashboard", params={"lang": "da"}).status_code == 422


@pytest.mark.parametrize(
    ("path", "params", "field", "kind"),
    [
        ("/dashboard", {"lang": "fr"}, "query.lang", "unknown_language"),
        ("/dashboard/salaries.csv", {}, "path.chart", "literal_error"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    client: TestClient, path: str, params: dict[str, str], field: str, kind: str
) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert (problem["field"], problem["type"]) == (field, kind)
    assert problem["msg"]


def test_every_word_of_the_page_is_translated_in_each_catalogue_and_none_is_left_over() -> None:
    package = Path(dashboard_module.__file__).parent
    used: set[str] = set()
    for method, source in (
        ("jinja2.ext:babel_extract", package / "templates" / "dashboard.jinja"),
        ("python", package / "dashboard.py"),
        ("python", package / "dashboard_regions.py"),
    ):
        for _, message, _, _ in extract(
            method, io.BytesIO(source.read_bytes()), options={"trimmed": "true"}
        ):
            used.add(message if isinstance(message, str) else message[0])
    catalogues = sorted(CATALOGUES.glob("*.po"))
    assert [c.stem for c in catalogues] == ["da", "de", "fi", "it", "nl"]
    for path in catalogues:
        catalogue = read_catalogue(path.stem, CATALOGUES)
        translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
        assert translated == used, (path.name, used ^ translated)
        for message in catalogue:
            if message.id and "%(" in str(message.id):  # the same placeholders, translated
                assert sorted(re.findall(r"%\(\w+\)s", str(message.id))) == sorted(
                    re.findall(r"%\(\w+\)s", str(message.string))
                ), (path.name, message.id)


def test_the_pages_figures_are_counted_once_then_again_in_the_background_when_old() -> None:
    counted: list[str] = []
    release = threading.Event()

    def count(month: str) -> Any:
        counted.append(month)
        if len(counted) > 1:
            release.wait(10)  # a recount takes its time: the page is not held up by it
        return SimpleNamespace(month=month, counted_at=datetime.now(UTC), number=len(counted))

    figures = dashboard_module.RegionFigures(count, max_age=60)
    first = figures.of("2026-05")
    assert (first.number, figures.of("2026-05").number) == (1, 1)  # fresh: served again

    first.counted_at -= timedelta(minutes=2)  # now too old: served, and counted again
    assert figures.of("2026-05").number == 1
    assert figures.of("2026-05").number == 1  # one recount at a time
    release.set()

    def recounted() -> Any:
        held = figures.of("2026-05")
        return held if held.number == 2 else None

    assert wait_until(recounted) is not None and counted == ["2026-05", "2026-05"]
    always = dashboard_module.RegionFigures(count, max_age=0)
    assert always.of("2026-06").number == 3 and always.of("2026-06").number == 4
