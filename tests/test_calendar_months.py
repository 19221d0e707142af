"""Calendar-month arithmetic, checked against dates worked out by hand on a calendar.

Rule (core issue): "n calendar months later" is the same day of the month, clamped to that month's last
day; a month for the expected band is days / 30.4375 (DESIGN.md §3).
"""

from __future__ import annotations

from datetime import date

import pytest

from tracker.course.calendar_months import add_months, months_between

D = date.fromisoformat


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        # Plain cases: same day of month.
        pytest.param("2025-05-10", 0, "2025-05-10", id="zero-months-is-same-day"),
        pytest.param("2025-12-15", 1, "2026-01-15", id="dec-to-jan-crosses-year"),
        pytest.param("2025-11-15", 3, "2026-02-15", id="nov+3-crosses-year"),
        # Month ends, clamped to the last day of a shorter month.
        pytest.param("2025-01-31", 1, "2025-02-28", id="31-jan+1-non-leap-is-28-feb"),
        pytest.param("2024-01-31", 1, "2024-02-29", id="31-jan+1-leap-is-29-feb"),
        pytest.param("2025-08-31", 1, "2025-09-30", id="31-aug+1-is-30-sep"),
        pytest.param("2025-08-31", 6, "2026-02-28", id="31-aug+6-is-28-feb-next-year"),
        pytest.param("2025-11-30", 3, "2026-02-28", id="30-nov+3-is-28-feb"),
        pytest.param("2023-08-31", 6, "2024-02-29", id="31-aug-2023+6-is-29-feb-2024"),
        pytest.param("2025-01-31", 13, "2026-02-28", id="31-jan+13-is-28-feb-next-year"),
        # 31 Jan + 2 is 31 Mar: the clamp applies to the result only, it does not carry over.
        pytest.param("2025-01-31", 2, "2025-03-31", id="31-jan+2-is-31-mar-not-28"),
        # Leap day as the start.
        pytest.param("2024-02-29", 1, "2024-03-29", id="29-feb+1-is-29-mar"),
        pytest.param("2024-02-29", 12, "2025-02-28", id="29-feb+12-non-leap-is-28-feb"),
        pytest.param("2024-02-29", 48, "2028-02-29", id="29-feb+48-next-leap-is-29-feb"),
        # Negative months go back the same way, clamped the same way.
        pytest.param("2025-01-15", -1, "2024-12-15", id="minus-1-crosses-year-back"),
        pytest.param("2025-03-31", -1, "2025-02-28", id="31-mar-1-non-leap-is-28-feb"),
        pytest.param("2024-03-31", -1, "2024-02-29", id="31-mar-1-leap-is-29-feb"),
        pytest.param("2025-01-31", -2, "2024-11-30", id="31-jan-2-is-30-nov"),
        pytest.param("2025-10-31", -8, "2025-02-28", id="31-oct-8-is-28-feb"),
        pytest.param("2025-05-31", -12, "2024-05-31", id="minus-12-is-one-year-back"),
        pytest.param("2025-06-30", -24, "2023-06-30", id="minus-24-is-two-years-back"),
        pytest.param("2025-03-29", -13, "2024-02-29", id="29-mar-13-is-leap-day"),
    ],
)
def test_add_months(start, months, expected):
    assert add_months(D(start), months) == D(expected)


def test_add_months_does_not_chain_the_clamp():
    # 31 Jan + 1 = 28 Feb, and 28 Feb + 1 = 28 Mar; but 31 Jan + 2 directly is 31 Mar.
    assert add_months(add_months(D("2025-01-31"), 1), 1) == D("2025-03-28")
    assert add_months(D("2025-01-31"), 2) == D("2025-03-31")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param("2025-01-01", "2025-01-01", 0.0, id="same-day-is-zero"),
        # Jan 31 + Feb 28 + Mar 31 = 90 days; 90 / 30.4375 = 2.9569
        pytest.param("2025-01-01", "2025-04-01", 2.9569, id="90-days"),
        # 181 days to 1 Jul, +1 = 182; 182 / 30.4375 = 6 - 0.625/30.4375 = 5.9795
        pytest.param("2025-01-01", "2025-07-02", 5.9795, id="182-days"),
        # non-leap year: 365 / 30.4375 = 12 - 0.25/30.4375 = 11.9918
        pytest.param("2025-01-01", "2026-01-01", 11.9918, id="non-leap-year"),
        # leap year: 366 / 30.4375 = 12 + 0.75/30.4375 = 12.0246
        pytest.param("2024-01-01", "2025-01-01", 12.0246, id="leap-year"),
        # 29 Feb -> 29 Mar 2024 is 29 days; 29 / 30.4375 = 0.9528
        pytest.param("2024-02-29", "2024-03-29", 0.9528, id="leap-day-to-29-mar"),
        # 365 days (2025) + Jan 31 + Feb 28 + Mar 31 + Apr 30 = 485, +2 = 487 days = 16 * 30.4375 exactly
        pytest.param("2025-01-01", "2026-05-03", 16.0, id="487-days-is-exactly-16"),
        # backwards: -31 days / 30.4375 = -1.0185
        pytest.param("2025-01-01", "2024-12-01", -1.0185, id="negative-when-end-before-start"),
    ],
)
def test_months_between(start, end, expected):
    assert months_between(D(start), D(end)) == pytest.approx(expected, abs=0.01)
