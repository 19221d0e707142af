"""Calendar-month arithmetic used by milestone windows and session spans.

>>> add_months(date(2025, 1, 31), 1)
datetime.date(2025, 2, 28)
>>> add_months(date(2024, 1, 31), 1)
datetime.date(2024, 2, 29)
>>> add_months(date(2025, 11, 15), 3)
datetime.date(2026, 2, 15)
>>> round(months_between(date(2025, 1, 1), date(2025, 4, 1)), 4)
2.9569
"""

from __future__ import annotations

import calendar
from datetime import date
from functools import lru_cache

from tracker.course.clinical import DAYS_PER_MONTH


# Pure, and asked again and again for the same day 0 and window (a whole clinic's outlook asks it 30 times a patient).
@lru_cache(maxsize=1 << 16)
def add_months(start: date, months: int) -> date:
    """The same day-of-month ``months`` calendar months later, clamped to the month's last day.

    Clinicians book "3 months after" on the same day of the month; a course that starts on 31 January
    reaches its 1-month mark on the last day of February, never in March.
    """
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last_day))


def months_between(start: date, end: date) -> float:
    """Elapsed months as days / 30.4375 (DESIGN.md §3), the unit the expected band is given in."""
    return (end - start).days / DAYS_PER_MONTH


def age_on(birth: date, day: date) -> int:
    """Whole years of age on ``day``.

    >>> age_on(date(1980, 6, 15), date(2025, 6, 14)), age_on(date(1980, 6, 15), date(2025, 6, 15))
    (44, 45)
    """
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
