"""The progress chart drawn as vector graphics on a PDF page, from ``tracker.progress.chart_data`` only.

It draws what the page's plotly charts draw (ui/charts.py), for print: the change from baseline (or, for a site
without a baseline or a patient not yet treated, the absolute density), the expected band with its edges labelled
at the right end, the ±noise zone (the protocol's noise % of the baseline), milestone windows (shaded, labelled
above the plot), measured points coloured by status with their values (a diamond for an assisted count), treatment
sessions on the time axis, a dotted "today" line at the day the report is made for, and the product's active spans
and concurrent therapies as bars under it. Nothing is computed here beyond placing the engine's numbers on paper;
the page and the report share no code because ``tracker/`` never imports ``ui/``, so the palette is repeated below.

>>> nice_ticks(-20, 60)
[-20.0, 0.0, 20.0, 40.0, 60.0]
>>> nice_ticks(-12.5, 41)
[-20.0, -10.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fpdf import FPDF

from tracker.course.vocabulary import (
    METHOD_WORDS,
    POINT_STYLES,
    MeasurementMethod,
    MilestoneStatus,
    PointKind,
    milestone_short,
)
from tracker.exchange.report_marks import legend_swatch, point_mark, triangle
from tracker.progress.chart_data import (
    ChartPoint,
    ProgressChart,
    SiteChart,
    TimeBar,
)

BAND = (47, 111, 143)
ZONE = (120, 120, 120)
WINDOW = (241, 196, 15)
SESSION = (230, 126, 34)
THERAPY = (127, 140, 141)
INK = (40, 40, 40)
TODAY = (44, 62, 80)
GRID = (225, 225, 225)
MUTED = (110, 110, 110)

# Layout in mm.
_LEFT = 15.0  # y tick labels and the rotated axis title
_RIGHT = 2.0
_TOP = 5.0  # milestone window labels above the frame
_BELOW_AXIS = 9.5  # x tick labels and the x axis title
_LANE = 4.4  # one bar (label above, bar below) per active span or therapy
_LEGEND_ROW = 4.6
_TICK_PT, _LABEL_PT = 7, 7.5


@dataclass(frozen=True)
class _Scale:
    """Maps months and change (hairs/cm²) to page coordinates inside the plot frame."""

    left: float
    top: float
    width: float
    height: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def x(self, months: float) -> float:
        return self.left + (months - self.x_min) / (self.x_max - self.x_min) * self.width

    def y(self, value: float) -> float:
        return self.top + self.height - (value - self.y_min) / (self.y_max - self.y_min) * self.height

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def right(self) -> float:
        return self.left + self.width


def nice_step(span: float, target_ticks: int = 6) -> float:
    """A round tick step (1, 2, 2.5 or 5 × 10ⁿ) giving about ``target_ticks`` ticks over ``span``."""
    raw = max(span, 1e-9) / target_ticks
    magnitude: float = 10 ** math.floor(math.log10(raw))  # an int from 1 up, so steps print without .0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def nice_ticks(low: float, high: float, target_ticks: int = 6) -> list[float]:
    """Round ticks from a multiple of the step at or below ``low`` to one at or above ``high``."""
    step = nice_step(high - low, target_ticks)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [float(round(i * step, 6)) for i in range(first, last + 1)]


@dataclass(frozen=True)
class _Values:
    """What one chart plots for a site: the change from baseline (hairs/cm²) or the absolute density."""

    absolute: bool
    points: list[tuple[ChartPoint, float]]
    band: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]] | None  # months, low, high
    zone: tuple[float, float] | None
    reference: float | None  # the line the sessions sit on: zero change, or the baseline density
    fixed: tuple[float, float] | None = None  # the absolute chart's axis (chart_data.density_range)

    @classmethod
    def of(cls, site: SiteChart, absolute: bool) -> _Values:
        band = site.band
        if absolute:
            low, high = band.low_density, band.high_density
            return cls(True, [(p, p.density) for p in site.points],
                       (band.months, low, high) if low is not None and high is not None and band.months else None,
                       site.density_zone, site.baseline_density, site.density_range)
        return cls(False, [(p, p.change) for p in site.points if p.change is not None],
                   (band.months, band.low, band.high) if band.months else None, site.no_change_zone, 0.0)

    def label(self, point: ChartPoint, value: float) -> str:
        """The value printed by a point: its density, or its change (none on the baseline, the zero line)."""
        if self.absolute:
            return f"{value:.0f}"
        return "" if point.status == PointKind.BASELINE else f"{value:+.0f}"


def _y_range(values: _Values) -> list[float]:
    if values.fixed:
        return nice_ticks(*values.fixed)
    numbers = [v for _, v in values.points]
    if values.reference is not None:
        numbers.append(values.reference)
    if values.band:
        numbers += [*values.band[1], *values.band[2]]
    if values.zone:
        numbers += list(values.zone)
    low, high = min(numbers, default=0.0), max(numbers, default=1.0)
    pad = (high - low) * 0.08 or 5.0
    return nice_ticks(low - pad, high + pad)


def _x_ticks(x_min: float, x_max: float) -> list[float]:
    """
    >>> _x_ticks(-0.5, 12.3), _x_ticks(-2.6, 3)
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0], [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    """
    step = 1 if x_max - x_min <= 15 else 2 if x_max - x_min <= 30 else 6
    return [float(m) for m in range(math.ceil(x_min / step) * step, math.floor(x_max) + 1, step)]


def chart_height(chart: ProgressChart, plot_height: float = 70.0) -> float:
    """The full height of one site's chart block (labels, plot, axis, bars and legend), in mm."""
    lanes = len(_lanes(chart))
    return _TOP + plot_height + _BELOW_AXIS + lanes * _LANE + (1.5 if lanes else 0) + 2 * _LEGEND_ROW + 2


def fit_text(pdf: FPDF, text: str, width: float) -> str:
    """``text`` shortened with an ellipsis so that it fits ``width`` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text.rstrip() + "..." if text else ""


def _text(pdf: FPDF, x: float, y: float, text: str, align: str = "L", width: float = 0.0) -> None:
    """One line of text whose vertical centre is at ``y``; ``x`` is its left, centre or right edge."""
    if not width:
        width = pdf.get_string_width(text) + 0.5
    left = {"L": x, "C": x - width / 2, "R": x - width}[align]
    height = pdf.font_size * 1.2
    pdf.set_xy(left, y - height / 2)
    pdf.cell(width, height, text, align=align)


def draw_site_chart(pdf: FPDF, chart: ProgressChart, site: SiteChart, left: float, top: float, width: float,
                    plot_height: float = 70.0, font: str = "helvetica", absolute: bool = False) -> float:
    """Draw one site's chart with its top-left corner at (``left``, ``top``); returns the bottom y (mm).

    ``absolute``: the measured density (hairs/cm²) rather than the change from baseline, as for a site without
    a baseline (whose change cannot be drawn) or a patient not treated yet.
    """
    values = _Values.of(site, absolute)
    y_ticks = _y_range(values)
    scale = _Scale(left + _LEFT, top + _TOP, width - _LEFT - _RIGHT, plot_height,
                   chart.x_min, chart.x_max, y_ticks[0], y_ticks[-1])
    pdf.set_line_width(0.2)
    _draw_grid(pdf, scale, y_ticks)
    # rect_clip() restores the PDF's graphics state but not fpdf2's record of it (colours, line width):
    # local_context() restores both, so that the next set_fill_color() is never skipped as "unchanged".
    with pdf.local_context(), pdf.rect_clip(scale.left, scale.top, scale.width, scale.height):
        _draw_windows(pdf, site, scale)
        _draw_zone(pdf, values, scale)
        _draw_band(pdf, values, scale)
        _draw_sessions(pdf, chart, scale)
        _draw_today(pdf, chart, scale, font)
        _draw_points(pdf, values, scale, font)
        _draw_band_labels(pdf, values, scale, font)
    title = "density (hairs/cm²)" if absolute else "change from baseline (hairs/cm²)"
    _draw_frame_and_axes(pdf, scale, y_ticks, font, chart.x_title, title, signed=not absolute)
    _draw_window_labels(pdf, site, scale, font)
    bottom = _draw_lanes(pdf, chart, scale, font)
    bottom = _draw_legend(pdf, chart, site, values, left + _LEFT, bottom + 1.5, width - _LEFT, font)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    return bottom


def _draw_grid(pdf: FPDF, scale: _Scale, y_ticks: list[float]) -> None:
    pdf.set_draw_color(*GRID)
    pdf.set_line_width(0.15)
    for value in y_ticks:
        pdf.line(scale.left, scale.y(value), scale.right, scale.y(value))
    for month in _x_ticks(scale.x_min, scale.x_max):
        pdf.line(scale.x(month), scale.top, scale.x(month), scale.bottom)


def _draw_windows(pdf: FPDF, site: SiteChart, scale: _Scale) -> None:
    pdf.set_fill_color(*WINDOW)
    with pdf.local_context(fill_opacity=0.22):
        for window in site.windows:
            x0, x1 = scale.x(window.start_month), scale.x(window.end_month)
            pdf.rect(x0, scale.top, x1 - x0, scale.height, style="F")


def _draw_zone(pdf: FPDF, values: _Values, scale: _Scale) -> None:
    if not values.zone:
        return
    low, high = values.zone
    pdf.set_fill_color(*ZONE)
    with pdf.local_context(fill_opacity=0.16):
        pdf.rect(scale.left, scale.y(high), scale.width, scale.y(low) - scale.y(high), style="F")


def _draw_band(pdf: FPDF, values: _Values, scale: _Scale) -> None:
    if values.band:
        months, low, high = values.band
        upper = [(scale.x(m), scale.y(v)) for m, v in zip(months, high, strict=True)]
        lower = [(scale.x(m), scale.y(v)) for m, v in zip(months, low, strict=True)]
        pdf.set_fill_color(*BAND)
        with pdf.local_context(fill_opacity=0.20):
            pdf.polygon(upper + lower[::-1], style="F")
        pdf.set_draw_color(*BAND)
        pdf.set_line_width(0.3)
        for edge in (upper, lower):
            pdf.polyline(edge)
    if values.reference is not None:
        # The patient's own baseline: the zero line of the change, or the baseline density.
        pdf.set_draw_color(*MUTED)
        pdf.set_line_width(0.25)
        pdf.line(scale.left, scale.y(values.reference), scale.right, scale.y(values.reference))


def _draw_band_labels(pdf: FPDF, values: _Values, scale: _Scale, font: str) -> None:
    """"expected high +35" above the band's right end, "expected low +15" below it (the band's unit)."""
    if not values.band:
        return
    months, low, high = values.band
    pdf.set_font(font, "", 6.3)
    pdf.set_text_color(*BAND)
    shown = "{:.0f}" if values.absolute else "{:+.0f}"
    x = scale.x(months[-1]) - 0.8
    for y, words in ((scale.y(high[-1]) - 1.7, f"expected high {shown.format(high[-1])}"),
                     (scale.y(low[-1]) + 1.7, f"expected low {shown.format(low[-1])}")):
        # On a light backing, so that the today line or a window crossing the label does not strike it through.
        width = pdf.get_string_width(words) + 1.0
        pdf.set_fill_color(255, 255, 255)
        with pdf.local_context(fill_opacity=0.75):
            pdf.rect(x - width, y - 1.3, width, 2.6, style="F")
        _text(pdf, x, y, words, "R", width)


def _draw_today(pdf: FPDF, chart: ProgressChart, scale: _Scale, font: str) -> None:
    """A dotted line at the day the report is made for (``ProgressChart.today_month``), labelled "today"."""
    if chart.today_month is None:
        return
    x = scale.x(chart.today_month)
    pdf.set_draw_color(*TODAY)
    pdf.set_line_width(0.3)
    pdf.set_dash_pattern(dash=0.4, gap=0.8)
    pdf.line(x, scale.top, x, scale.bottom)
    pdf.set_dash_pattern()
    pdf.set_font(font, "B", 6.3)
    pdf.set_text_color(*TODAY)
    # Left of the line when it runs close to the frame's right edge, else right of it.
    near_right = x > scale.right - 10
    _text(pdf, x - 0.8 if near_right else x + 0.8, scale.bottom - 2.2, "today", "R" if near_right else "L")


def _draw_sessions(pdf: FPDF, chart: ProgressChart, scale: _Scale) -> None:
    pdf.set_draw_color(*SESSION)
    pdf.set_fill_color(*SESSION)
    pdf.set_line_width(0.3)
    pdf.set_dash_pattern(dash=1.0, gap=1.0)
    for marker in chart.sessions:
        pdf.line(scale.x(marker.months), scale.top, scale.x(marker.months), scale.bottom)
    pdf.set_dash_pattern()
    for marker in chart.sessions:
        triangle(pdf, scale.x(marker.months), scale.bottom, 3.0)


def _draw_points(pdf: FPDF, values: _Values, scale: _Scale, font: str) -> None:
    points = values.points
    if not points:
        return
    pdf.set_draw_color(68, 68, 68)
    pdf.set_line_width(0.35)
    if len(points) > 1:
        pdf.polyline([(scale.x(p.months), scale.y(value)) for p, value in points])
    pdf.set_font(font, "B", 6.5)
    last_label_right = -math.inf
    for point, value in points:
        x, y = scale.x(point.months), scale.y(value)
        pdf.set_fill_color(*POINT_STYLES[point.status].rgb)
        pdf.set_draw_color(255, 255, 255)
        pdf.set_line_width(0.3)
        point_mark(pdf, x, y, point.method)
        label = values.label(point, value)
        if label:
            label_width = pdf.get_string_width(label)
            if x - label_width / 2 > last_label_right + 0.8:
                pdf.set_text_color(*POINT_STYLES[point.status].rgb)
                above = y - 3.2 if y - 3.2 > scale.top + 2 else y + 3.2
                _text(pdf, x, above, label, "C", label_width + 0.5)
                last_label_right = x + label_width / 2


def _draw_frame_and_axes(pdf: FPDF, scale: _Scale, y_ticks: list[float], font: str, x_title: str, title: str,
                         signed: bool) -> None:
    pdf.set_draw_color(*MUTED)
    pdf.set_line_width(0.25)
    pdf.rect(scale.left, scale.top, scale.width, scale.height)
    pdf.set_text_color(*INK)
    pdf.set_font(font, "", _TICK_PT)
    for value in y_ticks:
        pdf.line(scale.left - 1, scale.y(value), scale.left, scale.y(value))
        _text(pdf, scale.left - 1.5, scale.y(value), f"{value:+g}" if value and signed else f"{value:g}", "R", 9)
    for month in _x_ticks(scale.x_min, scale.x_max):
        pdf.line(scale.x(month), scale.bottom, scale.x(month), scale.bottom + 1)
        _text(pdf, scale.x(month), scale.bottom + 3, f"{month:g}", "C", 8)
    pdf.set_font(font, "", _LABEL_PT)
    _text(pdf, scale.left + scale.width / 2, scale.bottom + 7.2, x_title, "C", 60)
    middle = scale.top + scale.height / 2
    x = scale.left - 12.5
    with pdf.local_context(), pdf.rotation(90, x, middle):
        # text(), not cell(): the title's left edge may lie left of the page, and set_x() would take a
        # negative x as "from the right edge".
        pdf.text(x - pdf.get_string_width(title) / 2, middle + pdf.font_size * 0.35, title)


def _draw_window_labels(pdf: FPDF, site: SiteChart, scale: _Scale, font: str) -> None:
    pdf.set_font(font, "B", 6.5)
    pdf.set_text_color(140, 110, 0)
    for window in site.windows:
        centre = (scale.x(window.start_month) + scale.x(window.end_month)) / 2
        room = max(scale.x(window.end_month) - scale.x(window.start_month) + 8, 14)
        _text(pdf, centre, scale.top - 2.2, fit_text(pdf, milestone_short(window.name), room), "C", room)


def _lanes(chart: ProgressChart) -> list[tuple[tuple[int, int, int], str, list[TimeBar]]]:
    """One lane per product (its sessions' active spans share it) and one per concurrent therapy."""
    products: dict[str, list[TimeBar]] = {}
    for bar in chart.active_spans:
        products.setdefault(bar.label, []).append(bar)
    lanes = [(SESSION, label, bars) for label, bars in products.items()]
    return lanes + [(THERAPY, bar.label, [bar]) for bar in chart.therapies]


def _draw_lanes(pdf: FPDF, chart: ProgressChart, scale: _Scale, font: str) -> float:
    """Active spans (orange) and concurrent therapies (grey) on the chart's time axis."""
    lanes = _lanes(chart)
    y = scale.bottom + _BELOW_AXIS
    pdf.set_font(font, "", 6.2)
    for colour, label, bars in lanes:
        first = min(bar.start_month for bar in bars)
        x_label = scale.x(max(first, scale.x_min))
        if any(bar.ongoing for bar in bars):
            label += " (ongoing)"
        if first < scale.x_min:
            label += " (started earlier)"
        pdf.set_text_color(*INK)
        _text(pdf, x_label, y + 1.1, fit_text(pdf, label, scale.right - x_label), "L", scale.right - x_label)
        pdf.set_fill_color(*colour)
        for bar in bars:
            x0, x1 = scale.x(max(bar.start_month, scale.x_min)), scale.x(min(bar.end_month, scale.x_max))
            if x1 > x0:
                pdf.rect(x0, y + 2.3, x1 - x0, 1.6, style="F")
        y += _LANE
    return y + (0.5 if lanes else 0)


def _legend_items(chart: ProgressChart, site: SiteChart,
                  values: _Values) -> list[tuple[str, tuple[int, int, int], str, float]]:
    """(shape, colour, label, opacity) for each entry that this chart shows."""
    items = [("rect", BAND, "expected range", 0.3)] if values.band else []
    if values.zone and site.noise is not None:
        items.append(("rect", ZONE, f"±{site.noise:.0f} hairs/cm² ({chart.no_change_pct:.0f}% of baseline): "
                                    "measurement noise", 0.25))
    if site.windows:
        items.append(("rect", WINDOW, "milestone window", 0.35))
    if chart.today_month is not None:
        items.append(("line", TODAY, "today", 1.0))
    shown = {p.status for p, _ in values.points}
    # The judged colours are always explained on a change chart, even before a point has that status.
    always = (PointKind.BASELINE, MilestoneStatus.AHEAD, MilestoneStatus.ON_TRACK,
              MilestoneStatus.BEHIND) if values.band else ()
    for status in (*always, PointKind.BEFORE_DAY0, MilestoneStatus.NO_BASELINE):
        if status in shown or status in always:
            items.append(("dot", POINT_STYLES[status].rgb, POINT_STYLES[status].legend, 1.0))
    if any(p.method == MeasurementMethod.COUNTED for p, _ in values.points):
        items.append(("diamond", MUTED, METHOD_WORDS[MeasurementMethod.COUNTED] + " (close-up)", 1.0))
    if chart.sessions:
        items.append(("triangle", SESSION, "treatment session", 1.0))
    if chart.active_spans:
        items.append(("bar", SESSION, "product active", 1.0))
    if chart.therapies:
        items.append(("bar", THERAPY, "concurrent therapy", 1.0))
    return items


def _draw_legend(pdf: FPDF, chart: ProgressChart, site: SiteChart, values: _Values, left: float, top: float,
                 width: float, font: str) -> float:
    pdf.set_font(font, "", 6.8)
    pdf.set_text_color(*INK)
    x, y = left, top + _LEGEND_ROW / 2
    for shape, colour, label, opacity in _legend_items(chart, site, values):
        entry = 4.5 + pdf.get_string_width(label) + 4
        if x + entry > left + width and x > left:
            x, y = left, y + _LEGEND_ROW
        pdf.set_fill_color(*colour)
        pdf.set_draw_color(*colour)
        with pdf.local_context(fill_opacity=opacity):
            legend_swatch(pdf, shape, x, y)
        _text(pdf, x + 4.5, y, label, "L")
        x += entry
    return y + _LEGEND_ROW / 2
