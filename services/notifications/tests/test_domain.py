"""When messages go out: quiet hours, digest times, digest contents; and signed links."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from interlocality.notifications.domain import (
    Quiet,
    choose_digest,
    delivery_id,
    digest_due,
    last_digest_slot,
    send_time,
)
from interlocality.notifications.links import (
    PREFERENCES_LINK_LIFETIME,
    UNSUBSCRIBE_LINK_LIFETIME,
    ExpiredLink,
    InvalidLink,
    LinkSigner,
)

CPH = "Europe/Copenhagen"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_quiet_hours_over_midnight_postpone_to_their_end_in_the_students_zone() -> None:
    night = Quiet("22:00", "07:00")
    # 23:30 in Copenhagen in winter is 22:30 UTC: quiet until 07:00 local = 06:00 UTC
    assert send_time(utc("2026-12-01T22:30:00"), CPH, night) == utc("2026-12-02T06:00:00")
    # 03:00 local: still the same night
    assert send_time(utc("2026-12-02T02:00:00"), CPH, night) == utc("2026-12-02T06:00:00")
    # 12:00 local: not quiet, at once
    assert send_time(utc("2026-12-02T11:00:00"), CPH, night) == utc("2026-12-02T11:00:00")
    # the end itself is no longer quiet
    assert send_time(utc("2026-12-02T06:00:00"), CPH, night) == utc("2026-12-02T06:00:00")


def test_quiet_hours_within_a_day_and_none() -> None:
    lunch = Quiet("12:00", "13:00")
    assert send_time(utc("2026-07-01T10:15:00"), CPH, lunch) == utc("2026-07-01T11:00:00")
    assert send_time(utc("2026-07-01T09:59:00"), CPH, lunch) == utc("2026-07-01T09:59:00")
    for nothing in (Quiet(None, None), Quiet("08:00", None), Quiet("08:00", "08:00")):
        assert send_time(utc("2026-07-01T06:30:00"), CPH, nothing) == utc("2026-07-01T06:30:00")


def test_daily_digest_is_due_once_its_local_hour_has_passed() -> None:
    last = utc("2026-12-01T07:00:00")  # 08:00 in Copenhagen: the digest of Dec 1
    before = utc("2026-12-02T06:59:00")
    after = utc("2026-12-02T07:01:00")
    assert digest_due(before, last, CPH, "daily", 8, "monday") is None
    assert digest_due(after, last, CPH, "daily", 8, "monday") == utc("2026-12-02T07:00:00")
    # once sent (last = that slot), not again the same day
    assert digest_due(after, utc("2026-12-02T07:00:00"), CPH, "daily", 8, "monday") is None
    # the instant frequency has no digests
    assert digest_due(after, last, CPH, "instant", 8, "monday") is None


def test_weekly_digest_waits_for_its_weekday_and_follows_the_zone() -> None:
    # 2026-12-07 is a Monday; 09:00 in Helsinki is 07:00 UTC
    slot = last_digest_slot(utc("2026-12-10T12:00:00"), "Europe/Helsinki", "weekly", 9, "monday")
    assert slot == utc("2026-12-07T07:00:00")
    assert (
        digest_due(utc("2026-12-13T12:00:00"), slot, "Europe/Helsinki", "weekly", 9, "monday")
        is None
    )
    assert digest_due(
        utc("2026-12-14T07:00:00"), slot, "Europe/Helsinki", "weekly", 9, "monday"
    ) == utc("2026-12-14T07:00:00")


def test_summer_time_keeps_the_local_hour() -> None:
    # 08:00 in Copenhagen is 06:00 UTC in summer, 07:00 UTC in winter
    summer = last_digest_slot(utc("2026-07-01T10:00:00"), CPH, "daily", 8, "monday")
    winter = last_digest_slot(utc("2026-12-01T10:00:00"), CPH, "daily", 8, "monday")
    assert (summer.hour, winter.hour) == (6, 7)


def test_digest_takes_the_best_and_at_most_two_per_company() -> None:
    items = [
        ("a1", "a", 0.9),
        ("a2", "a", 0.8),
        ("a3", "a", 0.85),
        ("b1", "b", 0.5),
        ("c1", "c", 0.7),
        ("c2", "c", 0.4),
    ]
    chosen, more = choose_digest(items, score=lambda i: i[2], company=lambda i: i[1], most=4)
    assert [i[0] for i in chosen] == ["a1", "a3", "c1", "b1"]
    assert more == 2
    everything, none_left = choose_digest(
        items, score=lambda i: i[2], company=lambda i: i[1], most=10, per_company=5
    )
    assert len(everything) == 6 and none_left == 0


def test_delivery_ids_are_stable_and_distinct() -> None:
    assert delivery_id("match", "n-1", "email", "a@b.org") == delivery_id(
        "match", "n-1", "email", "a@b.org"
    )
    assert delivery_id("match", "n-1", "email", "a@b.org") != delivery_id(
        "match", "n-1", "webhook", "a@b.org"
    )
    assert delivery_id("a", "bc") != delivery_id("ab", "c")


def test_signed_links_name_their_student_and_purpose_and_refuse_tampering() -> None:
    signer = LinkSigner(b"k" * 32, "https://notify.example.org/")
    token = signer.token("s-42", "unsubscribe")
    assert signer.student_of(token, "unsubscribe") == "s-42"
    assert signer.unsubscribe_url("s-42").startswith(
        "https://notify.example.org/v1/unsubscribe?token="
    )
    with pytest.raises(InvalidLink, match="not a preferences link"):
        signer.student_of(token, "preferences")
    other = LinkSigner(b"x" * 32, "https://notify.example.org")
    with pytest.raises(InvalidLink):
        other.student_of(token, "unsubscribe")
    signature = token.partition(".")[2]
    forged = signer.token("s-43", "unsubscribe").partition(".")[0] + "." + signature
    with pytest.raises(InvalidLink):
        signer.student_of(forged, "unsubscribe")
    with pytest.raises(InvalidLink):
        signer.student_of("garbage", "unsubscribe")
    # A link mangled on its way (a mail client's quoting, a paste) is refused like any other.
    for mangled in (token + "é", "ø" + token, token.replace(".", ".ñ", 1)):
        with pytest.raises(InvalidLink):
            signer.student_of(mangled, "unsubscribe")


def test_a_rotated_key_still_accepts_the_links_it_signed_until_it_is_dropped() -> None:
    old = LinkSigner(b"o" * 32, "https://notify.example.org")
    sent = old.token("s-ñandú", "preferences")
    rotated = LinkSigner(b"n" * 32, "https://notify.example.org", retired=[b"o" * 32])
    assert rotated.student_of(sent, "preferences") == "s-ñandú"  # in a mailbox since
    fresh = rotated.token("s-ñandú", "preferences")
    with pytest.raises(InvalidLink):  # new links are signed with the new key
        old.student_of(fresh, "preferences")
    dropped = LinkSigner(b"n" * 32, "https://notify.example.org")
    assert dropped.student_of(fresh, "preferences") == "s-ñandú"
    with pytest.raises(InvalidLink, match="not valid"):
        dropped.student_of(sent, "preferences")


def test_a_preferences_link_expires_after_90_days_and_an_unsubscribe_link_after_400() -> None:
    signer = LinkSigner(b"k" * 32, "https://notify.example.org")
    sent = utc("2026-01-10T09:00:00")
    token = signer.token("s-ø1", "preferences", sent)
    last_day = sent + PREFERENCES_LINK_LIFETIME
    assert signer.student_of(token, "preferences", now=last_day) == "s-ø1"
    with pytest.raises(ExpiredLink, match="expired"):
        signer.student_of(token, "preferences", now=last_day + timedelta(seconds=1))
    # a year-old e-mail's unsubscribe link still unsubscribes; one far older does not
    unsubscribe = signer.token("Åsa Ørsted", "unsubscribe", sent)
    a_year_on = sent + timedelta(days=366)
    assert signer.student_of(unsubscribe, "unsubscribe", now=a_year_on) == "Åsa Ørsted"
    assert UNSUBSCRIBE_LINK_LIFETIME.days > 365
    last_day = sent + UNSUBSCRIBE_LINK_LIFETIME
    assert signer.student_of(unsubscribe, "unsubscribe", now=last_day) == "Åsa Ørsted"
    with pytest.raises(ExpiredLink, match="expired"):
        signer.student_of(unsubscribe, "unsubscribe", now=last_day + timedelta(seconds=1))


def test_an_unsubscribe_link_signed_without_its_time_counts_as_expired() -> None:
    """Unsubscribe links once carried no time; such a link can no longer say how old it is."""
    key = b"k" * 32
    signer = LinkSigner(key, "https://notify.example.org")
    for student_id in ("s-ø1", "20240101"):  # an id of digits is not read as a time either
        payload = base64.urlsafe_b64encode(f"unsubscribe\x1f{student_id}".encode())
        payload_text = payload.rstrip(b"=").decode()
        signature = hmac.new(key, payload_text.encode(), hashlib.sha256).digest()
        untimed = f"{payload_text}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
        with pytest.raises(ExpiredLink):
            signer.student_of(untimed, "unsubscribe")
