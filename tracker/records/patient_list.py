"""The clinician's follow-up list: every live patient with the next milestone, its status and due date.

``list_patients`` (staff, one read-only transaction, audited as a view, one page of plain data back) reads the
maintained outlook (``tracker.progress.outlook``), 50 rows a page. It is searchable by name or MRN and filtered to
one follow-up list: "window open now", "target date within 7 days", "overdue" (the same lists, on the
same dates, as the schedule: ``tracker.course.followup.NextVisit.lists``) or "behind expected" (the engine's
status, with the measurement noise, at the latest milestone measured). A filtered list is sorted by urgency as
the schedule is; the whole list by name. Every row says the latest visit and the latest judged change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import show_date
from tracker.course.calendar_months import age_on
from tracker.course.followup import follow_up_lists, urgency
from tracker.course.milestones import BEHIND
from tracker.course.vocabulary import PatientFilter, milestone_words, status_words
from tracker.course.wording import count
from tracker.database import reading
from tracker.errors import ValidationError
from tracker.paging import PAGE_SIZE, Page, counted_to, last_page, nearer_end, page_number
from tracker.paging import page_size as checked_size
from tracker.progress import outlook, outlook_tally
from tracker.progress.outlook import OUTLOOK, SPAN, SPAN_COLUMNS, Facts, StatusKind
from tracker.records.name_index import few_named
from tracker.records.patient_search import search_conditions
from tracker.validation import fold, search_words

# The patient list's filters, in the order offered (words: ``vocabulary.patient_filter_words``). "Upcoming"
# needs a look-ahead: it is the schedule's.
FILTERS = (PatientFilter.WINDOW_OPEN, PatientFilter.TARGET_SOON, PatientFilter.OVERDUE, PatientFilter.BEHIND)


@dataclass(frozen=True)
class PatientSummary:
    """One row of the patient list. ``next_*``, ``window_*``: the first milestone not yet visited whose window
    has not closed (``next_due`` is its target date). ``lists``: the filters the patient passes.
    ``overdue_since``: the target date that passed with no visit. ``last_visit``: the latest live visit on
    or before today, measured or not; ``latest_change``: the latest judged change from baseline in words
    (``tracker.course.change_words.latest_change_words``)."""

    mrn: str
    full_name: str
    age: int
    sex: str
    condition: str
    day0: date | None
    next_milestone: str | None
    next_milestone_label: str | None
    next_status: str | None
    next_due: date | None
    window_start: date | None
    window_end: date | None
    status_text: str
    overdue: bool
    behind: bool
    lists: frozenset[PatientFilter] = frozenset()
    overdue_since: date | None = None
    last_visit: date | None = None
    latest_change: str = ""


def status_text(held: Facts, today: date) -> str:
    """The status sentence of a patient with these facts on ``today``, e.g. "window open; target date in 12 days"."""
    kind = held.status_kind
    if kind == StatusKind.UNTREATED:
        return "no treatment session yet"
    if kind == StatusKind.UNMEASURED:
        return "nothing measured yet"  # no density, or no SALT score for a SALT protocol
    if kind == StatusKind.TARGET_PASSED and held.next_due:
        part = f"overdue: target date {show_date(held.next_due)} passed"
    elif kind in (StatusKind.TARGET_PASSED, StatusKind.WINDOW_MISSED):
        part = "overdue: a milestone window closed without a visit"
    elif kind == StatusKind.WINDOW_OPEN and held.next_due:
        # Said with its dates, not "due now": an open window's target date may be weeks away (issue #11).
        days = (held.next_due - today).days
        part = "window open; target date " + (f"in {count(days, 'day')}" if days else "today")
    elif kind == StatusKind.WINDOW_OPENS and held.next_window_start:
        part = f"window opens in {count((held.next_window_start - today).days, 'day')}"
    else:
        part = "all milestones assessed"
    return part + (f"; latest result {status_words(BEHIND).phrase}" if held.behind else "")


def summary(mrn: str, full_name: str, birth_date: date, sex: str, condition: str, held: Facts,
            today: date) -> PatientSummary:
    """The row of one patient with the facts ``held`` on ``today`` (what is counted from today is counted here)."""
    lists: frozenset[PatientFilter] = frozenset()
    if held.visit_status is not None and held.visit_window_start and held.visit_window_end and held.visit_target:
        lists = follow_up_lists(held.visit_status, held.visit_window_start, held.visit_window_end,
                                held.visit_target, today)
    if held.behind:
        lists |= {PatientFilter.BEHIND}
    return PatientSummary(
        mrn=mrn, full_name=full_name, age=age_on(birth_date, today), sex=sex, condition=condition, day0=held.day0,
        next_milestone=held.next_name,
        next_milestone_label=milestone_words(held.next_name) if held.next_name else None,
        next_status=held.next_status, next_due=held.next_due, window_start=held.next_window_start,
        window_end=held.next_window_end, status_text=status_text(held, today), overdue=held.overdue,
        behind=held.behind, lists=lists, overdue_since=held.overdue_since, last_visit=held.last_visit,
        latest_change=held.latest_change,
    )


def list_patients(actor: Actor, query: str = "", filter: str | None = None, today: date | None = None,
                  url: str | None = None, *, page: int = 1, page_size: int = PAGE_SIZE) -> Page[PatientSummary]:
    """Page ``page`` (``page_size`` rows) of the live patients matching ``query`` (words found in name or MRN,
    whatever the capitals and accents): all of them sorted by name, or those on one follow-up list sorted by
    urgency (overdue first, longest overdue first; then target date, nearest first; then MRN:
    ``tracker.course.followup.urgency``).

    ``filter``: None (all), ``"window_open"`` (the milestone's window contains today), ``"target_soon"``
    (its target date is today or within 7 days), ``"overdue"``, or ``"behind"`` (the latest milestone
    measured is ``behind`` on any site: below the band by more than the noise). The milestone tested is the
    schedule's (``tracker.course.followup.next_visit``).

    Reads the maintained outlook (``tracker.progress.outlook``): a few indexed queries whatever the number of
    patients, without SQLite's write lock. For a day before some patient's latest record, the engine is run for
    every matching patient instead (same rows). Audited as one view naming the patients shown. Raises
    ValidationError for another filter or a page that is not a whole number from 1.
    """
    require_role(actor, *STAFF)
    if filter not in (None, "", *FILTERS):
        raise ValidationError(f"Unknown filter {filter!r}: use one of {', '.join(FILTERS)}.")
    number, size = page_number(page), checked_size(page_size)
    kind = PatientFilter(filter) if filter else None
    today = today or date.today()
    with reading(url) as session:
        read = _from_spans if outlook.covered(session.connection(), today) else _from_engine
        rows, total, ids, more = read(session, query, kind, today, number, size)
        if number > last_page(total, size) and not more:  # past the last page (the list got shorter): the last one
            number = last_page(total, size)
            rows, total, ids, more = read(session, query, kind, today, number, size)
        shown = Page(tuple(rows), total, number, size, more)
        audit.record(session, actor, "view", patient_ids=ids,
                     detail=f"patient list page {number} of {shown.pages}{'+' if more else ''}: {len(rows)} shown "
                            f"of {'more than ' if more else ''}{total}")
    return shown


_P = models.Patient
_WHO = (_P.id, _P.mrn, _P.full_name, _P.birth_date, _P.sex, _P.condition)


def _search(query: str, mrn: Any) -> list[ColumnElement[bool]]:
    """Each word of ``query`` in the stored folded name or the MRN column ``mrn`` (``tracker.validation.fold``: no
    Python function per row on SQLite)."""
    return [or_(func.lower(mrn).contains(word, autoescape=True),
                OUTLOOK.c.name_key.contains(fold(word) or "", autoescape=True))
            for word in search_words(query)]


def _from_spans(session: Session, query: str, kind: PatientFilter | None, today: date, number: int,
                size: int) -> tuple[list[PatientSummary], int, list[int], bool]:
    """One page from the outlook: its rows, the total, the patients' ids, and whether there are more than the total
    (a search). By name: the page's patients from the name index, then their spans holding ``today``. On a list: the
    spans holding ``today`` read from that list's index in urgency order, then the page's rows. Removed patients
    have no outlook (``outlook.refresh``), so no row of theirs is read."""
    if kind is None:
        order: tuple[Any, ...] = (OUTLOOK.c.name_key, OUTLOOK.c.mrn)
        named = select(OUTLOOK.c.patient_id).where(*_search(query, OUTLOOK.c.mrn))
        ids, total, more = _ids(session, query, named, order, OUTLOOK.c.patient_id, outlook_tally.PATIENTS, today,
                                number, size)
        found = {r.id: r for r in session.execute(
            select(*_WHO, *SPAN_COLUMNS).join(SPAN, SPAN.c.patient_id == _P.id)
            .where(_P.id.in_(ids), outlook.holds(today)))}
        chosen = [found[pid] for pid in ids if pid in found]
    else:
        # A search joins the outlook for the name: its MRN too, which PostgreSQL's trigram index covers.
        where = [outlook.on_list(kind, today), outlook.holds(today), *_search(query, OUTLOOK.c.mrn)]
        spans = SPAN.join(OUTLOOK, OUTLOOK.c.patient_id == SPAN.c.patient_id) if search_words(query) else SPAN
        span_ids, total, more = _ids(session, query, select(SPAN.c.id).select_from(spans).where(*where),
                                     outlook.BY_URGENCY, SPAN.c.patient_id, outlook_tally.patient_list(kind), today,
                                     number, size)
        found = {r.span_id: r for r in session.execute(
            select(SPAN.c.id.label("span_id"), *_WHO, *SPAN_COLUMNS).join(_P, _P.id == SPAN.c.patient_id)
            .where(SPAN.c.id.in_(span_ids)))}
        chosen = [found[sid] for sid in span_ids if sid in found]
    rows = [summary(r.mrn, r.full_name, r.birth_date, r.sex, r.condition, outlook.span_facts(r), today) for r in chosen]
    return rows, total, [r.id for r in chosen], more


def _ids(session: Session, query: str, matching: Select[Any], order: tuple[Any, ...], column_of_patient: Any,
         tally: str, today: date, number: int, size: int) -> tuple[list[Any], int, bool]:
    """The ids of page ``number`` of ``matching`` in ``order``, the total and whether there are more than it.

    A search reads the ids in order up to ``counted_to`` (one read of the index serves the page and its total: "more
    than 100" beyond), among the patients the trigram index names when they are few (``name_index.few_named``;
    ``column_of_patient``: the patient's id in ``matching``). The whole list or one of its filters takes its total
    from the tally (``outlook_tally``; a count of the rows until the tally has been counted) and reads the page from
    the nearer end of the index."""
    skip = (number - 1) * size
    if search_words(query):
        reach = counted_to(number, size)
        few = few_named(session, query, reach)
        if few is not None:  # a rare word: only the patients the trigram index names are read
            matching = matching.where(column_of_patient.in_(few))
        ids = list(session.scalars(matching.order_by(*order).limit(reach + 1)))
        return ids[skip:skip + size], min(len(ids), reach), len(ids) > reach
    kept = outlook_tally.counts(session, [tally], today)
    total = kept[tally] if kept else session.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
    paged, backwards = nearer_end(matching, order, skip, size, total)
    return list(session.scalars(paged))[::-1 if backwards else 1], total, False


def _from_engine(session: Session, query: str, kind: PatientFilter | None, today: date, number: int,
                 size: int) -> tuple[list[PatientSummary], int, list[int], bool]:
    who = session.execute(select(*_WHO).where(_P.deleted_at.is_(None), *search_conditions(session, query))).all()
    records = outlook.load_records(session, [w.id for w in who])
    rows = [(w.id, summary(w.mrn, w.full_name, w.birth_date, w.sex, w.condition, records[w.id].on(today), today))
            for w in who]
    if kind is not None:
        rows = [(pid, row) for pid, row in rows if kind in row.lists]
        rows.sort(key=lambda pair: (*urgency(pair[1].overdue_since, pair[1].next_due), pair[1].mrn))
    else:
        rows.sort(key=lambda pair: (fold(pair[1].full_name), pair[1].mrn))
    chosen = rows[(number - 1) * size:number * size]
    return [row for _pid, row in chosen], len(rows), [pid for pid, _row in chosen], False
