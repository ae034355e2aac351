"""The charts drawn on the server and the CSV beside them: the numbers an SVG shows are the
data's, each chart is one labelled image, and a CSV parses back to what was written."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from interlocality.analytics.charts import (
    WIDTH,
    BarRow,
    Series,
    bar_chart,
    csv_text,
    line_chart,
    nice_maximum,
)

SVG = "{http://www.w3.org/2000/svg}"
TWO = (Series("Open positions", "#0072B2"), Series("Students", "#D55E00"))
ROWS = [
    BarRow("Python (computer programming)", (12, 3)),
    BarRow("Ærø & <Søfart> sejlads", (4, 0), note="median 2.5 days"),
    BarRow("Elif Yılmaz's ñ-skill", (0, 7)),
]


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # well-formed XML, or this raises


def values_by_series(svg: ET.Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for text in svg.iter(f"{SVG}text"):
        if "data-series" in text.attrib:
            found.setdefault(text.attrib["data-series"], []).append(text.text or "")
    return found


def test_each_bar_writes_its_value_and_the_longest_bar_fills_the_scale() -> None:
    svg = parsed(bar_chart("skills", "Largest shortages", TWO, ROWS, lambda r: r.label))
    assert values_by_series(svg) == {
        "Open positions": ["12", "4", "0"],
        "Students": ["3", "0", "7"],
    }
    widths = [float(rect.attrib["width"]) for rect in svg.iter(f"{SVG}rect")][len(TWO) :]
    assert widths[0] == WIDTH - 44  # 12, the largest value
    assert widths[1] == round(3 / 12 * (WIDTH - 44), 1)  # the rows' bars in turn
    assert widths[2] == round(4 / 12 * (WIDTH - 44), 1)
    assert widths[3] == widths[4] == 1.5  # a zero still shows where its bar would be
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.attrib.get("class") == "label"]
    assert labels == [r.label for r in ROWS]  # escaped going in, the same coming out
    assert [t.text for t in svg.iter(f"{SVG}text") if t.attrib.get("class") == "note"] == [
        "median 2.5 days"
    ]
    bar_titles = [g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g")]  # type: ignore[union-attr]
    assert bar_titles[0] == "Python (computer programming) — Open positions: 12"
    assert bar_titles[5] == "Elif Yılmaz's ñ-skill — Students: 7"


def test_a_chart_is_one_image_named_and_described_for_a_screen_reader() -> None:
    svg = parsed(
        bar_chart(
            "skills",
            "Largest shortages",
            TWO,
            ROWS,
            lambda r: f"{r.label}: {r.values[0]} positions, {r.values[1]} students",
        )
    )
    assert svg.attrib["role"] == "img"
    assert svg.attrib["aria-labelledby"] == "skills-title skills-desc"
    assert svg.find(f"{SVG}title").text == "Largest shortages"  # type: ignore[union-attr]
    description = svg.find(f"{SVG}desc").text  # type: ignore[union-attr]
    assert description == (
        "Python (computer programming): 12 positions, 3 students; "
        "Ærø & <Søfart> sejlads: 4 positions, 0 students; "
        "Elif Yılmaz's ñ-skill: 0 positions, 7 students"
    )
    assert svg.attrib["viewBox"].startswith(f"0 0 {WIDTH} ")


def test_a_long_label_wraps_onto_two_lines_then_is_shortened_and_whole_in_its_title() -> None:
    long = ("manage musculoskeletal disorders of patients with reduced mobility " * 2).strip()
    svg = parsed(bar_chart("k", "t", TWO[:1], [BarRow(long, (1,))], lambda r: r.label))
    labels = [t for t in svg.iter(f"{SVG}text") if t.attrib.get("class") == "label"]
    assert [t.text for t in labels] == [
        "manage musculoskeletal disorders of",
        "patients with reduced mobility manage m…",
    ]
    assert {t.find(f"{SVG}title").text for t in labels} == {long}  # type: ignore[union-attr]


def test_a_line_chart_marks_every_month_and_writes_each_lines_last_value() -> None:
    months = ["Jan 26", "Feb 26", "Mar 26", "Apr 26"]
    svg = parsed(line_chart("trend", "Trend", TWO, months, [[0, 3, 5, 11], [1, 1, 2, 4]], "d"))
    points = [c.find(f"{SVG}title").text for c in svg.iter(f"{SVG}circle")]  # type: ignore[union-attr]
    assert points == [
        "Jan 26 — Open positions: 0",
        "Feb 26 — Open positions: 3",
        "Mar 26 — Open positions: 5",
        "Apr 26 — Open positions: 11",
        "Jan 26 — Students: 1",
        "Feb 26 — Students: 1",
        "Mar 26 — Students: 2",
        "Apr 26 — Students: 4",
    ]
    assert values_by_series(svg) == {"Open positions": ["11"], "Students": ["4"]}
    axis = [t.text for t in svg.iter(f"{SVG}text") if t.attrib.get("class") == "axis"]
    assert axis[:3] == ["0", "10", "20"] and axis[3:] == months  # 11 → an axis up to 20


def test_an_axis_ends_on_a_round_number() -> None:
    assert [nice_maximum(v) for v in (0, 1, 3, 7, 11, 24, 26, 180, 999)] == [
        1,
        1,
        5,
        10,
        20,
        25,
        50,
        200,
        1000,
    ]


def test_a_csv_parses_back_to_its_rows_with_a_header_and_empty_for_none() -> None:
    rows = [("Søren Østergaard, Begoña", 3, 0.5), ('Ærø "Søfart" ApS', 0, None)]
    text = csv_text(["label", "positions", "shortage_ratio"], rows)
    assert text.splitlines()[0] == "label,positions,shortage_ratio"
    assert list(csv.reader(io.StringIO(text))) == [
        ["label", "positions", "shortage_ratio"],
        ["Søren Østergaard, Begoña", "3", "0.5"],
        ['Ærø "Søfart" ApS', "0", ""],
    ]
