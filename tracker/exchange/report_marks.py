"""The small shapes the PDF chart draws (``report_chart``): a measured point (a circle for a typed value, a
diamond for an assisted count, as on the page's chart), a session's triangle, and each legend entry's swatch;
and the note that says which points are assisted counts (``report``).

>>> diamond_points(10.0, 20.0, 2.0)
[(10.0, 18.0), (12.0, 20.0), (10.0, 22.0), (8.0, 20.0)]
"""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from tracker.clinic_dates import show_date
from tracker.course.vocabulary import COUNTED_NOTE, MeasurementMethod
from tracker.progress.chart_data import ChartPoint

POINT_RADIUS = 1.3  # mm: a typed value's circle; an assisted count's diamond reaches a little further
_DIAMOND_REACH = 1.9


def diamond_points(x: float, y: float, reach: float) -> list[tuple[float, float]]:
    """The corners of a diamond centred on (x, y), ``reach`` mm from the centre to each corner."""
    return [(x, y - reach), (x + reach, y), (x, y + reach), (x - reach, y)]


def point_mark(pdf: FPDF, x: float, y: float, method: str) -> None:
    """One measured point in the current fill and draw colours: a diamond for an assisted count, else a circle."""
    if method == MeasurementMethod.COUNTED:
        pdf.polygon(diamond_points(x, y, _DIAMOND_REACH), style="DF")
    else:
        pdf.circle(x, y, POINT_RADIUS, style="DF")


def triangle(pdf: FPDF, x: float, base_y: float, size: float) -> None:
    pdf.polygon([(x - size / 2, base_y), (x + size / 2, base_y), (x, base_y - size)], style="F")


def legend_swatch(pdf: FPDF, shape: str, x: float, y: float) -> None:
    """A legend entry's shape in the current fill colour, 3.4 mm wide from ``x``, centred on ``y``."""
    if shape == "rect":
        pdf.rect(x, y - 1.3, 3.4, 2.6, style="F")
    elif shape == "dot":
        pdf.circle(x + 1.7, y, 1.2, style="F")
    elif shape == "diamond":
        pdf.polygon(diamond_points(x + 1.7, y, 1.6), style="F")
    elif shape == "triangle":
        triangle(pdf, x + 1.7, y + 1.3, 2.8)
    elif shape == "line":
        pdf.set_line_width(0.3)
        pdf.set_dash_pattern(dash=0.4, gap=0.8)
        pdf.line(x + 1.7, y - 1.4, x + 1.7, y + 1.4)
        pdf.set_dash_pattern()
    else:
        pdf.rect(x, y - 0.9, 3.4, 1.8, style="F")


def counted_note(points: Sequence[ChartPoint]) -> str:
    """The sentence added under a site's heading when any of its points is an assisted count ('' otherwise):
    what the diamonds are, then each count with its date, e.g. "2025-07-15: assisted count (25 hairs in 4×4 mm)"."""
    counted = [p for p in points if p.method == MeasurementMethod.COUNTED]
    if not counted:
        return ""
    return f" {COUNTED_NOTE} " + "; ".join(f"{show_date(p.date)}: {p.how}" for p in counted) + "."
