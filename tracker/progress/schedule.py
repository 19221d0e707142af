"""The clinic's schedule: who needs a follow-up visit for a milestone, and who may have a repeat session.

Everything is computed by the milestone engine (``tracker.course.milestones.assess``), summarised by
``tracker.course.followup`` (``next_visit``, ``latest_change``) and kept per patient in the outlook table
(``tracker.progress.outlook``); this module asks the outlook which patients are on each list on ``today``, one page
of 50 at a time, and hands the page rows to draw as they are (no date arithmetic in ``pages/``).

Follow-ups (one row per patient, the milestone that needs a visit next, ``tracker.course.followup.NextVisit``):

- status ``overdue``: the next milestone's target date has passed with no visit, or an earlier window closed
  with no visit and nothing was measured since (the row then names the milestone to book now: the open
  one if a window is open, otherwise the missed one, and says which window was missed);
- status ``due``: the next milestone's window is open today and its target date has not passed;
- status ``upcoming``: the next milestone's window opens within ``horizon_days``.

A row belongs to one or more lists (``FollowUp.lists``, tested on the dates the lists name): ``overdue``,
``window_open`` (the window contains today), ``target_soon`` (target date today … today + 7) and
``upcoming`` (the window opens after today, within ``horizon_days``). Rows are sorted by urgency: overdue
first, longest overdue first, then by target date, nearest first, then MRN. Each row also says the date of
the patient's latest live visit and the latest judged change from baseline (``latest_change_words``).

Repeat sessions: the engine's ``next_session_window`` (3–6 months after the latest session, DESIGN.md
§1) when it is open today (``open``) or opens within ``horizon_days`` (``opens``).

A patient treated but never measured has no milestones the engine can place (it needs at least one
density measurement); such patients are listed in ``unmeasured`` so that they are never silently left off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, union_all
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.followup import follow_up_lists, urgency
from tracker.course.vocabulary import (
    DEFAULT_HORIZON_DAYS,
    FollowUpStatus,
    PatientFilter,
    RepeatWindow,
    milestone_words,
)
from tracker.database import reading
from tracker.errors import ValidationError
from tracker.paging import PAGE_SIZE, Page, nearer_end, page_number
from tracker.paging import page_size as checked_size
from tracker.progress import outlook, outlook_tally
from tracker.progress.outlook import SPAN, SPAN_COLUMNS, Facts

OVERDUE, DUE, UPCOMING = FollowUpStatus.OVERDUE, FollowUpStatus.DUE, FollowUpStatus.UPCOMING
OPEN, OPENS = RepeatWindow.OPEN, RepeatWindow.OPENS
MAX_HORIZON_DAYS = 366


@dataclass(frozen=True)
class FollowUp:
    """One patient's next milestone visit. ``days_to_target`` is negative once the target has passed;
    ``overdue_since`` (the target date that passed with no visit) and ``days_overdue`` are set when overdue;
    ``days_until_open``: days until the window opens (0 once open). ``lists``: the follow-up lists the row is
    on. ``last_visit``: the latest live visit on or before today, measured or not; ``latest_change``: the
    latest judged change from baseline in words (``latest_change_words``)."""

    mrn: str
    full_name: str
    milestone: str
    milestone_label: str
    window_start: date
    window_end: date
    target: date
    status: FollowUpStatus
    days_to_target: int
    note: str = ""
    overdue_since: date | None = None
    days_overdue: int | None = None
    lists: frozenset[PatientFilter] = frozenset()
    last_visit: date | None = None
    latest_change: str = ""
    days_until_open: int = 0


@dataclass(frozen=True)
class RepeatSessionWindow:
    """A patient whose repeat-session window is open (``open``) or opens within the horizon (``opens``)."""

    mrn: str
    full_name: str
    latest_session: date
    window_start: date
    window_end: date
    state: RepeatWindow
    days_until_open: int
    days_until_close: int


@dataclass(frozen=True)
class UnmeasuredPatient:
    mrn: str
    full_name: str
    first_session: date


@dataclass(frozen=True)
class Schedule:
    """The schedule on ``today``: a page of the follow-ups on the list ``shown`` (``None``: on any list with the
    look-ahead), of the repeat-session windows, and of the patients treated but not measured; each ``Page`` says
    how many there are in all."""

    today: date
    horizon_days: int
    follow_ups: Page[FollowUp]
    repeat_sessions: Page[RepeatSessionWindow]
    unmeasured: Page[UnmeasuredPatient]
    shown: PatientFilter | None = None

    def listed(self, kind: PatientFilter | None = None) -> tuple[FollowUp, ...]:
        """The follow-ups on the list ``kind`` (``None``: every follow-up), most urgent first."""
        return tuple(f for f in self.follow_ups if kind is None or kind in f.lists)


def schedule(actor: Actor, today: date | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS,
             url: str | None = None, *, shown: PatientFilter | None = None, page: int = 1, repeat_page: int = 1,
             unmeasured_page: int = 1, page_size: int = PAGE_SIZE) -> Schedule:
    """The schedule as of ``today`` (default: today): page ``page`` of the follow-ups on the list ``shown`` (None:
    every follow-up on a list), page ``repeat_page`` of the repeat-session windows open or opening within
    ``horizon_days``, page ``unmeasured_page`` of the patients treated but not measured.

    Reads the maintained outlook (``tracker.progress.outlook``) with indexed queries whatever the number of patients,
    without SQLite's write lock; for a day before some patient's latest record the engine is run instead (same
    rows). Records one "view" audit entry naming the patients shown. Raises ValidationError for a look-ahead
    outside 0–366 days or a page that is not a whole number from 1.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or not 0 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ValidationError(f"Look ahead between 0 and {MAX_HORIZON_DAYS} days.")
    pages = (page_number(page), page_number(repeat_page), page_number(unmeasured_page))
    size = checked_size(page_size)
    with reading(url) as session:
        read = _from_spans if outlook.covered(session.connection(), today) else _from_engine
        found, ids = read(session, today, horizon_days, shown, pages, size)
        if any(part.number > part.pages for part in found):  # past a list's last page: its last one
            pages = (min(pages[0], found[0].pages), min(pages[1], found[1].pages), min(pages[2], found[2].pages))
            found, ids = read(session, today, horizon_days, shown, pages, size)
        plan = Schedule(today, horizon_days, *found, shown=shown)
        audit.record(session, actor, "view", patient_ids=ids,
                     detail=f"schedule as of {today.isoformat()}, {horizon_days} days ahead, "
                            f"{shown or 'all follow-ups'}: {plan.follow_ups.total} follow-ups, "
                            f"{plan.repeat_sessions.total} repeat windows, {plan.unmeasured.total} not measured; "
                            "the pages shown")
    return plan


_P = models.Patient
Sections = tuple[Page[FollowUp], Page[RepeatSessionWindow], Page[UnmeasuredPatient]]


def _from_spans(session: Session, today: date, horizon_days: int, shown: PatientFilter | None,
                pages: tuple[int, int, int], size: int) -> tuple[Sections, set[int]]:
    """Each section from the spans holding ``today``, read from its list's index (removed patients have none), from
    the nearer end. Totals from the lists' tally (``outlook_tally``); a look-ahead other than the tallied one counts
    what depends on it over the spans."""
    # Every list names a visit to book (``outlook.on_list``): with the day and "measured", their indexes answer alone.
    booked = [outlook.holds(today), SPAN.c.measured.is_(True)]
    unmeasured = [SPAN.c.measured.is_(False), SPAN.c.day0.is_not(None), outlook.holds(today)]
    ids: set[int] = set()
    tallied = horizon_days == DEFAULT_HORIZON_DAYS
    wanted = [outlook_tally.UNMEASURED, outlook_tally.REPEAT_OPEN]
    if tallied:
        wanted.append(outlook_tally.REPEAT_OPENS)
    if shown in outlook_tally.SCHEDULE_LISTS and (tallied or shown != PatientFilter.UPCOMING):
        wanted.append(outlook_tally.schedule_list(shown))
    elif not shown and tallied:
        wanted.append(outlook_tally.EVERY_FOLLOW_UP)
    kept = outlook_tally.counts(session, wanted, today) or {}

    def counted(where: list[ColumnElement[bool]], name: str) -> int:
        if name in kept:
            return kept[name]
        return int(session.execute(select(func.count()).select_from(SPAN).where(*where)).scalar_one())

    def section(where: list[ColumnElement[bool]], order: tuple[Any, ...], number: int,
                name: str) -> tuple[list[Any], int]:
        total = counted(where, name)
        rows = _read(session, where, order, (number - 1) * size, size, total)
        ids.update(r.id for r in rows)
        return [(r.mrn, r.full_name, outlook.span_facts(r)) for r in rows], total

    if shown:
        follow_ups, follow_total = section([outlook.on_list(shown, today, horizon_days), *booked], outlook.BY_URGENCY,
                                           pages[0], outlook_tally.schedule_list(shown))
    else:
        follow_ups, follow_total = _every_follow_up(session, today, horizon_days, booked, pages[0], size, ids,
                                                    kept.get(outlook_tally.EVERY_FOLLOW_UP))
    # The open windows first, closing soonest first; then those opening within the look-ahead, soonest first.
    holds = outlook.holds(today)
    parts = (([SPAN.c.repeat_end >= today, SPAN.c.repeat_start <= today, holds], (SPAN.c.repeat_end, SPAN.c.mrn)),
             ([SPAN.c.repeat_start > today, SPAN.c.repeat_start <= today + timedelta(horizon_days), holds],
              (SPAN.c.repeat_start, SPAN.c.mrn)))
    counts = [counted(parts[0][0], outlook_tally.REPEAT_OPEN), counted(parts[1][0], outlook_tally.REPEAT_OPENS)]
    repeats, repeat_total = _one_after_the_other(session, parts, counts, pages[1], size, ids)
    waiting, waiting_total = section(unmeasured, (SPAN.c.day0, SPAN.c.mrn), pages[2], outlook_tally.UNMEASURED)
    return (Page(tuple(follow_up_row(m, n, f, today, horizon_days) for m, n, f in follow_ups), follow_total,
                 pages[0], size),
            Page(tuple(repeat_row(m, n, f, today) for m, n, f in repeats), repeat_total, pages[1], size),
            Page(tuple(UnmeasuredPatient(m, n, f.day0) for m, n, f in waiting if f.day0), waiting_total, pages[2],
                 size)), ids


_ROW = (_P.id, _P.mrn, _P.full_name, *SPAN_COLUMNS)


def _read(session: Session, where: list[ColumnElement[bool]], order: tuple[Any, ...], skip: int, wanted: int,
          total: int) -> list[Any]:
    """Rows ``skip`` … ``skip + wanted − 1``, in ``order``, of the ``total`` spans passing ``where``, with their
    patients' names, read from the nearer end (``nearer_end``)."""
    paged, backwards = nearer_end(select(*_ROW).select_from(SPAN.join(_P, _P.id == SPAN.c.patient_id))
                                          .where(*where), order, skip, wanted, total)
    return list(session.execute(paged))[::-1 if backwards else 1]


def _every_follow_up(session: Session, today: date, horizon_days: int, booked: list[ColumnElement[bool]], number: int,
                     size: int, ids: set[int], kept: int | None) -> tuple[list[Any], int]:
    """The page of every follow-up on a list, in urgency order, from parts that do not overlap, each read from its
    own index in that order and cut at the page's end: overdue; window open and not overdue; target date within 7
    days and neither; window opening within the look-ahead and none of those (at another look-ahead than the default,
    the last two are one part, read from a date range). The total is ``kept`` (the tally) or the sum of their counts.
    A page nearer the end reads each part from its end, cut at the page's start."""
    overdue, window_open = SPAN.c.on_overdue.is_(True), SPAN.c.window_open.is_(True)
    target_soon = outlook.on_list(PatientFilter.TARGET_SOON, today)
    opens_soon = outlook.on_list(PatientFilter.UPCOMING, today, horizon_days)
    # A follow-up that is not overdue has its target date still ahead: on every day of its span (the engine's
    # ``followup.next_visit``: a target passed with no visit is overdue), so its urgency day is today or later. Said
    # here, it lets each part seek past the spans that ended before today instead of reading and skipping them in
    # urgency order (thousands at 50,000 patients; ``test_outlook`` checks the rule on every span).
    ahead = [SPAN.c.on_overdue.is_(False), SPAN.c.urgency == 1, SPAN.c.urgency_day >= today]
    not_open = SPAN.c.window_open.is_(False)
    parts = [[overdue, *booked], [window_open, *ahead, *booked]]
    if horizon_days == DEFAULT_HORIZON_DAYS:  # both are flags (``outlook.soon``)
        parts += [[target_soon, *ahead, not_open, *booked],
                  [opens_soon, SPAN.c.target_soon.is_(False), *ahead, not_open, *booked]]
    else:
        parts.append([or_(target_soon, opens_soon), *ahead, not_open, *booked])
    total = kept if kept is not None else sum(
        session.execute(select(func.count()).select_from(SPAN).where(*where)).scalar_one() for where in parts)
    skip = (number - 1) * size
    wanted = max(0, min(size, total - skip))
    after = max(0, total - skip - wanted)  # rows after the page
    backwards = after < skip
    order = tuple(column.desc() for column in outlook.BY_URGENCY) if backwards else outlook.BY_URGENCY
    # The page's rows are among the first ``reach`` of each part, counted from the end it is read from.
    reach = (after if backwards else skip) + wanted
    heads = union_all(*(select(SPAN.c.id).where(*where).order_by(*order).limit(reach).subquery().select()
                        for where in parts)).subquery()
    rows = session.execute(select(*_ROW).select_from(SPAN.join(_P, _P.id == SPAN.c.patient_id))
                           .where(SPAN.c.id.in_(select(heads.c.id))).order_by(*order)
                           .limit(wanted).offset(reach - wanted)).all()[::-1 if backwards else 1]
    ids.update(r.id for r in rows)
    return [(r.mrn, r.full_name, outlook.span_facts(r)) for r in rows], total


def _one_after_the_other(session: Session, parts: tuple[tuple[list[ColumnElement[bool]], tuple[Any, ...]], ...],
                         counts: list[int], number: int, size: int, ids: set[int]) -> tuple[list[Any], int]:
    """The page of a list made of parts that do not overlap, each whole before the next, each read from its index in
    its own order: of ``counts`` rows each, only the parts the page falls in are read, from the nearer end."""
    rows: list[Any] = []
    start, end, before = (number - 1) * size, number * size, 0
    for (where, order), counted in zip(parts, counts, strict=True):
        if before + counted > start and before < end:
            skip = max(0, start - before)
            rows += _read(session, where, order, skip, min(counted - skip, end - before - skip), counted)
        before += counted
    ids.update(r.id for r in rows)
    return [(r.mrn, r.full_name, outlook.span_facts(r)) for r in rows], sum(counts)


def _from_engine(session: Session, today: date, horizon_days: int, shown: PatientFilter | None,
                 pages: tuple[int, int, int], size: int) -> tuple[Sections, set[int]]:
    who = session.execute(select(_P.id, _P.mrn, _P.full_name).where(_P.deleted_at.is_(None))).all()
    records = outlook.load_records(session, [w.id for w in who])
    follow_ups: list[FollowUp] = []
    repeats: list[RepeatSessionWindow] = []
    unmeasured: list[UnmeasuredPatient] = []
    for w in who:
        held = records[w.id].on(today)
        if held.day0 is None:
            continue  # not treated yet: nothing to follow
        if not held.measured:
            unmeasured.append(UnmeasuredPatient(w.mrn, w.full_name, held.day0))
        elif held.visit_status is not None:
            row = follow_up_row(w.mrn, w.full_name, held, today, horizon_days)
            if row.lists and (shown is None or shown in row.lists):
                follow_ups.append(row)
        if (held.repeat_start and held.repeat_end and held.repeat_end >= today
                and (held.repeat_start - today).days <= horizon_days):
            repeats.append(repeat_row(w.mrn, w.full_name, held, today))
    follow_ups.sort(key=lambda f: (*urgency(f.overdue_since, f.target), f.mrn))
    repeats.sort(key=lambda r: (r.state != OPEN, r.window_end if r.state == OPEN else r.window_start, r.mrn))
    unmeasured.sort(key=lambda u: (u.first_session, u.mrn))

    def paged(rows: list[Any], number: int) -> Page[Any]:
        return Page(tuple(rows[(number - 1) * size:number * size]), len(rows), number, size)

    found = paged(follow_ups, pages[0]), paged(repeats, pages[1]), paged(unmeasured, pages[2])
    by_mrn = {w.mrn: w.id for w in who}
    return found, {by_mrn[row.mrn] for part in found for row in part}


def follow_up_row(mrn: str, full_name: str, held: Facts, today: date, horizon_days: int) -> FollowUp:
    """The follow-up row of a patient with a visit to book (``held.visit_status`` set) on ``today``."""
    assert held.visit_status and held.visit_milestone and held.visit_window_start and held.visit_window_end
    assert held.visit_target
    start, end, target = held.visit_window_start, held.visit_window_end, held.visit_target
    return FollowUp(
        mrn=mrn, full_name=full_name, milestone=held.visit_milestone,
        milestone_label=milestone_words(held.visit_milestone), window_start=start, window_end=end, target=target,
        status=held.visit_status, days_to_target=(target - today).days, note=held.note,
        overdue_since=held.overdue_since,
        days_overdue=(today - held.overdue_since).days if held.overdue_since else None,
        lists=follow_up_lists(held.visit_status, start, end, target, today, horizon_days),
        last_visit=held.last_visit, latest_change=held.latest_change,
        days_until_open=max(0, (start - today).days),
    )


def repeat_row(mrn: str, full_name: str, held: Facts, today: date) -> RepeatSessionWindow:
    """The repeat-session row of a treated patient (``held.repeat_*`` set) on ``today``."""
    assert held.latest_session and held.repeat_start and held.repeat_end
    start, end = held.repeat_start, held.repeat_end
    return RepeatSessionWindow(
        mrn=mrn, full_name=full_name, latest_session=held.latest_session, window_start=start, window_end=end,
        state=OPEN if start <= today else OPENS, days_until_open=max(0, (start - today).days),
        days_until_close=(end - today).days,
    )
