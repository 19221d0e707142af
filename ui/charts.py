"""Plotly figures drawn from ``tracker.progress.chart_data``: this module only draws, it computes nothing.

Kept apart from the page scripts so that tests can inspect a figure's traces against the engine.

Plotly reads a subset of HTML in every label, legend entry, annotation and hover text (``<a href>``,
``<b>``, ``<br>``, entities): each typed word (product, lot, therapy, dose, site, window name) passes
through ``label()`` on its way in, so it is shown as typed and never becomes a link or markup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from html import escape

import plotly.graph_objects as go

from tracker.clinic_dates import date_pattern, show_date
from tracker.course.vocabulary import (
    COUNTED_SYMBOL,
    POINT_STYLES,
    MeasurementMethod,
    PointKind,
    milestone_short,
    site_words,
    treatment_words,
)
from tracker.progress.chart_data import ChartPoint, ProgressChart, SiteChart
from tracker.progress.view import SecondarySeries


def label(text: object) -> str:
    """Typed text for plotly: ``<``, ``>`` and ``&`` as entities, which plotly draws as the characters.

    >>> label('<a href="https://example.org">x</a> & <b>c</b>')
    '&lt;a href="https://example.org"&gt;x&lt;/a&gt; &amp; &lt;b&gt;c&lt;/b&gt;'
    """
    return escape(str(text), quote=False)


# Colours shared by both charts (the PDF repeats them in tracker/exchange/report_chart.py).
BAND_FILL = "rgba(47,111,143,0.18)"
BAND_INK = "#2f6f8f"
NOISE_FILL = "rgba(120,120,120,0.12)"
TODAY_INK = "#2c3e50"
SESSION_INK = "#e67e22"
# Two points closer than this (months) would print their value labels over each other: the second goes below.
_CLOSE_MONTHS = 0.75


def site_figure(chart: ProgressChart, site: SiteChart, percent: bool = False, large: bool = False) -> go.Figure:
    """Change from baseline (hairs/cm², or % of the baseline) against months since day 0: the expected band
    with its edges labelled at the right end, the ±noise zone, milestone windows, each measured change with its
    value, treatment sessions on the baseline line, the product's active spans and therapies, and today."""
    unit = "% of baseline" if percent else "hairs/cm²"
    figure = go.Figure()
    band = site.band
    low = band.low_pct if percent else band.low
    high = band.high_pct if percent else band.high
    suffix = "%" if percent else ""
    _draw_band(figure, band.months, low, high, lambda v: f"{v:+.0f}{suffix}")
    if site.no_change_zone and site.noise is not None:
        zone = (-chart.no_change_pct, chart.no_change_pct) if percent else site.no_change_zone
        noise = f"±{chart.no_change_pct:.0f}%" if percent else f"±{site.noise:.0f} hairs/cm²"
        _draw_noise(figure, zone, f"{noise}: measurement noise")
    _draw_windows(figure, site)
    points = [p for p in site.points if (p.change_pct if percent else p.change) is not None]
    if points:
        values = [p.change_pct if percent else p.change for p in points]
        figure.add_trace(go.Scatter(
            x=[p.months for p in points],
            y=values,
            mode="lines+markers+text",
            name="measured change",
            line={"color": "#444444", "width": 1.5},
            marker=_markers(points, large),
            # The baseline is the zero line itself: its label would only say "+0".
            text=["" if p.status == PointKind.BASELINE else f"{v:+.0f}{suffix}" for p, v in zip(points, values,
                                                                                                strict=True)],
            textposition=_label_positions([p.months for p in points]),
            textfont={"size": 13 if large else 11, "color": [POINT_STYLES[p.status].hex for p in points]},
            customdata=[[show_date(p.date), p.density, POINT_STYLES[p.status].legend, p.how] for p in points],
            hovertemplate=("%{customdata[0]}: %{customdata[1]:.0f} hairs/cm²<br>change %{y:+.1f} "
                           + ("%" if percent else "hairs/cm²") + "<br>%{customdata[2]}<br>%{customdata[3]}"
                           "<extra></extra>"),
        ))
        _draw_counted_legend(figure, points, large)
    _draw_sessions(figure, chart, 0.0)
    bars = _draw_bars(figure, chart, large)
    _draw_today(figure, chart)
    _layout(figure, chart, f"change from baseline ({unit})", bars, large)
    value_range = site.change_pct_range if percent else site.change_range
    if value_range:  # room above the top point for its value, under the windows' names
        figure.update_layout(yaxis_range=list(value_range))
    return figure


def density_figure(chart: ProgressChart, site: SiteChart, large: bool = False) -> go.Figure:
    """Absolute density (hairs/cm²) against the chart's months (since day 0, or since the first measurement
    before any session): every measured point with its value, and, where there is a baseline, the baseline line,
    the expected band as densities (baseline + band) and the ±noise zone around the baseline; sessions, bars and
    today as on the change chart. The main chart for a site without a baseline."""
    figure = go.Figure()
    band = site.band
    _draw_band(figure, band.months, band.low_density, band.high_density, lambda v: f"{v:.0f}")
    zone = site.density_zone
    if zone and site.noise is not None:
        _draw_noise(figure, zone, f"±{site.noise:.0f} hairs/cm²: measurement noise")
    if site.baseline_density is not None:
        figure.add_hline(y=site.baseline_density, line={"color": "#777777", "width": 1, "dash": "dash"},
                         annotation_text=f"baseline {site.baseline_density:.0f}", annotation_position="bottom left",
                         annotation_font_size=11)
    _draw_windows(figure, site)
    points = site.points
    if points:
        figure.add_trace(go.Scatter(
            x=[p.months for p in points], y=[p.density for p in points], mode="lines+markers+text",
            name="measured density", line={"color": "#444444", "width": 1.5},
            marker=_markers(points, large),
            text=[f"{p.density:.0f}" for p in points], textposition=_label_positions([p.months for p in points]),
            textfont={"size": 13 if large else 11, "color": "#333333"},
            customdata=[[show_date(p.date), POINT_STYLES[p.status].legend, p.how] for p in points],
            hovertemplate="%{customdata[0]}: %{y:.0f} hairs/cm²<br>%{customdata[1]}<br>%{customdata[2]}<extra></extra>",
        ))
        _draw_counted_legend(figure, points, large)
    # Sessions sit on the baseline level, as they sit on the zero line of the change chart.
    level = site.baseline_density if site.baseline_density is not None else points[0].density if points else 0.0
    _draw_sessions(figure, chart, level)
    bars = _draw_bars(figure, chart, large)
    _draw_today(figure, chart)
    _layout(figure, chart, "density (hairs/cm²)", bars, large)
    if site.density_range:  # wide enough that a change inside the noise looks small (chart_data.density_range)
        figure.update_layout(yaxis_range=list(site.density_range))
    return figure


def _markers(points: list[ChartPoint] | tuple[ChartPoint, ...], large: bool) -> dict[str, object]:
    """Each point in its status's colour: a circle for a typed value, a larger diamond for an assisted count."""
    counted = [p.method == MeasurementMethod.COUNTED for p in points]
    size = 14 if large else 10
    return {"size": [size + 4 if c else size for c in counted], "color": [POINT_STYLES[p.status].hex for p in points],
            "symbol": [COUNTED_SYMBOL if c else "circle" for c in counted], "line": {"width": 1, "color": "white"}}


def _draw_counted_legend(figure: go.Figure, points: list[ChartPoint] | tuple[ChartPoint, ...], large: bool) -> None:
    """A legend entry saying what the diamonds are, when the chart has any."""
    if any(p.method == MeasurementMethod.COUNTED for p in points):
        figure.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", name="assisted count (close-up)",
            marker={"symbol": COUNTED_SYMBOL, "size": 14 if large else 12, "color": "#555555"}, hoverinfo="skip"))


def _label_positions(months: list[float]) -> list[str]:
    """Above each point, except one close after a labelled-above point, which goes below (no overlap).

    >>> _label_positions([0, 3, 3.2, 3.4, 6])
    ['top center', 'top center', 'bottom center', 'top center', 'top center']
    """
    positions: list[str] = []
    for index, month in enumerate(months):
        close = index > 0 and month - months[index - 1] < _CLOSE_MONTHS
        positions.append("bottom center" if close and positions[-1] == "top center" else "top center")
    return positions


def _draw_band(figure: go.Figure, months: tuple[float, ...], low: tuple[float, ...] | None,
               high: tuple[float, ...] | None, words: Callable[[float], str]) -> None:
    """The expected band shaded, its two edges labelled at the right end with their values (``words``)."""
    if low is None or high is None or not months:
        return
    figure.add_trace(go.Scatter(x=list(months), y=list(high), mode="lines", line={"width": 0},
                                name="expected range (high)", hoverinfo="skip", showlegend=False))
    figure.add_trace(go.Scatter(x=list(months), y=list(low), mode="lines", line={"width": 0},
                                fill="tonexty", fillcolor=BAND_FILL, name="expected range", hoverinfo="skip"))
    for value, edge, anchor in ((high[-1], "high", "bottom"), (low[-1], "low", "top")):
        figure.add_annotation(x=months[-1], y=value, text=f"expected {edge} {words(value)}", showarrow=False,
                              xanchor="right", yanchor=anchor, font={"size": 11, "color": BAND_INK},
                              name=f"band_{edge}")


def _draw_noise(figure: go.Figure, zone: tuple[float, float], words: str) -> None:
    figure.add_hrect(y0=zone[0], y1=zone[1], fillcolor=NOISE_FILL, line_width=0, annotation_text=words,
                     annotation_position="top left", annotation_font_size=11)


def _draw_windows(figure: go.Figure, site: SiteChart) -> None:
    for window in site.windows:
        figure.add_vrect(x0=window.start_month, x1=window.end_month, fillcolor="rgba(241,196,15,0.10)",
                         line_width=0, annotation_text=label(milestone_short(window.name)),
                         annotation_position="top", annotation_font_size=11)


def _draw_sessions(figure: go.Figure, chart: ProgressChart, level: float) -> None:
    if not chart.sessions:
        return
    figure.add_trace(go.Scatter(
        x=[s.months for s in chart.sessions], y=[level] * len(chart.sessions), mode="markers",
        name="treatment session", marker={"symbol": "triangle-up", "size": 14, "color": SESSION_INK},
        customdata=[
            [show_date(s.date), label(s.product or treatment_words(s.treatment)), label(s.lot_number or "—")]
            for s in chart.sessions
        ],
        hovertemplate="session %{customdata[0]}<br>%{customdata[1]}<br>lot %{customdata[2]}<extra></extra>",
    ))


def _draw_bars(figure: go.Figure, chart: ProgressChart, large: bool) -> int:
    """The product's active spans and the concurrent therapies under the chart; returns how many."""
    bars = [("active", bar) for bar in chart.active_spans] + [("therapy", bar) for bar in chart.therapies]
    for row, (kind, bar) in enumerate(bars):
        figure.add_trace(go.Scatter(
            x=[bar.start_month, bar.end_month], y=[row, row], mode="lines", yaxis="y2",
            line={"width": 8, "color": SESSION_INK if kind == "active" else "#7f8c8d"},
            name=label(bar.label), hovertemplate="%{fullData.name}<extra></extra>", showlegend=False,
        ))
        # The label sits on its bar (not as an axis tick) so long product names do not squeeze the chart.
        figure.add_annotation(x=max(bar.start_month, chart.x_min), y=row, yref="y2", text=label(bar.label),
                              showarrow=False, xanchor="left", yshift=11,
                              font={"size": 12 if large else 10, "color": "#444444"})
    return len(bars)


def _draw_today(figure: go.Figure, chart: ProgressChart) -> None:
    """A dotted line at the day the progress was assessed for (``ProgressChart.today_month``)."""
    if chart.today_month is None:
        return
    figure.add_vline(x=chart.today_month, line={"color": TODAY_INK, "width": 1.5, "dash": "dot"},
                     annotation_text="today", annotation_position="bottom right",
                     annotation_font={"size": 11, "color": TODAY_INK}, name="today")


def _layout(figure: go.Figure, chart: ProgressChart, y_title: str, bars: int, large: bool) -> None:
    figure.update_layout(
        height=(620 if large else 500) if bars else (560 if large else 440),
        font={"size": 18 if large else 13},
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        xaxis={"title": {"text": chart.x_title, "standoff": 4}, "range": [chart.x_min, chart.x_max], "dtick": 1},
        yaxis={"title": y_title, "domain": [0.34 if bars else 0.0, 1.0], "zeroline": True},
        yaxis2={"domain": [0.0, 0.2], "showticklabels": False, "range": [-0.6, bars - 0.2],
                "showgrid": False, "zeroline": False, "title": "treatment & therapies"} if bars else {"visible": False},
        legend={"orientation": "h", "y": 1.08},
        hovermode="closest",
    )


def secondary_figure(series: SecondarySeries, today: date | None = None) -> go.Figure:
    """One secondary measurement over the visits' dates, on its fixed axis (``SecondarySeries.y_range``), named
    steps (stages, assessment words) on the axis and drawn as steps, with a dotted "today" line at ``today``
    (the day the progress was assessed for)."""
    figure = go.Figure()
    for site, points in series.by_site.items():
        figure.add_trace(go.Scatter(
            x=[p.date for p in points], y=[p.value for p in points], mode="lines+markers", name=label(site_words(site)),
            line_shape="hv" if series.step else "linear",
            text=[label(p.label) for p in points],
            hovertemplate=f"%{{x|{date_pattern()}}}: " + ("%{text}" if any(p.label for p in points) else "%{y}")
                          + "<extra></extra>",
        ))
    days = sorted({p.date for points in series.by_site.values() for p in points} | ({today} if today else set()))
    # At least a fortnight either side: one day alone would zoom the date axis to hours.
    figure.update_xaxes(type="date", tickformat=date_pattern(),
                        range=[days[0] - timedelta(days=15), days[-1] + timedelta(days=15)] if days else None)
    if today is not None:
        # A shape and an annotation (add_vline cannot place its annotation on a date axis). The x values are
        # ISO because plotly reads them as positions on the axis, not text anyone reads.
        figure.add_shape(type="line", x0=today.isoformat(), x1=today.isoformat(), yref="y domain", y0=0, y1=1,
                         line={"color": TODAY_INK, "width": 1.5, "dash": "dot"}, name="today")
        figure.add_annotation(x=today.isoformat(), yref="y domain", y=1, text="today", showarrow=False,
                              xanchor="right", yanchor="top", font={"size": 10, "color": TODAY_INK}, name="today")
    if series.ticks:  # stages and assessment words on the axis, in the scale's order, not their ranks
        figure.update_yaxes(tickvals=[value for value, _ in series.ticks],
                            ticktext=[label(words) for _, words in series.ticks])
    if series.y_range:
        figure.update_yaxes(range=list(series.y_range), autorange=False)
    figure.update_layout(height=300 if series.ticks else 280,
                         margin={"l": 150 if series.code == "global_assessment" else 60, "r": 20, "t": 30, "b": 40},
                         title={"text": label(f"{series.title} ({series.unit})"), "font": {"size": 14}},
                         showlegend=len(series.by_site) > 1)
    return figure
