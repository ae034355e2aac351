"""The region's dashboard: its insights at a glance, for its operator and partners to read.

``GET /dashboard`` is one page of charts drawn on the server (:mod:`.charts`), each with
its numbers as a table, as CSV (``/dashboard/<chart>.csv``) and a link to the JSON under
``/v1/insights/…`` it is drawn from. The numbers are those of the JSON endpoints, asked for
the same way, so the page can never tell a different story than the API.

The page reads in English or the region's language (``?lang=``, else the browser's
``Accept-Language``, else the region's language); its words are gettext messages,
English in the code and the template, translated in ``templates/locales/<lang>.po``. ESCO
and ISCED-F labels stay English: the vocabulary ships them so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import quote, urlencode

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Depends, Header, HTTPException, Query, status
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment
from markupsafe import Markup

from interlocality.analytics import api
from interlocality.analytics.api import Analytics
from interlocality.analytics.charts import PALETTE, BarRow, Series, bar_chart, csv_text, line_chart
from interlocality.analytics.funnel import FunnelInsights, month_of
from interlocality.analytics.insights import (
    LanguageInsights,
    SkillGroupInsights,
    SkillInsights,
    SkillRow,
    StudyFieldInsights,
)
from interlocality.analytics.outcomes import DatingOutcomes, Employability
from interlocality.analytics.service import AnalyticsService
from interlocality.analytics.skills import DEFAULT_GROUP_LEVEL
from interlocality.analytics.supply import MONTH_PATTERN, month_range
from interlocality.common import sign_in
from interlocality.common.access import COORDINATOR, OPERATOR
from interlocality.common.service import Provided, ServiceRuntime, problem
from interlocality.common.translations import (
    ENGLISH,
    preferred_language,
    translated_environment,
    translations_of,
)

__all__ = [
    "CATALOGUES",
    "CHARTS",
    "Chart",
    "ChartKey",
    "Column",
    "MonthAsked",
    "Page",
    "RegionFigures",
    "RegionInsights",
    "Words",
    "babel_locale",
    "csv_download",
    "drawn_bars",
    "month_asked",
    "month_label",
    "number",
    "page_language",
    "region_charts",
    "region_insights",
    "render",
    "router",
]

TEMPLATES = Path(__file__).parent / "templates"
CATALOGUES = TEMPLATES / "locales"
ChartKey = Literal[
    "skill-shortages",
    "skill-surpluses",
    "skill-groups",
    "study-fields",
    "languages",
    "funnel",
    "company-dating",
    "employability",
    "trend",
]
CHARTS: tuple[ChartKey, ...] = get_args(ChartKey)
TREND_MONTHS = 12
TOP = 8  # skills and groups drawn; the table and CSV hold all the JSON holds
# English for readers in Europe: "Dec 2026", "1,234.5".
BABEL_LOCALES = {"en": "en_GB"}
DEMAND, SUPPLY = PALETTE[0], PALETTE[1]

Words = Callable[[str], str]
logger = logging.getLogger(__name__)

router = APIRouter(tags=["dashboard"])


@dataclass(frozen=True)
class Column:
    """A column of a chart's numbers: its CSV header (the JSON field it comes from) and
    its heading in the page's table; some (URIs) are for the CSV only."""

    key: str
    heading: str
    in_table: bool = True


@dataclass(frozen=True)
class Chart:
    """One chart of the page with everything shown around it."""

    key: str  # its anchor on the page and its CSV's name
    title: str
    explanation: str
    json_url: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]
    svg: Markup | None  # None: nothing to show yet
    headline: str = ""
    row_labels: tuple[str, ...] = ()  # the rows' first cells as people read them
    wide: bool = False  # the page's whole width: a heat map of many regions
    empty: str = ""  # what an empty chart says, when not the region's "nothing yet"

    @property
    def headings(self) -> list[str]:
        """The table's column headings."""
        return [c.heading for c in self.columns if c.in_table]

    @property
    def table_rows(self) -> list[tuple[object, ...]]:
        """The table's rows: the columns shown, the first cell as people read it."""
        shown = [i for i, c in enumerate(self.columns) if c.in_table]
        rows = [tuple(row[i] for i in shown) for row in self.rows]
        if self.row_labels:
            rows = [(label, *row[1:]) for label, row in zip(self.row_labels, rows, strict=True)]
        return rows


@dataclass(frozen=True)
class RegionInsights:
    """The JSON answers the page is drawn from, and the months they cover."""

    region: str
    language: str
    month: str
    months: list[str]
    counted_at: datetime
    skills: SkillInsights
    groups: SkillGroupInsights
    fields: StudyFieldInsights
    languages: LanguageInsights
    funnel: FunnelInsights
    dating: DatingOutcomes
    employability: Employability


def babel_locale(locale: str) -> str:
    """The Babel locale a page's language is formatted in."""
    return BABEL_LOCALES.get(locale, locale)


def number(value: int | float | None, locale: str) -> str:
    if value is None:
        return "–"
    return format_decimal(round(value, 1), locale=babel_locale(locale))


def _json(path: str, **query: str | int | None) -> str:
    given = {k: v for k, v in query.items() if v is not None}
    return f"/v1/insights/{path}" + (f"?{urlencode(given)}" if given else "")


def month_label(month: str, locale: str, pattern: str = "MMM yyyy") -> str:
    year, number = (int(part) for part in month.split("-"))
    return format_date(datetime(year, number, 1), pattern, locale=babel_locale(locale))


def drawn_bars(
    key: str,
    title: str,
    series: Sequence[Series],
    rows: Sequence[BarRow],
    withheld: str = "withheld",
) -> Markup | None:
    """The bar chart of ``rows``, or None when there is no value to draw; a withheld
    value (None) is said as ``withheld``, and a row with every value withheld is left to
    the table."""
    rows = [row for row in rows if any(v is not None for v in row.values)]
    if not any(v for row in rows for v in row.values):
        return None

    def described(row: BarRow) -> str:
        values = ", ".join(
            f"{one.name} {withheld if value is None else value}"
            for one, value in zip(series, row.values, strict=True)
        )
        return f"{row.label}: {values}"

    return bar_chart(key, title, series, rows, described, withheld)


def _skill_chart(
    key: ChartKey, rows: Sequence[SkillRow], insights: RegionInsights, words: Words
) -> Chart:
    _ = words
    shortage = key == "skill-shortages"
    title = _("Largest skill shortages") if shortage else _("Largest skill surpluses")
    series = (Series(_("Open positions"), DEMAND), Series(_("Students"), SUPPLY))
    return Chart(
        key=key,
        title=title,
        explanation=_(
            "Open positions asking for a skill against consenting students holding it at "
            "the level asked or above, at the end of the month."
        ),
        json_url=_json("skills", month=insights.month, limit=TOP),
        columns=(
            Column("skill_uri", "ESCO", in_table=False),
            Column("label", _("Skill")),
            Column("positions", _("Open positions")),
            Column("vacancies", _("Vacancies")),
            Column("students", _("Students")),
            Column("students_related", _("Students with a related skill")),
            Column("shortage_ratio", _("Positions per student")),
            Column("gap", _("Gap")),
        ),
        rows=tuple(
            (
                r.skill_uri,
                r.label,
                r.positions,
                r.vacancies,
                r.students,
                r.students_related,
                r.shortage_ratio,
                r.gap,
            )
            for r in rows
        ),
        svg=drawn_bars(
            key, title, series, [BarRow(r.label, (r.positions, r.students)) for r in rows]
        ),
        empty=""
        if not insights.skills.months[-1].positions
        else _("No skill is short: for every skill asked for, at least as many students hold it.")
        if shortage
        else _("No skill is in surplus: every skill held is asked for by as many positions."),
    )


def region_charts(insights: RegionInsights, locale: str, words: Words) -> list[Chart]:
    """Every chart of the page, in the page's order, from the insights' JSON answers."""
    _ = words
    latest = insights.skills.months[-1]
    charts = [
        _skill_chart("skill-shortages", latest.top_shortages, insights, words),
        _skill_chart("skill-surpluses", latest.top_surpluses, insights, words),
    ]

    groups = insights.groups.months[-1].groups
    title = _("Supply and demand by skill group")
    charts.append(
        Chart(
            key="skill-groups",
            title=title,
            explanation=_(
                "Open positions and students per group of the ESCO skills hierarchy, "
                "largest shortage first."
            ),
            json_url=_json("skill-groups", month=insights.month),
            columns=(
                Column("group_uri", "ESCO", in_table=False),
                Column("label", _("Skill group")),
                Column("positions", _("Open positions")),
                Column("vacancies", _("Vacancies")),
                Column("students", _("Students")),
                Column("skills", _("Skills")),
                Column("shortage_ratio", _("Positions per student")),
                Column("gap", _("Gap")),
            ),
            rows=tuple(
                (
                    g.group_uri,
                    g.label,
                    g.positions,
                    g.vacancies,
                    g.students,
                    g.skills,
                    g.shortage_ratio,
                    g.gap,
                )
                for g in groups
            ),
            svg=drawn_bars(
                "skill-groups",
                title,
                (Series(_("Open positions"), DEMAND), Series(_("Students"), SUPPLY)),
                [BarRow(g.label, (g.positions, g.students)) for g in groups[:TOP]],
            ),
        )
    )

    fields = insights.fields.months[-1].fields
    title = _("Fields of study against demand")
    charts.append(
        Chart(
            key="study-fields",
            title=title,
            explanation=_(
                "Students by their field of study (ISCED-F) against open positions by the "
                "field their skills point to."
            ),
            json_url=_json("study-fields", month=insights.month),
            columns=(
                Column("field_code", "ISCED-F"),
                Column("label", _("Field of study")),
                Column("positions", _("Open positions")),
                Column("vacancies", _("Vacancies")),
                Column("students", _("Students")),
                Column("shortage_ratio", _("Positions per student")),
            ),
            rows=tuple(
                (f.field_code, f.label, f.positions, f.vacancies, f.students, f.shortage_ratio)
                for f in fields
            ),
            svg=drawn_bars(
                "study-fields",
                title,
                (Series(_("Open positions"), DEMAND), Series(_("Students"), SUPPLY)),
                [BarRow(f.label, (f.positions, f.students)) for f in fields[:TOP]],
            ),
        )
    )

    spoken = insights.languages.months[-1]
    language_name = Locale.parse(insights.language).get_display_name(babel_locale(locale)) or ""
    title = _("Vacancies requiring %(language)s, and students who speak it") % {
        "language": language_name
    }
    share = spoken.english_friendly_share
    charts.append(
        Chart(
            key="languages",
            title=title,
            explanation=_(
                "Open vacancies requiring the region's language at each CEFR level, against "
                "consenting students speaking it at that level or better."
            ),
            json_url=_json("languages", month=insights.month),
            columns=(
                Column("level", _("CEFR level")),
                Column("vacancies", _("Vacancies requiring it")),
                Column("positions", _("Open positions")),
                Column("students", _("Students at this level or better")),
            ),
            rows=tuple((r.level, r.vacancies, r.positions, r.students) for r in spoken.requiring),
            svg=drawn_bars(
                "languages",
                title,
                (
                    Series(_("Vacancies requiring it"), DEMAND),
                    Series(_("Students at this level or better"), SUPPLY),
                ),
                [BarRow(r.level, (r.vacancies, r.students)) for r in spoken.requiring],
            ),
            headline=""
            if share is None
            else _(
                "%(friendly)s of %(vacancies)s open vacancies (%(share)s) need no language "
                "but English. A language requirement removes %(removed)s of %(pairs)s "
                "student–vacancy pairs that match on skills."
            )
            % {
                "friendly": number(spoken.english_friendly, locale),
                "vacancies": number(spoken.vacancies, locale),
                "share": format_percent(share, locale=babel_locale(locale)),
                "removed": number(spoken.pairs_removed, locale),
                "pairs": number(spoken.pairs_on_skills, locale),
            },
        )
    )

    kinds = {
        "internship": _("Internship"),
        "thesis": _("Thesis"),
        "student_job": _("Student job"),
        "graduate_job": _("Graduate job"),
        "company_project": _("Company project"),
        "unknown": _("Unknown"),
    }
    steps = (
        Series(_("Published"), PALETTE[0]),
        Series(_("Matched"), PALETTE[4]),
        Series(_("Notified"), PALETTE[2]),
        Series(_("Applied"), PALETTE[5]),
        Series(_("Placed"), PALETTE[1]),
    )
    regions = [r for r in insights.funnel.regions if r.region == insights.region]
    groups_funnel = regions[0].groups if regions else []
    title = _("From published to placed, by kind of engagement")
    charts.append(
        Chart(
            key="funnel",
            title=title,
            explanation=_(
                "Vacancies published in the last twelve months, and how many were matched, "
                "notified, applied to and filled; with the median days to the first match "
                "and to the first placement."
            ),
            json_url=_json("funnel", by="kind", **{"from": insights.months[0]}),
            columns=(
                Column("group", _("Kind of engagement")),
                Column("published", _("Published")),
                Column("matched", _("Matched")),
                Column("notified", _("Notified")),
                Column("applied", _("Applied")),
                Column("placed", _("Placed")),
                Column("median_days_to_first_match", _("Median days to first match")),
                Column("median_days_to_placement", _("Median days to placement")),
            ),
            rows=tuple(
                (
                    g.group,
                    g.total.published,
                    g.total.matched,
                    g.total.notified,
                    g.total.applied,
                    g.total.placed,
                    g.total.median_days_to_first_match,
                    g.total.median_days_to_placement,
                )
                for g in groups_funnel
            ),
            row_labels=tuple(kinds.get(g.group, g.group) for g in groups_funnel),
            svg=drawn_bars(
                "funnel",
                title,
                steps,
                [
                    BarRow(
                        kinds.get(g.group, g.group),
                        (
                            g.total.published,
                            g.total.matched,
                            g.total.notified,
                            g.total.applied,
                            g.total.placed,
                        ),
                        note=_("median days to first match: %(match)s, to placement: %(placed)s")
                        % {
                            "match": number(g.total.median_days_to_first_match, locale),
                            "placed": number(g.total.median_days_to_placement, locale),
                        },
                    )
                    for g in groups_funnel
                ],
            ),
        )
    )

    dating = insights.dating
    title = _("Company Dating: dates, then applications and placements")
    charts.append(
        Chart(
            key="company-dating",
            title=title,
            explanation=_(
                "Dates held between students and companies each month, and how many were "
                "followed within %(days)s days by an application or a placement at the "
                "company met."
            )
            % {"days": dating.window_days},
            json_url=_json("company-dating", **{"from": insights.months[0]}),
            columns=(
                Column("month", _("Month")),
                Column("dates_held", _("Dates held")),
                Column("students", _("Students")),
                Column("companies", _("Companies")),
                Column("dates_with_application", _("Followed by an application")),
                Column("dates_with_placement", _("Followed by a placement")),
            ),
            rows=tuple(
                (
                    m.month,
                    m.dates_held,
                    m.students,
                    m.companies,
                    m.dates_with_application,
                    m.dates_with_placement,
                )
                for m in dating.months
            ),
            row_labels=tuple(month_label(m.month, locale) for m in dating.months),
            svg=drawn_bars(
                "company-dating",
                title,
                (
                    Series(_("Dates held"), PALETTE[0]),
                    Series(_("Followed by an application"), PALETTE[5]),
                    Series(_("Followed by a placement"), PALETTE[1]),
                ),
                [
                    BarRow(
                        month_label(m.month, locale),
                        (m.dates_held, m.dates_with_application, m.dates_with_placement),
                    )
                    for m in dating.months
                ],
            ),
        )
    )

    outcomes = {
        "employed_in_region": Series(_("Employed in the region"), PALETTE[2]),
        "employed_elsewhere": Series(_("Employed elsewhere"), PALETTE[0]),
        "further_study": Series(_("Further study"), PALETTE[3]),
        "unknown": Series(_("Not known"), PALETTE[6]),
    }
    semesters = insights.employability.semesters

    def semester_label(semester: str) -> str:
        year, _dash, half = semester.partition("-")
        return (_("Spring %(year)s") if half == "spring" else _("Autumn %(year)s")) % {"year": year}

    title = _("Graduates' outcomes by semester of graduation")
    charts.append(
        Chart(
            key="employability",
            title=title,
            explanation=_(
                "What consenting graduates did after graduating, as the region's operator "
                "recorded it."
            ),
            json_url=_json("employability"),
            columns=(
                Column("semester", _("Semester")),
                Column("graduates", _("Graduates")),
                *(Column(kind, series.name) for kind, series in outcomes.items()),
            ),
            rows=tuple(
                (s.semester, s.graduates, *(o.count for o in s.outcomes)) for s in semesters
            ),
            row_labels=tuple(semester_label(s.semester) for s in semesters),
            svg=drawn_bars(
                "employability",
                title,
                [outcomes[o.outcome] for o in semesters[0].outcomes] if semesters else [],
                [
                    BarRow(semester_label(s.semester), tuple(o.count for o in s.outcomes))
                    for s in semesters
                ],
            ),
        )
    )

    months = insights.skills.months
    title = _("Open positions and students, month by month")
    lines = (Series(_("Open positions"), DEMAND), Series(_("Students"), SUPPLY))
    values = ([m.positions for m in months], [m.students for m in months])
    labels = [month_label(m.month, locale, "MMM yy") for m in months]
    charts.append(
        Chart(
            key="trend",
            title=title,
            explanation=_(
                "Open positions and consenting students at the end of each of the last "
                "twelve months."
            ),
            json_url=_json("skills", **{"from": insights.months[0], "to": insights.month}),
            columns=(
                Column("month", _("Month")),
                Column("vacancies", _("Vacancies")),
                Column("positions", _("Open positions")),
                Column("students", _("Students")),
            ),
            rows=tuple((m.month, m.vacancies, m.positions, m.students) for m in months),
            row_labels=tuple(month_label(m.month, locale) for m in months),
            svg=line_chart(
                "trend",
                title,
                lines,
                labels,
                values,
                "; ".join(
                    f"{label}: {lines[0].name} {p}, {lines[1].name} {s}"
                    for label, p, s in zip(labels, *values, strict=True)
                ),
            )
            if any(values[0]) or any(values[1])
            else None,
        )
    )
    return charts


def page_language(lang: str | None, accept_language: str | None, offered: Sequence[str]) -> str:
    """The page's language: ``lang`` if offered (refused otherwise), else the browser's
    preference among ``offered``, else the region's (the last offered)."""
    if lang is None:
        return preferred_language(accept_language, offered, offered[-1])
    if lang not in offered:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(
                    ("query", "lang"),
                    f"expected one of {', '.join(offered)}",
                    "unknown_language",
                    input=lang,
                )
            ],
        )
    return lang


def month_asked(month: str | None) -> str:
    """The month a page shows: ``month``, or the running one; a later one is refused."""
    running = month_of(datetime.now(UTC))
    if month and month > running:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(
                    ("query", "month"),
                    f"a month up to the running one ({running}): a later one has no numbers",
                    "month_in_future",
                    input=month,
                )
            ],
        )
    return month or running


def region_insights(
    runtime: ServiceRuntime, analytics: AnalyticsService, month: str
) -> RegionInsights:
    """The JSON answers of ``month`` and the twelve months up to it."""
    year, number = (int(part) for part in month.split("-"))
    back = year * 12 + number - 1 - (TREND_MONTHS - 1)
    months = month_range(f"{back // 12:04d}-{back % 12 + 1:02d}", month)
    first = months[0]
    return RegionInsights(
        region=runtime.settings.region,
        language=analytics.supply.language,
        month=month,
        months=months,
        counted_at=datetime.now(UTC),
        skills=api.skill_insights(runtime, analytics, first=first, last=month, limit=TOP),
        groups=api.skill_group_insights(
            runtime, analytics, month=month, group_level=DEFAULT_GROUP_LEVEL
        ),
        fields=api.study_field_insights(runtime, analytics, month=month, field_digits=2),
        languages=api.language_insights(runtime, analytics, month=month),
        funnel=api.insights_funnel(analytics, runtime, (first, month), by="kind"),
        dating=api.insights_company_dating(analytics, runtime, (first, month)),
        employability=api.insights_employability(analytics, runtime, (None, month)),
    )


class RegionFigures:
    """The region page's figures, counted once and served until they are ``max_age``
    seconds old, then counted again in the background while the last ones are served.

    Counting every insight of a region's twelve months reads every student's rows of each
    month: seconds for tens of thousands of students. A page that did so on every request
    could not answer in a fraction of a second, so it says when its figures were counted
    instead. The JSON endpoints count afresh on every request.
    """

    def __init__(self, count: Callable[[str], RegionInsights], max_age: float) -> None:
        self._count = count
        self.max_age = max_age
        self._figures: dict[str, RegionInsights] = {}
        self._counting: set[str] = set()
        self._lock = threading.Lock()
        self._first = threading.Lock()  # one cold count at a time

    def of(self, month: str) -> RegionInsights:
        """The figures of ``month``: counted now if there are none yet, else the last ones
        (and a recount started when they are older than ``max_age``)."""
        with self._lock:
            held = self._figures.get(month)
        if held is None or self.max_age == 0:
            with self._first:
                with self._lock:
                    held = self._figures.get(month) if self.max_age else None
                if held is None:
                    held = self._count(month)
                    with self._lock:
                        self._figures[month] = held
            return held
        age = (datetime.now(UTC) - held.counted_at).total_seconds()
        if age > self.max_age:
            self._recount(month)
        return held

    def _recount(self, month: str) -> None:
        with self._lock:
            if month in self._counting:
                return
            self._counting.add(month)

        def count() -> None:
            try:
                figures = self._count(month)
                with self._lock:
                    self._figures[month] = figures
            except Exception:
                logger.exception("the dashboard's figures could not be counted again")
            finally:
                with self._lock:
                    self._counting.discard(month)

        threading.Thread(target=count, name=f"dashboard-{month}", daemon=True).start()


@cache
def _environment(locale: str) -> Environment:
    environment = translated_environment(TEMPLATES, locale, CATALOGUES, autoescape=True)
    environment.filters["number"] = lambda value: number(value, locale)
    return environment


@dataclass(frozen=True)
class Page:
    """A dashboard page: its words, its charts, and where its CSVs and other page are."""

    locale: str
    title: str
    lead: str
    charts: Sequence[Chart]
    offered: Sequence[str]
    csv_base: str
    other_page: tuple[str, str]  # its link's text and address
    notes: Sequence[str] = ()
    month: str | None = None  # the month asked for, kept by the links


def render(page: Page) -> HTMLResponse:
    """The page as HTML in its language."""
    kept = f"month={page.month}" if page.month else ""
    html = (
        _environment(page.locale)
        .get_template("dashboard.jinja")
        .render(
            locale=page.locale,
            title=page.title,
            lead=page.lead,
            notes=page.notes,
            charts=page.charts,
            csv_base=page.csv_base,
            csv_query=f"?{kept}" if kept else "",
            query=f"{kept}&" if kept else "",
            other_page=page.other_page,
            languages=[
                (code, (Locale.parse(code).get_display_name(code) or code).capitalize())
                for code in page.offered
            ],
        )
    )
    return HTMLResponse(html, headers={"Content-Language": page.locale})


def csv_download(chart: Chart, name: str) -> Response:
    """A chart's numbers as a CSV file called ``name``."""
    return Response(
        csv_text([c.key for c in chart.columns], chart.rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"; '
            f"filename*=UTF-8''{quote(name)}"
        },
    )


Figures = Annotated[RegionFigures, Depends(Provided(RegionFigures))]
MonthAsked = Annotated[
    str | None,
    Query(
        description="YYYY-MM: the month shown (the running one when left out).",
        pattern=MONTH_PATTERN,
    ),
]


@router.get(
    "/dashboard",
    dependencies=[sign_in.page(OPERATOR, COORDINATOR)],
    response_class=HTMLResponse,
    summary="The region's insights at a glance: charts, tables, CSV and JSON links",
)
def dashboard(
    figures: Figures,
    analytics: Analytics,
    lang: Annotated[
        str | None,
        Query(description="The page's language: en or the region's (ISO 639-1)."),
    ] = None,
    month: MonthAsked = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    offered = tuple(dict.fromkeys((ENGLISH, analytics.supply.language)))
    locale = page_language(lang, accept_language, offered)
    insights = figures.of(month_asked(month))
    _ = translations_of(locale, CATALOGUES).gettext
    return render(
        Page(
            locale=locale,
            title=_("Insights of %(region)s") % {"region": insights.region},
            lead=_(
                "The region's students and vacancies at the end of %(month)s; only students "
                "who consent to anonymous analytics are counted."
            )
            % {"month": month_label(insights.month, locale)}
            + " "
            + _("Counted at %(time)s.")
            % {
                "time": format_time(insights.counted_at, "HH:mm 'UTC'", locale=babel_locale(locale))
            },
            charts=region_charts(insights, locale, _),
            offered=offered,
            csv_base="/dashboard",
            other_page=(_("The partner regions side by side"), "/dashboard/regions"),
            month=month,
        )
    )


@router.get(
    "/dashboard/{chart}.csv",
    dependencies=[sign_in.page(OPERATOR, COORDINATOR)],
    summary="The numbers of one of the dashboard's charts as CSV (UTF-8, with a header)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def chart_csv(figures: Figures, chart: ChartKey, month: MonthAsked = None) -> Response:
    insights = figures.of(month_asked(month))
    [found] = [c for c in region_charts(insights, ENGLISH, lambda text: text) if c.key == chart]
    return csv_download(found, f"{insights.region}-{chart}-{insights.month}.csv")
