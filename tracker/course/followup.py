"""What a patient needs next, summarised from their progress: for the patient list and the schedule.

A milestone counts as visited when any site was measured inside its window (all sites share day 0).

- ``outlook``: the next milestone, overdue, and whether the latest assessed milestone is behind;
- ``next_visit``: the one milestone a follow-up list shows for the patient, with the lists it belongs to
  (``NextVisit.lists``); ``urgency``: the order the lists are sorted in;
- ``latest_change``: the latest judged change from baseline, the figure the lists show beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tracker.clinic_dates import show_date
from tracker.course.milestones import (
    BEHIND,
    DUE,
    MISSED,
    UPCOMING,
    MilestoneResult,
    Progress,
)
from tracker.course.vocabulary import (
    ASSESSED,
    TARGET_SOON_DAYS,
    FollowUpStatus,
    MilestoneStatus,
    PatientFilter,
    milestone_words,
)


@dataclass(frozen=True)
class Outlook:
    """``next_*``: the first milestone not yet visited whose window has not closed. ``overdue``: its
    target date has passed, or a window closed with no visit and nothing was measured since.
    ``behind``: the latest assessed milestone is ``behind`` on any site (the engine's status: below the
    expected band by more than the measurement noise, DESIGN.md §2)."""

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


def _by_milestone(progress: Progress) -> list[tuple[str, list[tuple[str | None, MilestoneResult]]]]:
    """Each milestone's results with their site (``None`` for a treated patient not measured yet), in
    window order."""
    grouped: dict[str, list[tuple[str | None, MilestoneResult]]] = {}
    for milestone in progress.unmeasured:
        grouped.setdefault(milestone.name, []).append((None, milestone))
    for site in progress.sites:
        for milestone in site.milestones:
            grouped.setdefault(milestone.name, []).append((site.site, milestone))
    return sorted(grouped.items(), key=lambda item: item[1][0][1].window_start)


def _latest_assessed(progress: Progress) -> list[tuple[str | None, MilestoneResult]]:
    """The sites measured at the latest milestone any site was measured at (with or without a baseline)."""
    latest: list[tuple[str | None, MilestoneResult]] = []
    for _name, results in _by_milestone(progress):
        visited = [(site, r) for site, r in results if r.status in ASSESSED]
        if visited:
            latest = visited
    return latest


def outlook(progress: Progress) -> Outlook:
    next_item = None
    missed: MilestoneResult | None = None
    for _name, pairs in _by_milestone(progress):
        results = [r for _site, r in pairs]
        if any(r.status in ASSESSED for r in results):
            missed = None
        elif results[0].status == MISSED:
            missed = results[0]
        elif next_item is None and results[0].status in (UPCOMING, DUE):
            next_item = results[0]
    overdue = missed is not None or (
        next_item is not None and next_item.status == DUE and progress.as_of > next_item.target
    )
    statuses = [r.status for _site, r in _latest_assessed(progress)]
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


# --- the follow-up lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NextVisit:
    """The milestone a follow-up list shows for a patient, on ``today`` (the progress's ``as_of``).

    - ``milestone``: the next milestone not yet visited whose window has not closed, or, when the patient is
      overdue with no window open, the missed one (a visit is needed now, not at the next window).
    - ``status``: ``overdue`` (``Outlook.overdue``), ``due`` (the window is open and its target date has not
      passed) or ``upcoming`` (the window opens after today).
    - ``overdue_since``: the target date that passed with no visit (the missed milestone's when a window
      closed unvisited); ``None`` unless overdue.
    - ``note``: what a list says beside the row (which window closed with no visit, what comes next).
    """

    milestone: MilestoneResult
    status: FollowUpStatus
    today: date
    overdue_since: date | None = None
    note: str = ""

    @property
    def days_to_target(self) -> int:
        """Days from today to the milestone's target date; negative once it has passed."""
        return (self.milestone.target - self.today).days

    @property
    def days_overdue(self) -> int | None:
        """Days since ``overdue_since``; ``None`` when not overdue."""
        return (self.today - self.overdue_since).days if self.overdue_since else None

    def lists(self, horizon_days: int = 0) -> frozenset[PatientFilter]:
        """The follow-up lists this visit belongs to (a patient can be on several), each tested on the
        dates it names, both ends included:

        - ``overdue``: ``status`` is overdue;
        - ``window_open``: window opens ≤ today ≤ window closes;
        - ``target_soon``: today ≤ target date ≤ today + ``TARGET_SOON_DAYS`` (7);
        - ``upcoming``: today < window opens ≤ today + ``horizon_days`` (the schedule's look-ahead).
        """
        m = self.milestone
        return follow_up_lists(self.status, m.window_start, m.window_end, m.target, self.today, horizon_days)


def follow_up_lists(status: FollowUpStatus, window_start: date, window_end: date, target: date, today: date,
                    horizon_days: int = 0) -> frozenset[PatientFilter]:
    """The follow-up lists of a visit with these dates on ``today`` (``NextVisit.lists``; the whole-clinic lists
    test the same dates in the database, ``tracker.progress.outlook.on_list``)."""
    found = set()
    if status == FollowUpStatus.OVERDUE:
        found.add(PatientFilter.OVERDUE)
    if window_start <= today <= window_end:
        found.add(PatientFilter.WINDOW_OPEN)
    if today <= target <= today + timedelta(days=TARGET_SOON_DAYS):
        found.add(PatientFilter.TARGET_SOON)
    if today < window_start <= today + timedelta(days=horizon_days):
        found.add(PatientFilter.UPCOMING)
    return frozenset(found)


def urgency(overdue_since: date | None, target: date | None) -> tuple[int, int]:
    """The sort key of the follow-up lists (add the MRN to break ties): overdue first, longest overdue first
    (earliest ``overdue_since``); then by target date, nearest first (the date after which the visit is
    overdue); a patient with no visit to book last.

    >>> d = date.fromisoformat
    >>> sorted([(None, d("2025-07-01")), (d("2025-05-01"), None), (None, None), (d("2025-04-01"), None)],
    ...        key=lambda row: urgency(*row))[:2]
    [(datetime.date(2025, 4, 1), None), (datetime.date(2025, 5, 1), None)]
    """
    if overdue_since is not None:
        return (0, overdue_since.toordinal())
    return (1, target.toordinal()) if target is not None else (2, 0)


def next_visit(progress: Progress, view: Outlook | None = None) -> NextVisit | None:
    """The visit a patient needs next on ``progress.as_of``, or ``None`` when no milestone is left to visit
    (every window visited, or not treated yet). ``view``: the progress's ``outlook`` when the caller has it."""
    view = view or outlook(progress)
    upcoming, missed, today = view.next, view.missed, progress.as_of
    if view.overdue and upcoming is not None and upcoming.status == DUE:
        # A window is open: book the visit for it, saying which earlier window (if any) was missed.
        if missed is not None:
            return NextVisit(upcoming, FollowUpStatus.OVERDUE, today, missed.target,
                             f"{milestone_words(missed.name)}: window closed on {show_date(missed.window_end)} "
                             "with no visit.")
        return NextVisit(upcoming, FollowUpStatus.OVERDUE, today, upcoming.target, "Target date passed with no visit.")
    if view.overdue and missed is not None:
        note = f"Window closed on {show_date(missed.window_end)} with no visit."
        if upcoming is not None:
            note += f" Next: {milestone_words(upcoming.name)} from {show_date(upcoming.window_start)}."
        return NextVisit(missed, FollowUpStatus.OVERDUE, today, missed.target, note)
    if upcoming is None:
        return None
    return NextVisit(upcoming, FollowUpStatus.DUE if upcoming.status == DUE else FollowUpStatus.UPCOMING, today)


# --- the latest change from baseline ----------------------------------------------------------------------

# Which of several sites judged at the same milestone a list shows: the least good, so that a "Behind" flag
# always has its figure beside it (behind before on track before ahead, then the smaller % change).
_LEAST_GOOD_FIRST = (MilestoneStatus.BEHIND, MilestoneStatus.ON_TRACK, MilestoneStatus.AHEAD)


@dataclass(frozen=True)
class LatestChange:
    """The latest judged change from baseline: ``result`` (a milestone result with ``change`` in hairs/cm²
    and ``change_pct`` in % of the baseline, judged by the engine with the noise) at ``site``;
    ``sites_judged``: how many sites were judged at that milestone (``result`` is the least good of them).
    """

    site: str
    result: MilestoneResult
    sites_judged: int


def latest_change(progress: Progress) -> LatestChange | None:
    """The change at the latest milestone any site was measured at (the milestone ``Outlook.behind`` reads),
    on the least good of the sites judged there; ``None`` when that milestone has no judged site (no
    baseline) or no milestone was measured yet."""
    judged = [(site, r) for site, r in _latest_assessed(progress)
              if site is not None and r.change is not None and r.status in _LEAST_GOOD_FIRST]
    if not judged:
        return None
    site, result = min(judged, key=lambda pair: (_LEAST_GOOD_FIRST.index(pair[1].status),
                                                 pair[1].change_pct if pair[1].change_pct is not None else 0.0,
                                                 pair[0]))
    return LatestChange(site, result, len(judged))
