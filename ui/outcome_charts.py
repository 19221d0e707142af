"""Plotly figures of the clinic outcomes page, drawn from ``tracker.progress.outcomes.ClinicOutcomes``: this
module only draws, it computes nothing (kept apart from the page so that tests can read a figure's traces)."""

from __future__ import annotations

import plotly.graph_objects as go

from tracker.course.vocabulary import MilestoneStatus, milestone_short, status_words
from tracker.progress.outcomes import ClinicOutcomes
from ui.charts import BAND_FILL, BAND_INK, label

NOT_JUDGED_INK = "#b0b0b0"


def attainment_figure(found: ClinicOutcomes) -> go.Figure:
    """One stacked bar per milestone: of the patients whose window has opened, % ahead, on track, behind (the
    engine's colours; only behind is red) and not judged (due, missed or no baseline)."""
    names = [label(milestone_short(a.name)) for a in found.attainment]
    figure = go.Figure()
    for status in (MilestoneStatus.AHEAD, MilestoneStatus.ON_TRACK, MilestoneStatus.BEHIND):
        words = status_words(status)
        counts = [getattr(a, str(status)) for a in found.attainment]
        figure.add_bar(name=words.label, x=names, marker_color=words.hex, customdata=counts,
                       y=_shares(counts, found),
                       hovertemplate="%{y:.1f}% (%{customdata} patients)<extra>" + words.label + "</extra>")
    rest = [a.reached - a.judged for a in found.attainment]
    figure.add_bar(name="Not judged (due, missed, no baseline)", x=names, marker_color=NOT_JUDGED_INK,
                   customdata=rest, y=_shares(rest, found),
                   hovertemplate="%{y:.1f}% (%{customdata} patients)<extra>not judged</extra>")
    figure.update_layout(barmode="stack", height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         yaxis={"title": "% of patients (window opened)", "range": [0, 100]},
                         legend={"orientation": "h", "y": -0.15},
                         title={"text": "Milestone attainment", "x": 0.08})
    return figure


def _shares(counts: list[int], found: ClinicOutcomes) -> list[float]:
    """Each milestone's count in % of the patients whose window has opened (0 when none has)."""
    return [100 * n / a.reached if a.reached else 0.0 for n, a in zip(counts, found.attainment, strict=True)]


def change_figure(found: ClinicOutcomes) -> go.Figure:
    """The median change from baseline by month after day 0, with the interquartile band shaded."""
    months = [p.month for p in found.change]
    figure = go.Figure()
    figure.add_scatter(x=months, y=[p.q3 for p in found.change], mode="lines", line={"width": 0},
                       showlegend=False, hoverinfo="skip")
    figure.add_scatter(x=months, y=[p.q1 for p in found.change], mode="lines", line={"width": 0}, fill="tonexty",
                       fillcolor=BAND_FILL, name="Interquartile range", hoverinfo="skip")
    figure.add_scatter(x=months, y=[p.median for p in found.change], mode="lines+markers", name="Median",
                       line={"color": BAND_INK}, customdata=[p.patients for p in found.change],
                       hovertemplate="month %{x}: %{y:.1f} (%{customdata} patients)<extra>median</extra>")
    figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         title=f"Change from baseline ({found.change_unit})",
                         xaxis={"title": "months after day 0", "dtick": 1},
                         yaxis={"title": label(found.change_unit)}, legend={"orientation": "h", "y": -0.2})
    return figure
