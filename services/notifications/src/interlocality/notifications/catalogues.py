"""The words of all a student or a company contact reads, one catalogue per locale.

Pages and messages are laid out once, in ``templates/pages`` and ``templates/messages``;
their words are gettext messages, English in the templates and translated in
``templates/locales/<locale>.po``, read and compiled with Babel when first needed. One
catalogue per locale serves pages and messages alike: a new locale is one file, and a
translator sees in it every word its readers meet. A message the catalogue does not
translate (missing, empty or fuzzy) reads in English; :func:`catalogue_gaps` lists them.
Names of weekdays, months, languages, cities and times come from Babel (CLDR).

A word is text, like every other value: where a template autoescapes, a word is escaped
too, so a translator's apostrophe or ampersand cannot break the markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from jinja2 import Environment, meta

from interlocality.common.translations import language, read_catalogue
from interlocality.common.translations import translated_environment as common_environment

__all__ = [
    "BABEL_LOCALES",
    "CATALOGUES",
    "FALLBACK_LOCALE",
    "LOCALES",
    "TEMPLATES",
    "babel_locale",
    "catalogue_gaps",
    "language",
    "translated_environment",
    "untranslated",
]

# The locales a student can choose; a catalogue in CATALOGUES is all another one needs here.
LOCALES = ("en", "da", "de", "nl", "fi", "it")
FALLBACK_LOCALE = "en"  # the templates' own language: it has no catalogue
TEMPLATES = Path(__file__).parent / "templates"
CATALOGUES = TEMPLATES / "locales"
# English goes to readers in Europe: "5 December 2025" and a 24-hour clock.
BABEL_LOCALES: Mapping[str, str] = {"en": "en_GB"}

Message = tuple[str | None, str]  # (context, id), the id of a plural being its singular


def babel_locale(locale: str) -> str:
    """The Babel locale that formats dates, times and numbers for ``locale``."""
    return BABEL_LOCALES.get(locale, locale)


def translated_environment(
    templates: Path, locale: str, catalogues: Path = CATALOGUES, *, autoescape: bool
) -> Environment:
    """A Jinja environment for the templates in ``templates`` speaking ``locale`` with the
    catalogues of notifications (the machinery is common to every service's pages)."""
    return common_environment(templates, locale, catalogues, autoescape=autoescape)


def untranslated(templates: Iterable[Path], locale: str, catalogues: Path = CATALOGUES) -> set[str]:
    """The messages of ``templates`` (and the templates they use) that ``locale`` reads in
    English: everything when it has no catalogue in ``catalogues``."""
    if locale == FALLBACK_LOCALE:
        return set()
    used = _used(templates)
    if not (catalogues / f"{locale}.po").is_file():
        return {_named(message) for message in used}
    return {_named(message) for message in used - _translated(read_catalogue(locale, catalogues))}


def catalogue_gaps(catalogues: Path = CATALOGUES) -> dict[str, list[str]]:
    """Per locale, the messages of the templates its catalogue does not translate (missing,
    empty or fuzzy), then the ones it translates that no template uses any more."""
    used = _used(TEMPLATES.rglob("*.jinja"))
    gaps: dict[str, list[str]] = {}
    for locale in LOCALES:
        if locale == FALLBACK_LOCALE:
            continue
        translated = _translated(read_catalogue(locale, catalogues))
        gaps[locale] = [_named(m) for m in sorted(used - translated, key=_named)] + [
            _named(m) for m in sorted(translated - used, key=_named)
        ]
    return gaps


def _translated(catalogue: Catalog) -> set[Message]:
    def first(text: str | Sequence[str]) -> str:
        return text if isinstance(text, str) else text[0]  # a plural's singular

    def done(text: str | Sequence[str] | None) -> bool:
        return bool(text) if isinstance(text, str) or text is None else all(text)

    return {(m.context, first(m.id)) for m in catalogue if m.id and done(m.string) and not m.fuzzy}


def _used(templates: Iterable[Path]) -> set[Message]:
    """The messages of ``templates`` and of the templates they import or extend."""
    parser = Environment(extensions=["jinja2.ext.i18n"])
    used: set[Message] = set()
    pending, seen = list(templates), set()
    while pending:
        template = pending.pop()
        if template in seen:
            continue
        seen.add(template)
        source = template.read_text(encoding="utf-8")
        referenced = meta.find_referenced_templates(parser.parse(source))
        pending.extend(template.parent / name for name in referenced if name)
        for _, message, _, context in extract(
            "jinja2.ext:babel_extract",
            BytesIO(source.encode("utf-8")),
            options={"trimmed": "true"},
        ):
            used.add((context, message[0] if isinstance(message, tuple) else message))
    return used


def _named(message: Message) -> str:
    context, text = message
    return f"{text} (msgctxt {context})" if context else text
