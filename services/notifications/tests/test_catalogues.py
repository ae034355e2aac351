"""The catalogues: every word of every page and message translated, and gaps found."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from interlocality.notifications.catalogues import (
    CATALOGUES,
    LOCALES,
    catalogue_gaps,
    language,
    translated_environment,
)


def test_every_locale_translates_every_word_of_the_pages_and_messages() -> None:
    assert catalogue_gaps() == {locale: [] for locale in ("da", "de", "nl", "fi", "it")}


def test_the_gaps_are_the_missing_fuzzy_and_unused_words(tmp_path: Path) -> None:
    for locale in LOCALES[1:]:
        shutil.copy(CATALOGUES / f"{locale}.po", tmp_path)
    with (tmp_path / "fi.po").open("rb") as file:
        finnish = read_po(file, locale="fi")
    del finnish["Venue"]
    finnish["Table %(table)s"].flags.add("fuzzy")
    finnish.get("Why it matches", context="digest").string = ""  # type: ignore[union-attr]
    finnish.add("A word no template uses", "Sana, jota mikään pohja ei käytä")
    with (tmp_path / "fi.po").open("wb") as file:
        write_po(file, finnish)

    gaps = catalogue_gaps(tmp_path)

    assert gaps["fi"] == [
        "Table %(table)s",
        "Venue",
        "Why it matches (msgctxt digest)",
        "A word no template uses",
    ]
    assert all(not gaps[locale] for locale in ("da", "de", "nl", "it"))


def test_a_word_is_text_escaped_where_the_template_escapes(tmp_path: Path) -> None:
    (tmp_path / "t.jinja").write_text(
        '{{ _("Unsubscribe with one click") }}|'
        '{% autoescape true %}{{ _("Unsubscribe with one click") }}{% endautoescape %}'
    )
    environment = translated_environment(tmp_path, "it", autoescape=False)

    assert environment.get_template("t.jinja").render() == (
        "Annulla l'iscrizione con un clic|Annulla l&#39;iscrizione con un clic"
    )


def test_only_the_language_of_a_locale_counts() -> None:
    assert [language(tag) for tag in ("de-AT", "de_AT", " DE ", "fi")] == ["de", "de", "de", "fi"]
