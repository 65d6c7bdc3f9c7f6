"""Server-rendered SVG charts for the dashboard (vertical bars, lines, horizontal bars), no JS.

Every chart is one inline `<svg role="img" class="chart">` returned as `markupsafe.Markup`, ready
for a Jinja2 template. The contract all of them keep:

- the `viewBox` fixes the drawing's coordinates and there are no width/height attributes, so the
  chart scales with the page (the stylesheet gives `svg.chart { width: 100%; height: auto; }`);
- `aria-label` and a `<title>` child carry the title, `data-points` the number of points drawn;
  every point is an element of class `datum` whose `<title>` (label and formatted value) is the
  browser's native tooltip;
- titles, labels and series names are user data (keys, folder names): escaped here, with the
  characters XML forbids replaced by U+FFFD, so the output is always well-formed XML;
- values are non-negative quantities (counts, durations, bytes): None, NaN and infinities are
  missing and not drawn, a negative value is drawn as 0 (its tooltip shows the real value);
  with nothing to draw the svg says "No data in this window" and has `data-points="0"`;
- colours come from CSS classes (`bar`, `line series-K`, `dot series-K`, `marker`, ...); the
  `fill`/`stroke` attributes are defaults for when no stylesheet applies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

Fmt = Callable[[float], str]

W, H = 640, 220  # viewBox of the bar and line charts
LEFT, RIGHT, TOP, BASE = 56, 12, 24, 192  # plot area: x from LEFT to W - RIGHT, y TOP..BASE
INSET = 8  # keeps the first and last dot of a line inside the plot area
MAX_X_LABELS = 8
CHAR_W = 6.5  # rough width of a character at font-size 11: how x labels are kept apart
HBAR_ROWS, ROW_H, LABEL_W, BAR_W = 20, 22, 160, 320
EMPTY_TEXT = "No data in this window"
PALETTE = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2")
MUTED = "#6b7280"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def fmt_number(x: float) -> str:
    """`1,234`, `2.5`, `0.25`: thousands separated, at most two decimals, no trailing zeros."""
    text = f"{x:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fmt_count(x: float) -> str:
    """A whole number with thousands separators: `1,234`."""
    return f"{x:,.0f}"


def fmt_seconds(x: float) -> str:
    """A duration in the largest unit that keeps it at least 1: `850 ms`, `3.2 s`, `4.5 min`,
    `2.1 h` (the thresholds sit where rounding would print `1000 ms` or `60.0 s`)."""
    size = abs(x)
    if size < 0.9995:
        return f"{x * 1000:.0f} ms"
    if size < 59.95:
        return f"{x:.1f} s"
    if size < 3597:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.1f} h"


def fmt_bytes(x: float) -> str:
    """A size in decimal SI units (1 kB = 1,000 bytes, as disks and S3 count): `512 B`,
    `1.5 MB`, `2.0 GB`."""
    if abs(x) < 999.5:
        return f"{x:.0f} B"
    value = x
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if abs(value) < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} EB"


def _n(x: float) -> str:
    return f"{x:.1f}"


def _text(value: str, limit: int | None = None) -> Markup:
    """User text made safe for SVG: clipped to `limit` characters (with an ellipsis) before it
    is escaped, so an entity is never cut."""
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return escape(_XML_INVALID.sub("\ufffd", value))


def _value(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _ticks(top: float, fmt: Fmt) -> list[float]:
    """3-5 ticks from 0 with a round step (1, 2 or 5 x 10^k), the last one >= `top`; the
    smallest such step whose labels `fmt` prints all different (counts never tick 0, 0.5, 1)."""
    top = top if top > 0 else 1.0
    base = 10.0 ** math.floor(math.log10(top / 4))
    first: list[float] = []
    for step in (m * base * 10.0**e for e in range(12) for m in (1, 2, 5)):
        intervals = max(math.ceil(top / step), 2)
        ticks = [float(f"{i * step:.12g}") for i in range(intervals + 1)]
        if intervals > 4 or ticks[-1] < top:  # the latter: float rounding in i * step
            continue
        first = first or ticks
        if len({fmt(t) for t in ticks}) == len(ticks):
            return ticks
    return first


def _svg(title: str, height: int, points: int, body: Sequence[str]) -> Markup:
    label = _text(title)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {W} {height}" aria-label="{label}" data-points="{points}" '
        f'font-family="sans-serif" font-size="11"><title>{label}</title>{"".join(body)}</svg>'
    )


def _empty(title: str, height: int = H) -> Markup:
    text = (
        f'<text class="empty" x="{W / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" '
        f'dominant-baseline="middle" fill="{MUTED}">{EMPTY_TEXT}</text>'
    )
    return _svg(title, height, 0, [text])


def _y_axis(ticks: Sequence[float], fmt: Fmt) -> tuple[list[str], Callable[[float], float]]:
    """Gridlines with tick labels, and the value -> y mapping (0 at BASE, the last tick at TOP)."""

    def y_of(v: float) -> float:
        return BASE - max(v, 0.0) / ticks[-1] * (BASE - TOP)

    body = []
    for tick in ticks:
        y = _n(y_of(tick))
        body.append(
            f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y}" y2="{y}" stroke="#e5e7eb"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle" fill="{MUTED}">{_text(fmt(tick))}</text>'
        )
    return body, y_of


def _x_labels(labels: Sequence[str], x_of: Callable[[int], float], span: float) -> list[str]:
    """Every k-th label, k chosen so at most MAX_X_LABELS show and (at CHAR_W per character) no
    two overlap within `span`, the width they spread over; kept inside the viewBox, dropping the
    last one if pulling it in would make it touch its neighbour."""
    if not labels:
        return []
    half = min(max(len(s) for s in labels), 16) * CHAR_W / 2
    width = 2 * half + 8
    every = math.ceil(len(labels) / max(1, min(MAX_X_LABELS, int(span // width))))
    xs = [(min(max(x_of(i), half), W - half), i) for i in range(0, len(labels), every)]
    if len(xs) > 1 and xs[-1][0] - xs[-2][0] < width:
        xs.pop()
    return [
        f'<text class="xlabel" x="{_n(x)}" y="{BASE + 18}" text-anchor="middle" '
        f'fill="{MUTED}">{_text(labels[i], 16)}</text>'
        for x, i in xs
    ]


def bar_chart(
    title: str, points: Sequence[tuple[str, float | None]], fmt: Fmt = fmt_number
) -> Markup:
    """Vertical bars, one slot per point in order (e.g. files processed per hour, label
    "14:00"); a missing value leaves its slot empty."""
    values = [_value(v) for _, v in points]
    drawn = sum(v is not None for v in values)
    if not drawn:
        return _empty(title)
    body, y_of = _y_axis(_ticks(max(v for v in values if v is not None), fmt), fmt)
    slot = (W - LEFT - RIGHT) / len(points)
    for i, ((label, _), v) in enumerate(zip(points, values, strict=True)):
        if v is not None:
            y = y_of(v)
            body.append(
                f'<rect class="bar datum" x="{_n(LEFT + (i + 0.1) * slot)}" y="{_n(y)}" '
                f'width="{_n(slot * 0.8)}" height="{_n(BASE - y)}" fill="{PALETTE[0]}">'
                f"<title>{_text(label)}: {_text(fmt(v))}</title></rect>"
            )
    labels = [label for label, _ in points]
    body += _x_labels(labels, lambda i: LEFT + (i + 0.5) * slot, W - LEFT - RIGHT)
    return _svg(title, H, drawn, body)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    fmt: Fmt = fmt_number,
) -> Markup:
    """One line per series over the x `labels` (e.g. latency p50 and p95 per hour). A missing
    value (or a series shorter than `labels`) is a gap that splits the line; every present value
    gets a dot, so a point between two gaps, or a single point, still shows."""
    n = len(labels)
    cols = [[_value(vals[i]) if i < len(vals) else None for i in range(n)] for _, vals in series]
    present = [v for col in cols for v in col if v is not None]
    if not present:
        return _empty(title)
    body, y_of = _y_axis(_ticks(max(present), fmt), fmt)
    span = W - LEFT - RIGHT - 2 * INSET

    def x_of(i: int) -> float:
        return LEFT + INSET + (span / 2 if n == 1 else i * span / (n - 1))

    dots: list[str] = []
    legend_x = float(LEFT)
    for k, ((name, _), col) in enumerate(zip(series, cols, strict=True)):
        colour = PALETTE[k % len(PALETTE)]
        run: list[str] = []
        for i, v in enumerate([*col, None]):
            if v is None:
                if len(run) >= 2:
                    body.append(
                        f'<polyline class="line series-{k}" points="{" ".join(run)}" '
                        f'fill="none" stroke="{colour}" stroke-width="2"/>'
                    )
                run = []
                continue
            x, y = _n(x_of(i)), _n(y_of(v))
            run.append(f"{x},{y}")
            dots.append(
                f'<circle class="dot datum series-{k}" cx="{x}" cy="{y}" r="3" fill="{colour}">'
                f"<title>{_text(name)} at {_text(labels[i])}: {_text(fmt(v))}</title></circle>"
            )
        short = _text(name, 24)
        body.append(
            f'<rect class="swatch series-{k}" x="{_n(legend_x)}" y="6" width="10" height="10" '
            f'fill="{colour}"/><text class="legend" x="{_n(legend_x + 14)}" y="15" '
            f'fill="{MUTED}">{short}</text>'
        )
        legend_x += 14 + min(len(name), 24) * CHAR_W + 14
    body += dots  # after every line, so no line hides a dot's tooltip
    body += _x_labels(labels, x_of, span)
    return _svg(title, H, len(present), body)


def hbar_chart(
    title: str,
    rows: Sequence[tuple[str, float | None]],
    fmt: Fmt = fmt_number,
    secondary: Sequence[float | None] | None = None,
    secondary_name: str = "",
) -> Markup:
    """Horizontal bars, one row per label in the given order (sort before calling): label left,
    value right of the bar. `secondary[i]` (same index as `rows[i]`, e.g. the p95 next to an
    average) is drawn as a thin marker across row i. Rows without a value are left out; past
    HBAR_ROWS rows the chart ends with "+N more". The height grows with the rows."""
    kept: list[tuple[str, float, float | None]] = []
    for i, (label, raw) in enumerate(rows):
        value = _value(raw)
        if value is not None:
            extra = _value(secondary[i]) if secondary is not None and i < len(secondary) else None
            kept.append((label, value, extra))
    if not kept:
        return _empty(title, 80)
    shown, hidden = kept[:HBAR_ROWS], len(kept) - HBAR_ROWS
    top = max(max(v, s or 0.0) for _, v, s in shown)
    scale = BAR_W / top if top > 0 else 0.0
    height = 16 + ROW_H * len(shown) + (20 if hidden > 0 else 0)
    body: list[str] = []
    for r, (label, value, extra) in enumerate(shown):
        y, mid = 8 + r * ROW_H, 8 + r * ROW_H + ROW_H / 2
        end = LABEL_W + max(value, 0.0) * scale
        shown_value = _text(fmt(value))
        if extra is not None:
            shown_value += Markup(" · ") + _text(f"{secondary_name} {fmt(extra)}".strip())
        body.append(
            f'<text class="label" x="{LABEL_W - 8}" y="{_n(mid)}" text-anchor="end" '
            f'dominant-baseline="middle" fill="{MUTED}">{_text(label, 24)}</text>'
            f'<rect class="bar datum" x="{LABEL_W}" y="{y + 4}" width="{_n(end - LABEL_W)}" '
            f'height="{ROW_H - 8}" fill="{PALETTE[0]}">'
            f"<title>{_text(label)}: {shown_value}</title></rect>"
        )
        if extra is not None:
            mark = LABEL_W + max(extra, 0.0) * scale
            body.append(
                f'<line class="marker" x1="{_n(mark)}" x2="{_n(mark)}" y1="{y + 2}" '
                f'y2="{y + ROW_H - 2}" stroke="#111827" stroke-width="2">'
                f"<title>{_text(label)}: {shown_value}</title></line>"
            )
            end = max(end, mark)
        body.append(
            f'<text class="value" x="{_n(end + 6)}" y="{_n(mid)}" dominant-baseline="middle" '
            f'fill="{MUTED}">{shown_value}</text>'
        )
    if hidden > 0:
        body.append(
            f'<text class="more" x="{LABEL_W}" y="{height - 10}" fill="{MUTED}">'
            f"+{hidden} more</text>"
        )
    return _svg(title, height, len(shown), body)
