"""What non-EU students may work: the region's rules file, checked line by line at start.

One TOML file per country in ``data/work_rules/`` (DK, DE, NL, BE-Flanders, FI, IT), each
value with its source and effective date. ``INTERLOCALITY_WORK_RULES`` names an operator's
own file instead.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interlocality.contracts.students import PermittedWork

__all__ = [
    "RULES_DIR",
    "MalformedRules",
    "WorkRules",
    "load_work_rules",
    "permitted_work",
    "region_work_rules",
]

RULES_DIR = Path(__file__).parent / "data" / "work_rules"
RESTRICTED_STATUSES = ("non_eu_student", "non_eu_graduate_job_seeker")


class MalformedRules(ValueError):
    """A rules file that cannot be used; the message names the file and line."""


class StatusRule(BaseModel):
    """The limits for one residence status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unrestricted: bool = False
    hours_per_week_term: Annotated[float | None, Field(ge=0, le=60)] = None
    hours_per_week_holidays: Annotated[float | None, Field(ge=0, le=60)] = None
    yearly_full_days: Annotated[int | None, Field(ge=0, le=366)] = None
    curricular_internships_exempt: bool = True
    summary: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]
    effective_from: date


class WorkRules(BaseModel):
    """A country's rules for non-EU students and graduates looking for work."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    non_eu_student: StatusRule
    non_eu_graduate_job_seeker: StatusRule


@dataclass(frozen=True)
class _Located:
    path: Path
    text: str

    def line_of(self, location: tuple[str | int, ...]) -> int | None:
        """The line where the innermost key of ``location`` is set (inside its table)."""
        table = None
        for number, line in enumerate(self.text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                table = stripped.strip("[]").strip()
                continue
            key = stripped.split("=", 1)[0].strip()
            if len(location) == 1 and table is None and key == location[0]:
                return number
            if len(location) >= 2 and table == location[0] and key == location[1]:
                return number
        if location:
            for number, line in enumerate(self.text.splitlines(), start=1):
                if line.strip().strip("[]").strip() == location[0]:
                    return number
        return None


def region_work_rules(setting: str) -> WorkRules:
    """The rules a region runs with: a shipped country (``dk``, ``de``, …) or a file's path."""
    shipped = RULES_DIR / f"{setting.lower()}.toml"
    return load_work_rules(shipped if shipped.exists() else Path(setting))


def load_work_rules(path: Path) -> WorkRules:
    """Read and check a rules file; :class:`MalformedRules` names the wrong line."""
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MalformedRules(f"{path}: {exc}") from exc
    try:
        return WorkRules.model_validate(raw)
    except ValidationError as exc:
        located = _Located(path, text)
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            line = located.line_of(tuple(error["loc"]))
            at = f"line {line}" if line else "not set"
            problems.append(f"{path}, {at}: {where}: {error['msg']}")
        raise MalformedRules("; ".join(problems)) from exc


@lru_cache(maxsize=256)
def permitted_work(rules: WorkRules, residence_status: str | None) -> PermittedWork:
    """The allowance of a student with ``residence_status`` under ``rules``."""
    if residence_status not in RESTRICTED_STATUSES:
        return PermittedWork(
            country=rules.country,
            unrestricted=True,
            summary="no limit: EU/EEA citizen, permanent resident or work permit holder"
            if residence_status
            else "residence status not given: no limit assumed",
        )
    rule: StatusRule = getattr(rules, residence_status)
    return PermittedWork(
        country=rules.country,
        unrestricted=rule.unrestricted,
        hours_per_week_term=None if rule.unrestricted else rule.hours_per_week_term,
        hours_per_week_holidays=None if rule.unrestricted else rule.hours_per_week_holidays,
        yearly_full_days=None if rule.unrestricted else rule.yearly_full_days,
        curricular_internships_exempt=rule.curricular_internships_exempt,
        summary=rule.summary,
        source=rule.source,
        effective_from=rule.effective_from,
    )
