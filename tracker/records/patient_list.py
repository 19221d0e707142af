"""The clinician's follow-up list: every live patient with the next milestone, its status and due date.

``list_patients`` (staff, one transaction, audited as a view, plain data back) is searchable by name or MRN and
filtered to "due this week", "overdue" or "behind expected".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, or_, select

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.calendar_months import age_on
from tracker.course.followup import Outlook, outlook
from tracker.course.milestones import (
    BEHIND,
    DUE,
    DensityRecord,
    Progress,
    SessionRecord,
    assess,
)
from tracker.course.protocols import to_engine
from tracker.course.salt import outcome_records
from tracker.course.vocabulary import PATIENT_FILTER_WORDS, PatientFilter, milestone_words, status_words
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.progress.patient_progress import clinic_salt_scores
from tracker.validation import search_words

# The patient list's filters (product issue): key → what the clinician sees.
DUE_THIS_WEEK, OVERDUE, BEHIND_EXPECTED = PatientFilter.DUE_THIS_WEEK, PatientFilter.OVERDUE, PatientFilter.BEHIND
FILTERS = PATIENT_FILTER_WORDS
DUE_SOON_DAYS = 7

@dataclass(frozen=True)
class PatientSummary:
    """One row of the patient list."""

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
    due_this_week: bool


def _status_text(progress: Progress, view: Outlook) -> str:
    if progress.day0 is None:
        return "no treatment session yet"
    if not progress.sites:
        return "no density measured yet"
    parts: list[str] = []
    if view.overdue:
        if view.next_status == DUE and view.next_due and progress.as_of > view.next_due:
            parts.append(f"overdue: target date {view.next_due.isoformat()} passed")
        else:
            parts.append("overdue: a milestone window closed without a visit")
    elif view.next_status:
        parts.append(status_words(view.next_status).phrase)
    else:
        parts.append("all milestones assessed")
    if view.behind:
        parts.append(f"latest result {status_words(BEHIND).phrase}")
    return "; ".join(parts)


def _summary(patient: models.Patient, progress: Progress, today: date) -> PatientSummary:
    view = outlook(progress)
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
        due_this_week=view.due_within(today, DUE_SOON_DAYS),
    )


def _search_conditions(query: str) -> list[ColumnElement[bool]]:
    """Every word of the query must appear in the name or the MRN (case-insensitive)."""
    conditions: list[ColumnElement[bool]] = []
    for word in search_words(query):
        conditions.append(or_(
            func.lower(models.Patient.full_name).contains(word, autoescape=True),
            func.lower(models.Patient.mrn).contains(word, autoescape=True),
        ))
    return conditions


def list_patients(actor: Actor, query: str = "", filter: str | None = None, today: date | None = None,
                  url: str | None = None) -> list[PatientSummary]:
    """Live patients matching ``query`` (words found in name or MRN), sorted by name.

    ``filter``: None (all), ``"due_this_week"`` (next milestone window open within 7 days),
    ``"overdue"`` or ``"behind"`` (latest assessed milestone below the band on any site). All patients'
    sessions and measurements are read in two bulk queries, whatever the number of patients.
    """
    require_role(actor, *STAFF)
    if filter not in (None, "", *FILTERS):
        raise ValidationError(f"Unknown filter {filter!r}: use one of {', '.join(FILTERS)}.")
    today = today or date.today()
    where = [models.Patient.deleted_at.is_(None), *_search_conditions(query or "")]
    with transaction(url) as session:
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
        salt_scores = clinic_salt_scores(session)
        summaries = []
        for patient in patients:
            # A patient's protocol_id always names a row (foreign key), so indexing cannot miss.
            protocol = protocols[patient.protocol_id] if patient.protocol_id else to_engine(None)
            # A SALT protocol's patients are judged on their SALT scores (tracker.course.salt.outcome_records).
            series = outcome_records(protocol, measurements.get(patient.id, []), salt_scores.get(patient.id, []))
            progress = assess(sessions.get(patient.id, []), series, protocol, today)
            summaries.append(_summary(patient, progress, today))
        if filter == DUE_THIS_WEEK:
            summaries = [s for s in summaries if s.due_this_week]
        elif filter == OVERDUE:
            summaries = [s for s in summaries if s.overdue]
        elif filter == BEHIND_EXPECTED:
            summaries = [s for s in summaries if s.behind]
        summaries.sort(key=lambda s: (s.full_name.casefold(), s.mrn))
        audit.record(session, actor, "view", detail=f"patient list: {len(summaries)} shown")
        return summaries
