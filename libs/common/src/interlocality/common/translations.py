"""Pages and messages in people's languages: a Jinja environment speaking one locale
through a Babel catalogue, and the browser's preferred language among those offered.

Every service that shows people words lays them out once, in Jinja templates whose words
are gettext messages in English, translated in ``<catalogues>/<locale>.po``, read and
compiled with Babel when first needed. A message a catalogue does not translate (missing,
empty or fuzzy) reads in English.

A word is text, like every other value: where a template autoescapes, a word is escaped
too, so a translator's apostrophe or ampersand cannot break the markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import escape

__all__ = [
    "ENGLISH",
    "language",
    "preferred_language",
    "read_catalogue",
    "translated_environment",
    "translations_of",
]

ENGLISH = "en"  # the templates' own language: it has no catalogue


def language(locale: str) -> str:
    """The language of ``locale``: ``de`` for ``de-AT``, ``de_AT`` or `` DE ``."""
    return re.split(r"[-_]", locale.strip(), maxsplit=1)[0].lower()


def preferred_language(accept_language: str | None, offered: Sequence[str], fallback: str) -> str:
    """The language of ``offered`` the browser prefers most (``Accept-Language``, weights
    and order as sent), or ``fallback`` when it accepts none of them."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, parameters = part.partition(";")
        spoken = language(tag)
        quality = re.fullmatch(r"\s*q=([01](?:\.\d{0,3})?)\s*", parameters)
        weight = float(quality.group(1)) if quality else 1.0
        if spoken in offered and weight > 0:
            ranked.append((-weight, position, spoken))
    return min(ranked)[2] if ranked else fallback


def translated_environment(
    templates: Path, locale: str, catalogues: Path, *, autoescape: bool
) -> Environment:
    """A Jinja environment for the templates in ``templates``, speaking ``locale`` through
    ``_``, ``gettext``, ``ngettext`` and ``pgettext`` (newstyle: ``_("Hi %(name)s", name=…)``)
    with the catalogue ``catalogues/<locale>.po``; English needs none.

    One environment per locale: installing translations on a shared one is not thread-safe.
    """
    environment = Environment(
        loader=FileSystemLoader(templates),
        autoescape=autoescape,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.policies["ext.i18n.trimmed"] = True
    translations = translations_of(locale, catalogues)
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_as_text(translations.gettext),
        ngettext=_as_text(translations.ngettext),
        pgettext=_as_text(translations.pgettext),
        newstyle=True,
    )
    return environment


def read_catalogue(locale: str, catalogues: Path) -> Catalog:
    """The catalogue ``catalogues/<locale>.po`` as Babel reads it."""
    with (catalogues / f"{locale}.po").open("rb") as file:
        return read_po(file, locale=locale)


def _as_text(translate: Callable[..., str]) -> Callable[..., str]:
    @pass_eval_context
    def words(eval_context: EvalContext, *args: Any) -> str:
        text = translate(*args)
        return escape(text) if eval_context.autoescape else text

    return words


@cache
def translations_of(locale: str, catalogues: Path) -> NullTranslations:
    """The translations of ``catalogues/<locale>.po`` (compiled once), for words a
    program says itself; English, or a locale without a catalogue, reads as written."""
    if locale == ENGLISH or not (catalogues / f"{locale}.po").is_file():
        return NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, read_catalogue(locale, catalogues))  # fuzzy entries are left out
    compiled.seek(0)
    return Translations(compiled)
