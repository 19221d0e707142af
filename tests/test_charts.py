"""The progress charts answer "where are we now": figures inspected trace by trace against values worked by hand.

One course throughout (the engine's own records, no database): day 0 = 15 Jan 2025, vertex baseline 150 hairs/cm²
that day, then 175 on 14 Apr 2025 (89 days = 2.9240 months), 150 on 15 Jul 2025 (181 days) and 200 on 20 Jan 2026
(370 days), assessed on 1 Feb 2026 (382 days = 12.5503 months: "today"). Months are days / 30.4375. The
default band ends flat at +15..+35 from month 12; the noise is 10% of the baseline, ±15 hairs/cm².
"""

from __future__ import annotations

from datetime import date

import pytest

from tracker.course.milestones import DEFAULT_PROTOCOL, DensityRecord, SessionRecord, assess
from tracker.progress.chart_data import ProgressChart, build_chart
from ui.charts import density_figure, site_figure

DAY0 = date(2025, 1, 15)
AS_OF = date(2026, 2, 1)
TODAY_MONTH = 12.5503  # 382 / 30.4375
# The last milestone window closes 13 months after day 0, on 15 Feb 2026 (396 days = 13.0103): + a quarter month.
X_MAX = 13.26
VERTEX = ((DAY0, 150.0), (date(2025, 4, 14), 175.0), (date(2025, 7, 15), 150.0), (date(2026, 1, 20), 200.0))


def chart_of(measurements, sessions=(DAY0,), as_of=AS_OF) -> ProgressChart:
    records = [DensityRecord(day, site, density) for site, day, density in measurements]
    treated = [SessionRecord(day, product="ExoHair", lot_number="EXO-1") for day in sessions]
    return build_chart(assess(treated, records, DEFAULT_PROTOCOL, as_of), DEFAULT_PROTOCOL, treated)


def course() -> ProgressChart:
    return chart_of([("vertex", day, density) for day, density in VERTEX])


def labels_of(figure) -> dict[str, str]:
    return {a.text: a for a in figure.layout.annotations}


def test_the_change_chart_marks_today_labels_the_band_edges_and_every_measured_change():
    chart = course()
    site = chart.sites[0]
    assert (chart.today_month, chart.x_max, chart.origin) == (TODAY_MONTH, X_MAX, DAY0)
    figure = site_figure(chart, site)

    today = [s for s in figure.layout.shapes if s.name == "today"]
    assert [(s.x0, s.x1, s.line.dash) for s in today] == [(TODAY_MONTH, TODAY_MONTH, "dot")]
    assert "today" in labels_of(figure)
    # The band's right end (month 13.26, flat since month 12): +15..+35, labelled there in hairs/cm².
    shown = labels_of(figure)
    high, low = shown["expected high +35"], shown["expected low +15"]
    assert (high.x, high.y, high.xanchor, high.yanchor) == (X_MAX, 35.0, "right", "bottom")
    assert (low.x, low.y, low.yanchor) == (X_MAX, 15.0, "top")
    # Each change printed on its point; the baseline is the zero line itself and prints nothing.
    measured = {t.name: t for t in figure.data}["measured change"]
    assert list(measured.y) == [0.0, 25.0, 0.0, 50.0]
    assert list(measured.text) == ["", "+25", "+0", "+50"]
    assert list(measured.textposition) == ["top center"] * 4  # months apart: no label crowds another
    # The ±noise zone: the engine's noise (10% of 150), named in hairs/cm².
    zone = [s for s in figure.layout.shapes if s.type == "rect" and s.yref == "y"]
    assert [(s.y0, s.y1) for s in zone] == [(-15.0, 15.0)]
    assert "±15 hairs/cm²: measurement noise" in shown
    # The axis: −15 (noise floor) to +50 (the 12-month point), span 65; 6% below, 18% above for the "+50" label.
    assert list(figure.layout.yaxis.range) == pytest.approx([-18.9, 61.7])


def test_the_change_chart_in_percent_labels_everything_in_percent():
    chart = course()
    figure = site_figure(chart, chart.sites[0], percent=True)
    measured = {t.name: t for t in figure.data}["measured change"]
    assert list(measured.text) == ["", "+17%", "+0%", "+33%"]  # 25/150, 0/150, 50/150
    shown = labels_of(figure)
    assert "expected high +23%" in shown and "expected low +10%" in shown  # 35/150 = 23.3%, 15/150 = 10%
    assert "±10%: measurement noise" in shown
    # −10% (noise and the band's start, −10/150 = −6.7%) to +33.3% (50/150): span 43.3, −2.6 below, +7.8 above.
    assert list(figure.layout.yaxis.range) == pytest.approx([-12.6, 41.13], abs=0.01)


def test_the_density_chart_draws_the_band_and_noise_around_the_baseline_with_each_density():
    chart = course()
    site = chart.sites[0]
    figure = density_figure(chart, site)
    traces = {t.name: t for t in figure.data}
    assert list(traces["measured density"].y) == [150.0, 175.0, 150.0, 200.0]
    assert list(traces["measured density"].text) == ["150", "175", "150", "200"]
    # The band as densities: 150 + (+15..+35) at its right end; the noise zone 150 ± 15.
    assert list(traces["expected range"].y)[-1] == 165.0 and list(traces["expected range (high)"].y)[-1] == 185.0
    shown = labels_of(figure)
    assert shown["expected high 185"].x == X_MAX and shown["expected low 165"].y == 165.0
    assert "baseline 150" in shown and "±15 hairs/cm²: measurement noise" in shown
    assert [(s.y0, s.y1) for s in figure.layout.shapes if s.type == "rect" and s.yref == "y"] == [(135.0, 165.0)]
    # Sessions sit on the baseline, as on the change chart's zero line.
    assert list(traces["treatment session"].y) == [150.0]
    # Axis: everything from 135 (noise floor) to 200, middle 167.5, half-span 32.5 (> twice the noise, 30), + 6%.
    assert list(figure.layout.yaxis.range) == pytest.approx([133.05, 201.95])
    assert figure.layout.xaxis.title.text == "months since first session"
    assert [s.x0 for s in figure.layout.shapes if s.name == "today"] == [TODAY_MONTH]


def test_a_site_without_a_baseline_gets_its_densities_charted():
    """Vertex measured first 3 months after day 0: no baseline, so no change and no band, but the densities."""
    chart = chart_of([("vertex", date(2025, 4, 14), 140.0), ("vertex", date(2025, 7, 15), 150.0),
                      ("vertex", date(2025, 10, 15), 158.0)])
    site = chart.sites[0]
    assert site.baseline_density is None and site.no_change_zone is None
    assert [p.status for p in site.points] == ["no_baseline"] * 3
    figure = density_figure(chart, site)
    measured = {t.name: t for t in figure.data}["measured density"]
    assert list(measured.y) == [140.0, 150.0, 158.0] and list(measured.text) == ["140", "150", "158"]
    assert not any(a.text.startswith("expected") for a in figure.layout.annotations)
    # Mean 149.33: twice its 10% (29.87) exceeds half the 18 spread, so the axis is the middle of 140..158,
    # 149, ± 29.87 × 1.06 = 31.66.
    assert list(figure.layout.yaxis.range) == pytest.approx([117.34, 180.66])
    # The change chart has nothing to draw for it: no measured change trace at all.
    assert "measured change" not in {t.name for t in site_figure(chart, site).data}


def test_a_patient_not_yet_treated_gets_a_density_chart_on_months_since_the_first_measurement():
    """120 on 1 Oct 2025 and 118 on 1 Dec 2025 (61 days = 2.0041 months), no session, viewed on 1 Feb 2026
    (123 days = 4.0411 months)."""
    chart = chart_of([("vertex", date(2025, 10, 1), 120.0), ("vertex", date(2025, 12, 1), 118.0)], sessions=())
    assert (chart.day0, chart.origin, chart.today_month, chart.x_max) == (None, date(2025, 10, 1), 4.0411, 4.29)
    assert chart.x_title == "months since first measurement" and chart.sessions == ()
    site = chart.sites[0]
    assert [(p.months, p.density, p.change, p.status) for p in site.points] == [
        (0.0, 120.0, None, "before_day0"), (2.0041, 118.0, None, "before_day0")]
    figure = density_figure(chart, site)
    # 2 hairs/cm² inside a ±12 noise must look small: the axis spans 119 ± 2 × 11.9 × 1.06, not 118..120.
    assert list(figure.layout.yaxis.range) == pytest.approx([93.77, 144.23])
    assert [s.x0 for s in figure.layout.shapes if s.name == "today"] == [4.0411]
    assert figure.layout.xaxis.title.text == "months since first measurement"


def test_nothing_measured_and_nothing_treated_has_no_chart():
    chart = chart_of([], sessions=())
    assert (chart.sites, chart.origin, chart.today_month) == ((), None, None)


def test_value_labels_of_close_visits_alternate_above_and_below():
    """Two visits a week apart (0.23 months) would print their numbers over each other."""
    chart = chart_of([("vertex", DAY0, 150.0), ("vertex", date(2025, 4, 14), 175.0),
                      ("vertex", date(2025, 4, 21), 172.0), ("vertex", date(2025, 7, 15), 160.0)])
    measured = {t.name: t for t in site_figure(chart, chart.sites[0]).data}["measured change"]
    assert list(measured.text) == ["", "+25", "+22", "+10"]
    assert list(measured.textposition) == ["top center", "top center", "bottom center", "top center"]
