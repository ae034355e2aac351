"""Names as a keyboard without their letters writes them: for comparing names that people
type in different ways, and for plain ASCII file names."""

from __future__ import annotations

import unicodedata

__all__ = ["plain_letters"]

# Letters of the regions' languages that Unicode does not decompose into a base letter and
# a mark.
_LETTERS = str.maketrans(
    {
        "Æ": "AE",
        "æ": "ae",
        "Ø": "O",
        "ø": "o",
        "Œ": "OE",
        "œ": "oe",
        "ß": "ss",
        "ı": "i",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Ð": "D",
        "ð": "d",
        "Þ": "Th",
        "þ": "th",
    }
)


def plain_letters(text: str) -> str:
    """``text`` without accents, and with the letters Unicode does not decompose written as
    people write them without those letters: "Ærø Café" is "AEro Cafe", "Yılmaz" is
    "Yilmaz". Every other character stays."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
