"""The milestone engine against cases worked out by hand from the core issue and DESIGN.md §1 and §3.

Every expected value below was computed on paper from the rules, never copied from the engine:

- day 0 = first session on or before ``as_of``; baseline = the site's latest density on or before day 0.
- windows in calendar months after day 0 (same day of month, clamped to the month's end), edges inclusive:
  early_response 2–3 (target 3), noticeable_growth 5–7 (target 6), continued_improvement 11–13 (target 12).
  The visit used is the one inside the window closest to the target; a tie takes the later visit.
- months = days / 30.4375; default band (month: low, high) 0: −10,+5; 2: −10,+5; 3: +5,+20; 6: +10,+35;
  12: +15,+35, linear in between, none before month 0, flat after month 12.
- change above high → ahead, inside (edges included) → on_track, below low → behind; no visit → upcoming
  (before the window), due (inside it), missed (after it); visit without baseline → no_baseline.
  These band-position cases run with the noise set to 0 (``BAND_ONLY``, ``CUSTOM``), where the rule is
  exactly that; the noise (DESIGN.md §2) has its own hand-checked cases at the end of the file.

Handy day counts: 30.4375 × 3 = 91.3125, × 6 = 182.625, × 12 = 365.25. Floats are compared to 0.01.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tracker.course.clinical import BandPoint, MilestoneWindow
from tracker.course.milestones import (
    AHEAD,
    BEHIND,
    DEFAULT_PROTOCOL,
    DUE,
    MISSED,
    NO_BASELINE,
    ON_TRACK,
    UPCOMING,
    DensityRecord,
    Protocol,
    SessionRecord,
    assess,
    classify,
    expected_band,
)

D = date.fromisoformat
TOL = 0.01

EARLY, NOTICEABLE, CONTINUED = "early_response", "noticeable_growth", "continued_improvement"

# A protocol a clinic might configure: a 1-month check and a broad main window, with its own band.
CUSTOM = Protocol(
    "Custom PRP",
    band=(BandPoint(0, 0, 10), BandPoint(4, 10, 30), BandPoint(8, 20, 60)),
    windows=(MilestoneWindow("first_check", 1, 2, 1), MilestoneWindow("main", 4, 8, 6)),
    noise_pct=0,
)
# The default course without measurement noise: a point is judged by the band's edges alone.
BAND_ONLY = replace(DEFAULT_PROTOCOL, noise_pct=0)


def milestone(progress, name, site="vertex"):
    (site_progress,) = [s for s in progress.sites if s.site == site]
    (result,) = [m for m in site_progress.milestones if m.name == name]
    return result


def one_site(day0, baseline, visits, as_of, protocol=BAND_ONLY, baseline_date=None):
    """One session on ``day0``, a vertex baseline (dated day 0 unless given) and (date, density) visits."""
    measurements = [DensityRecord(D(baseline_date or day0), "vertex", baseline)]
    measurements += [DensityRecord(D(d), "vertex", density) for d, density in visits]
    return assess([SessionRecord(D(day0))], measurements, protocol, as_of=D(as_of))


# --------------------------------------------------------------------------------------------------
# Expected band and classification on their own


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        pytest.param(-1, None, id="month--1-no-band"),
        pytest.param(-0.01, None, id="just-before-0-no-band"),
        pytest.param(0, (-10, 5), id="month-0"),
        pytest.param(1, (-10, 5), id="month-1-flat-0-to-2"),
        pytest.param(2, (-10, 5), id="month-2"),
        # 2→3: low −10→5 and high 5→20, both +15 per month: share 0.25 → −10+3.75, 5+3.75
        pytest.param(2.25, (-6.25, 8.75), id="month-2.25"),
        # share 0.5 → −10+7.5, 5+7.5
        pytest.param(2.5, (-2.5, 12.5), id="month-2.5"),
        pytest.param(3, (5, 20), id="month-3"),
        # 3→6: low 5→10 (+5), high 20→35 (+15); share 1.5/3 = 0.5 → 7.5, 27.5
        pytest.param(4.5, (7.5, 27.5), id="month-4.5"),
        pytest.param(6, (10, 35), id="month-6"),
        # 6→12: low 10→15 (+5), high 35 flat; share 3/6 = 0.5 → 12.5, 35
        pytest.param(9, (12.5, 35), id="month-9"),
        pytest.param(12, (15, 35), id="month-12"),
        pytest.param(18, (15, 35), id="month-18-flat-after-last-point"),
        pytest.param(120, (15, 35), id="month-120-flat"),
    ],
)
def test_default_band(months, expected):
    band = expected_band(DEFAULT_PROTOCOL, months)
    if expected is None:
        assert band is None
    else:
        assert band == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        pytest.param(-0.5, None, id="before-0"),
        pytest.param(0, (0, 10), id="month-0"),
        # 0→4: low 0→10, high 10→30; share 2/4 = 0.5 → 5, 20
        pytest.param(2, (5, 20), id="month-2"),
        pytest.param(4, (10, 30), id="month-4"),
        # 4→8: low 10→20, high 30→60; share 2/4 = 0.5 → 15, 45
        pytest.param(6, (15, 45), id="month-6"),
        pytest.param(10, (20, 60), id="month-10-flat"),
    ],
)
def test_custom_band(months, expected):
    band = expected_band(CUSTOM, months)
    if expected is None:
        assert band is None
    else:
        assert band == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize(
    ("change", "low", "high", "expected"),
    [
        pytest.param(5, -10, 5, ON_TRACK, id="equal-to-high-is-on-track"),
        pytest.param(-10, -10, 5, ON_TRACK, id="equal-to-low-is-on-track"),
        pytest.param(0, -10, 5, ON_TRACK, id="inside"),
        pytest.param(5.01, -10, 5, AHEAD, id="just-above-high"),
        pytest.param(-10.01, -10, 5, BEHIND, id="just-below-low"),
    ],
)
def test_classify(change, low, high, expected):
    assert classify(change, low, high) == expected


# --------------------------------------------------------------------------------------------------
# Window dates from day 0 (calendar months, clamped to the month's end)


@pytest.mark.parametrize(
    ("day0", "name", "start", "end", "target"),
    [
        # 31 Jan: +2 = 31 Mar, +3 = 30 Apr (clamped), +5 = 30 Jun, +6 = 31 Jul, +7 = 31 Aug,
        # +11 = 31 Dec, +12 = 31 Jan 2026, +13 = 28 Feb 2026 (clamped)
        pytest.param("2025-01-31", EARLY, "2025-03-31", "2025-04-30", "2025-04-30", id="31jan-early"),
        pytest.param("2025-01-31", NOTICEABLE, "2025-06-30", "2025-08-31", "2025-07-31", id="31jan-noticeable"),
        pytest.param("2025-01-31", CONTINUED, "2025-12-31", "2026-02-28", "2026-01-31", id="31jan-continued"),
        # 30 Nov: +2 = 30 Jan 2026, +3 = 28 Feb (clamped), +5 = 30 Apr, +6 = 30 May, +7 = 30 Jun,
        # +11 = 30 Oct, +12 = 30 Nov, +13 = 30 Dec 2026
        pytest.param("2025-11-30", EARLY, "2026-01-30", "2026-02-28", "2026-02-28", id="30nov-early"),
        pytest.param("2025-11-30", NOTICEABLE, "2026-04-30", "2026-06-30", "2026-05-30", id="30nov-noticeable"),
        pytest.param("2025-11-30", CONTINUED, "2026-10-30", "2026-12-30", "2026-11-30", id="30nov-continued"),
        # 29 Feb 2024: the 29th exists in every month but February 2025 → +12 = 28 Feb 2025
        pytest.param("2024-02-29", EARLY, "2024-04-29", "2024-05-29", "2024-05-29", id="29feb-early"),
        pytest.param("2024-02-29", NOTICEABLE, "2024-07-29", "2024-09-29", "2024-08-29", id="29feb-noticeable"),
        pytest.param("2024-02-29", CONTINUED, "2025-01-29", "2025-03-29", "2025-02-28", id="29feb-continued"),
        # 31 Aug: +2 = 31 Oct, +3 = 30 Nov, +5 = 31 Jan 2026, +6 = 28 Feb, +7 = 31 Mar,
        # +11 = 31 Jul, +12 = 31 Aug, +13 = 30 Sep 2026
        pytest.param("2025-08-31", EARLY, "2025-10-31", "2025-11-30", "2025-11-30", id="31aug-early"),
        pytest.param("2025-08-31", NOTICEABLE, "2026-01-31", "2026-03-31", "2026-02-28", id="31aug-noticeable"),
        pytest.param("2025-08-31", CONTINUED, "2026-07-31", "2026-09-30", "2026-08-31", id="31aug-continued"),
        # 31 Dec 2023: +2 = 29 Feb 2024 (clamped, leap year), +3 = 31 Mar
        pytest.param("2023-12-31", EARLY, "2024-02-29", "2024-03-31", "2024-03-31", id="31dec-early-leap"),
        # 31 Dec 2024: +2 = 28 Feb 2025 (clamped, non-leap)
        pytest.param("2024-12-31", EARLY, "2025-02-28", "2025-03-31", "2025-03-31", id="31dec-early-non-leap"),
    ],
)
def test_window_dates(day0, name, start, end, target):
    result = milestone(one_site(day0, 150, [], as_of="2027-12-31"), name)
    assert (result.window_start, result.window_end, result.target) == (D(start), D(end), D(target))


# --------------------------------------------------------------------------------------------------
# One visit per case: window edges (inside) and one day outside, month ends, leap days


@pytest.mark.parametrize(
    ("day0", "baseline", "visit", "density", "as_of", "name", "expected"),
    [
        # 31 Jan → early window 31 Mar–30 Apr. 31 Mar is 28 + 31 = 59 days → 59/30.4375 = 1.9384 months
        # → band flat (−10, +5); 154 − 150 = +4 → on_track
        pytest.param("2025-01-31", 150, "2025-03-31", 154, "2025-05-15", EARLY,
                     (ON_TRACK, 1.9384, -10, 5, 4), id="31jan-early-start-edge-inside"),
        # 30 Mar is one day before the window: no visit, as_of 15 May is after 30 Apr → missed
        pytest.param("2025-01-31", 150, "2025-03-30", 154, "2025-05-15", EARLY,
                     (MISSED,), id="31jan-early-day-before-start"),
        # 30 Apr = 59 + 30 = 89 days → 2.9240 months; share 0.9240 of 2→3 (+15 each):
        # low −10 + 13.8604 = 3.8604, high 5 + 13.8604 = 18.8604; 170 − 150 = +20 > 18.86 → ahead
        pytest.param("2025-01-31", 150, "2025-04-30", 170, "2025-05-15", EARLY,
                     (AHEAD, 2.9240, 3.8604, 18.8604, 20), id="31jan-early-end-edge-inside"),
        # 1 May is one day after the window end 30 Apr → missed
        pytest.param("2025-01-31", 150, "2025-05-01", 170, "2025-05-15", EARLY,
                     (MISSED,), id="31jan-early-day-after-end"),
        # 30 Nov → early window 30 Jan–28 Feb 2026 (across the year end). 30 Jan = 30 + 31 = 61 days
        # → 2.0041 months; share 0.0041 × 15 = 0.0616 → (−9.9384, 5.0616); 175 − 180 = −5 → on_track
        pytest.param("2025-11-30", 180, "2026-01-30", 175, "2026-03-15", EARLY,
                     (ON_TRACK, 2.0041, -9.9384, 5.0616, -5), id="30nov-early-start-edge-inside"),
        # 29 Jan 2026 is one day before 30 Jan → missed on 15 Mar
        pytest.param("2025-11-30", 180, "2026-01-29", 175, "2026-03-15", EARLY,
                     (MISSED,), id="30nov-early-day-before-start"),
        # 28 Feb = 61 + 29 = 90 days → 2.9569 months; share 0.9569 × 15 = 14.3532 → (4.3532, 19.3532);
        # 190 − 180 = +10 → on_track
        pytest.param("2025-11-30", 180, "2026-02-28", 190, "2026-03-15", EARLY,
                     (ON_TRACK, 2.9569, 4.3532, 19.3532, 10), id="30nov-early-end-edge-28feb"),
        # 1 Mar is one day after 28 Feb → missed
        pytest.param("2025-11-30", 180, "2026-03-01", 190, "2026-03-15", EARLY,
                     (MISSED,), id="30nov-early-day-after-end"),
        # 29 Feb 2024 → noticeable target 29 Aug = 29+31+30+31+30+31 = 182 days → 5.9795 months;
        # 3→6 share 2.9795/3 = 0.99316: low 5 + 4.9658 = 9.9658, high 20 + 14.8973 = 34.8973;
        # 149 − 140 = +9 < 9.9658 → behind
        pytest.param("2024-02-29", 140, "2024-08-29", 149, "2024-10-01", NOTICEABLE,
                     (BEHIND, 5.9795, 9.9658, 34.8973, 9), id="29feb-noticeable-target"),
        # 29 Feb 2024 → 28 Feb 2025 (continued target) = 365 days → 11.9918 months;
        # 6→12 share 5.9918/6 = 0.99863: low 10 + 4.9932 = 14.9932, high 35; +15 → on_track
        pytest.param("2024-02-29", 140, "2025-02-28", 155, "2025-04-01", CONTINUED,
                     (ON_TRACK, 11.9918, 14.9932, 35, 15), id="29feb-continued-target-28feb"),
        # same, +14 < 14.9932 → behind
        pytest.param("2024-02-29", 140, "2025-02-28", 154, "2025-04-01", CONTINUED,
                     (BEHIND, 11.9918, 14.9932, 35, 14), id="29feb-continued-just-behind"),
        # 31 Dec 2023 → early window opens 29 Feb 2024 (clamped): 31 + 29 = 60 days → 1.9713 months
        # → band (−10, +5); 195 − 200 = −5 → on_track
        pytest.param("2023-12-31", 200, "2024-02-29", 195, "2024-03-05", EARLY,
                     (ON_TRACK, 1.9713, -10, 5, -5), id="leap-day-is-early-start-edge"),
        # 28 Feb 2024 is one day before 29 Feb; on 5 Mar we are inside the window → due
        pytest.param("2023-12-31", 200, "2024-02-28", 195, "2024-03-05", EARLY,
                     (DUE,), id="leap-year-day-before-start-due"),
        # 31 Dec 2024 → early window opens 28 Feb 2025: 31 + 28 = 59 days → 1.9384 → (−10, +5); −5
        pytest.param("2024-12-31", 200, "2025-02-28", 195, "2025-03-05", EARLY,
                     (ON_TRACK, 1.9384, -10, 5, -5), id="non-leap-28feb-is-early-start-edge"),
        # 31 Aug → noticeable window 31 Jan–31 Mar 2026. 31 Jan = 30+31+30+31+31 = 153 days → 5.0267
        # months; 3→6 share 2.0267/3 = 0.67556: low 5 + 3.3778 = 8.3778, high 20 + 10.1335 = 30.1335;
        # 170 − 160 = +10 → on_track
        pytest.param("2025-08-31", 160, "2026-01-31", 170, "2026-05-01", NOTICEABLE,
                     (ON_TRACK, 5.0267, 8.3778, 30.1335, 10), id="31aug-noticeable-start-edge"),
        # 30 Jan is one day before 31 Jan; on 1 May the window (ends 31 Mar) is over → missed
        pytest.param("2025-08-31", 160, "2026-01-30", 170, "2026-05-01", NOTICEABLE,
                     (MISSED,), id="31aug-noticeable-day-before-start"),
        # 31 Mar = 153 + 28 + 31 = 212 days → 6.9651 months; 6→12 share 0.9651/6 = 0.16085:
        # low 10 + 0.8042 = 10.8042, high 35; 200 − 160 = +40 → ahead
        pytest.param("2025-08-31", 160, "2026-03-31", 200, "2026-05-01", NOTICEABLE,
                     (AHEAD, 6.9651, 10.8042, 35, 40), id="31aug-noticeable-end-edge"),
        # 1 Apr is one day after 31 Mar → missed
        pytest.param("2025-08-31", 160, "2026-04-01", 200, "2026-05-01", NOTICEABLE,
                     (MISSED,), id="31aug-noticeable-day-after-end"),
        # 31 Aug → continued end 30 Sep 2026 = 365 + 30 = 395 days → 12.9774 → flat (15, 35);
        # 175 − 160 = +15, equal to low → on_track
        pytest.param("2025-08-31", 160, "2026-09-30", 175, "2026-10-15", CONTINUED,
                     (ON_TRACK, 12.9774, 15, 35, 15), id="31aug-continued-end-edge-low-equal"),
    ],
)
def test_single_visit(day0, baseline, visit, density, as_of, name, expected):
    result = milestone(one_site(day0, baseline, [(visit, density)], as_of), name)
    status, *numbers = expected
    assert result.status == status
    if not numbers:
        assert result.visit_date is None
        assert result.change is None
        return
    months, low, high, change = numbers
    assert result.visit_date == D(visit)
    assert result.months == pytest.approx(months, abs=TOL)
    assert (result.expected_low, result.expected_high) == pytest.approx((low, high), abs=TOL)
    assert result.change == pytest.approx(change, abs=TOL)


# --------------------------------------------------------------------------------------------------
# Several visits in one window: the closest to the target wins, a tie takes the later visit


@pytest.mark.parametrize(
    ("day0", "baseline", "visits", "name", "expected"),
    [
        # 1 Jan → noticeable window 1 Jun–1 Aug, target 1 Jul. 21 Jun and 11 Jul are both 10 days off
        # → later (11 Jul) wins. 11 Jul = 181 + 10 = 191 days → 6.2752 months; share 0.2752/6 = 0.04586
        # → low 10.2293, high 35; 185 − 150 = +35 equal to high → on_track (21 Jun would give +20)
        pytest.param("2025-01-01", 150, [("2025-06-21", 170), ("2025-07-11", 185)], NOTICEABLE,
                     ("2025-07-11", ON_TRACK, 6.2752, 10.2293, 35, 35), id="tie-later-wins-noticeable"),
        # 30 Nov → continued window 30 Oct–30 Dec 2026, target 30 Nov 2026. 25 Nov and 5 Dec are both
        # 5 days off → 5 Dec. 365 + 5 = 370 days → 12.1561 → flat (15, 35); 215 − 180 = +35 → on_track
        # (25 Nov would give +50 → ahead)
        pytest.param("2025-11-30", 180, [("2026-11-25", 230), ("2026-12-05", 215)], CONTINUED,
                     ("2026-12-05", ON_TRACK, 12.1561, 15, 35, 35), id="tie-later-wins-across-month"),
        # Same window: 28 Nov (2 days off) beats 3 Dec (3 days off), the earlier one wins.
        # 363 days → 11.9261; share 5.9261/6 = 0.98768 → low 14.9384; 190 − 180 = +10 → behind
        pytest.param("2025-11-30", 180, [("2026-11-28", 190), ("2026-12-03", 230)], CONTINUED,
                     ("2026-11-28", BEHIND, 11.9261, 14.9384, 35, 10), id="closer-earlier-wins"),
        # 27 Nov (3 days off) loses to 2 Dec (2 days off). 367 days → 12.0575 → (15, 35);
        # 230 − 180 = +50 → ahead
        pytest.param("2025-11-30", 180, [("2026-11-27", 190), ("2026-12-02", 230)], CONTINUED,
                     ("2026-12-02", AHEAD, 12.0575, 15, 35, 50), id="closer-later-wins"),
        # 1 Jan → early window 1 Mar–1 Apr, target 1 Apr; 2 Apr (1 day off the target) is outside, so
        # 5 Mar (27 days off) is used: 59 + 4 = 63 days → 2.0698 months; share 0.0698 × 15 = 1.0472
        # → (−8.9528, 6.0472); 148 − 150 = −2 → on_track (2 Apr would give +20)
        pytest.param("2025-01-01", 150, [("2025-03-05", 148), ("2025-04-02", 170)], EARLY,
                     ("2025-03-05", ON_TRACK, 2.0698, -8.9528, 6.0472, -2), id="inside-visit-beats-closer-outside"),
    ],
)
def test_visit_choice(day0, baseline, visits, name, expected):
    result = milestone(one_site(day0, baseline, visits, as_of="2027-06-01"), name)
    visit, status, months, low, high, change = expected
    assert result.visit_date == D(visit)
    assert result.status == status
    assert result.months == pytest.approx(months, abs=TOL)
    assert (result.expected_low, result.expected_high) == pytest.approx((low, high), abs=TOL)
    assert result.change == pytest.approx(change, abs=TOL)


# --------------------------------------------------------------------------------------------------
# Change exactly on the band's edges (flat parts of the band, so the edges are exact numbers)


@pytest.mark.parametrize(
    ("visit", "density", "name", "expected"),
    [
        # day 0 = 1 Jan 2025, baseline 150. Early window opens 1 Mar = 59 days → 1.9384 months → (−10, +5)
        pytest.param("2025-03-01", 155, EARLY, ON_TRACK, id="early-change+5-equals-high"),
        pytest.param("2025-03-01", 155.5, EARLY, AHEAD, id="early-change+5.5-above-high"),
        pytest.param("2025-03-01", 140, EARLY, ON_TRACK, id="early-change-10-equals-low"),
        pytest.param("2025-03-01", 139.5, EARLY, BEHIND, id="early-change-10.5-below-low"),
        # 15 Jan 2026 = 365 + 14 = 379 days → 12.4517 months → flat (15, 35)
        pytest.param("2026-01-15", 165, CONTINUED, ON_TRACK, id="continued-change+15-equals-low"),
        pytest.param("2026-01-15", 185, CONTINUED, ON_TRACK, id="continued-change+35-equals-high"),
        pytest.param("2026-01-15", 164.5, CONTINUED, BEHIND, id="continued-change+14.5-below-low"),
        pytest.param("2026-01-15", 185.5, CONTINUED, AHEAD, id="continued-change+35.5-above-high"),
    ],
)
def test_band_edges(visit, density, name, expected):
    result = milestone(one_site("2025-01-01", 150, [(visit, density)], as_of="2026-06-01"), name)
    assert result.status == expected
    assert result.change == pytest.approx(density - 150, abs=TOL)


# --------------------------------------------------------------------------------------------------
# No visit at all: upcoming / due / missed from as_of. day 0 = 1 Jan 2025, windows
# early 1 Mar–1 Apr, noticeable 1 Jun–1 Aug, continued 1 Dec 2025–1 Feb 2026.


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        pytest.param("2025-02-28", (UPCOMING, UPCOMING, UPCOMING), id="day-before-early-window"),
        pytest.param("2025-03-01", (DUE, UPCOMING, UPCOMING), id="early-start-edge-due"),
        pytest.param("2025-04-01", (DUE, UPCOMING, UPCOMING), id="early-end-edge-due"),
        pytest.param("2025-04-02", (MISSED, UPCOMING, UPCOMING), id="day-after-early-missed"),
        pytest.param("2025-06-01", (MISSED, DUE, UPCOMING), id="noticeable-start-due"),
        pytest.param("2025-08-02", (MISSED, MISSED, UPCOMING), id="day-after-noticeable"),
        pytest.param("2025-12-01", (MISSED, MISSED, DUE), id="continued-start-due"),
        pytest.param("2026-02-01", (MISSED, MISSED, DUE), id="continued-end-due"),
        pytest.param("2026-02-02", (MISSED, MISSED, MISSED), id="all-missed"),
    ],
)
def test_no_visits(as_of, expected):
    progress = one_site("2025-01-01", 150, [], as_of, baseline_date="2024-12-15")
    (site,) = progress.sites
    assert site.baseline.date == D("2024-12-15") and site.baseline.density == 150
    assert tuple(m.status for m in site.milestones) == expected
    assert all(m.visit_date is None and m.change is None for m in site.milestones)


# --------------------------------------------------------------------------------------------------
# Several sites with their own baselines, and a site without a baseline


def test_several_sites_and_no_baseline():
    # day 0 = 1 Jan 2025. 1 Jul = 181 days → 5.9466 months (182.625 − 181 = 1.625 short of 6);
    # 3→6 share 2.9466/3 = 0.98220: low 5 + 4.9110 = 9.9110, high 20 + 14.7331 = 34.7331.
    measurements = [
        DensityRecord(D("2024-12-20"), "vertex", 150),
        DensityRecord(D("2024-11-01"), "frontal", 110),  # older: not the baseline
        DensityRecord(D("2025-01-01"), "frontal", 120),  # on day 0: the baseline
        DensityRecord(D("2025-01-05"), "occipital", 130),  # after day 0: no baseline for occipital
        DensityRecord(D("2025-07-01"), "vertex", 190),
        DensityRecord(D("2025-07-01"), "frontal", 128),
        DensityRecord(D("2025-07-01"), "occipital", 140),
        DensityRecord(D("2025-08-01"), "crown", 100),  # only after as_of: the site is not listed
    ]
    progress = assess([SessionRecord(D("2025-01-01"))], measurements, BAND_ONLY, as_of=D("2025-07-10"))
    assert progress.day0 == D("2025-01-01")
    assert [s.site for s in progress.sites] == ["frontal", "occipital", "vertex"]
    baselines = {s.site: s.baseline for s in progress.sites}
    assert (baselines["vertex"].date, baselines["vertex"].density) == (D("2024-12-20"), 150)
    assert (baselines["frontal"].date, baselines["frontal"].density) == (D("2025-01-01"), 120)
    assert baselines["occipital"] is None

    # vertex: 190 − 150 = +40 > 34.73 → ahead; 40/150 = 26.67 %
    vertex = milestone(progress, NOTICEABLE, "vertex")
    assert vertex.status == AHEAD
    assert vertex.change == pytest.approx(40, abs=TOL)
    assert vertex.change_pct == pytest.approx(26.67, abs=TOL)
    assert vertex.months == pytest.approx(5.9466, abs=TOL)
    assert (vertex.expected_low, vertex.expected_high) == pytest.approx((9.9110, 34.7331), abs=TOL)
    # frontal: 128 − 120 = +8 < 9.91 → behind (against the older 110 it would be +18, on track)
    frontal = milestone(progress, NOTICEABLE, "frontal")
    assert frontal.status == BEHIND
    assert frontal.change == pytest.approx(8, abs=TOL)
    # occipital: a visit but no baseline → no_baseline, no change, band still shown
    occipital = milestone(progress, NOTICEABLE, "occipital")
    assert occipital.status == NO_BASELINE
    assert occipital.visit_date == D("2025-07-01")
    assert occipital.change is None and occipital.change_pct is None
    assert (occipital.expected_low, occipital.expected_high) == pytest.approx((9.9110, 34.7331), abs=TOL)
    # the other windows have no visit at any site: early (1 Mar–1 Apr) missed, continued upcoming
    for site in ("frontal", "occipital", "vertex"):
        assert milestone(progress, EARLY, site).status == MISSED
        assert milestone(progress, CONTINUED, site).status == UPCOMING


# --------------------------------------------------------------------------------------------------
# Records after as_of are ignored


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # 1 Jul (the target itself) is after as_of 30 Jun, so 10 Jun is used: 151 + 9 = 160 days →
        # 5.2567 months; share 2.2567/3 = 0.75222: low 5 + 3.7611 = 8.7611, high 20 + 11.2834 = 31.2834;
        # 160 − 150 = +10 → on_track
        pytest.param("2025-06-30", ("2025-06-10", ON_TRACK, 5.2567, 8.7611, 31.2834, 10), id="later-visit-ignored"),
        # From 1 Jul on the 1 Jul visit counts: 181 days → 5.9466, (9.9110, 34.7331); +40 → ahead
        pytest.param("2025-07-01", ("2025-07-01", AHEAD, 5.9466, 9.9110, 34.7331, 40), id="visit-on-as-of-counts"),
    ],
)
def test_visit_after_as_of_ignored(as_of, expected):
    progress = one_site("2025-01-01", 150, [("2025-06-10", 160), ("2025-07-01", 190)], as_of)
    result = milestone(progress, NOTICEABLE)
    visit, status, months, low, high, change = expected
    assert result.visit_date == D(visit)
    assert result.status == status
    assert result.months == pytest.approx(months, abs=TOL)
    assert (result.expected_low, result.expected_high) == pytest.approx((low, high), abs=TOL)
    assert result.change == pytest.approx(change, abs=TOL)
    assert all(m.date <= D(as_of) for m in progress.sites[0].measurements)


# --------------------------------------------------------------------------------------------------
# No session on or before as_of: no day 0, no milestones, no schedule


@pytest.mark.parametrize(
    "sessions",
    [
        pytest.param([], id="no-sessions"),
        pytest.param(["2025-03-01"], id="only-session-after-as-of"),
    ],
)
def test_no_day0(sessions):
    progress = assess(
        [SessionRecord(D(d)) for d in sessions],
        [DensityRecord(D("2025-01-01"), "vertex", 150)],
        as_of=D("2025-02-01"),
    )
    assert progress.day0 is None
    (site,) = progress.sites
    assert site.milestones == ()
    assert progress.next_session_window is None
    assert progress.nsaid_free == ()
    assert progress.active_until is None


# --------------------------------------------------------------------------------------------------
# A custom protocol: its own windows and band


@pytest.mark.parametrize(
    ("visits", "name", "expected"),
    [
        # day 0 = 31 Mar 2025: first_check window 30 Apr (clamped)–31 May, target 30 Apr.
        # 10 May (10 days off) beats 20 May. 30 + 10 = 40 days → 1.3142 months; 0→4 share 0.32854:
        # low 0 + 3.2854, high 10 + 6.5708 = 16.5708; 103 − 100 = +3 < 3.29 → behind
        # (the default band (−10, +5) would have said on_track)
        pytest.param([("2025-05-10", 103), ("2025-05-20", 120)], "first_check",
                     ("2025-05-10", BEHIND, 1.3142, 3.2854, 16.5708, 3), id="custom-first-check"),
        # main window 31 Jul–30 Nov, target 30 Sep. 31 Aug = 30+31+30+31+31 = 153 days → 5.0267
        # months; 4→8 share 1.0267/4 = 0.25667: low 10 + 2.5667 = 12.5667, high 30 + 7.7002 = 37.7002;
        # +20 → on_track
        pytest.param([("2025-08-31", 120)], "main",
                     ("2025-08-31", ON_TRACK, 5.0267, 12.5667, 37.7002, 20), id="custom-main-interpolated"),
        # 30 Nov (window end) = 153 + 30 + 31 + 30 = 244 days → 8.0164 → flat (20, 60); +60 → on_track
        pytest.param([("2025-11-30", 160)], "main",
                     ("2025-11-30", ON_TRACK, 8.0164, 20, 60, 60), id="custom-main-end-edge-high-equal"),
        pytest.param([("2025-11-30", 161)], "main",
                     ("2025-11-30", AHEAD, 8.0164, 20, 60, 61), id="custom-main-above-high"),
        # 1 Dec is one day after the main window → nothing used; as_of 1 Jan 2026 → missed
        pytest.param([("2025-12-01", 160)], "main", (None, MISSED), id="custom-main-day-after-end"),
    ],
)
def test_custom_protocol(visits, name, expected):
    progress = one_site("2025-03-31", 100, visits, as_of="2026-01-01", protocol=CUSTOM)
    (site,) = progress.sites
    assert [m.name for m in site.milestones] == ["first_check", "main"]
    result = milestone(progress, name)
    if expected[0] is None:
        assert result.visit_date is None and result.status == expected[1]
        return
    visit, status, months, low, high, change = expected
    assert result.visit_date == D(visit)
    assert result.status == status
    assert result.months == pytest.approx(months, abs=TOL)
    assert (result.expected_low, result.expected_high) == pytest.approx((low, high), abs=TOL)
    assert result.change == pytest.approx(change, abs=TOL)


def test_custom_protocol_window_dates():
    # day 0 = 31 Mar 2025: +1 = 30 Apr (clamped), +2 = 31 May, +4 = 31 Jul, +6 = 30 Sep, +8 = 30 Nov
    (site,) = one_site("2025-03-31", 100, [], as_of="2025-05-01", protocol=CUSTOM).sites
    check, main = site.milestones
    assert (check.window_start, check.window_end, check.target) == (D("2025-04-30"), D("2025-05-31"), D("2025-04-30"))
    assert (main.window_start, main.window_end, main.target) == (D("2025-07-31"), D("2025-11-30"), D("2025-09-30"))
    assert (check.status, main.status) == (DUE, UPCOMING)


# --------------------------------------------------------------------------------------------------
# Schedule from the latest session: next-session window (3–6 months), active span (6–8 months),
# NSAID-free span per session (3 days before to 21 days after)


@pytest.mark.parametrize(
    ("session", "next_window", "nsaid", "active"),
    [
        # 30 Nov: +3 = 28 Feb (clamped), +6 = 30 May, +8 = 30 Jul; −3 = 27 Nov; +21 = 21 Dec
        pytest.param("2025-11-30", ("2026-02-28", "2026-05-30"), ("2025-11-27", "2025-12-21"),
                     ("2026-05-30", "2026-07-30"), id="30-nov"),
        # 30 Dec: +3 = 30 Mar, +6 = 30 Jun, +8 = 30 Aug; −3 = 27 Dec; +21: 31 Dec is +1 → 20 Jan
        pytest.param("2025-12-30", ("2026-03-30", "2026-06-30"), ("2025-12-27", "2026-01-20"),
                     ("2026-06-30", "2026-08-30"), id="30-dec-nsaid-across-year"),
        # 2 Jan: −3 = 30 Dec of the year before; +21 = 23 Jan
        pytest.param("2025-01-02", ("2025-04-02", "2025-07-02"), ("2024-12-30", "2025-01-23"),
                     ("2025-07-02", "2025-09-02"), id="2-jan-nsaid-back-across-year"),
        # 31 Aug: +3 = 30 Nov, +6 = 28 Feb, +8 = 30 Apr; −3 = 28 Aug; +21 = 21 Sep
        pytest.param("2025-08-31", ("2025-11-30", "2026-02-28"), ("2025-08-28", "2025-09-21"),
                     ("2026-02-28", "2026-04-30"), id="31-aug"),
        # 31 Aug 2023: +6 = 29 Feb 2024 (leap), +8 = 30 Apr
        pytest.param("2023-08-31", ("2023-11-30", "2024-02-29"), ("2023-08-28", "2023-09-21"),
                     ("2024-02-29", "2024-04-30"), id="31-aug-into-leap-feb"),
        # 29 Feb 2024: +3 = 29 May, +6 = 29 Aug, +8 = 29 Oct; −3 = 26 Feb; +21: 1 Mar is +1 → 21 Mar
        pytest.param("2024-02-29", ("2024-05-29", "2024-08-29"), ("2024-02-26", "2024-03-21"),
                     ("2024-08-29", "2024-10-29"), id="29-feb"),
        # 2 Mar 2024: −3 → 1 Mar, 29 Feb, 28 Feb
        pytest.param("2024-03-02", ("2024-06-02", "2024-09-02"), ("2024-02-28", "2024-03-23"),
                     ("2024-09-02", "2024-11-02"), id="2-mar-leap-nsaid-over-29-feb"),
        # 2 Mar 2025: −3 → 1 Mar, 28 Feb, 27 Feb
        pytest.param("2025-03-02", ("2025-06-02", "2025-09-02"), ("2025-02-27", "2025-03-23"),
                     ("2025-09-02", "2025-11-02"), id="2-mar-non-leap"),
        # 30 Jun: +3 = 30 Sep, +6 = 30 Dec, +8 = 28 Feb (clamped, next year)
        pytest.param("2025-06-30", ("2025-09-30", "2025-12-30"), ("2025-06-27", "2025-07-21"),
                     ("2025-12-30", "2026-02-28"), id="30-jun-active-into-feb"),
    ],
)
def test_schedule_single_session(session, next_window, nsaid, active):
    progress = assess([SessionRecord(D(session))], [], as_of=D("2027-01-01"))
    assert progress.day0 == D(session)
    assert (progress.next_session_window.start, progress.next_session_window.end) == tuple(map(D, next_window))
    (span,) = progress.nsaid_free
    assert (span.session_date, span.start, span.end) == (D(session), *map(D, nsaid))
    assert (progress.active_until.start, progress.active_until.end) == tuple(map(D, active))


@pytest.mark.parametrize(
    ("as_of", "latest", "next_window", "active", "nsaid_count"),
    [
        # sessions 31 Jan, 15 May, 30 Sep 2025 (given out of order); on 10 Oct all three count.
        # latest 30 Sep: +3 = 30 Dec, +6 = 30 Mar 2026, +8 = 30 May 2026
        pytest.param("2025-10-10", "2025-09-30", ("2025-12-30", "2026-03-30"), ("2026-03-30", "2026-05-30"), 3,
                     id="three-sessions"),
        # on 1 Jun the 30 Sep session is in the future: latest 15 May: +3 = 15 Aug, +6 = 15 Nov, +8 = 15 Jan
        pytest.param("2025-06-01", "2025-05-15", ("2025-08-15", "2025-11-15"), ("2025-11-15", "2026-01-15"), 2,
                     id="future-session-ignored"),
        # on 15 May itself that session counts
        pytest.param("2025-05-15", "2025-05-15", ("2025-08-15", "2025-11-15"), ("2025-11-15", "2026-01-15"), 2,
                     id="session-on-as-of-counts"),
        # on 14 May only 31 Jan: +3 = 30 Apr (clamped), +6 = 31 Jul, +8 = 30 Sep
        pytest.param("2025-05-14", "2025-01-31", ("2025-04-30", "2025-07-31"), ("2025-07-31", "2025-09-30"), 1,
                     id="one-session-so-far"),
    ],
)
def test_several_sessions(as_of, latest, next_window, active, nsaid_count):
    sessions = [SessionRecord(D(d)) for d in ("2025-09-30", "2025-01-31", "2025-05-15")]
    measurements = [
        DensityRecord(D("2025-01-20"), "vertex", 150),  # baseline: latest on or before day 0 (31 Jan)
        DensityRecord(D("2025-05-14"), "vertex", 190),  # before a later session: not a baseline
    ]
    progress = assess(sessions, measurements, as_of=D(as_of))
    # day 0 is the FIRST session whatever the later ones; the baseline does not move with them
    assert progress.day0 == D("2025-01-31")
    (site,) = progress.sites
    assert (site.baseline.date, site.baseline.density) == (D("2025-01-20"), 150)
    # windows from day 0 (31 Jan): early 31 Mar–30 Apr, not from the latest session
    early = milestone(progress, EARLY)
    assert (early.window_start, early.window_end) == (D("2025-03-31"), D("2025-04-30"))
    assert (progress.next_session_window.start, progress.next_session_window.end) == tuple(map(D, next_window))
    assert (progress.active_until.start, progress.active_until.end) == tuple(map(D, active))
    assert len(progress.nsaid_free) == nsaid_count
    assert progress.nsaid_free[-1].session_date == D(latest)


def test_nsaid_spans_for_every_session_in_date_order():
    sessions = [SessionRecord(D(d)) for d in ("2025-09-30", "2025-01-31", "2025-05-15")]
    progress = assess(sessions, [], as_of=D("2025-12-31"))
    spans = [(s.session_date, s.start, s.end) for s in progress.nsaid_free]
    assert spans == [
        # 31 Jan: −3 = 28 Jan; +21: 1 Feb is +1 → 21 Feb
        (D("2025-01-31"), D("2025-01-28"), D("2025-02-21")),
        # 15 May: −3 = 12 May; +21: 31 May is +16 → 5 Jun
        (D("2025-05-15"), D("2025-05-12"), D("2025-06-05")),
        # 30 Sep: −3 = 27 Sep; +21 = 21 Oct
        (D("2025-09-30"), D("2025-09-27"), D("2025-10-21")),
    ]


# --------------------------------------------------------------------------------------------------
# Measurement noise (DESIGN.md §2): noise = baseline × noise % / 100 (default 10); ahead only when
# change > high + noise, behind only when change < low − noise, the edges on track; compared at 0.01.
#
# The band's flat end: a visit on 1 Feb 2026 after day 0 on 1 Jan 2025 is 396 days = 13.01 months, past
# the last point (month 12), so the band is exactly +15 to +35 and the edges are exact.
#   baseline 150   → noise 15    → behind below 15 − 15 = 0,       ahead above 35 + 15 = 50
#   baseline 130   → noise 13    → behind below 15 − 13 = 2,       ahead above 35 + 13 = 48
#   baseline 87.5  → noise 8.75  → behind below 15 − 8.75 = 6.25,  ahead above 35 + 8.75 = 43.75
#   baseline 212.3 → noise 21.23 → behind below 15 − 21.23 = −6.23, ahead above 35 + 21.23 = 56.23


@pytest.mark.parametrize(
    ("site", "baseline", "density", "expected"),
    [
        pytest.param("frontal", 150, 150, ON_TRACK, id="150-at-low-minus-noise"),  # change 0 = 0
        pytest.param("frontal", 150, 149.99, BEHIND, id="150-0.01-below"),  # −0.01 < 0
        pytest.param("frontal", 150, 200, ON_TRACK, id="150-at-high-plus-noise"),  # +50 = 50
        pytest.param("frontal", 150, 200.01, AHEAD, id="150-0.01-above"),  # +50.01 > 50
        pytest.param("vertex", 130, 132, ON_TRACK, id="130-at-low-minus-noise"),  # +2 = 2
        pytest.param("vertex", 130, 131.99, BEHIND, id="130-0.01-below"),  # +1.99 < 2
        pytest.param("vertex", 130, 178, ON_TRACK, id="130-at-high-plus-noise"),  # +48 = 48
        pytest.param("vertex", 130, 178.01, AHEAD, id="130-0.01-above"),  # +48.01 > 48
        pytest.param("occipital", 87.5, 93.75, ON_TRACK, id="87.5-at-low-minus-noise"),  # +6.25
        pytest.param("occipital", 87.5, 93.74, BEHIND, id="87.5-0.01-below"),  # +6.24 < 6.25
        pytest.param("occipital", 87.5, 131.25, ON_TRACK, id="87.5-at-high-plus-noise"),  # +43.75
        pytest.param("occipital", 87.5, 131.26, AHEAD, id="87.5-0.01-above"),  # +43.76 > 43.75
        pytest.param("left_temporal", 212.3, 206.07, ON_TRACK, id="212.3-at-low-minus-noise"),  # −6.23
        pytest.param("left_temporal", 212.3, 206.06, BEHIND, id="212.3-0.01-below"),  # −6.24 < −6.23
        pytest.param("left_temporal", 212.3, 268.53, ON_TRACK, id="212.3-at-high-plus-noise"),  # +56.23
        pytest.param("left_temporal", 212.3, 268.54, AHEAD, id="212.3-0.01-above"),  # +56.24 > 56.23
    ],
)
def test_noise_edges_at_the_flat_end(site, baseline, density, expected):
    measurements = [DensityRecord(D("2025-01-01"), site, baseline), DensityRecord(D("2026-02-01"), site, density)]
    progress = assess([SessionRecord(D("2025-01-01"))], measurements, DEFAULT_PROTOCOL, as_of=D("2026-03-01"))
    result = milestone(progress, CONTINUED, site)
    assert (result.expected_low, result.expected_high) == (15, 35)  # flat after month 12, exactly
    assert result.noise == pytest.approx(baseline * 0.10, abs=1e-9)
    assert result.status == expected


@pytest.mark.parametrize(
    ("change", "band", "noise", "expected"),
    [
        # month 3, band +5 to +20 (test_default_band); baseline 120 → noise 12: edges 5 − 12 = −7, 20 + 12 = 32
        pytest.param(-7, (5, 20), 12, ON_TRACK, id="m3-120-at-low-minus-noise"),
        pytest.param(-7.01, (5, 20), 12, BEHIND, id="m3-120-0.01-below"),
        pytest.param(32, (5, 20), 12, ON_TRACK, id="m3-120-at-high-plus-noise"),
        pytest.param(32.01, (5, 20), 12, AHEAD, id="m3-120-0.01-above"),
        # month 6, band +10 to +35; baseline 250 → noise 25: edges 10 − 25 = −15, 35 + 25 = 60
        pytest.param(-15, (10, 35), 25, ON_TRACK, id="m6-250-at-low-minus-noise"),
        pytest.param(-15.01, (10, 35), 25, BEHIND, id="m6-250-0.01-below"),
        pytest.param(60, (10, 35), 25, ON_TRACK, id="m6-250-at-high-plus-noise"),
        pytest.param(60.01, (10, 35), 25, AHEAD, id="m6-250-0.01-above"),
    ],
)
def test_noise_edges_inside_the_course(change, band, noise, expected):
    assert classify(change, *band, noise) == expected


@pytest.mark.parametrize(
    ("density", "expected"),
    [
        # A clinic's own 5%: baseline 200 → noise 10; flat end +15 to +35: edges 5 and 45.
        pytest.param(205, ON_TRACK, id="5pct-at-low-minus-noise"),
        pytest.param(204.99, BEHIND, id="5pct-0.01-below"),
    ],
)
def test_a_protocols_own_noise(density, expected):
    protocol = replace(DEFAULT_PROTOCOL, noise_pct=5)
    measurements = [DensityRecord(D("2025-01-01"), "vertex", 200), DensityRecord(D("2026-02-01"), "vertex", density)]
    progress = assess([SessionRecord(D("2025-01-01"))], measurements, protocol, as_of=D("2026-03-01"))
    result = milestone(progress, CONTINUED)
    assert (result.noise, result.status) == (10, expected)


def test_the_issues_example_below_the_band_within_noise_is_on_track():
    """3 months: −8 (−6%) against about +4 to +19 with baseline 130 (noise 13): 4 − 13 = −9 ≤ −8."""
    # day 0 1 Jan 2025, visit 1 Apr 2025 = 90 days = 2.9569 months: share 0.9569 of +15 → +4.35 to +19.35
    progress = one_site("2025-01-01", 130, [("2025-04-01", 122)], as_of="2025-05-01", protocol=DEFAULT_PROTOCOL)
    result = milestone(progress, EARLY)
    assert (result.expected_low, result.expected_high) == pytest.approx((4.35, 19.35), abs=TOL)
    assert (result.change, result.noise, result.status) == (-8, 13, ON_TRACK)
    # The same point without noise is below the band: the noise alone makes the difference.
    assert milestone(one_site("2025-01-01", 130, [("2025-04-01", 122)], as_of="2025-05-01"), EARLY).status == BEHIND


def test_negative_noise_is_refused():
    with pytest.raises(ValueError, match="negative"):
        classify(0, -10, 5, -1)
