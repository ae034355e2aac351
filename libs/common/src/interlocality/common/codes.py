"""Code lists the forms are checked against: ISO 639-1, ISO 3166-1, ISCED-F 2013, NACE Rev. 2.

Each is also an ``Annotated`` string type whose validator names the list, so a bad value is
a 422 on its field with a message a person understands.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, Field

from interlocality.contracts.common import (
    EMAIL_PATTERN,
    ESCO_SKILL_URI_PATTERN,
    LANGUAGE_CODE_PATTERN,
    TIME_OF_DAY_PATTERN,
    YEAR_MONTH_PATTERN,
)

__all__ = [
    "CountryCode",
    "IscedFCode",
    "LanguageCode",
    "NaceCode",
    "country_name",
    "isced_f_fields",
    "language_name",
    "nace_activities",
    "readable_message",
]

DATA = Path(__file__).parent / "data"

# What each format of the contracts looks like, for people: "String should match pattern
# '^[^@\s…' " tells them nothing.
_FORMATS = {
    EMAIL_PATTERN: "an e-mail address such as name@example.org",
    ESCO_SKILL_URI_PATTERN: "an ESCO skill URI such as "
    "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d",
    LANGUAGE_CODE_PATTERN: "a two-letter ISO 639-1 language code such as 'da'",
    TIME_OF_DAY_PATTERN: "a time of day as HH:MM, e.g. 21:30",
    YEAR_MONTH_PATTERN: "a year and month as YYYY-MM, e.g. 2027-06",
}


def readable_message(error: Mapping[str, Any]) -> str:
    """The message of one of pydantic's errors, with formats named in words."""
    if error.get("type") == "string_pattern_mismatch":
        expected = _FORMATS.get(error.get("ctx", {}).get("pattern", ""))
        if expected is not None:
            return f"{error.get('input')!r} is not {expected}"
    if error.get("type") in ("bool_type", "bool_parsing"):
        return f"true or false was expected (without quotes), not {_as_json(error.get('input'))}"
    return str(error["msg"])


def _as_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


@cache
def _languages() -> dict[str, str]:
    return {
        language.alpha_2: language.name
        for language in pycountry.languages
        if hasattr(language, "alpha_2")
    }


@cache
def _countries() -> dict[str, str]:
    return {country.alpha_2: country.name for country in pycountry.countries}


@cache
def isced_f_fields() -> dict[str, str]:
    """ISCED-F 2013 fields of education (broad, narrow, detailed) by code, from ESCO."""
    fields = {}
    with gzip.open(DATA / "esco" / "skill_groups.tsv.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            key, label = line.rstrip("\n").split("\t")
            if key.startswith("isced-f/"):
                fields[key.removeprefix("isced-f/")] = label
    return fields


@cache
def nace_activities() -> dict[str, str]:
    """NACE Rev. 2 sections (A–U) and divisions (01–99) by code."""
    lines = (DATA / "codes" / "nace_rev2.tsv").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if line)


def language_name(code: str) -> str | None:
    """English name of an ISO 639-1 language code."""
    return _languages().get(code)


def country_name(code: str) -> str | None:
    """English name of an ISO 3166-1 alpha-2 country code."""
    return _countries().get(code)


def _language(value: str) -> str:
    code = value.strip().lower()
    if code not in _languages():
        raise ValueError(f"{value!r} is not an ISO 639-1 language code (two letters, e.g. 'da')")
    return code


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in _countries():
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'DK')")
    return code


def _isced_f(value: str) -> str:
    code = value.strip()
    if code not in isced_f_fields():
        raise ValueError(
            f"{value!r} is not an ISCED-F 2013 field of education code (e.g. '0613' for "
            "software and applications development and analysis)"
        )
    return code


_NACE = re.compile(r"^(?P<division>\d{2})(\.\d{1,2})?$")


def _nace(value: str) -> str:
    code = value.strip().upper()
    match = _NACE.match(code)
    known = nace_activities()
    if code in known or (match and match.group("division") in known):
        return code
    raise ValueError(
        f"{value!r} is not a NACE Rev. 2 code (a section letter A–U or a division such as "
        "'62', optionally with group and class, e.g. '62.01')"
    )


LanguageCode = Annotated[
    str,
    Field(title="Language", description="ISO 639-1 code, e.g. 'da'.", examples=["en"]),
    AfterValidator(_language),
]
CountryCode = Annotated[
    str,
    Field(title="Country", description="ISO 3166-1 alpha-2 code, e.g. 'DK'.", examples=["DK"]),
    AfterValidator(_country),
]
IscedFCode = Annotated[
    str,
    Field(title="Field of study", description="ISCED-F 2013 code.", examples=["0613"]),
    AfterValidator(_isced_f),
]
NaceCode = Annotated[
    str,
    Field(title="Sector", description="NACE Rev. 2 section or division.", examples=["62"]),
    AfterValidator(_nace),
]
