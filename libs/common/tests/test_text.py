"""Names written without their own letters."""

from __future__ import annotations

from interlocality.common.text import plain_letters


def test_names_lose_accents_and_write_letters_unicode_does_not_decompose() -> None:
    assert plain_letters("Ærø Café ApS") == "AEro Cafe ApS"
    assert plain_letters("Elif Yılmaz") == "Elif Yilmaz"
    assert plain_letters("Zoë Ðorđević") == "Zoe Dordevic"
    assert plain_letters("Jörg Weißenborn, Łódź") == "Jorg Weissenborn, Lodz"
    assert plain_letters("Þórunn Ñúñez") == "Thorunn Nunez"
    assert plain_letters("王芳") == "王芳"  # other scripts stay as they are
