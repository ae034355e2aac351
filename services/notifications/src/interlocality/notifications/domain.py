"""When and what to send: quiet hours, digest times, digest contents (no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar, get_args
from zoneinfo import ZoneInfo

from interlocality.contracts.matches import Match
from interlocality.contracts.students import Weekday

__all__ = [
    "WEEKDAYS",
    "Quiet",
    "aware",
    "choose_digest",
    "delivery_id",
    "digest_due",
    "in_app_content",
    "last_digest_slot",
    "send_time",
]

WEEKDAYS: tuple[str, ...] = get_args(Weekday)  # monday first, as date.weekday() counts
PER_COMPANY_IN_DIGEST = 2
_IDS = uuid.UUID("0b6f1d3e-8a55-4c1e-9d57-7f1c2e3a9b10")
T = TypeVar("T")


def aware(moment: datetime) -> datetime:
    """``moment`` with its time zone; one stored without (SQLite) is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def delivery_id(*parts: str) -> str:
    """The idempotency key of a delivery: the same parts always give the same id."""
    return uuid.uuid5(_IDS, "\x1f".join(parts)).hex


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Quiet:
    """A student's quiet hours, local time; ``start == end`` or either missing: none."""

    start: str | None
    end: str | None

    def covers(self, local: datetime) -> bool:
        """Whether ``local`` (in the student's zone) falls in the quiet hours."""
        if not self.start or not self.end or self.start == self.end:
            return False
        start, end, now = _clock(self.start), _clock(self.end), local.time()
        if start < end:
            return start <= now < end
        return now >= start or now < end  # over midnight, e.g. 22:00–07:00


def send_time(now: datetime, zone: str, quiet: Quiet) -> datetime:
    """``now``, or the end of the quiet hours when ``now`` falls in them (UTC)."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    if not quiet.covers(local) or quiet.end is None:
        return now
    end = _clock(quiet.end)
    wake = datetime.combine(local.date(), end, tzinfo=tz)
    if wake <= local:
        wake = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    return wake.astimezone(UTC)


def last_digest_slot(now: datetime, zone: str, frequency: str, hour: int, weekday: str) -> datetime:
    """The latest moment at or before ``now`` a digest of this kind was due (UTC)."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    slot = datetime.combine(local.date(), time(hour), tzinfo=tz)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), time(hour), tzinfo=tz)
    if frequency == "weekly":
        back = (slot.weekday() - WEEKDAYS.index(weekday)) % 7
        slot = datetime.combine(slot.date() - timedelta(days=back), time(hour), tzinfo=tz)
    return slot.astimezone(UTC)


def digest_due(
    now: datetime, last_digest_at: datetime, zone: str, frequency: str, hour: int, weekday: str
) -> datetime | None:
    """The digest slot that passed since the last digest, if one did."""
    if frequency not in ("daily", "weekly"):
        return None
    slot = last_digest_slot(now, zone, frequency, hour, weekday)
    last = aware(last_digest_at)
    return slot if slot > last else None


def choose_digest(
    items: Sequence[T],
    score: Callable[[T], float],
    company: Callable[[T], str],
    most: int,
    per_company: int = PER_COMPANY_IN_DIGEST,
) -> tuple[list[T], int]:
    """The best ``most`` items, at most ``per_company`` of one company, and how many were
    left out."""
    chosen: list[T] = []
    counted: dict[str, int] = {}
    for item in sorted(items, key=score, reverse=True):
        if len(chosen) == most:
            break
        owner = company(item)
        if counted.get(owner, 0) >= per_company:
            continue
        counted[owner] = counted.get(owner, 0) + 1
        chosen.append(item)
    return chosen, len(items) - len(chosen)


def in_app_content(match: Match) -> dict[str, Any]:
    """What the feed shows of ``match``: headline, why it matches, what is missing."""
    covered = len(match.matched_skills)
    needed = covered + len(match.missing_skills) + len(match.missing_nice_to_have)
    explanation = match.explanation
    return {
        "headline": f"New match: {match.vacancy_title}",
        "why": f"You have {covered} of the {needed} skills this vacancy asks for.",
        "score": match.score,
        "matched_skills": list(match.matched_skills),
        "missing_skills": list(match.missing_skills),
        "missing_nice_to_have": list(match.missing_nice_to_have),
        "related": {
            s.uri: {"via": s.via, "relation": s.relation}
            for s in (explanation.skills if explanation else [])
            if s.via is not None and s.relation not in (None, "exact")
        },
        "cautions": [match.permit_flag] if match.permit_flag else [],
    }
