"""The dashboard's SVG charts: well-formed XML, one `datum` per point with a tooltip, user text
escaped, nice y ticks, thinned x labels, gaps in lines, the empty case and the formatters."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from ingestflow.entrypoints.server.web.charts import (
    CHAR_W,
    EMPTY_TEXT,
    HBAR_ROWS,
    W,
    bar_chart,
    fmt_bytes,
    fmt_count,
    fmt_number,
    fmt_seconds,
    hbar_chart,
    line_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
NASTY = "<script>x</script>&"
HOURS = [f"{h:02d}:00" for h in range(24)]


def parse(chart: Markup) -> ET.Element:
    assert isinstance(chart, Markup)
    return ET.fromstring(str(chart))


def classed(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in e.get("class", "").split()]


def tooltip(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None
    return title.text or ""


def texts(root: ET.Element, name: str) -> list[str]:
    return [e.text or "" for e in classed(root, name)]


def tick_values(root: ET.Element) -> list[float]:
    return [float(t) for t in texts(root, "tick")]


def test_a_bar_chart_draws_one_bar_per_point() -> None:
    root = parse(bar_chart("Files per hour", [(h, float(i)) for i, h in enumerate(HOURS[:5])]))
    bars = classed(root, "datum")
    assert len(bars) == 5
    assert all(bar.tag == f"{SVG}rect" and "bar" in bar.get("class", "") for bar in bars)
    assert root.get("data-points") == "5"


def test_a_chart_is_an_accessible_image_that_scales_with_the_page() -> None:
    root = parse(bar_chart("Files per hour", [("14:00", 3.0)]))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("class") == "chart"
    assert root.get("aria-label") == "Files per hour"
    assert tooltip(root) == "Files per hour"
    assert root.get("viewBox", "").startswith(f"0 0 {W} ")
    assert "width" not in root.attrib
    assert "height" not in root.attrib
    assert "preserveAspectRatio" not in root.attrib


def test_each_bar_has_a_tooltip_with_its_label_and_formatted_value() -> None:
    root = parse(bar_chart("Files", [("14:00", 1234.0), ("15:00", 5.0)], fmt=fmt_count))
    assert [tooltip(bar) for bar in classed(root, "datum")] == ["14:00: 1,234", "15:00: 5"]


def test_taller_values_draw_taller_bars() -> None:
    root = parse(bar_chart("Files", [("a", 10.0), ("b", 40.0)]))
    low, high = (float(bar.get("height", "")) for bar in classed(root, "datum"))
    assert high == pytest.approx(4 * low, rel=0.01)


def test_a_missing_bar_leaves_its_slot_empty_and_is_not_counted() -> None:
    root = parse(bar_chart("Files", [("a", 1.0), ("b", None), ("c", math.nan), ("d", 2.0)]))
    assert len(classed(root, "datum")) == 2
    assert root.get("data-points") == "2"


def test_labels_titles_and_series_names_are_escaped_and_read_back_as_text() -> None:
    charts = [
        bar_chart(NASTY, [(NASTY, 1.0)]),
        line_chart(NASTY, [NASTY], [(NASTY, [1.0])]),
        hbar_chart(NASTY, [(NASTY, 1.0)], secondary=[2.0], secondary_name=NASTY),
    ]
    for chart in charts:
        assert "<script>" not in chart
        root = parse(chart)
        assert root.get("aria-label") == NASTY
        assert tooltip(root) == NASTY
        assert all(NASTY in tooltip(datum) for datum in classed(root, "datum"))
        assert not list(root.iter("script")) and not list(root.iter(f"{SVG}script"))


@given(st.text(min_size=1, max_size=40))
def test_any_label_gives_well_formed_xml(label: str) -> None:
    root = parse(bar_chart(label, [(label, 1.0)]))
    (bar,) = classed(root, "datum")
    assert tooltip(bar).endswith(": 1")


@pytest.mark.parametrize(
    "chart",
    [
        bar_chart("Files", []),
        bar_chart("Files", [("14:00", None), ("15:00", None)]),
        line_chart("Latency", [], []),
        line_chart("Latency", HOURS[:3], [("p50", [None, None, None]), ("p95", [])]),
        hbar_chart("By folder", []),
        hbar_chart("By folder", [("a", None)]),
    ],
    ids=["bar-empty", "bar-none", "line-empty", "line-none", "hbar-empty", "hbar-none"],
)
def test_a_chart_without_data_says_so(chart: Markup) -> None:
    root = parse(chart)
    assert root.get("data-points") == "0"
    assert not classed(root, "datum")
    assert texts(root, "empty") == [EMPTY_TEXT]
    (empty,) = classed(root, "empty")
    assert empty.get("text-anchor") == "middle"


@given(st.floats(min_value=1e-6, max_value=1e12))
def test_y_ticks_start_at_zero_step_roundly_and_reach_the_largest_value(top: float) -> None:
    ticks = tick_values(parse(bar_chart("Any", [("a", top / 3), ("b", top)], fmt=repr)))
    assert 3 <= len(ticks) <= 5
    assert ticks[0] == 0
    assert ticks[-1] >= top
    step = ticks[1]
    assert all(b - a == pytest.approx(step) for a, b in itertools.pairwise(ticks))
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(mantissa == pytest.approx(m) for m in (1, 2, 5))


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (1.0, ["0", "1", "2"]),
        (3.0, ["0", "1", "2", "3"]),
        (7.0, ["0", "2", "4", "6", "8"]),
        (100.0, ["0", "50", "100"]),
        (1234.0, ["0", "500", "1,000", "1,500"]),
    ],
)
def test_count_ticks_are_whole_distinct_numbers(top: float, expected: list[str]) -> None:
    root = parse(bar_chart("Files", [("a", top)], fmt=fmt_count))
    assert texts(root, "tick") == expected


def test_x_labels_are_thinned_so_they_never_overlap_or_leave_the_chart() -> None:
    for labels in (HOURS * 2, [f"2024-05-01 {h}" for h in HOURS], HOURS[:3]):
        for chart in (
            bar_chart("Files", [(label, 1.0) for label in labels]),
            line_chart("Latency", labels, [("p50", [1.0] * len(labels))]),
        ):
            shown = classed(parse(chart), "xlabel")
            assert 1 <= len(shown) <= 8
            spans = []
            for text in shown:
                x, half = float(text.get("x", "")), len(text.text or "") * CHAR_W / 2
                assert x - half >= 0
                assert x + half <= W
                spans.append((x - half, x + half))
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_a_line_chart_draws_a_line_and_a_dot_per_value_for_each_series() -> None:
    series = [("p50", [1.0, 2.0, 3.0]), ("p95", [2.0, 4.0, 6.0])]
    root = parse(line_chart("Latency", HOURS[:3], series, fmt=fmt_seconds))
    assert root.get("data-points") == "6"
    dots = classed(root, "datum")
    assert len(dots) == 6 and all(dot.tag == f"{SVG}circle" for dot in dots)
    assert len(classed(root, "series-0")) == len(classed(root, "series-1")) == 5  # line, swatch
    assert tooltip(classed(root, "dot")[4]) == "p95 at 01:00: 4.0 s"
    assert texts(root, "legend") == ["p50", "p95"]
    for k in (0, 1):
        (line,) = [e for e in classed(root, "line") if f"series-{k}" in e.get("class", "")]
        assert len(line.get("points", "").split()) == 3


def test_missing_values_split_a_line_into_separate_polylines() -> None:
    values = [1.0, 2.0, None, 3.0, 4.0, None, 5.0]
    root = parse(line_chart("Latency", HOURS[:7], [("p50", values)]))
    lines = classed(root, "line")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    assert len(classed(root, "dot")) == 5  # the lone last value is still a dot
    assert root.get("data-points") == "5"


def test_a_single_point_line_draws_one_dot() -> None:
    root = parse(line_chart("Latency", ["14:00"], [("p50", [0.5])], fmt=fmt_seconds))
    (dot,) = classed(root, "datum")
    assert dot.tag == f"{SVG}circle"
    assert tooltip(dot) == "p50 at 14:00: 500 ms"
    assert not classed(root, "line")
    assert root.get("data-points") == "1"


def test_a_series_shorter_than_the_labels_ends_in_a_gap() -> None:
    root = parse(line_chart("Latency", HOURS[:4], [("p50", [1.0, 2.0])]))
    assert len(classed(root, "dot")) == 2


def test_horizontal_bars_put_the_label_left_and_the_value_right_of_each_bar() -> None:
    rows = [("inbox/sales", 2_500_000.0), ("inbox/hr", 1_000.0)]
    root = parse(hbar_chart("Bytes by folder", rows, fmt=fmt_bytes))
    bars = classed(root, "datum")
    assert [tooltip(bar) for bar in bars] == ["inbox/sales: 2.5 MB", "inbox/hr: 1.0 kB"]
    assert texts(root, "label") == ["inbox/sales", "inbox/hr"]
    assert texts(root, "value") == ["2.5 MB", "1.0 kB"]
    assert not classed(root, "marker") and not classed(root, "more")
    for bar, label, value in zip(bars, classed(root, "label"), classed(root, "value"), strict=True):
        left = float(bar.get("x", ""))
        assert float(label.get("x", "")) < left
        assert float(value.get("x", "")) > left + float(bar.get("width", ""))


def test_secondary_values_are_markers_named_in_the_tooltip() -> None:
    rows = [("inbox/sales", 2.0), ("inbox/hr", 30.0)]
    root = parse(
        hbar_chart("Time", rows, fmt=fmt_seconds, secondary=[4.0, 90.0], secondary_name="p95")
    )
    markers = classed(root, "marker")
    assert len(markers) == 2
    assert not any("datum" in m.get("class", "") for m in markers)
    assert tooltip(classed(root, "datum")[1]) == "inbox/hr: 30.0 s · p95 1.5 min"
    bar = classed(root, "datum")[0]
    assert float(markers[0].get("x1", "")) > float(bar.get("x", "")) + float(bar.get("width", ""))


def test_horizontal_bars_grow_with_the_rows_and_note_what_was_cut() -> None:
    def height(chart: Markup) -> float:
        return float(parse(chart).get("viewBox", "").split()[3])

    few = hbar_chart("Files", [(f"f{i}", 1.0) for i in range(5)])
    more = hbar_chart("Files", [(f"f{i}", 1.0) for i in range(10)])
    assert height(few) < height(more)
    root = parse(hbar_chart("Files", [(f"f{i}", float(i)) for i in range(HBAR_ROWS + 5)]))
    assert len(classed(root, "datum")) == HBAR_ROWS
    assert root.get("data-points") == str(HBAR_ROWS)
    assert texts(root, "more") == ["+5 more"]


def test_every_number_in_the_drawing_has_at_most_one_decimal() -> None:
    charts = [
        bar_chart("a", [(str(i), 1 / 3 + i) for i in range(7)]),
        line_chart("b", HOURS[:7], [("s", [1 / 7 * i for i in range(7)])]),
        hbar_chart("c", [(str(i), 1 / 3 + i) for i in range(7)], secondary=[2 / 3] * 7),
    ]
    geometry = ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height", "points")
    for chart in charts:
        for element in parse(chart).iter():
            for name in geometry:
                for number in re.split(r"[ ,]", element.get(name, "")):
                    assert not number or re.fullmatch(r"-?\d+(\.\d)?", number), (name, number)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1234, "1,234"), (1234567.4, "1,234,567"), (2.6, "3")],
)
def test_fmt_count(value: float, text: str) -> None:
    assert fmt_count(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1234, "1,234"), (2.5, "2.5"), (0.25, "0.25"), (-0.001, "0")],
)
def test_fmt_number(value: float, text: str) -> None:
    assert fmt_number(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 ms"),
        (0.85, "850 ms"),
        (0.9999, "1.0 s"),
        (3.2, "3.2 s"),
        (59.99, "1.0 min"),
        (270, "4.5 min"),
        (7560, "2.1 h"),
    ],
)
def test_fmt_seconds(value: float, text: str) -> None:
    assert fmt_seconds(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (999.6, "1.0 kB"),
        (1500, "1.5 kB"),
        (1_500_000, "1.5 MB"),
        (2 * 10**9, "2.0 GB"),
        (3 * 10**12, "3.0 TB"),
    ],
)
def test_fmt_bytes_uses_decimal_si_units(value: float, text: str) -> None:
    assert fmt_bytes(value) == text
