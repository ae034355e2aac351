"""The partner regions side by side: three partners' snapshots (counts chosen so every share
and gap is known, some withheld) arrive on a federation cluster of the test's own, and the
page is read in a real browser (Chromium), in JSON, as CSV, in Danish and for a month only
one partner has published."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from interlocality.analytics.app import create_app
from interlocality.analytics.comparison import compare
from interlocality.analytics.dashboard_regions import REGION_CHARTS
from interlocality.analytics.federation import BudgetView
from interlocality.common.access import Role
from interlocality.common.embedded_broker import EmbeddedBroker
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.testing import publish, served, trusting_tests_issuer, wait_until
from interlocality.common.topics_admin import ensure_topics
from interlocality.contracts.federation import (
    PrivacyParameters,
    RegionAggregates,
    RegionSnapshot,
    SnapshotCell,
    SnapshotTable,
    SuppressedCell,
)

from .test_dashboard import (
    DESKTOP,
    PHONE,
    VIEWPORTS,
    opened,
    shown_values,
    signed_in_to,
    table,
)

ISCED = "http://data.europa.eu/esco/isced-f/"
ICT, BUSINESS, ENGINEERING = ISCED + "06", ISCED + "04", ISCED + "07"
Cell = tuple[dict[str, str], str, int | None]  # coordinates, measure, count (None: withheld)


def snapshot(
    region: str, period: str, spent: float, tables: dict[str, tuple[tuple[str, ...], list[Cell]]]
) -> RegionSnapshot:
    """A partner's snapshot with exactly these counts, as its analytics released them."""
    built, withheld = [], []
    for name, (dimensions, cells) in tables.items():
        rows = []
        for where, measure, count in cells:
            coordinates = tuple({"name": k, "value": v} for k, v in where.items())
            total = set(where) != set(dimensions)
            rows.append(
                SnapshotCell.model_validate(
                    {
                        "dimensions": coordinates,
                        "measure": measure,
                        "total": total,
                        "count": count,
                        "suppressed": None if count is not None else "primary",
                    }
                )
            )
            if count is None:
                withheld.append(
                    SuppressedCell.model_validate(
                        {
                            "table": name,
                            "dimensions": coordinates,
                            "measure": measure,
                            "total": total,
                            "reason": "primary",
                        }
                    )
                )
        built.append(
            SnapshotTable.model_validate(
                {"name": name, "dimensions": dimensions, "sensitivity": 2, "cells": rows}
            )
        )
    produced = datetime(int(period[:4]), int(period[5:]), 28, 12, tzinfo=UTC)
    aggregates = RegionAggregates(
        region=region,
        period=period,
        produced_at=produced,
        privacy=PrivacyParameters(
            k=5,
            epsilon=4.0,
            mechanism="discrete_laplace",
            noise_scale=8.5,
            sensitivity=34,
            budget_year=produced.year,
            yearly_epsilon=96.0,
            epsilon_spent=spent,
        ),
        tables=tuple(built),
        suppressed=tuple(withheld),
    )
    return RegionSnapshot(
        source=f"/interlocality/{region}/analytics", region=region, subject=region, data=aggregates
    )


def groups(companies: dict[str, int | None], students: dict[str, int | None]) -> list[Cell]:
    return [({"skill_group": g}, "companies", n) for g, n in companies.items()] + [
        ({"skill_group": g}, "students", n) for g, n in students.items()
    ]


def partners() -> list[RegionSnapshot]:
    """Aarhus: companies ask ICT 20, business 10, engineering withheld; students hold ICT 50,
    business 100, engineering 50 — ICT's share of demand 66.7 % against 25 % of supply
    (+41.7 points). Leipzig: ICT 10 / 100, business withheld / 60, engineering 30 / 40 —
    engineering 75 % against 20 % (+55). Limburg, small: most counts withheld."""
    return [
        snapshot(
            "aarhus",
            "2026-10",
            4.0,
            {"study_fields": (("isced_field",), [({}, "students", 180)])},
        ),
        snapshot(
            "aarhus",
            "2026-11",
            8.0,
            {
                "skill_groups": (
                    ("skill_group",),
                    groups(
                        {ICT: 20, BUSINESS: 10, ENGINEERING: None},
                        {ICT: 50, BUSINESS: 100, ENGINEERING: 50},
                    ),
                ),
                "languages": (
                    ("language", "cefr_level"),
                    [
                        ({"language": "da", "cefr_level": "B2"}, "companies", 8),
                        ({"language": "en", "cefr_level": "B2"}, "companies", 12),
                        ({"language": "da", "cefr_level": "B2"}, "students", 30),
                        ({"language": "da", "cefr_level": "A2"}, "students", 10),
                        ({"language": "en", "cefr_level": "C1"}, "students", 150),
                    ],
                ),
                "study_fields": (("isced_field",), [({}, "students", 200)]),
                "funnel": (
                    ("engagement_kind", "funnel_step"),
                    [
                        (
                            {"engagement_kind": "internship", "funnel_step": "published"},
                            "companies",
                            10,
                        ),
                        (
                            {"engagement_kind": "internship", "funnel_step": "matched"},
                            "companies",
                            8,
                        ),
                        ({"engagement_kind": "thesis", "funnel_step": "published"}, "companies", 5),
                        ({"engagement_kind": "thesis", "funnel_step": "placed"}, "companies", None),
                    ],
                ),
                "employability": (
                    ("graduation_semester", "outcome"),
                    [
                        (
                            {"graduation_semester": "2025-spring", "outcome": "employed_in_region"},
                            "graduates",
                            20,
                        ),
                        (
                            {"graduation_semester": "2025-spring", "outcome": "employed_elsewhere"},
                            "graduates",
                            10,
                        ),
                        (
                            {"graduation_semester": "2025-autumn", "outcome": "employed_in_region"},
                            "graduates",
                            10,
                        ),
                        ({}, "graduates", 45),
                    ],
                ),
            },
        ),
        snapshot(
            "leipzig",
            "2026-11",
            4.0,
            {
                "skill_groups": (
                    ("skill_group",),
                    groups(
                        {ICT: 10, BUSINESS: None, ENGINEERING: 30},
                        {ICT: 100, BUSINESS: 60, ENGINEERING: 40},
                    ),
                ),
                "study_fields": (("isced_field",), [({}, "students", 300)]),
            },
        ),
        snapshot(
            "limburg",
            "2026-11",
            12.0,
            {
                "skill_groups": (
                    ("skill_group",),
                    groups({ICT: None}, {ICT: 12, BUSINESS: None}),
                ),
                "study_fields": (("isced_field",), [({}, "students", None)]),
            },
        ),
    ]


def test_shares_gaps_and_withheld_counts_follow_the_snapshots() -> None:
    held: dict[str, list[RegionAggregates]] = {}
    for event in sorted(partners(), key=lambda e: e.data.period, reverse=True):
        held.setdefault(event.region, []).append(event.data)
    budgets = {r: BudgetView.of(s[0].privacy) for r, s in held.items()}
    seen = compare(held, budgets, lambda uri: uri.rsplit("/", 1)[-1])

    gaps = {(g.region, g.label): (g.demand_share, g.supply_share, g.gap) for g in seen.skill_groups}
    assert gaps[("aarhus", "06")] == (66.7, 25.0, 41.7)
    assert gaps[("aarhus", "04")] == (33.3, 50.0, -16.7)
    assert gaps[("aarhus", "07")] == (None, 25.0, None)  # the companies' count is withheld
    assert gaps[("leipzig", "07")] == (75.0, 20.0, 55.0)
    assert [g.label for g in seen.skill_groups if g.region == "aarhus"] == ["06", "04", "07"]
    assert {(r.region, r.language): (r.companies, r.students) for r in seen.languages} == {
        ("aarhus", "da"): (8, 30),  # A2 is not enough to work in: not counted
        ("aarhus", "en"): (12, 150),
    }
    [aarhus_funnel, *_] = seen.funnel
    assert (aarhus_funnel.published, aarhus_funnel.matched, aarhus_funnel.placed) == (15, 8, None)
    assert [(p.region, p.month, p.students) for p in seen.trend] == [
        ("aarhus", "2026-10", 180),
        ("aarhus", "2026-11", 200),
        ("leipzig", "2026-11", 300),
        ("limburg", "2026-11", None),
    ]
    [aarhus_outcomes, *_] = seen.employability
    assert (aarhus_outcomes.employed_in_region, aarhus_outcomes.in_region_share) == (30, 66.7)
    assert [(r.region, r.suppressed, r.budget.spent) for r in seen.regions] == [
        ("aarhus", 2, 8.0),
        ("leipzig", 1, 4.0),
        ("limburg", 3, 12.0),
    ]

    october = compare(held, budgets, str, month="2026-10")
    assert [r.region for r in october.regions] == ["aarhus"]
    assert october.missing == ["leipzig", "limburg"]
    assert [(p.month, p.students) for p in october.trend] == [("2026-10", 180)]


@dataclass
class Site:
    base_url: str
    region: str
    issuer: DevelopmentIssuer

    def get(self, path: str, **params: str) -> httpx.Response:
        """``path`` as a program asks for it, with the region's operator's token."""
        token = self.issuer.token(region=self.region, roles=[Role.OPERATOR])
        return httpx.get(
            self.base_url + path,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )


@pytest.fixture
def site(
    service_settings: Callable[..., Any],
    kafka_bootstrap: str,
    region: str,
    tmp_path: Path,
    browser_issuer: DevelopmentIssuer,
) -> Iterator[Site]:
    """Analytics of this test's region on a federation cluster of its own, every partner's
    snapshot read from there."""
    with EmbeddedBroker(log_path=tmp_path / "federation.log") as federation:
        shared = federation.bootstrap_servers
        asyncio.run(ensure_topics(kafka_bootstrap, region, federation_bootstrap_servers=shared))
        asyncio.run(publish(shared, partners()))  # the federation topic, as partners' relays do
        settings = service_settings(
            "analytics",
            work_rules="dk",
            federation_bootstrap_servers=shared,
            **trusting_tests_issuer(browser_issuer),
        )
        with served(create_app(settings)) as base_url:
            site = Site(base_url, region, browser_issuer)
            wait_until(
                lambda: (
                    {"aarhus", "leipzig", "limburg"}
                    <= {r["region"] for r in site.get("/v1/federation/compare").json()["regions"]}
                )
            )
            yield site


async def heat_row(page: Page, label_start: str) -> dict[str, str]:
    """The values of the heat map's row whose label starts with ``label_start``, by region."""
    rows = page.locator("#skill-groups svg g.cell")
    found = {}
    for cell in await rows.all():
        title = await cell.locator("title").text_content() or ""
        if title.startswith(label_start):
            text = cell.locator("text")
            found[await text.get_attribute("data-column") or ""] = await text.text_content() or ""
    return found


async def test_the_partner_regions_page_shows_their_numbers_on_a_laptop_and_a_phone(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    comparison = site.get("/v1/federation/compare").json()
    assert [r["region"] for r in comparison["regions"]][:3] == ["aarhus", "leipzig", "limburg"]
    for name, viewport in VIEWPORTS:
        page = await opened(chromium, viewport)
        response = await signed_in_to(page, site.base_url + "/dashboard/regions")
        assert response.status == 200
        await page.screenshot(
            path=str(screenshots / f"regions-dashboard-{name}.png"), full_page=True
        )
        assert await page.get_by_role("heading", level=1).inner_text() == (
            "Partner regions side by side"
        )
        headings = await page.get_by_role("heading", level=2).all_inner_texts()
        assert len(headings) == len(REGION_CHARTS)

        budget = await table(page, "privacy")
        assert budget[0][:2] == ["Region", "Month"]
        assert [row[0] for row in budget[1:4]] == ["Aarhus", "Leipzig", "Limburg"]
        assert budget[1][-2:] == ["8", "96"]  # ε spent of the yearly ε, as aarhus states it
        spent = await shown_values(page, "privacy")
        assert spent["ε spent"][:3] == ["8", "4", "12"]

        shortages = await shown_values(page, "shortages")
        assert shortages["Share of demand (%)"][:2] == ["66.7", "75"]
        assert shortages["Share of supply (%)"][:2] == ["25", "20"]
        labels = await page.locator("#shortages svg text.label").all_text_contents()
        assert labels[0].startswith("Aarhus: information and communication")

        ict = await heat_row(page, "information and communication")
        assert (ict["Aarhus"], ict["Leipzig"], ict["Limburg"]) == ("+41.7", "-25", "–")
        engineering = await heat_row(page, "engineering")
        assert (engineering["Aarhus"], engineering["Leipzig"]) == ("–", "+55")

        assert await shown_values(page, "languages") == {
            "Companies requiring it": ["12", "8"],
            "Students at B1 or better": ["150", "30"],
        }
        funnel = await shown_values(page, "funnel")
        assert {series: values[0] for series, values in funnel.items()} == {
            "Published": "15",
            "Matched": "8",
            "Notified": "–",
            "Applied": "–",
            "Placed": "–",
        }
        trend_points = await page.locator("#trend circle title").all_text_contents()
        assert "Oct 26 — Aarhus: 180" in trend_points and "Nov 26 — Leipzig: 300" in trend_points
        outcomes = await table(page, "employability")
        assert outcomes[1] == ["Aarhus", "30", "10", "–", "–", "66.7"]
        if name == "phone":
            for chart in REGION_CHARTS:
                await page.locator(f"#{chart}").screenshot(
                    path=str(screenshots / f"regions-dashboard-phone-{chart}.png")
                )
            widths = await page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1] == PHONE["width"], widths
        await page.context.close()

    page = await opened(chromium, DESKTOP, locale="da-DK")  # a Danish browser reads Danish
    await signed_in_to(page, site.base_url + "/dashboard/regions")
    assert await page.locator("html").get_attribute("lang") == "da"
    assert await page.get_by_role("heading", level=1).inner_text() == "Partnerregioner side om side"
    await page.screenshot(path=str(screenshots / "regions-dashboard-da.png"), full_page=True)
    await page.context.close()


async def test_a_chart_downloads_as_csv_and_a_month_shows_who_published_it(
    chromium: Browser, site: Site
) -> None:
    page = await opened(chromium, DESKTOP)
    await signed_in_to(page, site.base_url + "/dashboard/regions", "Iñaki Yılmaz")
    async with page.expect_download() as started:
        await page.locator("#skill-groups a[download]").click()
    download = await started.value
    assert download.suggested_filename == "regions-skill-groups-latest.csv"
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    rows = {(r["region"], r["group_uri"]): r for r in csv.DictReader(io.StringIO(text))}
    assert (rows["aarhus", ICT]["gap"], rows["leipzig", ENGINEERING]["gap"]) == ("41.7", "55.0")
    assert rows["aarhus", ENGINEERING]["companies"] == ""  # withheld: empty, never 0

    await page.goto(site.base_url + "/dashboard/regions?month=2026-10")
    note = await page.locator("header .headline").inner_text()
    assert note.startswith("No snapshot of Oct 2026 has arrived from: Leipzig, Limburg")
    assert await shown_values(page, "trend") == {"Aarhus": ["180"]}
    link = await page.locator("#trend a[download]").get_attribute("href")
    assert link == "/dashboard/regions/trend.csv?month=2026-10"
    await page.context.close()

    bad = site.get("/dashboard/regions", month="2026-13")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "query.month"
    unknown = site.get("/dashboard/regions/nothing.csv")
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "path.chart"
