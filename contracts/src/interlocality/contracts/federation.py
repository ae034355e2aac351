"""Topic ``federation.analytics.snapshots.v1``: what one region tells its partner regions.

A ``RegionSnapshot`` carries aggregates only, and only in a form that cannot name anyone:
every dimension value is a code from a closed vocabulary (ESCO URIs, ISCED-F, NACE, CEFR,
ISO 639-1, size classes, kinds, steps, semesters), every label (table, dimension, measure,
mechanism) is an enumeration, and there is no free-text field anywhere in the payload. A
student's or company's id, name, e-mail or URL has nowhere to go: the schema refuses it.

Each count is noisy (differential privacy) or suppressed (built from fewer than ``k``
distinct students or companies, or hidden so that a published total cannot reveal such a
cell); the snapshot states the privacy parameters it was released under and how much of
its region's yearly privacy budget is spent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from interlocality.contracts.common import (
    ESCO_SKILL_URI_PATTERN,
    LANGUAGE_CODE_PATTERN,
    YEAR_MONTH_PATTERN,
    CefrLevel,
    EngagementKind,
)
from interlocality.contracts.companies import SizeClass
from interlocality.contracts.envelope import CloudEvent
from interlocality.contracts.outcomes import GraduateOutcomeKind

__all__ = [
    "REGION_PATTERN",
    "SEMESTER_PATTERN",
    "CefrLevelDimension",
    "Dimension",
    "DimensionName",
    "EngagementKindDimension",
    "EscoSkillDimension",
    "FunnelStepDimension",
    "GraduationSemesterDimension",
    "IscedFieldDimension",
    "LanguageDimension",
    "Measure",
    "MonthDimension",
    "NaceDimension",
    "NoiseMechanism",
    "OutcomeDimension",
    "PrivacyParameters",
    "RegionAggregates",
    "RegionSnapshot",
    "RegionSnapshotEvent",
    "SideDimension",
    "SizeClassDimension",
    "SkillGroupDimension",
    "SnapshotCell",
    "SnapshotTable",
    "SuppressedCell",
    "SuppressionReason",
    "TableName",
]

REGION_PATTERN = r"^[a-z][a-z0-9-]{1,31}$"
SEMESTER_PATTERN = r"^\d{4}-(spring|autumn)$"
ESCO_SKILL_GROUP_PATTERN = r"^http://data\.europa\.eu/esco/(skill/[0-9a-f-]{36}|isced-f/\d{2,4})$"
ISCED_F_PATTERN = r"^\d{2,4}$"
NACE_PATTERN = r"^([A-U]|\d{2}(\.\d{1,2})?)$"

TableName = Literal[
    "skills",
    "skill_groups",
    "study_fields",
    "languages",
    "funnel",
    "company_dating",
    "employability",
]
Measure = Literal[
    "students",
    "companies",
    "vacancies",
    "positions",
    "matches",
    "notifications",
    "applications",
    "placements",
    "dates",
    "graduates",
]
DimensionName = Literal[
    "skill_group",
    "esco_skill",
    "isced_field",
    "nace",
    "size_class",
    "language",
    "cefr_level",
    "engagement_kind",
    "funnel_step",
    "side",
    "graduation_semester",
    "outcome",
    "month",
]
SuppressionReason = Literal["primary", "secondary"]
NoiseMechanism = Literal["discrete_laplace", "discrete_gaussian"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class SkillGroupDimension(BaseModel):
    """An ESCO skill group (a concept of the skills hierarchy, or an ISCED-F knowledge area)."""

    model_config = _FROZEN

    name: Literal["skill_group"] = "skill_group"
    value: Annotated[
        str,
        Field(
            title="ESCO skill group URI",
            description="Concept URI of an ESCO skill group or ISCED-F knowledge group.",
            pattern=ESCO_SKILL_GROUP_PATTERN,
            examples=["http://data.europa.eu/esco/isced-f/0613"],
        ),
    ]


class EscoSkillDimension(BaseModel):
    """One ESCO skill or knowledge concept."""

    model_config = _FROZEN

    name: Literal["esco_skill"] = "esco_skill"
    value: Annotated[
        str,
        Field(
            title="ESCO skill URI",
            description="Concept URI of an ESCO v1.1.1 skill or knowledge concept.",
            pattern=ESCO_SKILL_URI_PATTERN,
        ),
    ]


class IscedFieldDimension(BaseModel):
    """A field of education: ISCED-F 2013 broad (2 digits), narrow (3) or detailed (4)."""

    model_config = _FROZEN

    name: Literal["isced_field"] = "isced_field"
    value: Annotated[
        str,
        Field(title="ISCED-F 2013 code", pattern=ISCED_F_PATTERN, min_length=2, max_length=4),
    ]


class NaceDimension(BaseModel):
    """A sector: NACE Rev. 2 section letter or division (optionally group and class)."""

    model_config = _FROZEN

    name: Literal["nace"] = "nace"
    value: Annotated[str, Field(title="NACE Rev. 2 code", pattern=NACE_PATTERN, max_length=5)]


class SizeClassDimension(BaseModel):
    """A company size class derived from its employees."""

    model_config = _FROZEN

    name: Literal["size_class"] = "size_class"
    value: Annotated[SizeClass, Field(title="Size class")]


class LanguageDimension(BaseModel):
    """A language, as an ISO 639-1 code."""

    model_config = _FROZEN

    name: Literal["language"] = "language"
    value: Annotated[
        str, Field(title="Language", pattern=LANGUAGE_CODE_PATTERN, min_length=2, max_length=2)
    ]


class CefrLevelDimension(BaseModel):
    """A CEFR level: a vacancy's minimum or a student's own."""

    model_config = _FROZEN

    name: Literal["cefr_level"] = "cefr_level"
    value: Annotated[CefrLevel, Field(title="CEFR level")]


class EngagementKindDimension(BaseModel):
    """An engagement kind: internship, thesis, student job, graduate job, company project."""

    model_config = _FROZEN

    name: Literal["engagement_kind"] = "engagement_kind"
    value: Annotated[EngagementKind, Field(title="Engagement kind")]


class FunnelStepDimension(BaseModel):
    """A step of the placement funnel, or of Company Dating's outcomes."""

    model_config = _FROZEN

    name: Literal["funnel_step"] = "funnel_step"
    value: Annotated[
        Literal[
            "published",
            "matched",
            "notified",
            "applied",
            "placed",
            "dates_held",
            "applications_after_date",
            "placements_within_90_days",
        ],
        Field(title="Funnel step"),
    ]


class SideDimension(BaseModel):
    """Which side of the market a count is on: students' supply or companies' demand."""

    model_config = _FROZEN

    name: Literal["side"] = "side"
    value: Annotated[Literal["supply", "demand"], Field(title="Side")]


class GraduationSemesterDimension(BaseModel):
    """A graduation semester: ``YYYY-spring`` (January–July) or ``YYYY-autumn``."""

    model_config = _FROZEN

    name: Literal["graduation_semester"] = "graduation_semester"
    value: Annotated[
        str, Field(title="Graduation semester", pattern=SEMESTER_PATTERN, max_length=11)
    ]


class OutcomeDimension(BaseModel):
    """What became of a graduate, as the region's operator recorded it."""

    model_config = _FROZEN

    name: Literal["outcome"] = "outcome"
    value: Annotated[GraduateOutcomeKind, Field(title="Outcome")]


class MonthDimension(BaseModel):
    """A calendar month ``YYYY-MM``, for trends within one snapshot."""

    model_config = _FROZEN

    name: Literal["month"] = "month"
    value: Annotated[str, Field(title="Month", pattern=YEAR_MONTH_PATTERN, max_length=7)]


Dimension = Annotated[
    SkillGroupDimension
    | EscoSkillDimension
    | IscedFieldDimension
    | NaceDimension
    | SizeClassDimension
    | LanguageDimension
    | CefrLevelDimension
    | EngagementKindDimension
    | FunnelStepDimension
    | SideDimension
    | GraduationSemesterDimension
    | OutcomeDimension
    | MonthDimension,
    Field(discriminator="name"),
]
"""One coordinate of a cell: a dimension's name and a code from that dimension's vocabulary."""


def _dimension_names(dimensions: tuple[Dimension, ...]) -> tuple[str, ...]:
    names = tuple(dimension.name for dimension in dimensions)
    if len(set(names)) != len(names):
        raise ValueError(f"a cell names each dimension once, not {list(names)}")
    return names


class SnapshotCell(BaseModel):
    """One published count: its coordinates, what it counts, and its noisy value — or
    nothing, with the reason it was suppressed."""

    model_config = _FROZEN

    dimensions: Annotated[
        tuple[Dimension, ...],
        Field(
            title="Dimensions",
            description="The cell's coordinates. A total names only the dimensions it keeps "
            "(the others are summed over); the table's grand total names none.",
            max_length=4,
        ),
    ]
    measure: Annotated[Measure, Field(title="Measure", description="What is counted.")]
    total: Annotated[
        bool,
        Field(
            title="Total",
            description="True when this count sums the table's cells over the dimensions it "
            "does not name (a row, column or grand total).",
        ),
    ] = False
    count: Annotated[
        int | None,
        Field(
            title="Noisy count",
            description="The count with differential-privacy noise added, never below 0; "
            "absent when the cell is suppressed.",
            ge=0,
        ),
    ]
    suppressed: Annotated[
        SuppressionReason | None,
        Field(
            title="Suppressed",
            description="primary: built from fewer than k distinct students or companies; "
            "secondary: hidden so that published totals cannot reveal a primary one.",
        ),
    ] = None

    @model_validator(mode="after")
    def _count_or_reason(self) -> SnapshotCell:
        _dimension_names(self.dimensions)
        if (self.count is None) == (self.suppressed is None):
            raise ValueError("a cell has a noisy count or a suppression reason, never both")
        return self


class SnapshotTable(BaseModel):
    """One table of the snapshot: cells over the same dimensions, with their totals."""

    model_config = _FROZEN

    name: Annotated[TableName, Field(title="Table")]
    dimensions: Annotated[
        tuple[DimensionName, ...],
        Field(title="Dimensions", description="The dimensions of its cells.", max_length=4),
    ]
    sensitivity: Annotated[
        int,
        Field(
            title="Sensitivity",
            description="The most one student or company changes this table's counts by, "
            "summed over its cells (L1).",
            ge=1,
        ),
    ]
    cells: Annotated[tuple[SnapshotCell, ...], Field(title="Cells")]

    @model_validator(mode="after")
    def _cells_on_the_table_dimensions(self) -> SnapshotTable:
        if len(set(self.dimensions)) != len(self.dimensions):
            raise ValueError(f"table {self.name} names a dimension twice")
        for cell in self.cells:
            names = set(_dimension_names(cell.dimensions))
            expected = set(self.dimensions)
            if (cell.total and not names <= expected) or (not cell.total and names != expected):
                raise ValueError(
                    f"a cell of table {self.name} has dimensions {sorted(names)}, "
                    f"expected {sorted(expected)} (or a subset for a total)"
                )
        return self


class SuppressedCell(BaseModel):
    """Where a suppressed count is, and why: the snapshot's list of what it withholds."""

    model_config = _FROZEN

    table: Annotated[TableName, Field(title="Table")]
    dimensions: Annotated[tuple[Dimension, ...], Field(title="Dimensions", max_length=4)]
    measure: Annotated[Measure, Field(title="Measure")]
    total: Annotated[bool, Field(title="Total")] = False
    reason: Annotated[SuppressionReason, Field(title="Reason")]


class PrivacyParameters(BaseModel):
    """Under which guarantee the snapshot was released, and what of the budget is left."""

    model_config = _FROZEN

    k: Annotated[
        int,
        Field(
            title="k",
            description="Fewest distinct students or companies a published cell is built from.",
            ge=2,
        ),
    ]
    epsilon: Annotated[
        float,
        Field(
            title="ε of this snapshot",
            description="Privacy loss of the whole snapshot (pure ε-differential privacy).",
            gt=0,
        ),
    ]
    mechanism: Annotated[NoiseMechanism, Field(title="Noise mechanism")]
    noise_scale: Annotated[
        float,
        Field(
            title="Noise scale",
            description="Scale b of the discrete Laplace noise: P(noise = z) ∝ exp(-|z|/b).",
            gt=0,
        ),
    ]
    sensitivity: Annotated[
        int,
        Field(
            title="Sensitivity",
            description="The most one student or company changes all the snapshot's counts "
            "by, summed (L1); ε = sensitivity / noise scale.",
            ge=1,
        ),
    ]
    budget_year: Annotated[int, Field(title="Budget year", ge=2000, le=9999)]
    yearly_epsilon: Annotated[
        float, Field(title="Yearly ε budget", description="The region's ε for a year.", gt=0)
    ]
    epsilon_spent: Annotated[
        float,
        Field(
            title="ε spent",
            description="ε spent in the budget year, this snapshot included.",
            ge=0,
        ),
    ]


class RegionAggregates(BaseModel):
    """A region's insights for one month, safe to leave the region."""

    model_config = _FROZEN

    region: Annotated[str, Field(title="Region", pattern=REGION_PATTERN)]
    period: Annotated[
        str, Field(title="Period", description="Month YYYY-MM.", pattern=YEAR_MONTH_PATTERN)
    ]
    produced_at: Annotated[datetime, Field(title="Produced at")]
    privacy: Annotated[PrivacyParameters, Field(title="Privacy parameters")]
    tables: Annotated[tuple[SnapshotTable, ...], Field(title="Tables")]
    suppressed: Annotated[
        tuple[SuppressedCell, ...],
        Field(title="Suppressed", description="Every suppressed cell, primary or secondary."),
    ] = ()

    @model_validator(mode="after")
    def _suppressed_list_matches_the_cells(self) -> RegionAggregates:
        in_cells = sorted(
            _suppressed_key(table.name, cell.dimensions, cell.measure, cell.total, reason)
            for table in self.tables
            for cell in table.cells
            if (reason := cell.suppressed) is not None
        )
        listed = sorted(
            _suppressed_key(s.table, s.dimensions, s.measure, s.total, s.reason)
            for s in self.suppressed
        )
        if in_cells != listed:
            raise ValueError("the list of suppressed cells must name exactly the suppressed cells")
        if self.privacy.epsilon_spent > self.privacy.yearly_epsilon * (1 + 1e-9):
            raise ValueError("a snapshot cannot spend more than its region's yearly ε")
        return self


def _suppressed_key(
    table: str, dimensions: tuple[Dimension, ...], measure: str, total: bool, reason: str
) -> tuple[str, tuple[tuple[str, str], ...], str, bool, str]:
    return (table, tuple((d.name, d.value) for d in dimensions), measure, total, reason)


class RegionSnapshot(CloudEvent[RegionAggregates]):
    """A region published its aggregates for a month (subject: the region)."""

    type: Literal["org.interlocality.RegionSnapshot.v1"] = "org.interlocality.RegionSnapshot.v1"
    dataschema: str = "urn:interlocality:schema:RegionSnapshot:v1"

    @model_validator(mode="after")
    def _about_its_own_region(self) -> RegionSnapshot:
        # The envelope's free strings are held to the region too: nothing else can ride in them.
        if not (self.subject == self.region == self.data.region):
            raise ValueError("a snapshot's subject and region are the region of its aggregates")
        if self.source != f"/interlocality/{self.region}/analytics":
            raise ValueError(f"a snapshot's source is /interlocality/{self.region}/analytics")
        return self


RegionSnapshotEvent = Annotated[RegionSnapshot, Field(discriminator="type")]
