"""The milestone engine: where a patient stands against the expected course after treatment.

Pure functions over plain records; no database, no Streamlit. ``assess`` is the single entry point and
returns plain data that pages and the command line only format.

Rules (core issue, DESIGN.md §1 and §3):

- day 0 is the first treatment session on or before ``as_of``; records after ``as_of`` are ignored so
  that a past ``as_of`` shows the patient as they stood then.
- a site's baseline is its latest density measurement on or before day 0; with none we say so and never
  invent one.
- each milestone window runs from ``start_month`` to ``end_month`` calendar months after day 0, both
  ends included; the visit used is the one inside the window closest to the target date, a tie taking
  the later visit (the more mature result).
- the expected band at that visit is interpolated linearly in months (days / 30.4375).
- a judged visit is ``ahead`` only when its change exceeds the band's high edge by more than the
  measurement noise (baseline × the protocol's ``noise_pct`` / 100, DESIGN.md §2), ``behind`` only when
  it falls below the low edge by more than the noise, else ``on_track``; values are compared rounded to
  0.01 hairs/cm², and the edges themselves are ``on_track``.
- a SALT protocol (``Protocol.outcome == "salt"``, alopecia areata) runs the same rules on the SALT score
  given as one site's series (``tracker.course.salt.outcome_records``): there ``change`` is the % improvement
  from baseline, (baseline − score) / baseline × 100 (positive = better), the band and the noise are in
  percentage points of improvement, and a baseline of 0 (no hair loss) cannot be judged (``no_baseline``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from tracker.course.calendar_months import add_months, months_between
from tracker.course.clinical import (
    DEFAULT_BAND,
    DEFAULT_EVIDENCE_NOTE,
    DEFAULT_NOISE_PCT,
    DEFAULT_PROTOCOL_NAME,
    DEFAULT_WINDOWS,
    EFFECT_MONTHS,
    NSAID_DAYS_AFTER,
    NSAID_DAYS_BEFORE,
    REPEAT_SESSION_MONTHS,
    SALT_BAND,
    SALT_EVIDENCE_NOTE,
    SALT_NOISE_PCT,
    SALT_PROTOCOL_NAME,
    BandPoint,
    MilestoneWindow,
)
from tracker.course.vocabulary import MeasurementMethod, MilestoneStatus, OutcomeMeasure

# Short names for the statuses, as the engine's callers have always imported them.
AHEAD, ON_TRACK, BEHIND = MilestoneStatus.AHEAD, MilestoneStatus.ON_TRACK, MilestoneStatus.BEHIND
UPCOMING, DUE, MISSED = MilestoneStatus.UPCOMING, MilestoneStatus.DUE, MilestoneStatus.MISSED
NO_BASELINE = MilestoneStatus.NO_BASELINE


@dataclass(frozen=True)
class Protocol:
    """A named expected course: band points (sorted by month) and milestone windows.

    ``noise_pct``: the measurement noise in % of a site's baseline density; a milestone is judged ahead or
    behind only when it lies beyond the band by more than that noise (hairs/cm²). Default 10%: automated
    counts vary ~10% between repeat measurements of the same scalp (DESIGN.md §2).
    ``outcome``: what the milestones are judged on (``OutcomeMeasure``): ``density`` (band in hairs/cm² of
    change) or ``salt`` (band in % improvement of the SALT score, noise in percentage points of improvement).
    """

    name: str
    band: tuple[BandPoint, ...]
    windows: tuple[MilestoneWindow, ...]
    evidence_note: str = ""
    noise_pct: float = DEFAULT_NOISE_PCT
    outcome: OutcomeMeasure = OutcomeMeasure.DENSITY

    @property
    def judged_on_salt(self) -> bool:
        return self.outcome == OutcomeMeasure.SALT

    def __post_init__(self) -> None:
        # Sorted once here: ``expected_bands`` walks the points in order.
        object.__setattr__(self, "band", tuple(sorted(self.band, key=lambda p: p.month)))


DEFAULT_PROTOCOL = Protocol(DEFAULT_PROTOCOL_NAME, DEFAULT_BAND, DEFAULT_WINDOWS, DEFAULT_EVIDENCE_NOTE)
# Seeded next to the default for alopecia areata (DESIGN.md §2): the clinic's own band on SALT improvement.
SALT_PROTOCOL = Protocol(SALT_PROTOCOL_NAME, SALT_BAND, DEFAULT_WINDOWS, SALT_EVIDENCE_NOTE, SALT_NOISE_PCT,
                         OutcomeMeasure.SALT)


@dataclass(frozen=True)
class SessionRecord:
    """A treatment session as the engine needs it."""

    date: date
    treatment: str = "exosome"
    product: str = ""
    lot_number: str = ""


@dataclass(frozen=True)
class DensityRecord:
    """One density measurement (hairs/cm²) of one site at one visit.

    ``method``: how it was measured (``vocabulary.MeasurementMethod``): typed, or counted on a close-up, when
    ``hairs`` is the number of hairs counted over ``field_mm`` (width, height in mm). The engine judges both alike;
    the chart, the report and ``progress --json`` tell them apart.
    """

    date: date
    site: str
    density: float
    method: str = field(default=MeasurementMethod.TYPED.value, repr=False)
    hairs: int | None = field(default=None, repr=False)
    field_mm: tuple[float, float] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DateSpan:
    """Calendar dates from ``start`` to ``end``, both included."""

    start: date
    end: date


@dataclass(frozen=True)
class NsaidFreeSpan:
    """The days around one session (``start`` to ``end``, both included) on which NSAIDs are avoided."""

    session_date: date
    start: date
    end: date


@dataclass(frozen=True)
class Baseline:
    """A site's baseline: its latest density (hairs/cm²) measured on or before day 0, and that date."""

    date: date
    density: float


@dataclass(frozen=True)
class MilestoneResult:
    """One milestone of one site (or, in ``Progress.unmeasured``, of no site yet).

    - ``name``: the window's code (``tracker.course.vocabulary.milestone_words`` gives its words);
      ``window_start``..``window_end`` (both included) and ``target``: calendar dates.
    - ``status``: a ``MilestoneStatus``. ``upcoming``, ``due`` and ``missed`` come from the dates alone and
      leave every field below ``None``; ``no_baseline`` fills ``visit_date`` to ``months`` and the band.
    - ``visit_date``: the visit used (inside the window, closest to ``target``); ``density``: hairs/cm² there.
    - For a SALT protocol (``Protocol.outcome``), ``density`` holds the SALT score (0–100), ``change`` and
      ``change_pct`` the % improvement from baseline, and the band and ``noise`` are in percentage points.
    - ``months``: time from day 0 to that visit in months = days / 30.4375 (``DAYS_PER_MONTH``).
    - ``change``: density minus the site's baseline, hairs/cm²; ``change_pct``: that change in % of the
      baseline (``None`` when the baseline is 0).
    - ``expected_low``..``expected_high``: the protocol's band at ``months``, a change in hairs/cm².
    - ``noise``: the measurement noise the status allows for, hairs/cm² (baseline × the protocol's
      ``noise_pct`` / 100); set whenever ``change`` is.
    """

    name: str
    window_start: date
    window_end: date
    target: date
    status: MilestoneStatus
    visit_date: date | None = None
    density: float | None = None
    months: float | None = None
    change: float | None = None
    change_pct: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None
    noise: float | None = None


@dataclass(frozen=True)
class SiteProgress:
    """One measured site: its ``baseline`` (``None``: nothing measured on or before day 0), one result per
    protocol window in window order (empty before day 0), and every density measurement (hairs/cm²) of
    the site up to ``as_of``, oldest first."""

    site: str
    baseline: Baseline | None
    milestones: tuple[MilestoneResult, ...]
    measurements: tuple[DensityRecord, ...]


@dataclass(frozen=True)
class Progress:
    """A patient's course on ``as_of``: what ``assess`` returns.

    - ``day0``: the first treatment session on or before ``as_of`` (``None``: not treated yet).
    - ``sites``: one ``SiteProgress`` per measured site, sorted by site code.
    - ``next_session_window``: when a repeat session can be considered, 3–6 calendar months after the latest
      session; ``active_until``: when that session's effect usually ends, 6–8 months after it.
    - ``nsaid_free``: one span per session, oldest first.
    - ``unmeasured``: the milestones by date alone for a treated patient with no density measured yet.
    """

    as_of: date
    day0: date | None
    sites: tuple[SiteProgress, ...]
    next_session_window: DateSpan | None
    nsaid_free: tuple[NsaidFreeSpan, ...]
    active_until: DateSpan | None
    # A treated patient with no density measured yet still has visits due: the windows, by date alone.
    unmeasured: tuple[MilestoneResult, ...] = ()


def expected_band(protocol: Protocol, months: float) -> tuple[float, float] | None:
    """The band (low, high) ``months`` after day 0; ``None`` before month 0, flat after the last point.

    >>> expected_band(DEFAULT_PROTOCOL, 2.5)
    (-2.5, 12.5)
    >>> expected_band(DEFAULT_PROTOCOL, 24)
    (15.0, 35.0)
    """
    return expected_bands(protocol, (months,))[0]


def expected_bands(protocol: Protocol, months: Iterable[float]) -> list[tuple[float, float] | None]:
    """``expected_band`` at each of ``months``: one sweep of the band when they ascend (a chart's grid).

    >>> expected_bands(DEFAULT_PROTOCOL, (-1, 0, 2.5, 3, 24))
    [None, (-10.0, 5.0), (-2.5, 12.5), (5.0, 20.0), (15.0, 35.0)]
    >>> expected_bands(DEFAULT_PROTOCOL, (24, 2.5)) == [expected_band(DEFAULT_PROTOCOL, m) for m in (24, 2.5)]
    True
    """
    points = protocol.band
    bands: list[tuple[float, float] | None] = []
    left = 0  # the segment points[left]..points[left + 1] holding the month; months ascend, so it only moves on
    for month in months:
        if not points or month < points[0].month:
            bands.append(None)
        elif month >= points[-1].month:
            bands.append((float(points[-1].low), float(points[-1].high)))
        else:
            if month < points[left].month:  # out of order: search again from the start
                left = 0
            while not points[left].month <= month <= points[left + 1].month:
                left += 1
            start, end = points[left], points[left + 1]
            span = end.month - start.month
            share = 0.0 if span == 0 else (month - start.month) / span
            bands.append((start.low + share * (end.low - start.low), start.high + share * (end.high - start.high)))
    return bands


def _hundredths(value: float) -> int:
    """A value in whole hundredths of a hair/cm², as ``progress --json`` prints it (2 decimals).

    >>> _hundredths(12.344), _hundredths(0.1 + 0.2)
    (1234, 30)
    """
    return round(round(value, 2) * 100)


def classify(change: float, low: float, high: float, noise: float = 0.0) -> MilestoneStatus:
    """A judged milestone's status (all in hairs/cm²): ahead when ``change`` > ``high`` + ``noise``, behind
    when ``change`` < ``low`` − ``noise``, otherwise on track (the edges included).

    Each value is rounded to 0.01 first and the sums are made in whole hundredths, so that the status agrees
    with the rounded figures ``progress --json`` prints (no float residue such as 0.1 + 0.2 ≠ 0.3).

    >>> [str(classify(change, 4, 19, 13)) for change in (-8, -9, -9.01, 32, 32.01)]
    ['on_track', 'on_track', 'behind', 'on_track', 'ahead']
    """
    if noise < 0:
        raise ValueError(f"measurement noise cannot be negative ({noise})")
    change_c, noise_c = _hundredths(change), _hundredths(noise)
    if change_c > _hundredths(high) + noise_c:
        return AHEAD
    if change_c < _hundredths(low) - noise_c:
        return BEHIND
    return ON_TRACK


def inside_band(change: float, low: float, high: float) -> bool:
    """Whether ``change`` lies in ``low``..``high`` (hairs/cm², edges included), rounded as ``classify`` rounds.

    >>> inside_band(19.004, 4, 19), inside_band(-8, 4, 19)
    (True, False)
    """
    return _hundredths(low) <= _hundredths(change) <= _hundredths(high)


def noise_for(baseline_density: float, protocol: Protocol) -> float:
    """The measurement noise at a site, hairs/cm²: its baseline density × the protocol's noise % / 100.
    For a SALT protocol the change is already a % of baseline, so the noise is the noise % itself, in
    percentage points of improvement (equivalently baseline × noise % / 100 SALT points).

    >>> noise_for(130, DEFAULT_PROTOCOL)
    13.0
    >>> from dataclasses import replace
    >>> noise_for(40, replace(DEFAULT_PROTOCOL, outcome=OutcomeMeasure.SALT))
    10.0
    """
    if protocol.judged_on_salt:
        return protocol.noise_pct
    return baseline_density * protocol.noise_pct / 100


def outcome_change(baseline: float, value: float, protocol: Protocol) -> tuple[float, float | None] | None:
    """``(change, change_pct)`` of a value from its baseline as the protocol judges it, or ``None`` when it
    cannot be judged.

    Density: change in hairs/cm² and in % of baseline (``None`` % for a baseline of 0). SALT: both are the %
    improvement (baseline − score) / baseline × 100, positive = better; a SALT baseline of 0 (no hair loss)
    leaves nothing to improve on, so it cannot be judged.

    >>> from dataclasses import replace
    >>> outcome_change(120, 132, DEFAULT_PROTOCOL)
    (12, 10.0)
    >>> salt = replace(DEFAULT_PROTOCOL, outcome=OutcomeMeasure.SALT)
    >>> outcome_change(40, 18, salt), outcome_change(0, 5, salt)
    ((55.0, 55.0), None)
    """
    if protocol.judged_on_salt:
        if not baseline:
            return None
        improvement = (baseline - value) * 100 / baseline  # × 100 first: 22 × 100 / 40 is exactly 55
        return improvement, improvement
    change = value - baseline
    return change, change / baseline * 100 if baseline else None


def nsaid_free_span(session_date: date) -> NsaidFreeSpan:
    return NsaidFreeSpan(
        session_date,
        session_date - timedelta(days=NSAID_DAYS_BEFORE),
        session_date + timedelta(days=NSAID_DAYS_AFTER),
    )


def _pick_visit(
    candidates: Iterable[DensityRecord], start: date, end: date, target: date
) -> DensityRecord | None:
    inside = [m for m in candidates if start <= m.date <= end]
    if not inside:
        return None
    # Closest to the target; on a tie the later visit wins (hence the negated ordinal).
    return min(inside, key=lambda m: (abs((m.date - target).days), -m.date.toordinal()))


def _by_date(start: date, end: date, as_of: date) -> MilestoneStatus:
    """A milestone with no visit in its window, on ``as_of``: its window opens later, is open, or closed."""
    return UPCOMING if as_of < start else DUE if as_of <= end else MISSED


_BY_DATE = frozenset({UPCOMING, DUE, MISSED})


def seen_on(progress: Progress, day: date) -> Progress:
    """``progress`` seen on a later ``day`` when nothing was recorded after ``progress.as_of``: the same course, with
    ``as_of`` = ``day`` and the statuses that come from the dates alone (upcoming, due, missed) taken again.

    Equal to ``assess`` on ``day`` with the same records (``tracker.progress.outlook`` relies on it to find every
    day the lists change without running the whole engine for each). Raises ValueError for an earlier day.
    """
    if day < progress.as_of:
        raise ValueError(f"seen_on goes forward only: {day} is before {progress.as_of}")

    def redated(results: tuple[MilestoneResult, ...]) -> tuple[MilestoneResult, ...]:
        # Only the results whose status moves are copied (the outlook asks this for every patient at start-up).
        changed = False
        found = []
        for m in results:
            if m.status in _BY_DATE and (status := _by_date(m.window_start, m.window_end, day)) != m.status:
                m, changed = replace(m, status=status), True
            found.append(m)
        return tuple(found) if changed else results

    sites = []
    for site in progress.sites:
        milestones = redated(site.milestones)
        sites.append(site if milestones is site.milestones else replace(site, milestones=milestones))
    return replace(progress, as_of=day, unmeasured=redated(progress.unmeasured), sites=tuple(sites))


def _assess_milestone(
    window: MilestoneWindow,
    day0: date,
    baseline: Baseline | None,
    site_measurements: list[DensityRecord],
    protocol: Protocol,
    as_of: date,
) -> MilestoneResult:
    start = add_months(day0, window.start_month)
    end = add_months(day0, window.end_month)
    target = add_months(day0, window.target_month)
    visit = _pick_visit(site_measurements, start, end, target)
    if visit is None:
        return MilestoneResult(window.name, start, end, target, _by_date(start, end, as_of))
    months = months_between(day0, visit.date)
    band = expected_band(protocol, months)
    low, high = band if band else (None, None)
    changed = None if baseline is None else outcome_change(baseline.density, visit.density, protocol)
    if baseline is None or changed is None:
        return MilestoneResult(
            window.name, start, end, target, NO_BASELINE, visit.date, visit.density, months,
            expected_low=low, expected_high=high,
        )
    change, change_pct = changed
    noise = noise_for(baseline.density, protocol)
    status = classify(change, *band, noise) if band else ON_TRACK
    return MilestoneResult(
        window.name, start, end, target, status, visit.date, visit.density, months,
        change, change_pct, low, high, noise,
    )


def assess(
    sessions: Iterable[SessionRecord],
    measurements: Iterable[DensityRecord],
    protocol: Protocol = DEFAULT_PROTOCOL,
    as_of: date | None = None,
) -> Progress:
    """A patient's progress on ``as_of`` (default: today) against ``protocol``.

    With no session on or before ``as_of`` there is no day 0: sites are listed with their baseline
    (latest measurement) and no milestones.
    """
    as_of = as_of or date.today()
    past_sessions = sorted((s for s in sessions if s.date <= as_of), key=lambda s: s.date)
    past_measurements = sorted((m for m in measurements if m.date <= as_of), key=lambda m: m.date)
    day0 = past_sessions[0].date if past_sessions else None

    sites: list[SiteProgress] = []
    for site in sorted({m.site for m in past_measurements}):
        site_measurements = [m for m in past_measurements if m.site == site]
        before = [m for m in site_measurements if day0 is None or m.date <= day0]
        baseline = Baseline(before[-1].date, before[-1].density) if before else None
        milestones: tuple[MilestoneResult, ...] = ()
        if day0 is not None:
            milestones = tuple(
                _assess_milestone(w, day0, baseline, site_measurements, protocol, as_of)
                for w in protocol.windows
            )
        sites.append(SiteProgress(site, baseline, milestones, tuple(site_measurements)))

    latest = past_sessions[-1].date if past_sessions else None
    unmeasured: tuple[MilestoneResult, ...] = ()
    if day0 is not None and not sites:
        unmeasured = tuple(_assess_milestone(w, day0, None, [], protocol, as_of) for w in protocol.windows)
    return Progress(
        as_of=as_of,
        day0=day0,
        sites=tuple(sites),
        next_session_window=(
            DateSpan(add_months(latest, REPEAT_SESSION_MONTHS[0]), add_months(latest, REPEAT_SESSION_MONTHS[1]))
            if latest else None
        ),
        nsaid_free=tuple(nsaid_free_span(s.date) for s in past_sessions),
        active_until=(
            DateSpan(add_months(latest, EFFECT_MONTHS[0]), add_months(latest, EFFECT_MONTHS[1]))
            if latest else None
        ),
        unmeasured=unmeasured,
    )
