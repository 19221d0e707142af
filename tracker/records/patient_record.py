"""The patient record: header, milestone strip, timeline of visits and sessions, concurrent therapies and the
record's history (``patient_record``: staff, or a patient account for its own record; audited as a view).

Concurrent therapies are added and stopped in ``tracker.records.therapies``; corrections are
``tracker.records.patient_corrections``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import PATIENT, ROLES, Actor, require_patient_access, require_role
from tracker.clinic_dates import show_date
from tracker.course.calendar_months import age_on
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME
from tracker.course.milestones import AHEAD, BEHIND, DUE, MISSED, NO_BASELINE, ON_TRACK, MilestoneResult, Progress
from tracker.course.vocabulary import (
    ASSESSED,
    OutcomeMeasure,
    condition_words,
    milestone_words,
    site_words,
    status_words,
    treatment_words,
)
from tracker.course.wording import milestone_sentence
from tracker.database import reading
from tracker.errors import NotFound, PermissionDenied
from tracker.progress.patient_progress import find_patient, patient_progress
from tracker.records.history import HistoryEntry, patient_history
from tracker.records.patient_intake import _protocol_names


@dataclass(frozen=True)
class PatientDetails:
    mrn: str
    full_name: str
    sex: str
    birth_date: date
    age: int
    condition: str
    condition_label: str
    baseline_scale: str | None
    baseline_stage: str | None
    target_areas: tuple[str, ...]
    protocol: str
    notes: str
    version: int


@dataclass(frozen=True)
class MilestoneStatus:
    """One milestone of the strip: all sites together, with a plain line per measured site."""

    name: str
    label: str
    window_start: date
    window_end: date
    target: date
    status: str
    status_text: str
    overdue: bool
    site_notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteDensity:
    site: str
    density: float


@dataclass(frozen=True)
class PhotoItem:
    id: int
    view: str
    file_name: str
    version: int


@dataclass(frozen=True)
class TimelineEntry:
    """A visit or a treatment session, in date order on the record."""

    kind: str  # "visit" or "session"
    row_id: int
    date: date
    version: int
    title: str
    densities: tuple[SiteDensity, ...] = ()
    photos: tuple[PhotoItem, ...] = ()
    treatment: str | None = None
    product: str = ""
    lot_number: str = ""
    volume_ml: float | None = None
    areas: str = ""
    adverse_events: str = ""
    notes: str = ""
    global_assessment: int | None = None  # a visit's 7-point photographic assessment, −3 … +3
    satisfaction: int | None = None  # the patient's satisfaction at a visit, 0–10


@dataclass(frozen=True)
class TherapyEntry:
    id: int
    name: str
    dose: str
    start: date
    stop: date | None
    active: bool
    version: int


@dataclass(frozen=True)
class PatientRecord:
    details: PatientDetails
    day0: date | None
    milestones: tuple[MilestoneStatus, ...]
    milestone_note: str | None
    timeline: tuple[TimelineEntry, ...]
    therapies: tuple[TherapyEntry, ...]
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)
    # For the correction form: the protocols this patient could follow instead, the default first.
    protocol_choices: tuple[str, ...] = ()


def _resolve(session: Session, actor: Actor, mrn: str) -> models.Patient:
    """The patient behind ``mrn`` if this actor may see it; a patient account learns nothing of others."""
    try:
        patient = find_patient(session, mrn or "")
    except NotFound:
        if actor.role == PATIENT:
            raise PermissionDenied("This record is not available to your account.") from None
        raise
    require_patient_access(actor, patient.id)
    return patient


def _milestone_strip(progress: Progress) -> tuple[MilestoneStatus, ...]:
    by_name: dict[str, list[tuple[str, MilestoneResult]]] = {}
    for site_progress in progress.sites:
        for result in site_progress.milestones:
            by_name.setdefault(result.name, []).append((site_progress.site, result))
    strip = []
    for name, results in sorted(by_name.items(), key=lambda item: item[1][0][1].window_start):
        first = results[0][1]
        assessed = [(site, r) for site, r in results if r.status in ASSESSED]
        if assessed:
            statuses = {r.status for _, r in assessed}
            status = next(s for s in (BEHIND, ON_TRACK, AHEAD, NO_BASELINE) if s in statuses)
        else:
            status = first.status
        overdue = status == MISSED or (status == DUE and progress.as_of > first.target)
        text = status_words(status).phrase
        if status == DUE and overdue:
            text = (f"overdue: target date {show_date(first.target)} passed, "
                    f"window open until {show_date(first.window_end)}")
        notes = [_site_note(site, r) for site, r in assessed]
        strip.append(MilestoneStatus(
            name=name, label=milestone_words(name), window_start=first.window_start,
            window_end=first.window_end, target=first.target, status=status, status_text=text, overdue=overdue,
            site_notes=tuple(notes),
        ))
    return tuple(strip)


def _site_note(site: str, r: MilestoneResult) -> str:
    """One assessed site's result at a milestone, in the progress cards' words (the noise included)."""
    visit_date = r.visit_date
    if visit_date is None:  # an assessed milestone always has the visit it was judged on
        raise ValueError(f"milestone {r.name!r} at {site!r} is assessed but has no visit date")
    if r.change is None:
        return f"{site_words(site)}: {r.density:.1f} hairs/cm² on {show_date(visit_date)}, no baseline"
    return milestone_sentence(r, title=f"{site_words(site)} on {show_date(visit_date)}")


def _timeline(session: Session, patient_id: int) -> tuple[TimelineEntry, ...]:
    visits = list(session.scalars(select(models.Visit).where(
        models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None))))
    visit_ids = [v.id for v in visits]
    densities: dict[int, list[SiteDensity]] = {}
    photos: dict[int, list[PhotoItem]] = {}
    if visit_ids:
        for m in session.scalars(select(models.DensityMeasurement).where(
                models.DensityMeasurement.visit_id.in_(visit_ids), models.DensityMeasurement.deleted_at.is_(None))
                .order_by(models.DensityMeasurement.site)):
            densities.setdefault(m.visit_id, []).append(SiteDensity(m.site, m.density_per_cm2))
        for p in session.scalars(select(models.Photo).where(
                models.Photo.visit_id.in_(visit_ids), models.Photo.deleted_at.is_(None)).order_by(models.Photo.id)):
            photos.setdefault(p.visit_id, []).append(PhotoItem(p.id, p.view, p.original_file_name or "", p.version))
    entries = [
        TimelineEntry(kind="visit", row_id=v.id, date=v.date, version=v.version, title="Visit",
                      densities=tuple(densities.get(v.id, ())), photos=tuple(photos.get(v.id, ())),
                      notes=v.notes or "", global_assessment=v.global_assessment, satisfaction=v.satisfaction)
        for v in visits
    ]
    for s in session.scalars(select(models.TreatmentSession).where(
            models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.deleted_at.is_(None))):
        entries.append(TimelineEntry(
            kind="session", row_id=s.id, date=s.date, version=s.version,
            title="Treatment session" if s.treatment == "other" else f"{treatment_words(s.treatment)} session",
            treatment=s.treatment, product=s.product or "", lot_number=s.lot_number or "", volume_ml=s.volume_ml,
            areas=s.areas or "", adverse_events=s.adverse_events or "", notes=s.notes or "",
        ))
    # Same day: the session after the visit (the baseline visit is recorded on or before day 0).
    return tuple(sorted(entries, key=lambda e: (e.date, e.kind != "visit", e.row_id)))


def _therapies(session: Session, patient_id: int, today: date) -> tuple[TherapyEntry, ...]:
    rows = session.scalars(select(models.ConcurrentTherapy).where(
        models.ConcurrentTherapy.patient_id == patient_id, models.ConcurrentTherapy.deleted_at.is_(None))
        .order_by(models.ConcurrentTherapy.start, models.ConcurrentTherapy.id))
    return tuple(
        TherapyEntry(t.id, t.name, t.dose or "", t.start, t.stop, t.stop is None or t.stop > today, t.version)
        for t in rows
    )


def _details(patient: models.Patient, today: date) -> PatientDetails:
    return PatientDetails(
        mrn=patient.mrn, full_name=patient.full_name, sex=patient.sex, birth_date=patient.birth_date,
        age=age_on(patient.birth_date, today), condition=patient.condition,
        condition_label=condition_words(patient.condition),
        baseline_scale=patient.baseline_scale, baseline_stage=patient.baseline_stage,
        target_areas=tuple(a.strip() for a in (patient.target_areas or "").split(",") if a.strip()),
        protocol=patient.protocol.name if patient.protocol else DEFAULT_PROTOCOL_NAME,
        notes=patient.notes or "", version=patient.version,
    )


def patient_record(actor: Actor, mrn: str, today: date | None = None, url: str | None = None) -> PatientRecord:
    """The whole record of one patient (audited as a view). Staff see every patient; a patient account
    only its own record, and a refusal never says whether another MRN exists."""
    require_role(actor, *ROLES)
    today = today or date.today()
    with reading(url) as session:  # reads without SQLite's write lock; the audit entry is written just after
        patient = _resolve(session, actor, mrn)
        progress = patient_progress(session, patient, today)
        if progress.day0 is None:
            note = "No treatment session yet: day 0 is the first session, and the milestones follow from it."
        elif not progress.sites and patient.protocol and patient.protocol.outcome_measure == OutcomeMeasure.SALT:
            # A SALT protocol follows the SALT score alone: densities alone do not place its milestones.
            note = ("No SALT score yet: this protocol is judged on SALT; record one at a visit to follow the "
                    "milestones.")
        elif not progress.sites:
            note = "No density measurement yet: record a baseline visit to follow the milestones."
        else:
            note = None
        record = PatientRecord(
            details=_details(patient, today),
            day0=progress.day0,
            milestones=_milestone_strip(progress),
            milestone_note=note,
            timeline=_timeline(session, patient.id),
            therapies=_therapies(session, patient.id, today),
            # The change history carries the clinicians' reasons for corrections: staff reading only.
            history=tuple(patient_history(session, patient.id)) if actor.is_staff else (),
            protocol_choices=tuple(_protocol_names(session)) if actor.is_staff else (),
        )
        audit.record(session, actor, "view", patient_id=patient.id, detail="patient record")
        return record
