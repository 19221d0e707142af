"""The progress page's data in one call: header, chart, milestone cards, secondary series, next steps.

Used by the clinician's progress page, the consult screen, the patient's own view and the PDF report.
A patient account reaches only its own record: the MRN it asks for is checked here, not in the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker import audit
from tracker.access import PATIENT, ROLES, Actor, require_patient_access, require_role
from tracker.calendar_months import age_on, months_between
from tracker.chart_data import ProgressChart, TherapyRecord, build_chart
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied
from tracker.milestones import Progress, assess
from tracker.progress import find_patient, load_records
from tracker.protocols import to_engine
from tracker.scales import stages_for
from tracker.wording import NextStep, milestone_sentence, what_comes_next


@dataclass(frozen=True)
class MilestoneCard:
    site: str
    name: str
    status: str
    sentence: str


@dataclass(frozen=True)
class SeriesPoint:
    date: date
    months: float | None
    value: float
    label: str = ""


@dataclass(frozen=True)
class SecondarySeries:
    """Shaft diameter, terminal %, anagen % per site and scale scores over time, where measured."""

    title: str
    unit: str
    by_site: dict[str, tuple[SeriesPoint, ...]]


@dataclass(frozen=True)
class ProgressView:
    mrn: str
    full_name: str
    age: int
    sex: str
    condition: str
    protocol_name: str
    evidence_note: str
    treatments: tuple[str, ...]
    progress: Progress
    chart: ProgressChart
    cards: tuple[MilestoneCard, ...]
    secondary: tuple[SecondarySeries, ...]
    next_steps: tuple[NextStep, ...]




def resolve_patient(session: Session, actor: Actor, mrn: str | None) -> models.Patient:
    """The patient this actor asked for: a patient account always gets its own record, and only that.

    A patient account that asks for any other MRN is refused (and the attempt is audited), whether or
    not that MRN exists.
    """
    require_role(actor, *ROLES)
    if actor.role == PATIENT:
        own = session.get(models.Patient, actor.patient_id) if actor.patient_id else None
        if own is None or own.deleted_at is not None:
            raise NotFound("Your patient record is not available. Please contact the clinic.")
        if mrn and mrn.strip() != own.mrn:
            raise PermissionDenied("This record is not available to your account.")
        return own
    if not mrn:
        raise NotFound("Choose a patient first.")
    patient = find_patient(session, mrn)
    require_patient_access(actor, patient.id)
    return patient


def _secondary(session: Session, patient_id: int, day0: date | None) -> tuple[SecondarySeries, ...]:
    measure = models.DensityMeasurement
    rows = session.execute(
        select(models.Visit.date, measure.site, measure.shaft_diameter_um, measure.terminal_pct, measure.anagen_pct)
        .join(measure, measure.visit_id == models.Visit.id)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None), measure.deleted_at.is_(None))
        .order_by(models.Visit.date)
    ).all()

    def months(day: date) -> float | None:
        return round(months_between(day0, day), 4) if day0 else None

    series = []
    for column, (title, unit) in enumerate((("Shaft diameter", "µm"), ("Terminal hairs", "%"), ("Anagen hairs", "%"))):
        by_site: dict[str, list[SeriesPoint]] = {}
        for row in rows:
            value = row[2 + column]
            if value is not None:
                by_site.setdefault(row.site, []).append(SeriesPoint(row.date, months(row.date), value))
        if by_site:
            series.append(SecondarySeries(title, unit, {k: tuple(v) for k, v in by_site.items()}))
    scale = models.ScaleScore
    scores = session.execute(
        select(models.Visit.date, scale.scale, scale.stage, scale.salt_score)
        .join(scale, scale.visit_id == models.Visit.id)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None), scale.deleted_at.is_(None))
        .order_by(models.Visit.date)
    ).all()
    salt = tuple(SeriesPoint(r.date, months(r.date), r.salt_score) for r in scores
                 if r.scale == "salt" and r.salt_score is not None)
    if salt:
        series.append(SecondarySeries("SALT score", "points (0–100)", {"scalp": salt}))
    for name, title in (("norwood", "Norwood–Hamilton stage"), ("ludwig", "Ludwig stage"), ("sinclair", "Sinclair stage")):
        staged = tuple(SeriesPoint(r.date, months(r.date), _stage_rank(name, r.stage), r.stage or "")
                       for r in scores if r.scale == name and r.stage)
        if staged:
            series.append(SecondarySeries(title, "stage", {"scalp": staged}))
    return tuple(series)


def _stage_rank(scale: str, stage: str) -> float:
    """A stage's place on its scale (1 = mildest), so stages can be drawn over time."""
    stages = stages_for(scale)
    return float(stages.index(stage) + 1) if stage in stages else 0.0


def build_view(session: Session, patient: models.Patient, as_of: date) -> ProgressView:
    sessions, measurements = load_records(session, patient.id)
    protocol = to_engine(patient.protocol)
    progress = assess(sessions, measurements, protocol, as_of)
    therapy = models.ConcurrentTherapy
    therapies = [
        TherapyRecord(name, start, stop, dose or "")
        for name, start, stop, dose in session.execute(
            select(therapy.name, therapy.start, therapy.stop, therapy.dose)
            .where(therapy.patient_id == patient.id, therapy.deleted_at.is_(None)))
    ]
    cards = tuple(
        MilestoneCard(site.site, m.name, m.status, milestone_sentence(m))
        for site in progress.sites for m in site.milestones
    )
    return ProgressView(
        mrn=patient.mrn,
        full_name=patient.full_name,
        age=age_on(patient.birth_date, as_of),
        sex=patient.sex,
        condition=patient.condition,
        protocol_name=protocol.name,
        evidence_note=protocol.evidence_note,
        treatments=tuple(sorted({s.treatment for s in sessions})),
        progress=progress,
        chart=build_chart(progress, protocol, sessions, therapies),
        cards=cards,
        secondary=_secondary(session, patient.id, progress.day0),
        next_steps=tuple(what_comes_next(progress, as_of)),
    )


def progress_view(actor: Actor, mrn: str | None = None, as_of: date | None = None,
                  url: str | None = None) -> ProgressView:
    """One patient's progress page (audited as a view)."""
    as_of = as_of or date.today()
    with audit.refusals_recorded(actor, "progress", mrn, url):
        with transaction(url) as session:
            patient = resolve_patient(session, actor, mrn)
            view = build_view(session, patient, as_of)
            audit.record(session, actor, "view", patient_id=patient.id, detail="progress")
            return view
