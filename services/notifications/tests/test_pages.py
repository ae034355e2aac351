"""The pages a student opens from a message, read in a real browser (Chromium), against the
service on a real socket with a real broker; and the rules behind them, without one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Response

from interlocality.common.cloudevents import decode_event
from interlocality.common.testing import eventually, publish, read_topic, served, upserted
from interlocality.contracts.students import NotificationPreferences
from interlocality.contracts.topics import PREFERENCES
from interlocality.notifications.app import create_app
from interlocality.notifications.links import (
    PREFERENCES_LINK_LIFETIME,
    UNSUBSCRIBE_LINK_LIFETIME,
    LinkSigner,
)
from interlocality.notifications.pages import PreferencesForm, accepted_locale

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
VIEWPORTS = (("desktop", DESKTOP), ("phone", PHONE))
# A Dutch student's choices: a weekly digest on Fridays, by e-mail, matches from 60 %.
DUTCH = NotificationPreferences(
    frequency="weekly",
    channels=["email", "in_app"],
    locale="nl",
    time_zone="Europe/Amsterdam",
    min_score=0.6,
    digest_hour=8,
    digest_weekday="friday",
    digest_max_items=10,
)
RAW_VALUES = ("instant", "weekly", "friday", "in_app", "Europe/Amsterdam (", "0.6")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Pages only read and write one row: SQLite is enough (the stores are tested on both)."""
    return f"sqlite:///{tmp_path / 'notifications.db'}"


@dataclass
class Site:
    """The notifications service served on 127.0.0.1, and what makes its links."""

    base_url: str
    signer: LinkSigner
    bootstrap: str
    region: str

    def preferences_url(self, student_id: str, made_at: datetime | None = None) -> str:
        token = self.signer.token(student_id, "preferences", made_at)
        return f"{self.base_url}/v1/preferences?token={token}"

    def unsubscribe_url(self, student_id: str, made_at: datetime | None = None) -> str:
        token = self.signer.token(student_id, "unsubscribe", made_at)
        return f"{self.base_url}/v1/unsubscribe?token={token}"

    def stored_now(self, student_id: str) -> dict[str, Any] | None:
        answer = httpx.get(
            self.preferences_url(student_id), headers={"accept": "application/json"}, timeout=10
        )
        return answer.json() if answer.status_code == 200 else None

    async def stored(self, student_id: str) -> dict[str, Any] | None:
        """The student's preferences as the service applies them (JSON), once it holds them."""
        return await asyncio.to_thread(self.stored_now, student_id)

    async def get(self, url: str, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.get(url, headers=headers)

    async def student(
        self, student_id: str, name: str, preferences: NotificationPreferences
    ) -> None:
        await publish(
            self.bootstrap, [upserted(self.region, student_id, name=name, preferences=preferences)]
        )
        await eventually(lambda: self.stored_now(student_id))


@pytest.fixture
def site(
    service_settings: Callable[..., Any], kafka_bootstrap: str, region: str, tmp_path: Path
) -> Iterator[Site]:
    settings = service_settings(
        "notifications",
        deployment="embedded",
        signing_key="test-signing-key",
        public_url="http://notifications.test",
        var_dir=tmp_path / "var",
        delivery_poll_seconds=3600,
    )
    app = create_app(settings)
    with served(app) as base_url:
        yield Site(base_url, app.state.link_signer, kafka_bootstrap, region)


async def opened(chromium: Browser, viewport: dict[str, int], locale: str = "en-GB") -> Page:
    context: BrowserContext = await chromium.new_context(viewport=viewport, locale=locale)  # type: ignore[arg-type]
    return await context.new_page()


async def submitted(page: Page) -> Response:
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button").click()
    response = await answer.value
    await page.wait_for_load_state()
    return response


async def fits_a_phone(page: Page) -> None:
    """No sideways scrolling, and every control large enough to tap (44 px, WCAG 2.5.5)."""
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert max(widths[:2]) <= widths[2] == PHONE["width"], widths
    for control in await page.locator("label.choice, select, input[type=text], button").all():
        box = await control.bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] >= 0, (control, box)
        assert box["x"] + box["width"] <= PHONE["width"], (control, box)


async def test_a_dutch_student_reads_their_preferences_in_dutch_with_readable_values(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    await site.student("s-nl", "Zeynep Yıldız", DUTCH)
    for name, viewport in VIEWPORTS:
        page = await opened(chromium, viewport)  # an English browser: the student's language wins
        response = await page.goto(site.preferences_url("s-nl"))
        assert response is not None and response.status == 200
        assert await page.locator("html").get_attribute("lang") == "nl"
        assert await page.get_by_role("heading", level=1).inner_text() == "Je meldingen"
        assert "Hallo Zeynep Yıldız!" in await page.locator("main").inner_text()

        weekly = page.get_by_label("Eén keer per week, alle nieuwe matches samen")
        assert await weekly.is_checked()
        assert await page.get_by_label("Per e-mail").is_checked()
        assert not await page.get_by_label(
            "Via een webhook, naar je eigen app of dienst"
        ).is_checked()
        language = page.get_by_label("Taal van onze berichten")
        assert await language.locator("option:checked").inner_text() == "Nederlands"
        assert await language.locator("option").all_inner_texts() == [
            "English",
            "Dansk",
            "Deutsch",
            "Nederlands",
            "Suomi",
            "Italiano",
        ]
        day = page.get_by_label("Dag (één keer per week)")
        assert await day.locator("option:checked").inner_text() == "Vrijdag"
        assert await page.get_by_label("Tijdstip").locator("option:checked").inner_text() == "08:00"
        assert (
            await page.get_by_label(
                "Alleen matches met een overeenkomst van minstens"
            ).input_value()
            == "60"
        )
        assert await page.get_by_label("Tijdzone").input_value() == "Europe/Amsterdam"
        text = await page.locator("main").inner_text()
        assert not [raw for raw in RAW_VALUES if raw in text], text
        # fieldsets with legends group the choices
        assert await page.locator("fieldset > legend").all_inner_texts() == [
            "Hoe vaak",
            "Waar we het je laten weten",
            "Taal en tijdzone",
            "Stille uren",
            "Welke matches",
            "Overzicht",
        ]
        if name == "phone":
            await fits_a_phone(page)
        await page.screenshot(path=screenshots / f"preferences-{name}.png", full_page=True)
        await page.context.close()


async def test_a_bad_value_is_explained_in_dutch_at_its_field_and_what_was_typed_stays(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    await site.student("s-nl", "Zeynep Yıldız", DUTCH)
    for name, viewport in VIEWPORTS:
        page = await opened(chromium, viewport)
        await page.goto(site.preferences_url("s-nl"))
        await page.get_by_label("Eén keer per dag, alle nieuwe matches samen").check()
        await page.get_by_label("Met een melding in de app").uncheck()
        await page.get_by_label("Tijdzone").fill("Europa/Amsterdam")
        await page.get_by_label("Alleen matches met een overeenkomst van minstens").fill("150")
        await page.get_by_label("Van", exact=True).fill("22.00")
        response = await submitted(page)
        assert response.status == 422

        alert = await page.get_by_role("alert").inner_text()
        assert alert.startswith("Er is nog niets opgeslagen")
        zone = page.locator(".field", has=page.locator("#time_zone"))
        assert await zone.locator(".error").inner_text() == (
            "“Europa/Amsterdam” is geen tijdzone die we kennen. "
            "Kies er een uit de lijst, bijvoorbeeld Europe/Amsterdam."
        )
        share = page.locator(".field", has=page.locator("#min_score"))
        assert (
            await share.locator(".error").inner_text() == "Vul een getal van 0 tot en met 100 in."
        )
        assert await page.locator("#time_zone").get_attribute("aria-invalid") == "true"
        assert "time_zone-error" in (
            await page.locator("#time_zone").get_attribute("aria-describedby") or ""
        )
        assert await page.locator(".error").count() == 2
        # what was typed and chosen is still there, not what is stored
        assert await page.get_by_label("Tijdzone").input_value() == "Europa/Amsterdam"
        assert await page.locator("#min_score").input_value() == "150"
        assert await page.get_by_label("Van", exact=True).input_value() == "22.00"
        assert await page.get_by_label("Eén keer per dag, alle nieuwe matches samen").is_checked()
        assert not await page.get_by_label("Met een melding in de app").is_checked()
        text = await page.locator("main").inner_text()
        for machine_words in ("Value error", "Input should be", "IANA", "less than or equal"):
            assert machine_words not in text
        if name == "phone":
            await fits_a_phone(page)
        await page.screenshot(path=screenshots / f"preferences-error-{name}.png", full_page=True)
        await page.context.close()
    stored = await site.stored("s-nl")
    assert stored is not None and stored["preferences"] == DUTCH.model_dump()


async def test_a_valid_change_is_saved_and_announced(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    await site.student("s-nl", "Zeynep Yıldız", DUTCH)
    for name, viewport in VIEWPORTS:
        page = await opened(chromium, viewport)
        await page.goto(site.preferences_url("s-nl"))
        await page.get_by_label("Eén keer per dag, alle nieuwe matches samen").check()
        await page.get_by_label("Tijdzone").fill("Europe/Brussels")
        await page.get_by_label("Van", exact=True).fill("22.00")  # as Danes and Finns write it
        await page.get_by_label("Tot", exact=True).fill("0700")
        await page.get_by_label("Alleen matches met een overeenkomst van minstens").fill("72,5")
        await page.get_by_label("Tijdstip").select_option(label="18:00")
        response = await submitted(page)
        assert response.status == 200
        assert (await page.get_by_role("status").inner_text()).startswith("Opgeslagen.")
        assert await page.locator(".error").count() == 0
        assert await page.get_by_label("Van", exact=True).input_value() == "22:00"
        assert await page.locator("#min_score").input_value() == "72,5"
        if name == "phone":
            await fits_a_phone(page)
        await page.screenshot(path=screenshots / f"preferences-saved-{name}.png", full_page=True)
        await page.context.close()

    expected = DUTCH.model_copy(
        update={
            "frequency": "daily",
            "time_zone": "Europe/Brussels",
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:00",
            "min_score": 0.725,
            "digest_hour": 18,
        }
    )
    stored = await site.stored("s-nl")
    assert stored is not None and stored["preferences"] == expected.model_dump()
    records = await read_topic(site.bootstrap, PREFERENCES.name(site.region), 2, timeout=15)
    changes = [decode_event(PREFERENCES, r.headers, r.value) for r in records]
    assert [
        (c.data.student_id, c.data.preferences, c.data.notifications_consent) for c in changes
    ] == [("s-nl", expected, True)] * 2


async def test_a_link_that_does_not_work_shows_a_page_in_the_browsers_language(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    await site.student("s-nl", "Zeynep Yıldız", DUTCH)
    good = site.preferences_url("s-nl")
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    expired = site.preferences_url(
        "s-nl", made_at=datetime.now(UTC) - PREFERENCES_LINK_LIFETIME - timedelta(hours=1)
    )
    erased = site.preferences_url("s-who")
    long_ago = datetime.now(UTC) - UNSUBSCRIBE_LINK_LIFETIME - timedelta(hours=1)
    old_unsubscribe = site.unsubscribe_url("s-nl", made_at=long_ago)
    # (what, link, the browser's language, status, page language, heading)
    cases = (
        ("tampered", tampered, "de-DE", 400, "de", "Dieser Link funktioniert nicht"),
        ("expired", expired, "nl-BE", 400, "nl", "Deze link is verlopen"),
        ("unknown", erased, "pt-BR", 404, "en", "We hold no settings for you"),
        (
            "unsubscribe",
            site.unsubscribe_url("s-nl")[:-3] + "xyz",
            "fi-FI",
            400,
            "fi",
            "Tämä linkki ei toimi",
        ),
        ("unsubscribe expired", old_unsubscribe, "it-IT", 400, "it", "Questo link è scaduto"),
        # a preferences link where an unsubscribe link belongs: for another purpose
        (
            "purpose",
            good.replace("/v1/preferences?", "/v1/unsubscribe?"),
            "en-GB",
            400,
            "en",
            "This link does not work",
        ),
    )
    for case, url, browser_locale, status, lang, heading in cases:
        page = await opened(chromium, DESKTOP, locale=browser_locale)
        response = await page.goto(url)
        assert response is not None and response.status == status, case
        assert (await response.header_value("content-type") or "").startswith("text/html"), case
        assert await page.locator("html").get_attribute("lang") == lang, case
        assert await page.get_by_role("heading", level=1).inner_text() == heading, case
        if case == "expired":
            assert "90 dagen" in await page.locator("main").inner_text()
            await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
            await fits_a_phone(page)
            await page.screenshot(path=screenshots / "link-expired-phone.png", full_page=True)
        if case == "unsubscribe expired":  # its own lifetime, not the preferences link's
            text = await page.locator("main").inner_text()
            assert "vale 400 giorni dall'invio" in text and "90" not in text
        await page.context.close()

    # a program asking for JSON keeps getting JSON
    for url, status in ((tampered, 400), (expired, 400), (old_unsubscribe, 400), (erased, 404)):
        answer = await site.get(url, accept="application/json")
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["detail"]
    assert "expired" in (await site.get(expired)).json()["detail"]


async def test_unsubscribing_asks_first_and_answers_in_the_students_language(
    chromium: Browser, site: Site, screenshots: Path
) -> None:
    await site.student("s-it", "Lucía Ñúñez Ørsted", DUTCH.model_copy(update={"locale": "it"}))
    page = await opened(chromium, PHONE)
    response = await page.goto(site.unsubscribe_url("s-it"))
    assert response is not None and response.status == 200
    assert await page.get_by_role("heading", level=1).inner_text() == "Annullare l'iscrizione?"
    assert ((await site.stored("s-it")) or {}).get("subscribed") is True  # a GET changes nothing
    await fits_a_phone(page)
    await page.screenshot(path=screenshots / "unsubscribe-phone.png", full_page=True)

    assert (await submitted(page)).status == 200
    assert await page.get_by_role("heading", level=1).inner_text() == (
        "La tua iscrizione è stata annullata"
    )
    assert ((await site.stored("s-it")) or {}).get("subscribed") is False
    await fits_a_phone(page)
    await page.screenshot(path=screenshots / "unsubscribed-phone.png", full_page=True)

    await page.get_by_role("link", name="Iscriviti di nuovo").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", level=1).inner_text() == "Le tue notifiche"
    assert "Hai annullato l'iscrizione" in await page.locator(".info").inner_text()
    await page.context.close()


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("nl-NL,nl;q=0.9,en-US;q=0.8", "nl"),
        ("fr-CH, fr;q=0.9, it;q=0.7, de;q=0.8", "de"),
        ("en;q=0.1, fi", "fi"),
        ("da;q=0, sv", "en"),
        ("pt-BR", "en"),
        (None, "en"),
        ("", "en"),
    ],
)
def test_the_browsers_language_picks_the_page_locale(header: str | None, locale: str) -> None:
    assert accepted_locale(header) == locale


def test_the_form_reads_what_people_write() -> None:
    def form(**typed: str) -> PreferencesForm:
        base = PreferencesForm.of(DUTCH)
        return PreferencesForm(**{**base.__dict__, **typed})

    read, errors = form(quiet_hours_start="7", quiet_hours_end="22.30", min_score="57,5 %").read()
    assert errors == frozenset()
    assert read is not None
    assert (read.quiet_hours_start, read.quiet_hours_end, read.min_score) == (
        "07:00",
        "22:30",
        0.575,
    )
    assert form(quiet_hours_start="", quiet_hours_end="").read()[0] == DUTCH
    assert PreferencesForm.of(read).min_score == "57,5"  # as the Dutch write it

    for typed, wrong in (
        ({"min_score": "-5"}, {"min_score"}),
        ({"min_score": "101"}, {"min_score"}),
        ({"digest_max_items": "٣"}, {"digest_max_items"}),  # not a digit a form should take
        (
            {"digest_max_items": "0", "quiet_hours_end": "24:00"},
            {"digest_max_items", "quiet_hours_end"},
        ),
        ({"time_zone": "Mars/Olympus", "locale": "sv"}, {"time_zone", "locale"}),
        ({"channels": ("pigeon",), "frequency": "hourly"}, {"channels", "frequency"}),
    ):
        assert form(**typed).read() == (None, frozenset(wrong)), typed  # type: ignore[arg-type]


async def test_the_link_routes_document_a_bad_link_as_400_and_no_access_policy(
    site: Site,
) -> None:
    document = (await site.get(site.base_url + "/openapi.json")).json()
    for path, method in (
        ("/v1/preferences", "get"),
        ("/v1/preferences", "put"),
        ("/v1/preferences", "post"),
        ("/v1/unsubscribe", "get"),
        ("/v1/unsubscribe", "post"),
    ):
        responses = document["paths"][path][method]["responses"]
        assert "403" not in responses and "401" not in responses, (path, method)
        assert "expired" in responses["400"]["description"], (path, method)
        assert "no longer known" in responses["404"]["description"], (path, method)
    put = document["paths"]["/v1/preferences"]["put"]["responses"]
    assert "UTF-8" in put["400"]["description"]  # its body is read too
