"""What a patient needs next, summarised from their progress: for the patient list and the schedule.

A milestone counts as visited when any site was measured inside its window (all sites share day 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tracker.course.milestones import (
    BEHIND,
    DUE,
    MISSED,
    UPCOMING,
    MilestoneResult,
    Progress,
)
from tracker.course.vocabulary import ASSESSED, MilestoneStatus


@dataclass(frozen=True)
class Outlook:
    """``next_*``: the first milestone not yet visited whose window has not closed. ``overdue``: its
    target date has passed, or a window closed with no visit and nothing was measured since.
    ``behind``: the latest assessed milestone is below the expected band on any site."""

    next_name: str | None
    next_status: MilestoneStatus | None
    next_due: date | None
    next_window_start: date | None
    next_window_end: date | None
    overdue: bool
    behind: bool
    latest_status: MilestoneStatus | None
    next: MilestoneResult | None = None  # the next milestone itself (first site's result)
    missed: MilestoneResult | None = None  # the latest window that closed with no visit and none since

    def due_within(self, today: date, days: int = 7) -> bool:
        """The next milestone's window is open at some point between today and ``days`` from now."""
        if self.next_window_start is None or self.next_window_end is None:
            return False
        return self.next_window_start <= today + timedelta(days=days) and self.next_window_end >= today


def _by_milestone(progress: Progress) -> dict[str, list[MilestoneResult]]:
    grouped: dict[str, list[MilestoneResult]] = {}
    for milestone in progress.unmeasured:
        grouped.setdefault(milestone.name, []).append(milestone)
    for site in progress.sites:
        for milestone in site.milestones:
            grouped.setdefault(milestone.name, []).append(milestone)
    return grouped


def outlook(progress: Progress) -> Outlook:
    grouped = _by_milestone(progress)
    ordered = sorted(grouped.items(), key=lambda item: item[1][0].window_start)
    next_item = None
    latest_assessed: list[MilestoneResult] = []
    missed: MilestoneResult | None = None
    for _name, results in ordered:
        visited = [r for r in results if r.status in ASSESSED]
        if visited:
            latest_assessed = visited
            missed = None
        elif results[0].status == MISSED:
            missed = results[0]
        elif next_item is None and results[0].status in (UPCOMING, DUE):
            next_item = results[0]
    overdue = missed is not None or (
        next_item is not None and next_item.status == DUE and progress.as_of > next_item.target
    )
    statuses = [r.status for r in latest_assessed]
    latest_status = BEHIND if BEHIND in statuses else (statuses[0] if statuses else None)
    return Outlook(
        next_name=next_item.name if next_item else None,
        next_status=next_item.status if next_item else None,
        next_due=next_item.target if next_item else None,
        next_window_start=next_item.window_start if next_item else None,
        next_window_end=next_item.window_end if next_item else None,
        overdue=overdue,
        behind=BEHIND in statuses,
        latest_status=latest_status,
        next=next_item,
        missed=missed,
    )
