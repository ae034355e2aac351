"""The partner regions side by side: ``GET /dashboard/regions``, for coordinators and every
region's operator.

Drawn from ``/v1/federation/compare`` only, so from what crossed the regions' borders:
noisy counts and withheld cells, never a region's own rows. Every chart says so where it
matters — a withheld count is shown as withheld, not as zero — and the page opens with the
privacy each snapshot was released under and each region's yearly budget. Its words are
the regional dashboard's catalogues'; regions are named as their operators named them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, get_args

from babel import Locale
from babel.dates import format_datetime
from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse, Response

from interlocality.analytics import api
from interlocality.analytics.api import Analytics, Regions, Runtime
from interlocality.analytics.charts import (
    PALETTE,
    BarRow,
    HeatRow,
    Series,
    heat_map,
    line_chart,
)
from interlocality.analytics.comparison import RegionComparison, SkillGroupOfRegion
from interlocality.analytics.dashboard import (
    CATALOGUES,
    Chart,
    Column,
    MonthAsked,
    Page,
    Words,
    babel_locale,
    csv_download,
    drawn_bars,
    month_label,
    number,
    page_language,
    render,
)
from interlocality.analytics.service import AnalyticsService
from interlocality.common import sign_in
from interlocality.common.access import COORDINATOR, OPERATOR
from interlocality.common.translations import ENGLISH, translations_of

__all__ = ["REGION_CHARTS", "RegionChartKey", "region_comparison_charts", "router"]

RegionChartKey = Literal[
    "privacy",
    "shortages",
    "skill-groups",
    "languages",
    "funnel",
    "trend",
    "employability",
]
REGION_CHARTS: tuple[RegionChartKey, ...] = get_args(RegionChartKey)
SHORTAGES_PER_REGION = 3
LANGUAGES_PER_REGION = 3
HEAT_ROWS = 12  # skill groups in the heat map: those with the largest gap in some region


router = APIRouter(tags=["dashboard"])


def region_name(region: str) -> str:
    """A region as people write it: ``aarhus`` → Aarhus, ``south-tyrol`` → South-Tyrol."""
    return "-".join(part.capitalize() for part in region.split("-"))


def _language_name(code: str, locale: str) -> str:
    try:
        return Locale.parse(code).get_display_name(locale) or code
    except ValueError:
        return code


def _json(month: str | None) -> str:
    return "/v1/federation/compare" + (f"?month={month}" if month else "")


def _privacy_chart(comparison: RegionComparison, locale: str, words: Words) -> Chart:
    _ = words
    regions = comparison.regions
    title = _("Privacy budget of each region this year")
    scales = sorted({r.noise_scale for r in regions})
    return Chart(
        key="privacy",
        title=title,
        explanation=_(
            "Every count leaving a region carries random noise, and a count built from fewer "
            "than k students or companies is withheld. Each snapshot spends some of the "
            "region's yearly privacy budget ε."
        ),
        json_url=_json(comparison.month),
        headline=_(
            "The noise added to a count is typically within ±%(scale)s: read small "
            "differences between regions as no difference."
        )
        % {"scale": " / ".join(number(scale, locale) for scale in scales)}
        if scales
        else "",
        columns=(
            Column("region", _("Region")),
            Column("period", _("Month")),
            Column("produced_at", _("Published")),
            Column("k", "k"),
            Column("epsilon", _("ε of the snapshot")),
            Column("noise_scale", _("Noise scale")),
            Column("suppressed", _("Counts withheld")),
            Column("cells", _("Counts")),
            Column("epsilon_spent", _("ε spent this year")),
            Column("yearly_epsilon", _("Yearly ε")),
        ),
        rows=tuple(
            (
                r.region,
                r.period,
                r.produced_at.isoformat(),
                r.k,
                r.epsilon,
                r.noise_scale,
                r.suppressed,
                r.cells,
                r.budget.spent,
                r.budget.yearly_epsilon,
            )
            for r in regions
        ),
        row_labels=tuple(region_name(r.region) for r in regions),
        svg=drawn_bars(
            "privacy",
            title,
            (Series(_("ε spent"), PALETTE[1]), Series(_("ε left"), PALETTE[2])),
            [
                BarRow(
                    region_name(r.region),
                    (r.budget.spent, r.budget.left),
                    note=_("%(month)s, published %(when)s")
                    % {
                        "month": month_label(r.period, locale),
                        "when": format_datetime(
                            r.produced_at, "d MMM, HH:mm 'UTC'", locale=babel_locale(locale)
                        ),
                    },
                )
                for r in regions
            ],
            _("withheld"),
        ),
        empty=_("No partner region's snapshot has arrived yet."),
    )


def _group_columns(words: Words) -> tuple[Column, ...]:
    _ = words
    return (
        Column("region", _("Region")),
        Column("group_uri", "ESCO", in_table=False),
        Column("label", _("Skill group")),
        Column("companies", _("Companies asking")),
        Column("students", _("Students holding")),
        Column("demand_share", _("Share of demand (%)")),
        Column("supply_share", _("Share of supply (%)")),
        Column("gap", _("Gap (points)")),
    )


def _group_row(g: SkillGroupOfRegion) -> tuple[object, ...]:
    return (
        g.region,
        g.group_uri,
        g.label,
        g.companies,
        g.students,
        g.demand_share,
        g.supply_share,
        g.gap,
    )


def _shortages_chart(comparison: RegionComparison, words: Words) -> Chart:
    _ = words
    top: list[SkillGroupOfRegion] = []
    for shown in comparison.regions:
        ranked = [
            g
            for g in comparison.skill_groups
            if g.region == shown.region and g.gap is not None and g.gap > 0
        ]
        top.extend(ranked[:SHORTAGES_PER_REGION])
    title = _("Largest skill shortages in each region")
    return Chart(
        key="shortages",
        title=title,
        explanation=_(
            "The skill groups each region's companies ask for most beyond what its students "
            "bring: their share of the companies' demand against their share of the "
            "students' skills, in percent."
        ),
        json_url=_json(comparison.month),
        columns=_group_columns(words),
        rows=tuple(_group_row(g) for g in top),
        row_labels=tuple(region_name(g.region) for g in top),
        svg=drawn_bars(
            "shortages",
            title,
            (
                Series(_("Share of demand (%)"), PALETTE[0]),
                Series(_("Share of supply (%)"), PALETTE[1]),
            ),
            [
                BarRow(
                    f"{region_name(g.region)}: {g.label}",
                    (g.demand_share, g.supply_share),
                )
                for g in top
            ],
            _("withheld"),
        ),
        empty=_("No skill group has a published shortage yet."),
    )


def _heat_chart(comparison: RegionComparison, words: Words) -> Chart:
    _ = words
    regions = [shown.region for shown in comparison.regions]
    gaps: dict[tuple[str, str], float | None] = {}
    labels: dict[str, str] = {}
    for g in comparison.skill_groups:
        gaps[g.group_uri, g.region] = g.gap
        labels[g.group_uri] = g.label
    largest: dict[str, float] = {}
    for (group, _region), gap in gaps.items():
        if gap is not None:
            largest[group] = max(largest.get(group, 0.0), abs(gap))
    chosen = sorted(largest, key=lambda group: (-largest[group], labels[group]))[:HEAT_ROWS]
    chosen.sort(key=lambda group: labels[group])
    title = _("Supply and demand by skill group, region by region")
    rows = [HeatRow(labels[g], tuple(gaps.get((g, r)) for r in regions)) for g in chosen]
    names = [region_name(r) for r in regions]
    withheld = _("withheld")
    return Chart(
        key="skill-groups",
        title=title,
        explanation=_(
            "Each cell is a skill group's share of the region's demand minus its share of "
            "the region's supply, in percentage points: orange where companies ask for more "
            "than students bring, blue where students bring more; grey where a count is "
            "withheld."
        ),
        json_url=_json(comparison.month),
        columns=_group_columns(words),
        rows=tuple(_group_row(g) for g in comparison.skill_groups),
        row_labels=tuple(region_name(g.region) for g in comparison.skill_groups),
        svg=heat_map(
            "skill-groups",
            title,
            names,
            rows,
            (
                Series(_("Shortage"), PALETTE[1]),
                Series(_("Surplus"), PALETTE[0]),
                Series(_("Withheld"), "#e4e7eb"),
            ),
            "; ".join(
                f"{row.label}: "
                + ", ".join(
                    f"{name} {withheld if value is None else f'{value:+.1f}'}"
                    for name, value in zip(names, row.values, strict=True)
                )
                for row in rows
            ),
        )
        if rows
        else None,
        wide=True,
        empty=_("No skill group has published counts yet."),
    )


def _languages_chart(comparison: RegionComparison, locale: str, words: Words) -> Chart:
    _ = words
    shown = []
    for region in comparison.regions:
        asked = [
            row
            for row in comparison.languages
            if row.region == region.region and (row.companies or row.students)
        ]
        shown.extend(asked[:LANGUAGES_PER_REGION])
    title = _("Languages companies require, and students who speak them")
    return Chart(
        key="languages",
        title=title,
        explanation=_(
            "Companies with an open vacancy requiring a language (at any level), against "
            "students speaking it at B1 or better, the three languages most asked for in "
            "each region."
        ),
        json_url=_json(comparison.month),
        columns=(
            Column("region", _("Region")),
            Column("language", _("Language")),
            Column("companies", _("Companies requiring it")),
            Column("students", _("Students at B1 or better")),
        ),
        rows=tuple((r.region, r.language, r.companies, r.students) for r in shown),
        row_labels=tuple(region_name(r.region) for r in shown),
        svg=drawn_bars(
            "languages",
            title,
            (
                Series(_("Companies requiring it"), PALETTE[0]),
                Series(_("Students at B1 or better"), PALETTE[1]),
            ),
            [
                BarRow(
                    f"{region_name(r.region)}: {_language_name(r.language, locale)}",
                    (r.companies, r.students),
                )
                for r in shown
            ],
            _("withheld"),
        ),
        empty=_("No language count is published yet."),
    )


def _funnel_chart(comparison: RegionComparison, words: Words) -> Chart:
    _ = words
    steps = ("published", "matched", "notified", "applied", "placed")
    names = {
        "published": _("Published"),
        "matched": _("Matched"),
        "notified": _("Notified"),
        "applied": _("Applied"),
        "placed": _("Placed"),
    }
    colours = dict(
        zip(steps, (PALETTE[0], PALETTE[4], PALETTE[2], PALETTE[5], PALETTE[1]), strict=True)
    )
    title = _("From published to placed, region by region")
    funnels = comparison.funnel
    return Chart(
        key="funnel",
        title=title,
        explanation=_(
            "Companies whose vacancies published in the month were matched, notified to "
            "students, applied to and filled, every kind of engagement together."
        ),
        json_url=_json(comparison.month),
        columns=(Column("region", _("Region")), *(Column(step, names[step]) for step in steps)),
        rows=tuple((f.region, *(getattr(f, step) for step in steps)) for f in funnels),
        row_labels=tuple(region_name(f.region) for f in funnels),
        svg=drawn_bars(
            "funnel",
            title,
            [Series(names[step], colours[step]) for step in steps],
            [
                BarRow(region_name(f.region), tuple(getattr(f, step) for step in steps))
                for f in funnels
            ],
            _("withheld"),
        ),
        empty=_("No region has published funnel counts yet."),
    )


def _trend_chart(comparison: RegionComparison, locale: str, words: Words) -> Chart:
    _ = words
    regions = [shown.region for shown in comparison.regions]
    months = sorted({point.month for point in comparison.trend})
    students = {(p.region, p.month): p.students for p in comparison.trend}
    title = _("Students counted, month by month")
    labels = [month_label(m, locale, "MMM yy") for m in months]
    withheld = _("withheld")
    lines = [Series(region_name(r), PALETTE[i % len(PALETTE)]) for i, r in enumerate(regions)]
    values = [[students.get((r, m)) for m in months] for r in regions]
    return Chart(
        key="trend",
        title=title,
        explanation=_(
            "Consenting students with a field of study in each region's snapshot of each "
            "month; the table also holds the companies publishing vacancies."
        ),
        json_url=_json(comparison.month),
        columns=(
            Column("region", _("Region")),
            Column("month", _("Month")),
            Column("students", _("Students")),
            Column("companies", _("Companies publishing")),
        ),
        rows=tuple((p.region, p.month, p.students, p.companies) for p in comparison.trend),
        row_labels=tuple(region_name(p.region) for p in comparison.trend),
        svg=line_chart(
            "trend",
            title,
            lines,
            labels,
            values,
            "; ".join(
                f"{line.name}: "
                + ", ".join(
                    f"{label} {withheld if value is None else value}"
                    for label, value in zip(labels, row, strict=True)
                )
                for line, row in zip(lines, values, strict=True)
            ),
        )
        if any(v is not None for row in values for v in row)
        else None,
        empty=_("No region has published a student count yet."),
    )


def _employability_chart(comparison: RegionComparison, locale: str, words: Words) -> Chart:
    _ = words
    kinds = {
        "employed_in_region": Series(_("Employed in the region"), PALETTE[2]),
        "employed_elsewhere": Series(_("Employed elsewhere"), PALETTE[0]),
        "further_study": Series(_("Further study"), PALETTE[3]),
        "unknown": Series(_("Not known"), PALETTE[6]),
    }
    title = _("Graduates' outcomes, region by region")
    rows = comparison.employability
    return Chart(
        key="employability",
        title=title,
        explanation=_(
            "What consenting graduates did after graduating, every semester together, as "
            "each region's operator recorded it."
        ),
        json_url=_json(comparison.month),
        columns=(
            Column("region", _("Region")),
            *(Column(kind, series.name) for kind, series in kinds.items()),
            Column("in_region_share", _("Employed in the region (%)")),
        ),
        rows=tuple(
            (r.region, *(getattr(r, kind) for kind in kinds), r.in_region_share) for r in rows
        ),
        row_labels=tuple(region_name(r.region) for r in rows),
        svg=drawn_bars(
            "employability",
            title,
            list(kinds.values()),
            [
                BarRow(
                    region_name(r.region),
                    tuple(getattr(r, kind) for kind in kinds),
                    note=""
                    if r.in_region_share is None
                    else _("%(share)s %% employed in the region")
                    % {"share": number(r.in_region_share, locale)},
                )
                for r in rows
            ],
            _("withheld"),
        ),
        empty=_("No region has published graduates' outcomes yet."),
    )


def region_comparison_charts(
    comparison: RegionComparison, locale: str, words: Words
) -> list[Chart]:
    """Every chart of the cross-region page, in its order."""
    return [
        _privacy_chart(comparison, locale, words),
        _shortages_chart(comparison, words),
        _heat_chart(comparison, words),
        _languages_chart(comparison, locale, words),
        _funnel_chart(comparison, words),
        _trend_chart(comparison, locale, words),
        _employability_chart(comparison, locale, words),
    ]


def _offered(analytics: AnalyticsService) -> Sequence[str]:
    return tuple(dict.fromkeys((ENGLISH, analytics.supply.language)))


@router.get(
    "/dashboard/regions",
    dependencies=[sign_in.page(OPERATOR, COORDINATOR)],
    response_class=HTMLResponse,
    summary="The partner regions side by side: charts, tables, CSV and JSON links",
)
def regions_dashboard(
    runtime: Runtime,
    analytics: Analytics,
    federation: Regions,
    lang: Annotated[
        str | None,
        Query(description="The page's language: en or the region's (ISO 639-1)."),
    ] = None,
    month: MonthAsked = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    offered = _offered(analytics)
    locale = page_language(lang, accept_language, offered)
    _ = translations_of(locale, CATALOGUES).gettext
    comparison = api.federation_compare(runtime, federation, month)
    notes = []
    if comparison.missing:
        notes.append(
            _("No snapshot of %(month)s has arrived from: %(regions)s.")
            % {
                "month": month_label(month or "", locale),
                "regions": ", ".join(region_name(r) for r in comparison.missing),
            }
        )
    return render(
        Page(
            locale=locale,
            title=_("Partner regions side by side"),
            lead=(
                _("Each region's snapshot of %(month)s.") % {"month": month_label(month, locale)}
                if month
                else _("Each region's latest snapshot.")
            )
            + " "
            + _(
                "Only anonymous aggregates leave a region: counts with random noise, and "
                "none built from fewer than k students or companies."
            ),
            charts=region_comparison_charts(comparison, locale, _),
            offered=offered,
            csv_base="/dashboard/regions",
            other_page=(
                _("Insights of %(region)s") % {"region": runtime.settings.region},
                "/dashboard",
            ),
            notes=notes,
            month=month,
        )
    )


@router.get(
    "/dashboard/regions/{chart}.csv",
    dependencies=[sign_in.page(OPERATOR, COORDINATOR)],
    summary="The numbers of one of the cross-region charts as CSV (UTF-8, with a header)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def region_chart_csv(
    runtime: Runtime, federation: Regions, chart: RegionChartKey, month: MonthAsked = None
) -> Response:
    comparison = api.federation_compare(runtime, federation, month)
    [found] = [
        c for c in region_comparison_charts(comparison, ENGLISH, lambda t: t) if c.key == chart
    ]
    return csv_download(found, f"regions-{chart}-{month or 'latest'}.csv")
