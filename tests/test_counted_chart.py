"""A counted density on the charts (``tracker.progress.chart_data``, ``ui.charts``): the same course as
test_charts.py (day 0 = 15 Jan 2025, vertex baseline 150), with the 6-month value 170 counted on a close-up (119 hairs
in 10 × 7 mm = 0.7 cm²: 170 hairs/cm²) and the others typed. Only how it is drawn differs; the judgement is the same.
"""

from __future__ import annotations

from datetime import date

from tracker.course.milestones import DEFAULT_PROTOCOL, DensityRecord, SessionRecord, assess
from tracker.course.vocabulary import method_words
from tracker.progress.chart_data import build_chart
from ui.charts import density_figure, site_figure

DAY0 = date(2025, 1, 15)
COUNTED = DensityRecord(date(2025, 7, 15), "vertex", 170.0, "counted", 119, (10.0, 7.0))


def _chart(counted: DensityRecord = COUNTED):
    records = [DensityRecord(DAY0, "vertex", 150.0), DensityRecord(date(2025, 4, 14), "vertex", 175.0), counted]
    sessions = [SessionRecord(DAY0, product="ExoHair", lot_number="EXO-1")]
    return build_chart(assess(sessions, records, DEFAULT_PROTOCOL, date(2025, 8, 1)), DEFAULT_PROTOCOL, sessions)


def test_a_counted_point_is_a_diamond_with_its_count_in_the_hover_and_a_legend_entry():
    chart = _chart()
    points = chart.sites[0].points
    assert [(p.method, p.how) for p in points] == [
        ("typed", "typed value"), ("typed", "typed value"), ("counted", "assisted count (119 hairs in 10×7 mm)")]
    typed_twin = _chart(DensityRecord(date(2025, 7, 15), "vertex", 170.0)).sites[0].points
    # the same change (+20) and status whichever way it was measured
    assert [(p.change, p.status) for p in points] == [(p.change, p.status) for p in typed_twin]
    for figure, name in ((site_figure(chart, chart.sites[0]), "measured change"),
                         (density_figure(chart, chart.sites[0]), "measured density")):
        traces = {t.name: t for t in figure.data}
        measured = traces[name]
        assert list(measured.marker.symbol) == ["circle", "circle", "diamond"]
        assert list(measured.marker.size) == [10, 10, 14]
        assert [row[-1] for row in measured.customdata] == ["typed value", "typed value",
                                                            "assisted count (119 hairs in 10×7 mm)"]
        legend = traces["assisted count (close-up)"]
        assert legend.marker.symbol == "diamond" and list(legend.x) == [None]
    typed_only = site_figure(_chart(DensityRecord(date(2025, 7, 15), "vertex", 170.0)),
                             _chart(DensityRecord(date(2025, 7, 15), "vertex", 170.0)).sites[0])
    assert "assisted count (close-up)" not in {t.name for t in typed_only.data}


def test_method_words_need_the_count_and_the_field_to_say_them():
    assert method_words("counted") == "assisted count"
    assert method_words("counted", 12, (4.0, 3.0)) == "assisted count (12 hairs in 4×3 mm)"
    assert method_words("typed", 12, (4.0, 3.0)) == "typed value"
