"""The SALT chart as plain data (alopecia areata on a SALT protocol): everything ``ui.salt_chart`` draws.

x = months since day 0 (days / 30.4375); y = the SALT score, 0–100, lower is better. The protocol's band is on %
improvement from baseline; here it is turned into SALT scores, score = baseline × (1 − improvement / 100), so the
best edge (most improvement) is the lower line. The endpoint lines: SALT ≤ 20 (response) and the SALT50/75/90
targets, baseline × 0.5 / 0.25 / 0.1. Point statuses are judged as the engine judges a milestone visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from tracker.course.calendar_months import months_between
from tracker.course.clinical import SALT_IMPROVEMENT_ENDPOINTS, SALT_MAX, SALT_RESPONSE_MAX
from tracker.course.milestones import (
    Progress,
    Protocol,
    SessionRecord,
    classify,
    expected_bands,
    noise_for,
    outcome_change,
)
from tracker.course.salt import SALT_SITE, SaltCourse, salt_course, score_text
from tracker.course.vocabulary import MilestoneStatus, PointKind
from tracker.progress.chart_data import SessionMarker, WindowSpan

_GRID_STEP_MONTHS = 0.5


class SaltPoint(NamedTuple):
    """One SALT score on the chart; ``improvement_pct`` from baseline (None: not judged); ``status``: a
    ``PointKind`` (baseline, before_day0) or a ``MilestoneStatus`` (ahead, on_track, behind, no_baseline)."""

    date: date
    months: float
    score: float
    improvement_pct: float | None
    status: str


@dataclass(frozen=True)
class ScoreLine:
    """A horizontal line at a SALT ``score`` with its ``label`` ("SALT ≤ 20: response", "SALT50 (20)")."""

    label: str
    score: float


@dataclass(frozen=True)
class SaltBand:
    """The protocol's band in SALT scores on the chart's grid: ``best`` (the high edge of improvement, the
    lower score) and ``worst``, clipped to 0–100."""

    months: tuple[float, ...]
    best: tuple[float, ...]
    worst: tuple[float, ...]


@dataclass(frozen=True)
class DensityTrace:
    """One site's density (hairs/cm²) over time, as measured: the SALT patient's secondary view, no band."""

    site: str
    months: tuple[float, ...]
    dates: tuple[date, ...]
    density: tuple[float, ...]


@dataclass(frozen=True)
class SaltChart:
    """``course``: the judged SALT course (JSON, cards and the PDF read it too); ``band``/``endpoints`` are
    ``None``/empty without a usable baseline (none before day 0, or 0)."""

    day0: date | None
    x_max: float
    baseline_score: float | None
    course: SaltCourse
    points: tuple[SaltPoint, ...]
    band: SaltBand | None
    response_line: ScoreLine
    endpoints: tuple[ScoreLine, ...]
    windows: tuple[WindowSpan, ...]
    sessions: tuple[SessionMarker, ...]
    density: tuple[DensityTrace, ...]
    today_month: float | None = None  # ``Progress.as_of`` in months since day 0, where the today line goes


def _score(baseline: float, improvement_pct: float) -> float:
    """The SALT score an improvement of ``improvement_pct`` % from ``baseline`` means, inside 0–100.

    >>> _score(40, 50), _score(40, -300), _score(40, 120)
    (20.0, 100.0, 0.0)
    """
    return min(SALT_MAX, max(0.0, baseline * (100 - improvement_pct) / 100))  # 40 × 10 / 100 is exactly 4


def _band(protocol: Protocol, baseline: float, x_max: float) -> SaltBand:
    months = tuple(sorted({p.month for p in protocol.band if p.month <= x_max}
                          | {i * _GRID_STEP_MONTHS for i in range(int(x_max / _GRID_STEP_MONTHS) + 1)} | {x_max}))
    bands = [band for band in expected_bands(protocol, months) if band is not None]
    if len(bands) != len(months):  # parse_band refuses a band that does not start at month 0
        raise ValueError(f"protocol {protocol.name!r}: the band does not cover months 0 to {x_max:g}")
    return SaltBand(months, tuple(_score(baseline, high) for _, high in bands),
                    tuple(_score(baseline, low) for low, _ in bands))


def _points(progress: Progress, protocol: Protocol, baseline: float | None) -> tuple[SaltPoint, ...]:
    site = next((s for s in progress.sites if s.site == SALT_SITE), None)
    day0 = progress.day0
    if site is None or day0 is None:
        return ()
    points = []
    bands = expected_bands(protocol, [months_between(day0, m.date) for m in site.measurements])
    for measurement, band in zip(site.measurements, bands, strict=True):
        changed = None if baseline is None else outcome_change(baseline, measurement.density, protocol)
        improvement = changed[0] if changed else None
        if site.baseline and measurement.date == site.baseline.date:
            status: str = PointKind.BASELINE
        elif measurement.date <= day0:
            status = PointKind.BEFORE_DAY0
        elif improvement is None or band is None:
            status = MilestoneStatus.NO_BASELINE
        else:  # judged as the engine judges a milestone visit: the same band and the same noise
            status = classify(improvement, *band, noise_for(baseline or 0.0, protocol))
        points.append(SaltPoint(measurement.date, round(months_between(day0, measurement.date), 4),
                                measurement.density, improvement, status))
    return tuple(points)


def build_salt_chart(progress: Progress, protocol: Protocol, sessions: list[SessionRecord],
                     density: Progress | None = None) -> SaltChart:
    """Chart data for a SALT ``progress`` (``assess`` fed by ``tracker.course.salt.outcome_records``);
    ``density``: the patient's density measurements assessed without windows (``density_progress``), for the
    secondary view. Sessions after ``as_of`` are left out."""
    day0, as_of = progress.day0, progress.as_of
    course = salt_course(progress)
    baseline = course.baseline.density if course.baseline else None
    response = ScoreLine(f"SALT ≤ {SALT_RESPONSE_MAX:g}: response", SALT_RESPONSE_MAX)
    if day0 is None:
        return SaltChart(None, 0.0, baseline, course, (), None, response, (), (), (), ())
    latest_window_end = max((m.result.window_end for m in course.milestones), default=as_of)
    x_max = round(max(months_between(day0, max(as_of, latest_window_end)), 1.0) + 0.25, 2)

    def month(day: date) -> float:
        return round(months_between(day0, day), 4)

    endpoints = tuple(
        ScoreLine(f"SALT{threshold:g} ({score_text(_score(baseline, threshold))})", _score(baseline, threshold))
        for threshold in SALT_IMPROVEMENT_ENDPOINTS
    ) if baseline else ()
    return SaltChart(
        day0=day0,
        x_max=x_max,
        baseline_score=baseline,
        course=course,
        points=_points(progress, protocol, baseline),
        band=_band(protocol, baseline, x_max) if baseline else None,
        response_line=response,
        endpoints=endpoints,
        windows=tuple(WindowSpan(m.result.name, month(m.result.window_start), month(m.result.window_end),
                                 month(m.result.target), m.result.status) for m in course.milestones),
        sessions=tuple(SessionMarker(s.date, month(s.date), s.treatment, s.product, s.lot_number)
                       for s in sorted(sessions, key=lambda s: s.date) if day0 <= s.date <= as_of),
        density=tuple(
            DensityTrace(site.site, tuple(month(m.date) for m in site.measurements),
                         tuple(m.date for m in site.measurements), tuple(m.density for m in site.measurements))
            for site in (density.sites if density else ())
        ),
        today_month=month(as_of),
    )
