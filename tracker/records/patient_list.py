"""The clinician's follow-up list: every live patient with the next milestone, its status and due date.

``list_patients`` (staff, one transaction, audited as a view, plain data back) is searchable by name or MRN and
filtered to one follow-up list: "window open now", "target date within 7 days", "overdue" (the same lists, on the
same dates, as the schedule: ``tracker.course.followup.NextVisit.lists``) or "behind expected" (the engine's
status, with the measurement noise, at the latest milestone measured). A filtered list is sorted by urgency as
the schedule is; the whole list by name. Every row says the latest visit and the latest judged change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import show_date
from tracker.course.calendar_months import age_on
from tracker.course.followup import Outlook, next_visit, outlook, urgency
from tracker.course.milestones import (
    BEHIND,
    DUE,
    UPCOMING,
    DensityRecord,
    Progress,
    SessionRecord,
    assess,
)
from tracker.course.protocols import to_engine
from tracker.course.salt import outcome_records
from tracker.course.vocabulary import PatientFilter, milestone_words, status_words
from tracker.course.wording import count
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.progress.patient_progress import clinic_salt_scores
from tracker.progress.schedule import latest_change_words
from tracker.records.patient_search import search_conditions

# The patient list's filters, in the order offered (words: ``vocabulary.patient_filter_words``). "Upcoming"
# needs a look-ahead: it is the schedule's.
FILTERS = (PatientFilter.WINDOW_OPEN, PatientFilter.TARGET_SOON, PatientFilter.OVERDUE, PatientFilter.BEHIND)


@dataclass(frozen=True)
class PatientSummary:
    """One row of the patient list. ``next_*``, ``window_*``: the first milestone not yet visited whose window
    has not closed (``next_due`` is its target date). ``lists``: the filters the patient passes.
    ``overdue_since``: the target date that passed with no visit. ``last_visit``: the latest live visit on
    or before today, measured or not; ``latest_change``: the latest judged change from baseline in words
    (``tracker.progress.schedule.latest_change_words``)."""

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


def _status_text(progress: Progress, view: Outlook) -> str:
    if progress.day0 is None:
        return "no treatment session yet"
    if not progress.sites:
        return "nothing measured yet"  # no density, or no SALT score for a SALT protocol
    parts: list[str] = []
    if view.overdue:
        if view.next_status == DUE and view.next_due and progress.as_of > view.next_due:
            parts.append(f"overdue: target date {show_date(view.next_due)} passed")
        else:
            parts.append("overdue: a milestone window closed without a visit")
    elif view.next_due and view.next_window_start and view.next_status == DUE:
        # Said with its dates, not "due now": an open window's target date may be weeks away (issue #11).
        days = (view.next_due - progress.as_of).days
        parts.append("window open; target date " + (f"in {count(days, 'day')}" if days else "today"))
    elif view.next_window_start and view.next_status == UPCOMING:
        parts.append(f"window opens in {count((view.next_window_start - progress.as_of).days, 'day')}")
    else:
        parts.append("all milestones assessed")
    if view.behind:
        parts.append(f"latest result {status_words(BEHIND).phrase}")
    return "; ".join(parts)


def _summary(patient: models.Patient, progress: Progress, today: date, last_visit: date | None,
             judged_on_salt: bool = False) -> PatientSummary:
    view = outlook(progress)
    visit = next_visit(progress)
    lists = visit.lists() if visit is not None else frozenset()
    if view.behind:
        lists |= {PatientFilter.BEHIND}
    return PatientSummary(
        mrn=patient.mrn,
        full_name=patient.full_name,
        age=age_on(patient.birth_date, today),
        sex=patient.sex,
        condition=patient.condition,
        day0=progress.day0,
        next_milestone=view.next_name,
        next_milestone_label=milestone_words(view.next_name) if view.next_name else None,
        next_status=view.next_status,
        next_due=view.next_due,
        window_start=view.next_window_start,
        window_end=view.next_window_end,
        status_text=_status_text(progress, view),
        overdue=view.overdue,
        behind=view.behind,
        lists=lists,
        overdue_since=visit.overdue_since if visit is not None else None,
        last_visit=last_visit,
        latest_change=latest_change_words(progress, judged_on_salt),
    )


def _last_visits(session: Session, where: list[ColumnElement[bool]], today: date) -> dict[int, date]:
    """The latest live visit on or before ``today`` (measured or not) of each patient matching ``where``."""
    rows = session.execute(
        select(models.Visit.patient_id, func.max(models.Visit.date))
        .join(models.Patient, models.Patient.id == models.Visit.patient_id)
        .where(*where, models.Visit.deleted_at.is_(None), models.Visit.date <= today)
        .group_by(models.Visit.patient_id)
    )
    return {patient_id: day for patient_id, day in rows}


def list_patients(actor: Actor, query: str = "", filter: str | None = None, today: date | None = None,
                  url: str | None = None) -> list[PatientSummary]:
    """Live patients matching ``query`` (words found in name or MRN): all of them sorted by name, or those on one
    follow-up list sorted by urgency (overdue first, longest overdue first; then target date, nearest first;
    then MRN: ``tracker.course.followup.urgency``).

    ``filter``: None (all), ``"window_open"`` (the milestone's window contains today), ``"target_soon"``
    (its target date is today or within 7 days), ``"overdue"``, or ``"behind"`` (the latest milestone
    measured is ``behind`` on any site: below the band by more than the noise). The milestone tested is the
    schedule's (``tracker.course.followup.next_visit``). All patients' sessions, measurements and latest visit
    dates are read in bulk queries, whatever the number of patients. Raises ValidationError for another filter.
    """
    require_role(actor, *STAFF)
    if filter not in (None, "", *FILTERS):
        raise ValidationError(f"Unknown filter {filter!r}: use one of {', '.join(FILTERS)}.")
    today = today or date.today()
    with transaction(url) as session:
        # words found in the name or MRN, whatever the capitals and accents (``patient_search``)
        where = [models.Patient.deleted_at.is_(None), *search_conditions(session, query or "")]
        patients = list(session.scalars(select(models.Patient).where(*where)))
        sessions: dict[int, list[SessionRecord]] = {}
        for patient_id, day, treatment, product, lot in session.execute(
            select(models.TreatmentSession.patient_id, models.TreatmentSession.date,
                   models.TreatmentSession.treatment, models.TreatmentSession.product,
                   models.TreatmentSession.lot_number)
            .join(models.Patient, models.Patient.id == models.TreatmentSession.patient_id)
            .where(*where, models.TreatmentSession.deleted_at.is_(None))
        ):
            sessions.setdefault(patient_id, []).append(SessionRecord(day, treatment, product, lot))
        measurements: dict[int, list[DensityRecord]] = {}
        for patient_id, day, site, density in session.execute(
            select(models.Visit.patient_id, models.Visit.date, models.DensityMeasurement.site,
                   models.DensityMeasurement.density_per_cm2)
            .join(models.DensityMeasurement, models.DensityMeasurement.visit_id == models.Visit.id)
            .join(models.Patient, models.Patient.id == models.Visit.patient_id)
            .where(*where, models.Visit.deleted_at.is_(None), models.DensityMeasurement.deleted_at.is_(None))
        ):
            measurements.setdefault(patient_id, []).append(DensityRecord(day, site, density))
        protocols = {row.id: to_engine(row) for row in session.scalars(select(models.Protocol))}
        last_visits = _last_visits(session, where, today)
        salt_scores = clinic_salt_scores(session)
        summaries = []
        for patient in patients:
            # A patient's protocol_id always names a row (foreign key), so indexing cannot miss.
            protocol = protocols[patient.protocol_id] if patient.protocol_id else to_engine(None)
            # A SALT protocol's patients are judged on their SALT scores (tracker.course.salt.outcome_records).
            series = outcome_records(protocol, measurements.get(patient.id, []), salt_scores.get(patient.id, []))
            progress = assess(sessions.get(patient.id, []), series, protocol, today)
            summaries.append(_summary(patient, progress, today, last_visits.get(patient.id), protocol.judged_on_salt))
        if filter:
            summaries = [s for s in summaries if filter in s.lists]
            summaries.sort(key=lambda s: (*urgency(s.overdue_since, s.next_due), s.mrn))
        else:
            summaries.sort(key=lambda s: (s.full_name.casefold(), s.mrn))
        audit.record(session, actor, "view", detail=f"patient list: {len(summaries)} shown")
        return summaries
