"""Formats and code lists are explained in words a person understands."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from interlocality.common.codes import LanguageCode, readable_message
from interlocality.contracts.common import TIME_OF_DAY_PATTERN, YEAR_MONTH_PATTERN


class Form(BaseModel):
    graduation: Annotated[str, Field(pattern=YEAR_MONTH_PATTERN)] = "2027-06"
    quiet_from: Annotated[str, Field(pattern=TIME_OF_DAY_PATTERN)] = "22:00"
    other: Annotated[str, Field(pattern=r"^x+$")] = "x"
    language: LanguageCode = "da"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("graduation", "2027-13", "'2027-13' is not a year and month as YYYY-MM, e.g. 2027-06"),
        ("quiet_from", "25:00", "'25:00' is not a time of day as HH:MM, e.g. 21:30"),
        ("other", "y", "String should match pattern '^x+$'"),
        ("language", "xx", "Value error, 'xx' is not an ISO 639-1 language code"),
    ],
)
def test_each_error_names_what_was_expected(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Form.model_validate({field: value})
    (error,) = raised.value.errors()
    assert readable_message(error).startswith(message)
