"""The progress chart as plain data: everything the page draws, computed here from the engine's output.

Pages only draw these series; they do no arithmetic of their own. Values are given both in hairs/cm² and in
% of the site's baseline so that the page's toggle just picks a field, and each point keeps its absolute
density, so that the same data draws the change chart and the absolute density chart.

The time axis (x) is months (days / 30.4375) since the chart's origin: day 0 (the first treatment session)
when there is one, so that both charts line up with the milestone windows and the sessions; before any
session, the first density measurement (there is no day 0 to count from yet). ``ProgressChart.today_month``
places the "today" marker: the day the progress was assessed for (``Progress.as_of``), never the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from tracker.course.calendar_months import add_months, months_between
from tracker.course.clinical import EFFECT_MONTHS, NO_MEASURABLE_CHANGE_PCT
from tracker.course.milestones import (
    DensityRecord,
    Progress,
    Protocol,
    SessionRecord,
    SiteProgress,
    classify,
    expected_bands,
    noise_for,
)
from tracker.course.vocabulary import (
    METHOD_WORDS,
    MeasurementMethod,
    MilestoneStatus,
    PointKind,
    method_words,
    treatment_words,
)

# Band samples: the band's own corner points plus a regular grid, so the shaded area is exact.
_GRID_STEP_MONTHS = 0.5


class ChartPoint(NamedTuple):
    """One measurement on a site's chart (a tuple: a patient's chart has hundreds, made on every page run)."""

    date: date
    months: float
    density: float
    change: float | None
    change_pct: float | None
    status: str  # a PointKind (baseline, before_day0) or a MilestoneStatus (ahead, on_track, behind, no_baseline)
    # How it was measured (a MeasurementMethod) and in words, e.g. "assisted count (112 hairs in 8×6 mm)".
    method: str = MeasurementMethod.TYPED
    how: str = METHOD_WORDS[MeasurementMethod.TYPED]


@dataclass(frozen=True)
class BandSeries:
    """The expected band at ``months``: a change in hairs/cm² (``low``/``high``), in % of the site's baseline
    and as a density (baseline + change, hairs/cm², for the absolute chart); ``None`` without a baseline."""

    months: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    low_pct: tuple[float, ...] | None
    high_pct: tuple[float, ...] | None
    low_density: tuple[float, ...] | None = None
    high_density: tuple[float, ...] | None = None


@dataclass(frozen=True)
class WindowSpan:
    name: str
    start_month: float
    end_month: float
    target_month: float
    status: str


@dataclass(frozen=True)
class SessionMarker:
    date: date
    months: float
    treatment: str
    product: str
    lot_number: str


@dataclass(frozen=True)
class TimeBar:
    """A span along the time axis: the product's active span or a concurrent therapy."""

    label: str
    start_month: float
    end_month: float
    ongoing: bool = False


@dataclass(frozen=True)
class TherapyRecord:
    name: str
    start: date
    stop: date | None
    dose: str = ""


@dataclass(frozen=True)
class SiteChart:
    """One site: its points (oldest first), the band (a change in hairs/cm² and in % of the baseline; empty
    before day 0), the ±noise zone (hairs/cm², ``noise_for`` of the baseline; ``None`` without a baseline)
    and the milestone windows."""

    site: str
    baseline_density: float | None
    points: tuple[ChartPoint, ...]
    band: BandSeries
    no_change_zone: tuple[float, float] | None  # ± the measurement noise in hairs/cm² (the protocol's noise %)
    windows: tuple[WindowSpan, ...]
    # The absolute chart's value axis (hairs/cm²), wide enough that a change inside the noise looks small.
    density_range: tuple[float, float] | None = None
    # The change chart's value axis, in hairs/cm² and in % of the baseline (``value_range``).
    change_range: tuple[float, float] | None = None
    change_pct_range: tuple[float, float] | None = None

    @property
    def noise(self) -> float | None:
        """The measurement noise at this site, hairs/cm² (``milestones.noise_for`` of the baseline)."""
        return self.no_change_zone[1] if self.no_change_zone else None

    @property
    def density_zone(self) -> tuple[float, float] | None:
        """The ±noise zone as densities around the baseline (hairs/cm²), for the absolute chart."""
        if self.baseline_density is None or self.no_change_zone is None:
            return None
        return self.baseline_density + self.no_change_zone[0], self.baseline_density + self.no_change_zone[1]


@dataclass(frozen=True)
class ProgressChart:
    """Every site's chart on one time axis: months since ``origin`` from ``x_min`` to ``x_max``.

    ``origin`` is day 0, else (before any session) the first measurement; ``None`` with nothing measured
    and no session. ``today_month``: ``Progress.as_of`` on that axis (``None`` without an origin).
    ``x_title`` says what the months count from. ``no_change_pct``: the protocol's noise %.
    """

    day0: date | None
    x_max: float
    sites: tuple[SiteChart, ...]
    sessions: tuple[SessionMarker, ...]
    active_spans: tuple[TimeBar, ...]
    therapies: tuple[TimeBar, ...]
    no_change_pct: float = NO_MEASURABLE_CHANGE_PCT
    origin: date | None = None
    today_month: float | None = None
    x_min: float = -0.5
    x_title: str = "months since first session"


def _band_series(protocol: Protocol, x_max: float) -> Callable[[float | None], BandSeries]:
    """The expected band on the chart's grid; the same for every site but for its % of that site's baseline."""
    months = tuple(sorted({p.month for p in protocol.band if p.month <= x_max}
                          | {i * _GRID_STEP_MONTHS for i in range(int(x_max / _GRID_STEP_MONTHS) + 1)}
                          | {x_max}))
    bands = [band for band in expected_bands(protocol, months) if band is not None]
    if len(bands) != len(months):  # parse_band refuses a band that does not start at month 0
        raise ValueError(f"protocol {protocol.name!r}: the band does not cover months 0 to {x_max:g}")
    low = tuple(b[0] for b in bands)
    high = tuple(b[1] for b in bands)

    def for_baseline(baseline: float | None) -> BandSeries:
        if baseline:
            return BandSeries(months, low, high, tuple(v / baseline * 100 for v in low),
                              tuple(v / baseline * 100 for v in high),
                              tuple(baseline + v for v in low), tuple(baseline + v for v in high))
        return BandSeries(months, low, high, None, None)

    return for_baseline


def build_chart(
    progress: Progress,
    protocol: Protocol,
    sessions: list[SessionRecord],
    therapies: list[TherapyRecord] | None = None,
) -> ProgressChart:
    """Chart data for every site in ``progress`` (sessions/therapies after ``as_of`` are left out).

    Before any session (no day 0) the sites still get their measured densities, on months since the first
    measurement, with no band, windows or change: there is no course to judge yet, but a density chart.
    """
    if progress.day0 is None:
        return _untreated_chart(progress, protocol.noise_pct)
    day0 = progress.day0
    as_of = progress.as_of
    past_sessions = sorted((s for s in sessions if day0 <= s.date <= as_of), key=lambda s: s.date)
    latest_window_end = max((m.window_end for site in progress.sites for m in site.milestones), default=as_of)
    x_max = max(months_between(day0, max(as_of, latest_window_end)), 1.0)
    x_max = round(x_max + 0.25, 2)
    month = _months_from(day0)

    band_for = _band_series(protocol, x_max)
    site_charts = []
    for site in progress.sites:
        baseline = site.baseline.density if site.baseline else None
        points = _points(site, day0, protocol, month)
        band = band_for(baseline)
        site_charts.append(SiteChart(
            site=site.site,
            baseline_density=baseline,
            points=points,
            band=band,
            # The same noise the status allows for: the protocol's noise % of this site's baseline.
            no_change_zone=(
                (-noise_for(baseline, protocol), noise_for(baseline, protocol)) if baseline else None
            ),
            windows=tuple(
                WindowSpan(m.name, month(m.window_start), month(m.window_end), month(m.target), m.status)
                for m in site.milestones
            ),
            density_range=density_range(points, band, baseline, protocol.noise_pct),
            change_range=value_range([0.0, *band.low, *band.high, *(p.change for p in points if p.change is not None),
                                      *((-noise_for(baseline, protocol), noise_for(baseline, protocol))
                                        if baseline else ())]),
            change_pct_range=value_range([0.0, *(band.low_pct or ()), *(band.high_pct or ()),
                                          *(p.change_pct for p in points if p.change_pct is not None),
                                          -protocol.noise_pct, protocol.noise_pct]) if baseline else None,
        ))

    # The product's effect lasts about 6–8 months after each session (DESIGN.md §1): drawn from the
    # session to the later bound, as the engine's ``active_until`` gives for the latest session.
    active = tuple(
        TimeBar(f"{s.product or treatment_words(s.treatment)} active", month(s.date),
                month(add_months(s.date, EFFECT_MONTHS[1])))
        for s in past_sessions
    )
    therapy_bars = tuple(
        TimeBar(f"{t.name} {t.dose}".strip(), month(t.start), month(t.stop) if t.stop else x_max,
                ongoing=t.stop is None)
        for t in (therapies or []) if t.start <= as_of
    )
    return ProgressChart(
        day0=day0,
        x_max=x_max,
        sites=tuple(site_charts),
        sessions=tuple(SessionMarker(s.date, month(s.date), s.treatment, s.product, s.lot_number)
                       for s in past_sessions),
        active_spans=active,
        therapies=therapy_bars,
        no_change_pct=protocol.noise_pct,
        origin=day0,
        today_month=month(as_of),
        x_min=_x_min(site_charts),
    )


def value_range(values: list[float]) -> tuple[float, float] | None:
    """A value axis holding ``values`` with room for the labels: 18% of their span above (the value printed over
    the highest point, under the milestone windows' names along the top) and 6% below.

    >>> value_range([-15.0, 0.0, 35.0, 50.0])
    (-18.9, 61.7)
    """
    if not values:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 10.0
    return round(low - span * 0.06, 2), round(high + span * 0.18, 2)


def density_range(points: tuple[ChartPoint, ...], band: BandSeries, baseline: float | None,
                  noise_pct: float) -> tuple[float, float] | None:
    """The absolute chart's value axis (hairs/cm²): every point, the band as densities and the ±noise zone, and
    at least ± twice the noise (``noise_pct`` of the baseline, else of the mean measured density) around their
    middle, so that a change inside the measurement noise fills at most a quarter of the height (a fitted axis
    would draw 120 → 118 hairs/cm² as a plunge); 6% margin; never below 0.

    >>> density_range((ChartPoint(date(2025, 1, 1), 0, 120.0, None, None, "before_day0"),
    ...                ChartPoint(date(2025, 3, 1), 2, 118.0, None, None, "before_day0")),
    ...               BandSeries((), (), (), None, None), None, 10)  # mean 119: ±23.8 around 119, ±6%
    (93.77, 144.23)
    """
    values = [p.density for p in points]
    if not values:
        return None
    reference = baseline if baseline is not None else sum(values) / len(values)
    noise = reference * noise_pct / 100
    if baseline is not None:
        values += [baseline - noise, baseline + noise]
    values += [*(band.low_density or ()), *(band.high_density or ())]
    low, high = min(values), max(values)
    middle, half = (low + high) / 2, max((high - low) / 2, 2 * noise)
    return round(max(0.0, middle - half * 1.06), 2), round(middle + half * 1.06, 2)


def _months_from(origin: date) -> Callable[[date], float]:
    """Months (days / 30.4375) from ``origin`` to a date, rounded to 4 places, each date worked out once."""
    month_of: dict[date, float] = {}

    def month(d: date) -> float:
        if d not in month_of:
            month_of[d] = round(months_between(origin, d), 4)
        return month_of[d]

    return month


def _x_min(sites: list[SiteChart]) -> float:
    """Half a month before month 0, or before the earliest point (a baseline measured long before day 0)."""
    earliest = min((p.months for site in sites for p in site.points), default=0.0)
    return round(min(-0.5, earliest - 0.5), 2)


def _points(site: SiteProgress, day0: date, protocol: Protocol,
            month: Callable[[date], float]) -> tuple[ChartPoint, ...]:
    """A treated patient's measurements of one site, each with its change and status."""
    baseline = site.baseline.density if site.baseline else None
    points = []
    # The band at each measurement (they are in date order), unrounded: the status is the engine's.
    bands = expected_bands(protocol, [months_between(day0, m.date) for m in site.measurements])
    for measurement, band in zip(site.measurements, bands, strict=True):
        if site.baseline and measurement.date == site.baseline.date:
            status: str = PointKind.BASELINE
        elif measurement.date <= day0:
            status = PointKind.BEFORE_DAY0
        elif baseline is None:
            status = MilestoneStatus.NO_BASELINE
        elif band is None:  # after day 0 is at or past month 0, where every protocol has a band
            raise ValueError(f"no expected band for the measurement of {measurement.date} after day 0")
        else:
            # Judged as the engine judges a milestone visit: the same band and the same noise.
            status = classify(measurement.density - baseline, *band, noise_for(baseline, protocol))
        change = None if baseline is None else measurement.density - baseline
        points.append(ChartPoint(
            measurement.date, month(measurement.date), measurement.density, change,
            None if change is None or not baseline else change / baseline * 100, status, *_how(measurement),
        ))
    return tuple(points)


def _how(measurement: DensityRecord) -> tuple[str, str]:
    """(method, words) of a measurement, for the chart's marker and hover."""
    return measurement.method, method_words(measurement.method, measurement.hairs, measurement.field_mm)


def _untreated_chart(progress: Progress, noise_pct: float) -> ProgressChart:
    """Before any session: each site's densities on months since the first measurement, up to ``as_of``.

    No band, windows or noise zone (they count from day 0), and no change: the engine's "baseline" of an
    untreated patient is simply the latest measurement, so a change from it would mean nothing yet.
    """
    first = min((m.date for site in progress.sites for m in site.measurements), default=None)
    if first is None:
        return ProgressChart(None, 0.0, (), (), (), ())
    month = _months_from(first)
    no_band = BandSeries((), (), (), None, None)
    sites = []
    for site in progress.sites:
        points = tuple(ChartPoint(m.date, month(m.date), m.density, None, None, PointKind.BEFORE_DAY0, *_how(m))
                       for m in site.measurements)
        sites.append(SiteChart(site=site.site, baseline_density=None, points=points, band=no_band,
                               no_change_zone=None, windows=(),
                               density_range=density_range(points, no_band, None, noise_pct)))
    today = month(progress.as_of)
    return ProgressChart(
        day0=None, x_max=round(max(today, 1.0) + 0.25, 2), sites=tuple(sites), sessions=(), active_spans=(),
        therapies=(), origin=first, today_month=today, x_min=-0.5, x_title="months since first measurement",
    )
