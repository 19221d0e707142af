"""``tracker.course.followup.next_visit``: which follow-up lists a patient is on, tested at each list's edges,
and the latest judged change, straight from the engine (no database).

Default protocol (DESIGN.md §1): early response window day 0 + 2 … 3 calendar months, target + 3 months;
noticeable growth + 5 … 7, target + 6. Every patient below was measured on day 0 (the baseline).
"""

from __future__ import annotations

from datetime import date

import pytest

from tracker.course.followup import latest_change, next_visit
from tracker.course.milestones import DensityRecord, SessionRecord, assess
from tracker.course.vocabulary import FollowUpStatus, PatientFilter

D = date.fromisoformat
TODAY = D("2025-06-01")
OVERDUE, WINDOW_OPEN, TARGET_SOON, UPCOMING = (PatientFilter.OVERDUE, PatientFilter.WINDOW_OPEN,
                                               PatientFilter.TARGET_SOON, PatientFilter.UPCOMING)


def course(day0: str, *visits: tuple[str, float], as_of: date = TODAY):
    measured = [DensityRecord(D(day0), "vertex", 150.0), *(DensityRecord(D(d), "vertex", v) for d, v in visits)]
    return assess([SessionRecord(D(day0))], measured, as_of=as_of)


@pytest.mark.parametrize("day0, horizon, status, lists", [
    # Window 2025-06-01..07-01 opens TODAY; target 07-01 is 30 days away.
    ("2025-04-01", 0, FollowUpStatus.DUE, {WINDOW_OPEN}),
    # Window 2025-06-02..07-02 opens tomorrow: upcoming with a look-ahead of 1 day, on no list with 0.
    ("2025-04-02", 1, FollowUpStatus.UPCOMING, {UPCOMING}),
    ("2025-04-02", 0, FollowUpStatus.UPCOMING, set()),
    # Target 2025-06-08 = TODAY + 7 (window 05-08..06-08 open): on "target date within 7 days".
    ("2025-03-08", 0, FollowUpStatus.DUE, {WINDOW_OPEN, TARGET_SOON}),
    # Target 2025-06-09 = TODAY + 8: not on it.
    ("2025-03-09", 0, FollowUpStatus.DUE, {WINDOW_OPEN}),
    # Window 05-01..06-01 closes TODAY and its target is TODAY: still open, not overdue (days to target 0).
    ("2025-03-01", 0, FollowUpStatus.DUE, {WINDOW_OPEN, TARGET_SOON}),
    # Early window 2025-04-28..05-28 closed with no visit: overdue only; the next window (07-28..09-28) opens
    # 57 days ahead, beyond a 30-day look-ahead.
    ("2025-02-28", 30, FollowUpStatus.OVERDUE, {OVERDUE}),
])
def test_lists_at_their_edges(day0, horizon, status, lists):
    visit = next_visit(course(day0))
    assert visit is not None
    assert (visit.status, visit.lists(horizon)) == (status, lists)


def test_a_window_that_closed_yesterday_is_overdue_not_open():
    """Day 0 2024-10-31: early window 2024-12-31..2025-01-31 visited on its last day; the 6-month window
    2025-03-31..2025-05-31 closed yesterday with no visit (its target 2025-04-30: 32 days ago)."""
    visit = next_visit(course("2024-10-31", ("2025-01-31", 160.0)))
    assert visit is not None
    assert (visit.milestone.name, visit.status, visit.lists(30)) == ("noticeable_growth", FollowUpStatus.OVERDUE,
                                                                    {OVERDUE})
    assert (visit.overdue_since, visit.days_overdue) == (D("2025-04-30"), 32)
    assert visit.note == ("Window closed on 2025-05-31 with no visit. "
                          "Next: Continued improvement (up to 12 months) from 2025-09-30.")


def test_target_passed_in_an_open_window_is_overdue_and_open():
    """Day 0 2024-12-01: early visited 2025-03-01; 6-month window 2025-05-01..07-01, target 06-01 passed
    on 2025-06-15 (14 days)."""
    visit = next_visit(course("2024-12-01", ("2025-03-01", 160.0), as_of=D("2025-06-15")))
    assert visit is not None
    assert (visit.status, visit.lists(0), visit.overdue_since, visit.days_overdue, visit.days_to_target) == (
        FollowUpStatus.OVERDUE, {OVERDUE, WINDOW_OPEN}, D("2025-06-01"), 14, -14)
    assert visit.note == "Target date passed with no visit."


def test_nothing_left_to_visit():
    """Every window visited: no follow-up; the latest change is the 12-month one."""
    progress = course("2024-01-15", ("2024-04-15", 155.0), ("2024-07-15", 165.0), ("2025-01-15", 190.0))
    assert next_visit(progress) is None
    change = latest_change(progress)
    assert change is not None
    # 190 − 150 = +40 (+26.7 %) at 12 months: band +15..+35, noise 15 → on track (40 ≤ 35 + 15).
    assert (change.site, change.result.name, change.result.change, change.result.status, change.sites_judged) == (
        "vertex", "continued_improvement", 40.0, "on_track", 1)
