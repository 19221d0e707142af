"""Plotly figures drawn from ``tracker.progress.chart_data``: this module only draws, it computes nothing.

Kept apart from the page scripts so that tests can inspect a figure's traces against the engine.

Plotly reads a subset of HTML in every label, legend entry, annotation and hover text (``<a href>``,
``<b>``, ``<br>``, entities): each typed word (product, lot, therapy, dose, site, window name) passes
through ``label()`` on its way in, so it is shown as typed and never becomes a link or markup.
"""

from __future__ import annotations

from html import escape

import plotly.graph_objects as go

from tracker.course.vocabulary import POINT_STYLES, milestone_short, site_words, treatment_words
from tracker.progress.chart_data import ProgressChart, SiteChart
from tracker.progress.view import SecondarySeries


def label(text: object) -> str:
    """Typed text for plotly: ``<``, ``>`` and ``&`` as entities, which plotly draws as the characters.

    >>> label('<a href="https://example.org">x</a> & <b>c</b>')
    '&lt;a href="https://example.org"&gt;x&lt;/a&gt; &amp; &lt;b&gt;c&lt;/b&gt;'
    """
    return escape(str(text), quote=False)


def site_figure(chart: ProgressChart, site: SiteChart, percent: bool = False, large: bool = False) -> go.Figure:
    """Change from baseline against months since day 0, with band, noise zone, windows and sessions."""
    unit = "% of baseline" if percent else "hairs/cm²"
    figure = go.Figure()
    band = site.band
    low = band.low_pct if percent else band.low
    high = band.high_pct if percent else band.high
    if low is not None and high is not None:
        figure.add_trace(go.Scatter(x=list(band.months), y=list(high), mode="lines", line={"width": 0},
                                    name="expected range (high)", hoverinfo="skip", showlegend=False))
        figure.add_trace(go.Scatter(x=list(band.months), y=list(low), mode="lines", line={"width": 0},
                                    fill="tonexty", fillcolor="rgba(47,111,143,0.18)",
                                    name="expected range", hoverinfo="skip"))
    if site.no_change_zone:
        zone = (-chart.no_change_pct, chart.no_change_pct) if percent else site.no_change_zone
        figure.add_hrect(y0=zone[0], y1=zone[1], fillcolor="rgba(120,120,120,0.12)", line_width=0,
                         annotation_text=f"±{chart.no_change_pct:.0f}%: no measurable change",
                         annotation_position="top left", annotation_font_size=11)
    for window in site.windows:
        figure.add_vrect(x0=window.start_month, x1=window.end_month, fillcolor="rgba(241,196,15,0.10)",
                         line_width=0, annotation_text=label(milestone_short(window.name)),
                         annotation_position="top", annotation_font_size=11)
    points = [p for p in site.points if (p.change_pct if percent else p.change) is not None]
    if points:
        figure.add_trace(go.Scatter(
            x=[p.months for p in points],
            y=[p.change_pct if percent else p.change for p in points],
            mode="lines+markers",
            name="measured change",
            line={"color": "#444444", "width": 1.5},
            marker={"size": 14 if large else 10, "color": [POINT_STYLES[p.status].hex for p in points],
                    "line": {"width": 1, "color": "white"}},
            customdata=[[p.date.isoformat(), p.density, POINT_STYLES[p.status].legend] for p in points],
            hovertemplate=("%{customdata[0]}: %{customdata[1]:.0f} hairs/cm²<br>change %{y:+.1f} "
                           + ("%" if percent else "hairs/cm²") + "<br>%{customdata[2]}<extra></extra>"),
        ))
    if chart.sessions:
        figure.add_trace(go.Scatter(
            x=[s.months for s in chart.sessions], y=[0] * len(chart.sessions), mode="markers",
            name="treatment session", marker={"symbol": "triangle-up", "size": 14, "color": "#e67e22"},
            customdata=[
                [s.date.isoformat(), label(s.product or treatment_words(s.treatment)), label(s.lot_number or "—")]
                for s in chart.sessions
            ],
            hovertemplate="session %{customdata[0]}<br>%{customdata[1]}<br>lot %{customdata[2]}<extra></extra>",
        ))
    bars = [("active", bar) for bar in chart.active_spans] + [("therapy", bar) for bar in chart.therapies]
    for row, (kind, bar) in enumerate(bars):
        figure.add_trace(go.Scatter(
            x=[bar.start_month, bar.end_month], y=[row, row], mode="lines", yaxis="y2",
            line={"width": 8, "color": "#e67e22" if kind == "active" else "#7f8c8d"},
            name=label(bar.label), hovertemplate="%{fullData.name}<extra></extra>", showlegend=False,
        ))
        # The label sits on its bar (not as an axis tick) so long product names do not squeeze the chart.
        figure.add_annotation(x=max(bar.start_month, -0.5), y=row, yref="y2", text=label(bar.label), showarrow=False,
                              xanchor="left", yshift=11, font={"size": 12 if large else 10, "color": "#444444"})
    figure.update_layout(
        height=(620 if large else 500) if bars else (560 if large else 440),
        font={"size": 18 if large else 13},
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        xaxis={"title": {"text": "months since first session", "standoff": 4}, "range": [-0.5, chart.x_max],
               "dtick": 1},
        yaxis={"title": f"change from baseline ({unit})", "domain": [0.34 if bars else 0.0, 1.0],
               "zeroline": True},
        yaxis2={"domain": [0.0, 0.2], "showticklabels": False, "range": [-0.6, len(bars) - 0.2],
                "showgrid": False, "zeroline": False, "title": "treatment & therapies"} if bars else {"visible": False},
        legend={"orientation": "h", "y": 1.08},
        hovermode="closest",
    )
    return figure


def secondary_figure(series: SecondarySeries) -> go.Figure:
    figure = go.Figure()
    for site, points in series.by_site.items():
        figure.add_trace(go.Scatter(
            x=[p.date for p in points], y=[p.value for p in points], mode="lines+markers", name=label(site_words(site)),
            text=[label(p.label) for p in points],
            hovertemplate="%{x|%d %b %Y}: %{y}" + (" %{text}" if any(p.label for p in points) else "")
                          + "<extra></extra>",
        ))
    days = {p.date for points in series.by_site.values() for p in points}
    if len(days) == 1:
        # One day only: a date axis would zoom to hours and print that day over and over.
        figure.update_xaxes(type="category")
        for trace in figure.data:
            trace.x = [f"{day.day} {day:%b %Y}" for day in trace.x]
    else:
        figure.update_xaxes(type="date", tickformat="%d %b %Y")
    labels = {p.value: p.label for points in series.by_site.values() for p in points if p.label}
    if labels:  # stages: their names on the axis, not their ranks
        figure.update_yaxes(tickvals=list(labels), ticktext=[label(t) for t in labels.values()])
    figure.update_layout(height=280, margin={"l": 50, "r": 20, "t": 30, "b": 40},
                         title={"text": label(f"{series.title} ({series.unit})"), "font": {"size": 14}})
    return figure
