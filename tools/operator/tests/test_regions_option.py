"""``interlocality up --regions``: which regions it understands, with which rules, and the
ports each prefers, as the operator reads them at start."""

from __future__ import annotations

import argparse
import re

import pytest

from interlocality.operator.cli import _parse_regions, _region_ports


def test_known_programmes_take_their_own_rules_and_others_name_theirs() -> None:
    assert _parse_regions("aarhus,leipzig,limburg") == [
        ("aarhus", None),
        ("leipzig", None),
        ("limburg", None),
    ]
    assert _parse_regions(" Aarhus , oulu=fi,leipzig=/srv/rules/de.toml") == [
        ("aarhus", None),
        ("oulu", "fi"),
        ("leipzig", "/srv/rules/de.toml"),
    ]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            "aarhus,oulu",
            "'oulu' is not a known programme (aarhus, leipzig, limburg): name its "
            "work rules, e.g. oulu=dk",
        ),
        ("aarhus,aarhus=dk", "'aarhus' is named twice"),
        ("Århus=dk", "'århus' is not a region name"),
        ("aarhus,", "'' is not a region name"),
    ],
)
def test_a_region_it_cannot_start_is_refused_with_the_reason(value: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(says)):
        _parse_regions(value)


def test_region_i_listens_from_base_plus_100_i() -> None:
    assert _region_ports(1, 8000) == (
        {
            "profiles": 8101,
            "vacancies": 8102,
            "matching": 8103,
            "notifications": 8104,
            "analytics": 8105,
        },
        8125,
    )
    services, smtp = _region_ports(3, 18000)
    assert sorted(services.values()) == [18301, 18302, 18303, 18304, 18305]
    assert smtp == 18325
