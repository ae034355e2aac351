"""The messages a recipient reads: every locale and kind, escaping, fallback, time zones."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from interlocality.notifications.catalogues import CATALOGUES
from interlocality.notifications.messages import (
    KINDS,
    LOCALES,
    AgendaLine,
    Links,
    Opportunity,
    RenderedMessage,
    SkillLine,
    Templates,
    render_agenda,
    render_digest,
    render_match,
    translation_gaps,
)

LINKS = Links(
    preferences_url="https://interlocality.example/preferences?token=p-123&region=aarhus",
    unsubscribe_url="https://interlocality.example/unsubscribe?token=u-456",
)
ZONE = "Europe/Copenhagen"
# 5 December 2025, as each locale writes a long date.
DEADLINE = {
    "en": "5 December 2025",
    "da": "5. december 2025",
    "de": "5. Dezember 2025",
    "nl": "5 december 2025",
    "fi": "5. joulukuuta 2025",
    "it": "5 dicembre 2025",
}
INTERNSHIP = {
    "en": "Internship",
    "da": "Praktikophold",
    "de": "Praktikum",
    "nl": "Stage",
    "fi": "Harjoittelu",
    "it": "Tirocinio",
}
CAUTION = "You may work at most 20 hours a week during the semester."


def opportunity(**changes: Any) -> Opportunity:
    base = Opportunity(
        vacancy_id="v-1",
        title="Data engineering intern",
        company_name="Kattegat Analytics ApS",
        kind="internship",
        location="Aarhus",
        remote="hybrid",
        deadline=date(2025, 12, 5),
        start_date=date(2026, 2, 1),
        score=0.82,
        matched=(SkillLine("SQL", None, "exact"), SkillLine("Python", "Java", "sibling")),
        missing=("Docker",),
        cautions=(CAUTION,),
    )
    return replace(base, **changes)


def slot(
    hour: int, minute: int, table: int, name: str, day: date = date(2026, 1, 15)
) -> AgendaLine:
    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    return AgendaLine(start, start + timedelta(minutes=20), table, name)


def bodies(message: RenderedMessage) -> dict[str, str]:
    """The text and the HTML as a reader sees it (entities decoded)."""
    return {"text": message.text, "html": unescape(message.html)}


@pytest.mark.parametrize("locale", LOCALES)
def test_a_match_says_what_why_what_is_missing_and_by_when_in_every_locale(locale: str) -> None:
    message = render_match(locale, "Ana", opportunity(), LINKS, ZONE)

    assert message.locale == locale
    assert "Data engineering intern" in message.subject
    for name, body in bodies(message).items():
        for expected in (
            "Ana",
            "Data engineering intern",
            "Kattegat Analytics ApS",
            INTERNSHIP[locale],
            "Aarhus",
            "SQL",
            "Python (",
            "Java",
            "Docker",
            DEADLINE[locale],
            CAUTION,
            LINKS.preferences_url,
            LINKS.unsubscribe_url,
        ):
            assert expected in body, f"{locale} {name} lacks {expected!r}"
        assert re.search(r"82\s?%", body), f"{locale} {name} lacks the score"
        assert "internship" not in body, f"{locale} {name} shows the kind untranslated"


@pytest.mark.parametrize("locale", LOCALES)
def test_a_digest_lists_each_item_compactly_and_counts_the_rest_in_every_locale(
    locale: str,
) -> None:
    items = [
        opportunity(),
        opportunity(
            vacancy_id="v-2",
            title="Thesis on battery logistics",
            company_name="Volt Nord A/S",
            kind="thesis",
            score=0.61,
            matched=(SkillLine("Supply chain management", None, "exact"),),
            missing=("SAP ERP",),
            cautions=(),
        ),
    ]
    daily = render_digest(locale, "Ana", "daily", items, LINKS, ZONE)
    weekly = render_digest(locale, "Ana", "weekly", items, LINKS, ZONE, more=3)

    assert daily.locale == weekly.locale == locale
    assert daily.subject != weekly.subject
    for name, body in bodies(weekly).items():
        for expected in (
            "Data engineering intern",
            "Kattegat Analytics ApS",
            "Thesis on battery logistics",
            "Volt Nord A/S",
            "Supply chain management",
            "Python (",
            "SAP ERP",
            "Docker",
            DEADLINE[locale],
            LINKS.preferences_url,
            LINKS.unsubscribe_url,
        ):
            assert expected in body, f"{locale} {name} lacks {expected!r}"
        assert re.search(r"61\s?%", body), f"{locale} {name} lacks the score"
    more_lines = set(weekly.text.splitlines()) - set(daily.text.splitlines())
    assert any("3" in line for line in more_lines), f"{locale} does not say '3 more'"
    assert "5" in weekly.subject  # 2 shown + 3 more


@pytest.mark.parametrize("locale", LOCALES)
def test_an_agenda_lists_each_meeting_in_every_locale(locale: str) -> None:
    slots = [slot(9, 0, 3, "Kattegat Analytics ApS"), slot(8, 30, 7, "Volt Nord A/S")]
    student = render_agenda(locale, "Ana", "Company Dating Aarhus", "Navitas", slots, ZONE, LINKS)
    company = render_agenda(
        locale, "Kattegat Analytics ApS", "Company Dating Aarhus", None, slots, ZONE, None
    )
    empty = render_agenda(locale, "Ana", "Company Dating Aarhus", "Navitas", [], ZONE, LINKS)

    assert student.locale == locale
    for name, body in bodies(student).items():
        for expected in (
            "Company Dating Aarhus",
            "Navitas",
            "Kattegat Analytics ApS",
            "Volt Nord A/S",
            "2026",
            LINKS.unsubscribe_url,
        ):
            assert expected in body, f"{locale} {name} lacks {expected!r}"
        assert re.search(r"\b3\b", body) and re.search(r"\b7\b", body), f"{locale} {name}"
        assert re.search(r"0?9[.:]30", body) and re.search(r"10[.:]00", body), f"{locale} {name}"
        # In order of time: the 9:30 meeting at table 7 before the 10:00 one at table 3.
        assert body.index("Volt Nord A/S") < body.index("Kattegat Analytics ApS")
    for body in bodies(company).values():
        assert "Volt Nord A/S" in body
        assert LINKS.unsubscribe_url not in body and LINKS.preferences_url not in body
    assert "Company Dating Aarhus" in empty.text
    assert "Kattegat" not in empty.text and "2026" not in empty.text


def test_the_agenda_mentions_the_attached_calendar_file() -> None:
    message = render_agenda("en", "Ana", "Company Dating", None, [slot(9, 0, 1, "X")], ZONE, None)

    assert "attached calendar file" in message.text
    assert "attached calendar file" in message.html


def test_a_related_skill_is_named_as_such_and_a_missing_deadline_is_said() -> None:
    text = render_match("en", "Ana", opportunity(deadline=None), LINKS, ZONE).text

    assert "- Python (you have: Java, a related skill)" in text
    assert "- SQL\n" in text
    assert "Application deadline: none set" in text


def test_html_escapes_what_others_wrote_and_text_keeps_it_verbatim() -> None:
    hostile = '<script>alert("x")</script> & more'
    match = render_match(
        "de",
        "<b>Ana</b>",
        opportunity(title=hostile, company_name="<i>Evil</i> ApS", missing=("<img src=x>",)),
        LINKS,
        ZONE,
    )
    agenda = render_agenda(
        "de", "Ana", hostile, "<u>Hall</u>", [slot(9, 0, 1, hostile)], ZONE, None
    )
    digest = render_digest(
        "nl",
        "Ana",
        "daily",
        [opportunity(title=hostile, company_name=hostile, location=hostile)],
        LINKS,
        ZONE,
    )

    for message in (match, agenda, digest):
        assert "<script>" not in message.html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in message.html
        assert hostile in message.text
    assert "<b>Ana</b>" not in match.html and "&lt;b&gt;Ana&lt;/b&gt;" in match.html
    assert "&lt;i&gt;Evil&lt;/i&gt; ApS" in match.html
    assert "&lt;img src=x&gt;" in match.html
    assert "<img src=x>" in match.text
    assert hostile in match.subject
    assert 'href="https://interlocality.example/preferences?token=p-123&amp;region=aarhus"' in (
        match.html
    )


def test_what_is_not_known_is_left_out_rather_than_shown_empty() -> None:
    unknown = opportunity(company_name="", kind="", location="", remote=None, start_date=None)

    match = render_match("en", "Ana", unknown, LINKS, ZONE)
    digest = render_digest("en", "Ana", "daily", [unknown], LINKS, ZONE)

    assert match.subject == "New match: Data engineering intern"
    assert "Company:" not in match.text and "Type:" not in match.text
    assert "Location:" not in match.text
    assert "Start: to be agreed" in match.text
    assert "1. Data engineering intern\n   " in digest.text  # no empty line of facts


def test_the_subject_is_a_single_line_whatever_the_title_holds() -> None:
    title = "Intern\r\nBcc: everyone@example.com\n"
    with_title = [
        render_match("en", "Ana", opportunity(title=title), LINKS, ZONE),
        render_agenda("it", "Ana", title, None, [], ZONE, None),
    ]
    digest = render_digest("fi", "Ana", "daily", [opportunity(title=title)], LINKS, ZONE)

    for message in [*with_title, digest]:
        assert message.subject
        assert "\n" not in message.subject and "\r" not in message.subject
    for message in with_title:
        assert "Intern Bcc: everyone@example.com" in message.subject


@pytest.mark.parametrize(
    ("zone", "when", "local", "not_shown"),
    [
        ("Europe/Copenhagen", date(2026, 1, 15), "10:00–10:20", "09:00"),
        ("Europe/Copenhagen", date(2026, 7, 15), "11:00–11:20", "09:00"),
        ("Europe/Helsinki", date(2026, 1, 15), "11:00–11:20", "09:00"),
        ("UTC", date(2026, 1, 15), "09:00–09:20", "10:00"),
    ],
)
def test_agenda_times_are_shown_in_the_given_time_zone(
    zone: str, when: date, local: str, not_shown: str
) -> None:
    message = render_agenda(
        "en", "Ana", "Company Dating", None, [slot(9, 0, 4, "X", when)], zone, None
    )

    assert local in message.text and local in message.html
    assert not_shown not in message.text


def test_an_agenda_slot_falls_on_its_local_day() -> None:
    late = slot(23, 30, 2, "Nightowl ApS")  # 15 January UTC, already the 16th in Copenhagen

    de = render_agenda("de", "Ana", "Company Dating", None, [late], ZONE, None)
    da = render_agenda("da", "Ana", "Company Dating", None, [late], ZONE, None)

    assert "Freitag, 16. Januar 2026" in de.text
    assert "00:30–00:50 Uhr" in de.text
    assert "Fredag den 16. januar 2026" in da.text
    assert "00.30–00.50" in da.text


def test_naive_agenda_times_and_unknown_frequencies_are_refused() -> None:
    naive = AgendaLine(datetime(2026, 1, 15, 9), datetime(2026, 1, 15, 9, 20), 1, "X")

    with pytest.raises(ValueError, match="timezone-aware"):
        render_agenda("en", "Ana", "Company Dating", None, [naive], ZONE, None)
    with pytest.raises(ValueError, match="frequency"):
        render_digest("en", "Ana", "hourly", [opportunity()], LINKS, ZONE)


def test_the_shipped_catalogues_translate_every_word_of_every_kind() -> None:
    gaps = translation_gaps()

    assert not gaps, "words missing for: " + ", ".join(f"{loc}/{kind}" for loc, kind in gaps)


@pytest.fixture
def partial_catalogues(tmp_path: Path) -> Path:
    """Only a German catalogue, and it lacks "Application deadline"."""
    with (CATALOGUES / "de.po").open("rb") as file:
        german = read_po(file, locale="de")
    del german["Application deadline"]
    with (tmp_path / "de.po").open("wb") as file:
        write_po(file, german)
    return tmp_path


def test_a_word_the_catalogue_lacks_reads_in_english(partial_catalogues: Path) -> None:
    templates = Templates(partial_catalogues)

    match = templates.render_match("de", "Ana", opportunity(), LINKS, ZONE)
    digest = templates.render_digest("de", "Ana", "daily", [opportunity()], LINKS, ZONE)

    for message in (match, digest):
        assert message.locale == "de"
        assert "Praktikum" in message.text and "Praktikum" in message.html
        assert "Application deadline" in message.text and "Application deadline" in message.html
        assert "Bewerbungsfrist" not in message.text
        assert DEADLINE["de"] in message.text  # dates still as the locale writes them
    assert "Application deadline: 5. Dezember 2025\n" in match.text


def test_a_new_locale_is_a_catalogue(tmp_path: Path) -> None:
    swedish = Catalog(locale="sv")
    swedish.add("Hi %(name)s,", "Hej %(name)s,")
    swedish.add("Internship", "Praktik")
    swedish.add(
        ("%(num)s new match", "%(num)s new matches"),
        ("%(num)s ny matchning", "%(num)s nya matchningar"),
    )
    with (tmp_path / "sv.po").open("wb") as file:
        write_po(file, swedish)
    templates = Templates(tmp_path)

    match = templates.render_match("sv-SE", "Åsa Lindqvist", opportunity(), LINKS, ZONE)
    one = templates.render_digest("sv", "Åsa", "daily", [opportunity()], LINKS, ZONE)
    three = templates.render_digest("sv", "Åsa", "daily", [opportunity()], LINKS, ZONE, more=2)

    assert match.locale == "sv" and '<html lang="sv">' in match.html
    assert match.text.startswith("Hej Åsa Lindqvist,\n")
    assert "Praktik" in match.text and "5 december 2025" in match.text
    assert "Application deadline" in match.text  # not translated: English
    assert one.subject == "Your daily digest: 1 ny matchning"
    assert three.subject == "Your daily digest: 3 nya matchningar"
    assert translation_gaps(tmp_path)  # the shipped locales have no catalogue here


def test_an_unknown_locale_falls_back_to_english_and_a_region_is_ignored() -> None:
    unknown = render_match("xx", "Ana", opportunity(), LINKS, ZONE)
    regional = render_match("de-AT", "Ana", opportunity(), LINKS, ZONE)

    assert unknown.locale == "en" and DEADLINE["en"] in unknown.text
    assert regional.locale == "de" and DEADLINE["de"] in regional.text


def test_translation_gaps_lists_the_kinds_with_a_word_in_english(
    partial_catalogues: Path,
) -> None:
    expected = sorted(
        [(locale, kind) for locale in LOCALES if locale not in ("en", "de") for kind in KINDS]
        + [("de", "digest"), ("de", "match")]
    )

    assert translation_gaps(partial_catalogues) == expected


# The golden recordings: every message in every locale, as in ``golden/messages/<locale>.txt``;
# the HTML only in English, as its layout is the same in every locale. They are reviewed like
# code: a change to a template or a catalogue shows as a diff of what readers get. After a
# deliberate change, rewrite them with ``UPDATE_GOLDEN=1 pytest
# services/notifications/tests/test_messages.py`` and read the diff before committing it.

GOLDEN = Path(__file__).parent / "golden" / "messages"
# Every line of the templates: known and unknown kinds and relations, a closed vacancy,
# a missing company, start, deadline and skills, and markup in what others wrote.
FULL = Opportunity(
    vacancy_id="v-1",
    title="R&D intern <data>",
    company_name="Østergaard & Muñoz ApS",
    kind="internship",
    location="Århus",
    remote="hybrid",
    deadline=date(2025, 12, 5),
    start_date=date(2026, 2, 1),
    score=0.825,
    matched=(
        SkillLine("SQL", None, "exact"),
        SkillLine("Python", "Java", "sibling"),
        SkillLine("Machine learning", "Deep learning", "narrower"),
        SkillLine("Databases", "PostgreSQL", "broader"),
        SkillLine("Go", "Rust", "cousin"),
    ),
    missing=("Docker", "Kubernetes"),
    cautions=("You may work at most 20 hours a week during the semester.",),
)
SPARSE = Opportunity(
    vacancy_id="v-2",
    title="Thesis on İzmir's ports",
    company_name="",
    kind="apprenticeship",
    location="",
    remote="remote",
    deadline=None,
    start_date=None,
    score=0.5,
    matched=(),
    missing=(),
    available=False,
)
ON_SITE = Opportunity(
    vacancy_id="v-3",
    title="Student job in logistics",
    company_name="Volt Nord A/S",
    kind="student_job",
    location="Vaasa",
    remote="on_site",
    deadline=date(2026, 3, 31),
    start_date=None,
    score=0.61,
    matched=(SkillLine("Supply chain management", None, "exact"),),
    missing=("SAP ERP",),
)
# The kinds the other cases do not show, each as its own vacancy.
OTHER_KINDS = [
    replace(ON_SITE, vacancy_id=f"v-{kind}", kind=kind, title=title)
    for kind, title in [
        ("thesis", "Thesis"),
        ("graduate_job", "Graduate job"),
        ("company_project", "Company project"),
    ]
]


def meeting(day: int, hour: int, minute: int, table: int, name: str) -> AgendaLine:
    start = datetime(2026, 3, day, hour, minute, tzinfo=UTC)
    return AgendaLine(start, start + timedelta(minutes=20), table, name)


SLOTS = [
    meeting(30, 9, 0, 3, "Kattegat Analytics ApS"),
    meeting(28, 8, 30, 7, "Åsa Lindqvist & Co <AB>"),  # in winter time, the 30th in summer time
    meeting(30, 8, 30, 1, "Volt Nord A/S"),
]


def golden_cases(locale: str) -> list[tuple[str, RenderedMessage]]:
    """What each case renders in ``locale``, by name."""
    return [
        (
            "match, everything known",
            render_match(locale, "Søren Østergaard", FULL, LINKS, "Europe/Copenhagen"),
        ),
        (
            "match, closed and little known",
            render_match(locale, "Begoña Muñoz", SPARSE, LINKS, "Europe/Rome"),
        ),
        (
            "daily digest of one",
            render_digest(locale, "Elif Yılmaz", "daily", [FULL], LINKS, "Europe/Berlin"),
        ),
        (
            "weekly digest, one more",
            render_digest(
                locale,
                "Åsa Lindqvist",
                "weekly",
                [SPARSE, ON_SITE],
                LINKS,
                "Europe/Helsinki",
                more=1,
            ),
        ),
        (
            "daily digest, more left out",
            render_digest(
                locale, "Søren Østergaard", "daily", OTHER_KINDS, LINKS, "Europe/Amsterdam", more=4
            ),
        ),
        (
            "agenda to a student",
            render_agenda(
                locale,
                "Elif Yılmaz",
                "Company Dating Århus",
                "Navitas, Inge Lehmanns Gade 10",
                SLOTS,
                "Europe/Copenhagen",
                LINKS,
            ),
        ),
        (
            "agenda to a company contact",
            render_agenda(
                locale,
                "Begoña Muñoz",
                "Company Dating Vaasa",
                None,
                SLOTS[:1],
                "Europe/Helsinki",
                None,
            ),
        ),
        (
            "agenda without meetings",
            render_agenda(
                locale,
                "Åsa Lindqvist",
                "Company Dating Århus",
                "Navitas",
                [],
                "Europe/Copenhagen",
                LINKS,
            ),
        ),
    ]


def golden_recording(locale: str) -> str:
    parts = []
    for name, message in golden_cases(locale):
        html = f"----- html\n{message.html}" if locale == "en" else ""
        parts.append(
            f"##### {name} ({message.locale})\n"
            f"Subject: {message.subject}\n"
            f"----- text\n{message.text}{html}"
        )
    return "\n".join(parts)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_reads_as_recorded(locale: str) -> None:
    golden = GOLDEN / f"{locale}.txt"
    actual = golden_recording(locale)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")
