"""The messages a student or a company contact receives: a match, a digest, an agenda.

Each kind of message has one Jinja2 template, ``templates/messages/<kind>.jinja``, with
three blocks: ``subject`` (one line), ``text`` (plain text) and ``html`` (the HTML body; the
block turns autoescaping on for itself, so a title comes out escaped there and verbatim in
the text). Its words are English gettext messages, translated by the locale's catalogue
(see :mod:`interlocality.notifications.catalogues`): a locale without one writes in
English, and a word its catalogue lacks reads in English. Dates, times and percentages are
formatted by Babel in the locale used, so a message reads in one language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_interval, get_timezone_name
from babel.numbers import format_percent
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from interlocality.notifications.catalogues import (
    CATALOGUES,
    FALLBACK_LOCALE,
    LOCALES,
    TEMPLATES,
    babel_locale,
    language,
    translated_environment,
    untranslated,
)

__all__ = [
    "FREQUENCIES",
    "KINDS",
    "LOCALES",
    "MESSAGES",
    "TEMPLATES",
    "AgendaLine",
    "Links",
    "Opportunity",
    "RenderedMessage",
    "SkillLine",
    "Templates",
    "render_agenda",
    "render_digest",
    "render_match",
    "translation_gaps",
]

KINDS = ("match", "digest", "agenda")
FREQUENCIES = ("daily", "weekly")
MESSAGES = TEMPLATES / "messages"
BLOCKS = ("subject", "text", "html")


@dataclass(frozen=True)
class SkillLine:
    """One of the vacancy's skills the student covers, and through which of theirs."""

    label: str
    via_label: str | None  # the student's skill standing in for it, when not the same
    relation: str  # "exact" | "narrower" | "broader" | "sibling"


@dataclass(frozen=True)
class Opportunity:
    """A vacancy as a message presents it to a student."""

    vacancy_id: str
    title: str
    company_name: str
    kind: str
    location: str
    remote: str | None
    deadline: date | None
    start_date: date | None
    score: float
    matched: tuple[SkillLine, ...]
    missing: tuple[str, ...]
    cautions: tuple[str, ...] = ()
    available: bool = True


@dataclass(frozen=True)
class Links:
    """The signed links at the bottom of a student's message (no login needed)."""

    preferences_url: str
    unsubscribe_url: str


@dataclass(frozen=True)
class AgendaLine:
    """One meeting of a Company Dating agenda; times are timezone-aware."""

    starts_at: datetime
    ends_at: datetime
    table: int
    counterpart_name: str


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready to send, and the locale that wrote it (English when the reader's
    has no catalogue)."""

    subject: str
    text: str
    html: str
    locale: str


class Templates:
    """The message templates, in the words of the catalogues in ``catalogues``
    (``<locale>.po``; the shipped ones by default)."""

    def __init__(self, catalogues: Path = CATALOGUES) -> None:
        self.catalogues = catalogues

    def locale_for(self, locale: str) -> str:
        """The locale that writes for ``locale``: its language when there is a catalogue
        for it, else English. ``locale`` may carry a region (``de-AT``); only the language
        counts."""
        spoken = language(locale)
        if spoken.isalpha() and (self.catalogues / f"{spoken}.po").is_file():
            return spoken
        return FALLBACK_LOCALE

    def render_match(
        self,
        locale: str,
        recipient_name: str,
        opportunity: Opportunity,
        links: Links,
        time_zone: str,
    ) -> RenderedMessage:
        """A message about one new match."""
        ZoneInfo(time_zone)  # dates carry no time of day; still refuse an unknown zone
        return self._render(
            locale,
            "match",
            recipient_name=recipient_name,
            opportunity=opportunity,
            links=links,
        )

    def render_digest(
        self,
        locale: str,
        recipient_name: str,
        frequency: str,
        items: Sequence[Opportunity],
        links: Links,
        time_zone: str,
        more: int = 0,
    ) -> RenderedMessage:
        """A daily or weekly digest of ``items`` (best first), and ``more`` left out."""
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {FREQUENCIES}, not {frequency!r}")
        if more < 0:
            raise ValueError(f"more must not be negative, not {more}")
        ZoneInfo(time_zone)
        return self._render(
            locale,
            "digest",
            recipient_name=recipient_name,
            frequency=frequency,
            items=tuple(items),
            more=more,
            links=links,
        )

    def render_agenda(
        self,
        locale: str,
        recipient_name: str,
        event_name: str,
        venue: str | None,
        slots: Sequence[AgendaLine],
        time_zone: str,
        links: Links | None,
    ) -> RenderedMessage:
        """A Company Dating agenda in ``time_zone``; ``links`` is None for a company contact."""
        zone = ZoneInfo(time_zone)
        local = sorted(_in_zone(slots, zone), key=lambda s: (s.starts_at, s.table))
        days = [
            _AgendaDay(day, tuple(day_slots))
            for day, day_slots in groupby(local, key=lambda s: s.starts_at.date())
        ]
        return self._render(
            locale,
            "agenda",
            recipient_name=recipient_name,
            event_name=event_name,
            venue=venue,
            days=days,
            links=links,
        )

    def _render(self, locale: str, kind: str, **values: Any) -> RenderedMessage:
        used = self.locale_for(locale)
        template = _environment(used, self.catalogues).get_template(f"{kind}.jinja")
        context = template.new_context({"locale": used, **values})
        # What the blocks share is top-level {% set %}s, which only the whole template runs:
        # run it once into the context (discarding its output), then each block on its own.
        "".join(template.root_render_func(context))
        blocks = {name: "".join(template.blocks[name](context)) for name in BLOCKS}
        return RenderedMessage(
            subject=" ".join(blocks["subject"].split()),  # one line, whatever a title holds
            text=_tidy(blocks["text"]),
            html=blocks["html"].strip() + "\n",
            locale=used,
        )


def translation_gaps(directory: Path | None = None) -> list[tuple[str, str]]:
    """The ``(locale, kind)`` pairs where the catalogues in ``directory`` (default: shipped)
    leave a word of the kind in English."""
    catalogues = CATALOGUES if directory is None else directory
    return sorted(
        (locale, kind)
        for locale in LOCALES
        for kind in KINDS
        if untranslated([MESSAGES / f"{kind}.jinja"], locale, catalogues)
    )


def render_match(
    locale: str,
    recipient_name: str,
    opportunity: Opportunity,
    links: Links,
    time_zone: str,
) -> RenderedMessage:
    """A message about one new match, from the shipped templates."""
    return _shipped().render_match(locale, recipient_name, opportunity, links, time_zone)


def render_digest(
    locale: str,
    recipient_name: str,
    frequency: str,
    items: Sequence[Opportunity],
    links: Links,
    time_zone: str,
    more: int = 0,
) -> RenderedMessage:
    """A daily or weekly digest, from the shipped templates."""
    return _shipped().render_digest(
        locale, recipient_name, frequency, items, links, time_zone, more
    )


def render_agenda(
    locale: str,
    recipient_name: str,
    event_name: str,
    venue: str | None,
    slots: Sequence[AgendaLine],
    time_zone: str,
    links: Links | None,
) -> RenderedMessage:
    """A Company Dating agenda, from the shipped templates."""
    return _shipped().render_agenda(
        locale, recipient_name, event_name, venue, slots, time_zone, links
    )


@dataclass(frozen=True)
class _AgendaDay:
    day: date
    slots: tuple[AgendaLine, ...]


@cache
def _shipped() -> Templates:
    return Templates()


@cache
def _environment(locale: str, catalogues: Path) -> Environment:
    # autoescape off: the html block switches it on; text and subject stay verbatim
    environment = translated_environment(MESSAGES, locale, catalogues, autoescape=False)
    environment.filters.update(
        long_date=_long_date,
        day_heading=_day_heading,
        percent=_percent,
        time_range=_time_range,
        zone_name=_zone_name,
    )
    return environment


def _in_zone(slots: Iterable[AgendaLine], zone: ZoneInfo) -> Iterable[AgendaLine]:
    for slot in slots:
        if slot.starts_at.tzinfo is None or slot.ends_at.tzinfo is None:
            raise ValueError(f"agenda times must be timezone-aware: {slot}")
        yield replace(
            slot, starts_at=slot.starts_at.astimezone(zone), ends_at=slot.ends_at.astimezone(zone)
        )


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _babel_locale(context: Context) -> str:
    return babel_locale(context["locale"])


@pass_context
def _long_date(context: Context, value: date) -> str:
    return format_date(value, format="long", locale=_babel_locale(context))


@pass_context
def _day_heading(context: Context, value: date) -> str:
    """The full date with its first letter capitalised ("torsdag" starts a Danish heading)."""
    text = format_date(value, format="full", locale=_babel_locale(context))
    return text[:1].upper() + text[1:]


@pass_context
def _percent(context: Context, value: float) -> str:
    return format_percent(value, locale=_babel_locale(context))


@pass_context
def _time_range(context: Context, start: datetime, end: datetime) -> str:
    """``10:00–10:20`` in the wall time of ``start`` and ``end``, as the locale writes it."""
    return format_interval(start, end, skeleton="Hm", locale=_babel_locale(context))


@pass_context
def _zone_name(context: Context, value: datetime) -> str:
    """The name of the time zone of ``value`` at that moment (summer or standard time)."""
    return get_timezone_name(value, locale=_babel_locale(context))
