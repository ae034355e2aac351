"""The JSON shapes of the supply and demand insights, and their making from a month's
balances (no I/O): one model per endpoint, each a list of months so trends show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from interlocality.analytics.skills import SkillTaxonomy, isced_label
from interlocality.analytics.supply import (
    UNKNOWN,
    FieldBalance,
    GroupBalance,
    LanguageBalance,
    SkillBalance,
    top_shortages,
    top_surpluses,
)

__all__ = [
    "FieldMonth",
    "FieldRow",
    "GroupMonth",
    "GroupRow",
    "LanguageInsights",
    "LanguageLevelRow",
    "LanguageMonth",
    "LevelRow",
    "SkillGroupInsights",
    "SkillInsights",
    "SkillMonth",
    "SkillRow",
    "StudyFieldInsights",
    "field_month",
    "group_month",
    "language_month",
    "skill_month",
]

Ratio = Annotated[
    float | None,
    Field(
        title="Shortage ratio",
        description="Positions per student supplying; null when no student does.",
    ),
]
Gap = Annotated[
    int,
    Field(
        title="Gap", description="Positions minus students: above 0 a shortage, below a surplus."
    ),
]
Positions = Annotated[
    int, Field(title="Positions", description="Open positions (a vacancy counts its positions).")
]
Vacancies = Annotated[int, Field(title="Vacancies", description="Open vacancies.")]
Month = Annotated[str, Field(title="Month", description="YYYY-MM; its state at its end.")]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LevelRow(_Wire):
    """Positions asking for a skill at one minimum level, and students at it or above."""

    level: Annotated[int, Field(title="Minimum level", description="1 (basic) to 5 (expert).")]
    positions: Positions
    students: Annotated[int, Field(title="Students", description="Holding it at this level+.")]


class SkillRow(_Wire):
    """One ESCO skill's demand and supply."""

    skill_uri: Annotated[str, Field(title="Skill", description="ESCO skill URI.")]
    label: Annotated[str, Field(title="Label", description="ESCO preferred label.")]
    level: Annotated[
        int,
        Field(
            title="Level counted",
            description="The lowest minimum level open vacancies ask (1 when none asks).",
        ),
    ]
    positions: Positions
    vacancies: Vacancies
    students: Annotated[
        int, Field(title="Students", description="Consenting students holding it at the level+.")
    ]
    students_related: Annotated[
        int,
        Field(
            title="Students with a related skill",
            description="Students without it who hold a narrower, broader or sibling ESCO "
            "skill at the level+ (matching gives them partial credit).",
        ),
    ]
    shortage_ratio: Ratio
    gap: Gap
    levels: Annotated[list[LevelRow], Field(title="By level asked")]


class SkillMonth(_Wire):
    """One month of skill supply and demand."""

    month: Month
    vacancies: Vacancies
    positions: Positions
    students: Annotated[int, Field(title="Students", description="Consenting students.")]
    skills_counted: Annotated[int, Field(title="Skills", description="Skills asked or held.")]
    top_shortages: Annotated[list[SkillRow], Field(title="Largest shortages")]
    top_surpluses: Annotated[list[SkillRow], Field(title="Largest surpluses")]
    followed: Annotated[
        list[SkillRow], Field(title="Skills asked for", description="Those named by ?skill=.")
    ]


class SkillInsights(_Wire):
    """Supply and demand by ESCO skill, month by month."""

    region: Annotated[str, Field(title="Region")]
    group_uri: Annotated[
        str | None, Field(title="Skill group", description="Only skills of this group.")
    ] = None
    months: Annotated[list[SkillMonth], Field(title="Months", description="Oldest first.")]


class GroupRow(_Wire):
    """One skill group's demand and supply."""

    group_uri: Annotated[str, Field(title="Skill group", description="ESCO group URI.")]
    label: Annotated[str, Field(title="Label")]
    level: Annotated[int, Field(title="Level", description="1 = ESCO's four pillars.")]
    positions: Positions
    vacancies: Vacancies
    students: Annotated[
        int,
        Field(
            title="Students",
            description="Consenting students holding one of its skills at the level asked.",
        ),
    ]
    skills: Annotated[int, Field(title="Skills", description="Its skills asked or held.")]
    shortage_ratio: Ratio
    gap: Gap


class GroupMonth(_Wire):
    """One month of skill-group supply and demand, largest shortage first."""

    month: Month
    groups: Annotated[list[GroupRow], Field(title="Skill groups")]


class SkillGroupInsights(_Wire):
    """Supply and demand by ESCO skill group at one level of the hierarchy, month by month."""

    region: Annotated[str, Field(title="Region")]
    group_level: Annotated[int, Field(title="Level", description="1–4; 2 by default.")]
    months: Annotated[list[GroupMonth], Field(title="Months", description="Oldest first.")]


class FieldRow(_Wire):
    """One ISCED-F field: its students against the vacancies whose skills point to it."""

    field_code: Annotated[
        str, Field(title="ISCED-F code", description="Cut to the level asked; or 'unknown'.")
    ]
    label: Annotated[str, Field(title="Label")]
    students: Annotated[int, Field(title="Students", description="Consenting students.")]
    vacancies: Vacancies
    positions: Positions
    shortage_ratio: Ratio
    by_sector: Annotated[
        dict[str, int], Field(title="Positions by sector", description="NACE Rev. 2 division.")
    ]
    by_size_class: Annotated[
        dict[str, int],
        Field(title="Positions by size class", description="micro <10, small <50, medium <250."),
    ]


class FieldMonth(_Wire):
    """One month of study fields against demand, most positions first."""

    month: Month
    fields: Annotated[list[FieldRow], Field(title="Fields")]


class StudyFieldInsights(_Wire):
    """Students by field of study against vacancies by field, month by month."""

    region: Annotated[str, Field(title="Region")]
    field_digits: Annotated[
        int, Field(title="ISCED-F level", description="2 broad, 3 narrow, 4 detailed.")
    ]
    months: Annotated[list[FieldMonth], Field(title="Months", description="Oldest first.")]


class LanguageLevelRow(_Wire):
    """Vacancies requiring the region's language at a CEFR level, and students at it+."""

    level: Annotated[str, Field(title="CEFR level")]
    vacancies: Vacancies
    positions: Positions
    students: Annotated[int, Field(title="Students", description="Speaking it at this level+.")]


class LanguageMonth(_Wire):
    """One month of the region's language in demand and supply."""

    month: Month
    vacancies: Vacancies
    positions: Positions
    students: Annotated[int, Field(title="Students", description="Consenting students.")]
    requiring: Annotated[
        list[LanguageLevelRow], Field(title="Requiring the language", description="A1 to C2.")
    ]
    vacancies_requiring: Annotated[int, Field(title="Vacancies requiring it, any level")]
    nice_to_have: Annotated[int, Field(title="Vacancies where it is nice to have")]
    english_friendly: Annotated[
        int,
        Field(
            title="English-friendly vacancies",
            description="Open vacancies requiring no language but English, if any.",
        ),
    ]
    english_friendly_share: Annotated[float | None, Field(title="Share English-friendly")]
    pairs_on_skills: Annotated[
        int,
        Field(
            title="Pairs matching on skills",
            description="Student–vacancy pairs where the student holds one of the vacancy's "
            "skills or an ESCO-related one (other conditions not known to analytics).",
        ),
    ]
    pairs_removed: Annotated[
        int,
        Field(
            title="Pairs a language requirement removes",
            description="Of those, the student is below a language the vacancy requires: an "
            "upper bound of the matches language requirements cost.",
        ),
    ]
    pairs_removed_by_region_language: Annotated[
        int, Field(title="Of those, below the region's language")
    ]


class LanguageInsights(_Wire):
    """The region's language in its vacancies and among its students, month by month."""

    region: Annotated[str, Field(title="Region")]
    language: Annotated[str, Field(title="Region's language", description="ISO 639-1.")]
    months: Annotated[list[LanguageMonth], Field(title="Months", description="Oldest first.")]


def _skill_row(balance: SkillBalance, taxonomy: SkillTaxonomy) -> SkillRow:
    return SkillRow(
        skill_uri=balance.uri,
        label=taxonomy.label(balance.uri),
        level=balance.level,
        positions=balance.positions,
        vacancies=balance.vacancies,
        students=balance.students,
        students_related=balance.students_related,
        shortage_ratio=balance.ratio,
        gap=balance.gap,
        levels=[
            LevelRow(level=x.level, positions=x.positions, students=x.students)
            for x in balance.levels
        ],
    )


def skill_month(
    month: str,
    balances: Sequence[SkillBalance],
    totals: tuple[int, int, int],
    taxonomy: SkillTaxonomy,
    limit: int,
    followed: Iterable[str] = (),
) -> SkillMonth:
    """A month's skills view: ``totals`` are its vacancies, positions and students."""
    by_uri = {b.uri: b for b in balances}
    vacancies, positions, students = totals
    return SkillMonth(
        month=month,
        vacancies=vacancies,
        positions=positions,
        students=students,
        skills_counted=len(balances),
        top_shortages=[_skill_row(b, taxonomy) for b in top_shortages(balances, limit)],
        top_surpluses=[_skill_row(b, taxonomy) for b in top_surpluses(balances, limit)],
        followed=[_skill_row(by_uri[uri], taxonomy) for uri in followed if uri in by_uri],
    )


def group_month(
    month: str, balances: Sequence[GroupBalance], taxonomy: SkillTaxonomy
) -> GroupMonth:
    """A month's skill-group view."""
    return GroupMonth(
        month=month,
        groups=[
            GroupRow(
                group_uri=b.uri,
                label=taxonomy.label(b.uri),
                level=b.level,
                positions=b.positions,
                vacancies=b.vacancies,
                students=b.students,
                skills=b.skills,
                shortage_ratio=b.ratio,
                gap=b.gap,
            )
            for b in balances
        ],
    )


def field_month(
    month: str, balances: Sequence[FieldBalance], taxonomy: SkillTaxonomy
) -> FieldMonth:
    """A month's study-field view."""
    return FieldMonth(
        month=month,
        fields=[
            FieldRow(
                field_code=b.code,
                label=UNKNOWN if b.code == UNKNOWN else isced_label(taxonomy.vocabulary, b.code),
                students=b.students,
                vacancies=b.vacancies,
                positions=b.positions,
                shortage_ratio=b.ratio,
                by_sector=dict(b.by_sector),
                by_size_class=dict(b.by_size_class),
            )
            for b in balances
        ],
    )


def language_month(month: str, balance: LanguageBalance) -> LanguageMonth:
    """A month's language view."""
    return LanguageMonth(
        month=month,
        vacancies=balance.vacancies,
        positions=balance.positions,
        students=balance.students,
        requiring=[
            LanguageLevelRow(
                level=x.level, vacancies=x.vacancies, positions=x.positions, students=x.students
            )
            for x in balance.requiring
        ],
        vacancies_requiring=sum(x.vacancies for x in balance.requiring),
        nice_to_have=balance.nice_to_have,
        english_friendly=balance.english_friendly,
        english_friendly_share=balance.english_friendly_share,
        pairs_on_skills=balance.pairs_on_skills,
        pairs_removed=balance.pairs_removed,
        pairs_removed_by_region_language=balance.pairs_removed_by_region_language,
    )
