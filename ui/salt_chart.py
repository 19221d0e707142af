"""Plotly figures of a SALT course, drawn from ``tracker.progress.salt_chart`` only: this module computes nothing.

The SALT score over time (y 0–100, lower is better, so the axis is drawn as is and the response line sits low),
the clinic's band turned into scores, the SALT ≤ 20 response line and the SALT50/75/90 targets, milestone
windows, sessions and value labels; and the SALT patient's density measurements as a secondary view. Typed words
(product, lot, site, window name) pass through ``ui.charts.label``.
"""

from __future__ import annotations

import plotly.graph_objects as go

from tracker.clinic_dates import show_date
from tracker.course.salt import score_text
from tracker.course.vocabulary import POINT_STYLES, milestone_short, site_words, treatment_words
from tracker.progress.salt_chart import SaltChart
from ui.charts import TODAY_INK, label

_RESPONSE_COLOUR = "#1b7f3b"
_ENDPOINT_COLOUR = "#7f8c8d"


def salt_figure(chart: SaltChart, large: bool = False) -> go.Figure:
    """The SALT score against months since day 0, with the band, the endpoint lines, windows and sessions."""
    figure = go.Figure()
    if chart.band is not None:
        figure.add_trace(go.Scatter(x=list(chart.band.months), y=list(chart.band.worst), mode="lines",
                                    line={"width": 0}, name="expected range (worst edge)", hoverinfo="skip",
                                    showlegend=False))
        figure.add_trace(go.Scatter(x=list(chart.band.months), y=list(chart.band.best), mode="lines",
                                    line={"width": 0}, fill="tonexty", fillcolor="rgba(47,111,143,0.18)",
                                    name="clinic's expected range", hoverinfo="skip"))
    figure.add_hline(y=chart.response_line.score, line={"color": _RESPONSE_COLOUR, "width": 2},
                     annotation_text=label(chart.response_line.label), annotation_position="bottom right",
                     annotation_font={"color": _RESPONSE_COLOUR, "size": 12})
    for line in chart.endpoints:
        figure.add_hline(y=line.score, line={"color": _ENDPOINT_COLOUR, "width": 1, "dash": "dot"},
                         annotation_text=label(line.label), annotation_position="top right",
                         annotation_font={"color": _ENDPOINT_COLOUR, "size": 11})
    for window in chart.windows:
        figure.add_vrect(x0=window.start_month, x1=window.end_month, fillcolor="rgba(241,196,15,0.10)",
                         line_width=0, annotation_text=label(milestone_short(window.name)),
                         annotation_position="top", annotation_font_size=11)
    _edge_labels(figure, chart)
    _today(figure, chart)
    if chart.points:
        figure.add_trace(go.Scatter(
            x=[p.months for p in chart.points], y=[p.score for p in chart.points], mode="lines+markers+text",
            name="SALT score", line={"color": "#444444", "width": 1.5},
            text=[score_text(p.score) for p in chart.points], textposition="top center",
            marker={"size": 14 if large else 10, "color": [POINT_STYLES[p.status].hex for p in chart.points],
                    "line": {"width": 1, "color": "white"}},
            customdata=[[show_date(p.date), "—" if p.improvement_pct is None else f"{p.improvement_pct:+.0f}%",
                         POINT_STYLES[p.status].legend] for p in chart.points],
            hovertemplate=("%{customdata[0]}: SALT %{y}<br>improvement %{customdata[1]}<br>%{customdata[2]}"
                           "<extra></extra>"),
        ))
    if chart.sessions:
        figure.add_trace(go.Scatter(
            x=[s.months for s in chart.sessions], y=[100] * len(chart.sessions), mode="markers",
            name="treatment session", marker={"symbol": "triangle-down", "size": 14, "color": "#e67e22"},
            customdata=[
                [show_date(s.date), label(s.product or treatment_words(s.treatment)), label(s.lot_number or "—")]
                for s in chart.sessions
            ],
            hovertemplate="session %{customdata[0]}<br>%{customdata[1]}<br>lot %{customdata[2]}<extra></extra>",
        ))
    figure.update_layout(
        height=560 if large else 440,
        font={"size": 18 if large else 13},
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        xaxis={"title": {"text": "months since first session", "standoff": 4}, "range": [-0.5, chart.x_max],
               "dtick": 1},
        yaxis={"title": "SALT score (0–100, lower is better)", "range": [0, 104]},
        legend={"orientation": "h", "y": 1.08},
        hovermode="closest",
    )
    return figure


def salt_density_figure(chart: SaltChart) -> go.Figure:
    """The density of each measured site as measured (hairs/cm²), without a band: a SALT protocol judges SALT."""
    figure = go.Figure()
    for trace in chart.density:
        figure.add_trace(go.Scatter(
            x=list(trace.months), y=list(trace.density), mode="lines+markers+text", name=label(site_words(trace.site)),
            text=[f"{value:.0f}" for value in trace.density], textposition="top center",
            customdata=[show_date(day) for day in trace.dates],
            hovertemplate="%{customdata}: %{y:.0f} hairs/cm²<extra></extra>",
        ))
    figure.update_layout(
        height=360, margin={"l": 60, "r": 20, "t": 30, "b": 50},
        xaxis={"title": "months since first session", "range": [-0.5, chart.x_max], "dtick": 1},
        yaxis={"title": "density (hairs/cm²)", "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.1},
    )
    _today(figure, chart)
    return figure


def _today(figure: go.Figure, chart: SaltChart) -> None:
    """A dotted line at the day the course was assessed for, as on the density charts."""
    if chart.today_month is not None:
        figure.add_vline(x=chart.today_month, line={"color": TODAY_INK, "width": 1.5, "dash": "dot"},
                         annotation_text="today", annotation_position="bottom right",
                         annotation_font={"color": TODAY_INK, "size": 11}, name="today")


def _edge_labels(figure: go.Figure, chart: SaltChart) -> None:
    """The band's edges named at its right end, in SALT scores (the best edge is the lower line)."""
    band = chart.band
    if band is None or not band.months:
        return
    for text, score in (("expected best", band.best[-1]), ("expected worst", band.worst[-1])):
        figure.add_annotation(x=band.months[-1], y=score, text=f"{text} {score_text(score)}", showarrow=False,
                              xanchor="right", yshift=8 if text == "expected worst" else -8,
                              font={"size": 11, "color": "#2f6f8f"})
