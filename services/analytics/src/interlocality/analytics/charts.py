"""Charts drawn on the server as inline SVG, and the CSV of the numbers behind them (pure,
no I/O).

Regions run behind firewalls: a page with its charts inline needs no script, no font and
no CDN, prints, and reads without JavaScript. Three shapes cover the dashboards: grouped
horizontal bars (a category's label on its own line above its bars, so long ESCO labels
fit a phone), lines over months (a gap where a month has no value), and a heat map of
categories by region, each cell's value written in it. Every SVG is one image to a screen reader
(``role="img"``), named by its ``<title>`` and described by a ``<desc>`` that says every
number; each bar and point has a ``<title>`` of its own for a pointer, and its value is
written beside it, so nobody has to read a value off an axis.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = [
    "PALETTE",
    "WIDTH",
    "BarRow",
    "HeatRow",
    "Series",
    "bar_chart",
    "csv_text",
    "heat_map",
    "line_chart",
    "nice_maximum",
]

Number = int | float
# Colours told apart by people with the common colour-vision deficiencies (Okabe–Ito),
# each dark enough to carry white text and to show on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#7F7F7F")
WIDTH = 320  # about a phone's width in CSS pixels: its text is drawn at its size there
LABEL_SIZE = 13
VALUE_SIZE = 12
BAR = 14
GAP = 3
ROW_GAP = 12
LEGEND_ROW = 22
VALUE_ROOM = 44  # right of the longest bar, for its value


@dataclass(frozen=True)
class Series:
    """One kind of value drawn in every category: its name in the legend, its colour."""

    name: str
    colour: str


@dataclass(frozen=True)
class HeatRow:
    """One row of a heat map: its label, a value per column (None: withheld)."""

    label: str
    values: tuple[Number | None, ...]


@dataclass(frozen=True)
class BarRow:
    """One category of a bar chart: its label, a note under it, a value per series."""

    label: str
    values: tuple[Number | None, ...]  # None: withheld, drawn as no bar and a dash
    note: str = ""


def _format(value: Number) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return str(int(value))


def _lines(text: str, width: int = 40, most: int = 2) -> list[str]:
    """``text`` wrapped at word boundaries into at most ``most`` lines of about ``width``
    characters (what fits the chart at its label size), the last shortened with "…"."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > most:
        lines = [*lines[: most - 1], " ".join(lines[most - 1 :])]
    return [line if len(line) <= width else line[: width - 1].rstrip() + "…" for line in lines] or [
        ""
    ]


def _legend(series: Sequence[Series], top: int) -> tuple[list[str], int]:
    """The legend's marks from ``top`` on, wrapped to the width; and the height it takes."""
    marks: list[str] = []
    x, y = 0, top
    for one in series:
        width = 22 + round(len(one.name) * 6.8) + 14
        if x and x + width > WIDTH:
            x, y = 0, y + LEGEND_ROW
        marks.append(
            f'<rect x="{x}" y="{y + 3}" width="14" height="14" rx="2" fill="{one.colour}"/>'
            f'<text x="{x + 20}" y="{y + 15}" class="legend">{escape(one.name)}</text>'
        )
        x += width
    return marks, y + LEGEND_ROW - top


def _svg(
    key: str,
    title: str,
    description: str,
    height: float,
    body: Sequence[str],
    width: int = WIDTH,
) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{key}-title {key}-desc" font-family="system-ui, sans-serif">'
        f'<title id="{key}-title">{escape(title)}</title>'
        f'<desc id="{key}-desc">{escape(description)}</desc>'
        f"<style>.label{{font-size:{LABEL_SIZE}px;fill:#1f2933;font-weight:600}}"
        f".note{{font-size:{VALUE_SIZE}px;fill:#52606d}}"
        f".value,.legend,.axis{{font-size:{VALUE_SIZE}px;fill:#1f2933}}"
        f".axis{{fill:#52606d}}</style>" + "".join(body) + "</svg>"
    )


def bar_chart(
    key: str,
    title: str,
    series: Sequence[Series],
    rows: Sequence[BarRow],
    describe: Callable[[BarRow], str],
    withheld: str = "withheld",
) -> Markup:
    """Grouped horizontal bars: per row its label (and note), then a bar per series, all
    on one scale, each with its value written after it (a dash where it is withheld, said
    so by ``withheld``). ``describe`` says a row in words for the chart's description;
    ``key`` makes the SVG's ids unique on the page."""
    largest = max((v for row in rows for v in row.values if v is not None), default=0) or 1
    scale = (WIDTH - VALUE_ROOM) / largest
    body, y = _legend(series, 0)
    y += 6
    for row in rows:
        for line in _lines(row.label):
            y += LABEL_SIZE + 3
            body.append(
                f'<text x="0" y="{y}" class="label">{escape(line)}'
                f"<title>{escape(row.label)}</title></text>"
            )
        if row.note:
            y += VALUE_SIZE + 3
            body.append(f'<text x="0" y="{y}" class="note">{escape(row.note)}</text>')
        y += 5
        for one, value in zip(series, row.values, strict=True):
            length = 0.0 if value is None else round(value * scale, 1)
            shown = "–" if value is None else _format(value)
            said = withheld if value is None else shown
            bar = (
                ""
                if value is None
                else f'<rect x="0" y="{y}" width="{max(length, 1.5)}" height="{BAR}" rx="2" '
                f'fill="{one.colour}"/>'
            )
            body.append(
                f'<g class="bar"><title>{escape(f"{row.label} — {one.name}: {said}")}</title>'
                f'{bar}<text x="{length + 5}" y="{y + BAR - 3}" class="value" '
                f'data-series="{escape(one.name)}">{shown}</text></g>'
            )
            y += BAR + GAP
        y += ROW_GAP
    return _svg(key, title, "; ".join(describe(row) for row in rows), y, body)


def nice_maximum(value: Number) -> int:
    """The top of an axis: the smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value``."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 2.5, 5):
            top = factor * step
            if top >= value and float(top).is_integer():
                return int(top)
        step *= 10


def line_chart(
    key: str,
    title: str,
    series: Sequence[Series],
    labels: Sequence[str],
    values: Sequence[Sequence[Number | None]],
    description: str,
) -> Markup:
    """Lines over the months ``labels`` (oldest first), one per series (``values[i]`` its
    value each month, None where it has none: the line breaks there), a point per month with
    its ``<title>``, and each line's last value written at its end. Series beyond the
    palette's colours are dashed."""
    left, right, top, bottom = 34, 30, 0, 22
    legend, legend_height = _legend(series, 0)
    top = legend_height + 10
    plot_height = 150
    height = top + plot_height + bottom
    axis_top = nice_maximum(max((v for line in values for v in line if v is not None), default=0))
    across = WIDTH - left - right
    step = across / max(len(labels) - 1, 1)

    def x(index: int) -> float:
        return round(left + index * step, 1)

    def y(value: Number) -> float:
        return round(top + plot_height - value / axis_top * plot_height, 1)

    body = list(legend)
    for tick in (0, axis_top / 2, axis_top):
        body.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y(tick)}" y2="{y(tick)}" '
            f'stroke="#d9e2ec"/><text x="{left - 6}" y="{y(tick) + 4}" class="axis" '
            f'text-anchor="end">{_format(tick)}</text>'
        )
    # at most six month labels, so they never touch; counted back from the latest month
    every = max(1, -(-len(labels) // 6))
    for index, label in enumerate(labels):
        if (len(labels) - 1 - index) % every == 0:
            body.append(
                f'<text x="{x(index)}" y="{top + plot_height + 16}" class="axis" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    ends: list[tuple[float, float, str, Number]] = []
    for number, (one, line) in enumerate(zip(series, values, strict=True)):
        dashes = ' stroke-dasharray="6 3"' if number >= len(PALETTE) else ""
        for run in _runs(line):
            points = " ".join(f"{x(i)},{y(line[i] or 0)}" for i in run)
            body.append(
                f'<polyline points="{points}" fill="none" stroke="{one.colour}" '
                f'stroke-width="2.5"{dashes}/>'
            )
        for index, value in enumerate(line):
            if value is None:
                continue
            body.append(
                f'<circle cx="{x(index)}" cy="{y(value)}" r="3.5" fill="{one.colour}">'
                f"<title>{escape(f'{labels[index]} — {one.name}: {_format(value)}')}</title>"
                "</circle>"
            )
        last = next((i for i in range(len(line) - 1, -1, -1) if line[i] is not None), None)
        if last is not None:
            ends.append((y(line[last] or 0) + 4, x(last) + 7, one.name, line[last] or 0))
    # the lines' last values, moved apart where lines end close together
    ends.sort()
    for number, (at, left_at, name, value) in enumerate(ends):
        if number and at < ends[number - 1][0] + VALUE_SIZE + 1:
            at = ends[number - 1][0] + VALUE_SIZE + 1
            ends[number] = (at, left_at, name, value)
        body.append(
            f'<text x="{left_at}" y="{at}" class="value" '
            f'data-series="{escape(name)}">{_format(value)}</text>'
        )
    return _svg(key, title, description, height, body)


def _runs(line: Sequence[Number | None]) -> list[list[int]]:
    """The indexes of ``line``'s unbroken stretches of values."""
    runs: list[list[int]] = []
    for index, value in enumerate(line):
        if value is None:
            continue
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


HEAT_LABEL = 176  # the rows' labels, wrapped to two lines
HEAT_CELL = 64
HEAT_ROW = 36
WITHHELD = "#e4e7eb"


def _blend(colour: str, strength: float) -> str:
    """``colour`` mixed with white: ``strength`` 0 is white, 1 the colour itself."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    mixed = (round(255 + (part - 255) * strength) for part in (red, green, blue))
    return "#" + "".join(f"{part:02x}" for part in mixed)


def heat_map(
    key: str,
    title: str,
    columns: Sequence[str],
    rows: Sequence[HeatRow],
    legend: tuple[Series, Series, Series],
    description: str,
    unit: str = "",
) -> Markup:
    """Rows by columns, each cell coloured by its value — ``legend``'s first colour for
    positive values, its second for negative ones, deeper the larger, its third where the
    value is withheld — and the value written in the cell (with ``unit``)."""
    width = max(WIDTH, HEAT_LABEL + HEAT_CELL * len(columns))
    largest = max((abs(v) for row in rows for v in row.values if v is not None), default=0) or 1
    marks, legend_height = _legend(legend, 0)
    body = list(marks)
    top = legend_height + 8
    for number, column in enumerate(columns):
        centre = HEAT_LABEL + HEAT_CELL * number + HEAT_CELL / 2
        body.append(
            f'<text x="{centre}" y="{top + 14}" class="label" text-anchor="middle">'
            f"{escape(column if len(column) <= 9 else column[:8] + '…')}"
            f"<title>{escape(column)}</title></text>"
        )
    y = top + 22
    for row in rows:
        lines = _lines(row.label, width=27)
        for offset, line in enumerate(lines):
            body.append(
                f'<text x="0" y="{y + 14 + offset * 14}" class="note">{escape(line)}'
                f"<title>{escape(row.label)}</title></text>"
            )
        for number, (column, value) in enumerate(zip(columns, row.values, strict=True)):
            left = HEAT_LABEL + HEAT_CELL * number
            if value is None:
                fill, text, ink = WITHHELD, "–", "#1f2933"
            else:
                strength = 0.15 + 0.85 * min(abs(value) / largest, 1.0)
                fill = _blend(legend[0].colour if value > 0 else legend[1].colour, strength)
                text = ("+" if value > 0 else "") + _format(value) + unit
                ink = "#ffffff" if strength > 0.55 else "#1f2933"
            shown = text if value is not None else legend[2].name
            body.append(
                f'<g class="cell"><title>{escape(f"{row.label} — {column}: {shown}")}</title>'
                f'<rect x="{left + 1}" y="{y + 1}" width="{HEAT_CELL - 2}" '
                f'height="{HEAT_ROW - 2}" rx="3" fill="{fill}"/>'
                f'<text x="{left + HEAT_CELL / 2}" y="{y + HEAT_ROW / 2 + 4}" class="value" '
                f'text-anchor="middle" fill="{ink}" style="fill:{ink}" '
                f'data-column="{escape(column)}">{escape(text)}</text></g>'
            )
        y += HEAT_ROW
    return _svg(key, title, description, y + 4, body, width)


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A CSV document: a header of ``columns``, then a line per row; ``None`` is empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return out.getvalue()
