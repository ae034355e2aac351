"""The API documentation every service serves, read in Chromium with no internet."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from playwright.async_api import Browser, Route

from interlocality.common.access import OPERATOR, allow
from interlocality.common.service import ServiceRuntime, create_service_app
from interlocality.common.settings import ServiceSettings, load_settings
from interlocality.common.testing import served, trusting_tests_issuer
from interlocality.common.topics_admin import ensure_topics

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


async def test_docs_work_without_internet(
    chromium: Browser, kafka_bootstrap: str, region: str, tmp_path: Path, screenshots: Path
) -> None:
    await ensure_topics(kafka_bootstrap, region)
    settings = load_settings(
        ServiceSettings,
        service="analytics",
        region=region,
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=f"sqlite:///{tmp_path / 'docs.db'}",
        log_format="console",
        **trusting_tests_issuer(),
    )
    router = APIRouter(prefix="/v1", dependencies=[allow(OPERATOR)])

    @router.get("/regions/{name}/summary", summary="Events counted in Århus and Tromsø")
    def summary(name: str) -> dict[str, str]:
        return {"region": name}

    app = create_service_app(
        ServiceRuntime(settings, []), [router], title="Interlocality docs", description="Docs."
    )
    refused: list[str] = []

    async def only_this_machine(route: Route) -> None:
        # The region may be air-gapped: anything beyond this machine is refused, as there.
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    with served(app) as base_url:
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = await chromium.new_context(viewport=viewport)  # type: ignore[arg-type]
            await context.route("**/*", only_this_machine)
            page = await context.new_page()
            await page.goto(f"{base_url}/docs")
            operation = page.locator(".opblock-summary", has_text="/v1/regions/{name}/summary")
            await operation.wait_for(timeout=15_000)
            assert "Events counted in Århus and Tromsø" in await operation.inner_text()
            assert await page.locator(".opblock-summary", has_text="/healthz").count() == 1
            await page.screenshot(path=screenshots / f"docs-{name}.png")
            assert refused == []

            await page.goto(f"{base_url}/redoc")
            heading = page.get_by_role("heading", name="Events counted in Århus and Tromsø")
            await heading.wait_for(timeout=15_000)
            await page.screenshot(path=screenshots / f"redoc-{name}.png")
            # ReDoc's only outside request is the logo beside "API docs by Redocly": missing,
            # it leaves the words alone and nothing else.
            assert refused == ["https://cdn.redoc.ly/redoc/logo-mini.svg"]
            refused.clear()
            await context.close()
