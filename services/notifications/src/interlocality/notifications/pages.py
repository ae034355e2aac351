"""The pages a student opens from a message: their notification preferences, unsubscribing,
and what a link that does not work shows instead.

The markup is written once: ``templates/pages/layout.jinja`` and a template per page. The
words are gettext messages, English in the templates and translated in the locale's
catalogue, as for messages (:mod:`interlocality.notifications.catalogues`).

Every page is a phone-first single column with inline CSS and nothing fetched from
elsewhere (the region may have no internet).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from functools import cache
from typing import Any, Literal
from urllib.parse import parse_qs
from zoneinfo import available_timezones

from annotated_types import Ge, Le
from babel import Locale
from babel.dates import format_time, get_day_names, get_timezone_location
from babel.numbers import format_decimal
from jinja2 import Environment
from pydantic import ValidationError

from interlocality.common.translations import preferred_language
from interlocality.contracts.students import NotificationPreferences
from interlocality.notifications.catalogues import (
    FALLBACK_LOCALE,
    LOCALES,
    TEMPLATES,
    babel_locale,
    translated_environment,
)
from interlocality.notifications.domain import WEEKDAYS
from interlocality.notifications.links import LINK_LIFETIMES, Purpose

__all__ = [
    "PAGES",
    "LinkProblem",
    "PreferencesForm",
    "accepted_locale",
    "link_problem_page",
    "preferences_page",
    "unsubscribe_page",
    "unsubscribed_page",
    "wants_page",
]

PAGES = TEMPLATES / "pages"
LinkProblem = Literal["invalid", "expired", "unknown"]
_CLOCK = re.compile(r"(\d{1,2})(?:[:.,h]?(\d{2}))?")
_PERCENT = re.compile(r"(\d{1,3}(?:[.,]\d+)?)\s*%?")


@dataclass(frozen=True)
class PreferencesForm:
    """The preferences form as filled in: every field's text as typed, so that a page
    with errors shows it again. ``min_score`` is a percentage here."""

    frequency: str
    channels: tuple[str, ...]
    locale: str
    time_zone: str
    quiet_hours_start: str
    quiet_hours_end: str
    min_score: str
    digest_hour: str
    digest_weekday: str
    digest_max_items: str

    @classmethod
    def of(cls, preferences: NotificationPreferences) -> PreferencesForm:
        """The form showing ``preferences``, numbers written as their locale writes them."""
        percent = round(preferences.min_score * 100, 1)
        return cls(
            frequency=preferences.frequency,
            channels=tuple(preferences.channels),
            locale=preferences.locale,
            time_zone=preferences.time_zone,
            quiet_hours_start=preferences.quiet_hours_start or "",
            quiet_hours_end=preferences.quiet_hours_end or "",
            min_score=format_decimal(percent, locale=babel_locale(preferences.locale)),
            digest_hour=str(preferences.digest_hour),
            digest_weekday=preferences.digest_weekday,
            digest_max_items=str(preferences.digest_max_items),
        )

    @classmethod
    def parse(cls, body: bytes) -> PreferencesForm:
        """The form from the body the browser posted (``application/x-www-form-urlencoded``)."""
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

        def one(name: str) -> str:
            return fields.get(name, [""])[-1]

        return cls(
            frequency=one("frequency"),
            channels=tuple(fields.get("channels", [])),
            locale=one("locale"),
            time_zone=one("time_zone"),
            quiet_hours_start=one("quiet_hours_start"),
            quiet_hours_end=one("quiet_hours_end"),
            min_score=one("min_score"),
            digest_hour=one("digest_hour"),
            digest_weekday=one("digest_weekday"),
            digest_max_items=one("digest_max_items"),
        )

    def read(self) -> tuple[NotificationPreferences | None, frozenset[str]]:
        """The preferences the form says, or None and the names of the fields in error.

        Accepts what people write: ``60 %`` or ``57,5`` for a share, ``22.00`` or ``2200``
        for a time. The contract judges the rest.
        """
        errors: set[str] = set()
        values: dict[str, Any] = {
            "frequency": self.frequency,
            "channels": list(self.channels),
            "locale": self.locale,
            "time_zone": self.time_zone.strip(),
            "quiet_hours_start": _clock(self.quiet_hours_start),
            "quiet_hours_end": _clock(self.quiet_hours_end),
            "digest_weekday": self.digest_weekday,
        }
        for name, number in (
            ("min_score", _share(self.min_score)),
            ("digest_hour", _whole(self.digest_hour)),
            ("digest_max_items", _whole(self.digest_max_items)),
        ):
            if number is None:
                errors.add(name)  # left to its default, so the other fields are still judged
            else:
                values[name] = number
        try:
            preferences = NotificationPreferences.model_validate(values)
        except ValidationError as exc:
            errors.update(str(error["loc"][0]) for error in exc.errors() if error["loc"])
            return None, frozenset(errors)
        if errors:
            return None, frozenset(errors)
        return preferences, frozenset()


def preferences_page(
    locale: str,
    *,
    name: str,
    token: str,
    form: PreferencesForm,
    subscribed: bool,
    errors: frozenset[str] = frozenset(),
    saved: bool = False,
) -> str:
    """The preferences page of ``name`` in ``locale``, showing ``form`` with ``errors``
    marked at their fields, or saying it was ``saved``."""
    babel = babel_locale(locale)
    weekdays = get_day_names("wide", context="stand-alone", locale=babel)
    return _render(
        locale,
        "preferences.jinja",
        name=name,
        token=token,
        form=form,
        subscribed=subscribed,
        errors=errors,
        saved=saved,
        languages=[(code, _language_name(code)) for code in LOCALES],
        weekdays=[(day, _capitalised(weekdays[i])) for i, day in enumerate(WEEKDAYS)],
        hours=[(str(h), format_time(time(h), "short", locale=babel)) for h in range(24)],
        zones=_zones(babel),
        example_times=(
            format_time(time(22), "short", locale=babel),
            format_time(time(7), "short", locale=babel),
        ),
        bounds=_bounds(),
    )


def unsubscribe_page(locale: str, *, token: str, preferences_token: str) -> str:
    """Asks to confirm unsubscribing (a GET changes nothing: link scanners follow links)."""
    return _render(locale, "unsubscribe.jinja", token=token, preferences_token=preferences_token)


def unsubscribed_page(locale: str, *, preferences_token: str) -> str:
    """Says the student is unsubscribed, with the way back."""
    return _render(locale, "unsubscribed.jinja", preferences_token=preferences_token)


def link_problem_page(locale: str, problem: LinkProblem, purpose: Purpose) -> str:
    """What a person sees for a ``purpose`` link that is not valid, has expired, or names a
    student not known here."""
    return _render(
        locale,
        "link_problem.jinja",
        problem=problem,
        purpose=purpose,
        lifetime_days=LINK_LIFETIMES[purpose].days,
        unsubscribe_days=LINK_LIFETIMES["unsubscribe"].days,
    )


def wants_page(accept: str | None) -> bool:
    """Whether a request's ``Accept`` header asks for a page (a browser) rather than JSON."""
    return "text/html" in (accept or "")


def accepted_locale(accept_language: str | None) -> str:
    """The locale of the browser's most preferred language (``Accept-Language``) that the
    pages are written in; English when there is none."""
    return preferred_language(accept_language, LOCALES, FALLBACK_LOCALE)


def _render(locale: str, template: str, **values: Any) -> str:
    page_locale = locale if locale in LOCALES else FALLBACK_LOCALE
    return _environment(page_locale).get_template(template).render(locale=page_locale, **values)


@cache
def _environment(locale: str) -> Environment:
    return translated_environment(PAGES, locale, autoescape=True)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _language_name(code: str) -> str:
    """The language as its speakers name it: "Nederlands", "Suomi"."""
    return _capitalised(Locale.parse(code).get_display_name(code) or code)


@cache
def _zones(babel_locale: str) -> list[tuple[str, str]]:
    """European time zones, each with its city as the locale names it."""
    names = sorted(zone for zone in available_timezones() if zone.startswith("Europe/"))
    return [(zone, get_timezone_location(zone, babel_locale, return_city=True)) for zone in names]


@cache
def _bounds() -> Mapping[str, tuple[int, int]]:
    """The bounds the contract sets on the numbers of the form, as the form shows them."""
    fields = NotificationPreferences.model_fields

    def bounds(name: str, scale: int = 1) -> tuple[int, int]:
        lowest = next(m.ge for m in fields[name].metadata if isinstance(m, Ge))
        highest = next(m.le for m in fields[name].metadata if isinstance(m, Le))
        return int(lowest * scale), int(highest * scale)  # type: ignore[operator]

    return {"min_score": bounds("min_score", 100), "digest_max_items": bounds("digest_max_items")}


def _clock(text: str) -> str | None:
    """``HH:MM`` from what was typed (``7``, ``07:00``, ``22.00``, ``2200``); None for
    nothing; what was typed when it does not look like a time (the contract refuses it)."""
    typed = text.strip()
    if not typed:
        return None
    written = _CLOCK.fullmatch(typed)
    if written is None:
        return typed
    return f"{int(written.group(1)):02d}:{written.group(2) or '00'}"


def _share(text: str) -> float | None:
    written = _PERCENT.fullmatch(text.strip())
    return float(written.group(1).replace(",", ".")) / 100 if written else None


def _whole(text: str) -> int | None:
    typed = text.strip()
    return int(typed) if typed.isascii() and typed.isdigit() else None
