"""``python -m tracker demo``: the fictional clinic of ``tracker.operations.demo_plan`` written to the database.

``load_demo`` writes that plan, one transaction per patient, with photos drawn from each visit's
density (``tracker.operations.demo_photos``) and kept by the photo store. It is idempotent: patients are known by
their MRN (``DEMO-0001`` …) and one that exists (even soft-deleted) is never written again.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from tracker.course.milestones import SALT_PROTOCOL
from tracker.course.vocabulary import site_words
from tracker.database import stored_protocol, transaction
from tracker.operations.demo_plan import (
    ACTOR,
    CAPTURE_CONDITIONS,
    CHECKLIST,
    CLINICIANS,
    MRN_PREFIX,
    PRP_PROTOCOL,
    plan_clinic,
)
from tracker.operations.demo_records import DemoPatient, DemoVisit
from tracker.records.patient_fields import parse_target_areas


@dataclass
class DemoResult:
    """What a demo load did, and where the demo patients stand (milestone results, as of ``today``)."""

    patients_added: int = 0
    patients_existing: int = 0
    protocol_added: bool = False
    sessions: int = 0
    therapies: int = 0
    visits: int = 0
    measurements: int = 0
    photos: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if self.patients_added == 0:
            head = f"Demo clinic already loaded ({self.patients_existing} fictional patients): nothing added."
        else:
            head = (
                f"Demo clinic loaded in {self.seconds:.1f} s: {self.patients_added} fictional patients "
                f"({MRN_PREFIX}0001…), {self.sessions} sessions, {self.therapies} concurrent therapies, "
                f"{self.visits} visits, {self.measurements} density measurements, {self.photos} photos."
            )
        mix = ", ".join(f"{name} {count}" for name, count in sorted(self.statuses.items()))
        return head + (f"\nMilestones as of today (per patient and site): {mix}." if mix else "")


def _ensure_protocols(url: str | None) -> tuple[dict[str, int], bool]:
    """Protocol ids by name, adding "PRP (standard)" and the alopecia areata (SALT) protocol when the clinic has
    none of that name; True when one was added."""
    with transaction(url) as session:
        added = False
        for protocol in (PRP_PROTOCOL, SALT_PROTOCOL):
            if session.scalar(select(models.Protocol.id).where(models.Protocol.name == protocol.name)) is None:
                row = stored_protocol(protocol)
                row.created_by = ACTOR  # the demo's, as its patients: ``clinic_records`` leaves it out
                session.add(row)
                added = True
        ids = {name: id_ for name, id_ in session.execute(select(models.Protocol.name, models.Protocol.id))}
    return ids, added


def _write_patient(session: Session, planned: DemoPatient, protocol_id: int | None, with_photos: bool,
                   result: DemoResult) -> None:
    patient = models.Patient(
        mrn=planned.mrn, full_name=planned.full_name, sex=planned.sex, birth_date=planned.birth_date,
        condition=planned.condition, baseline_scale=planned.baseline_scale,
        baseline_stage=planned.baseline_stage, target_areas=parse_target_areas(planned.sites), protocol_id=protocol_id,
        notes="Fictional demo patient: not a real person.", created_by=ACTOR,
    )
    session.add(patient)
    session.flush()
    for number, s in enumerate(planned.sessions):
        session.add(models.TreatmentSession(
            patient_id=patient.id, date=s.date, treatment=s.treatment, product=s.product,
            lot_number=s.lot_number, volume_ml=s.volume_ml,
            areas=", ".join(map(site_words, planned.sites)),  # as the session form prefills them
            notes=f"Session {number + 1}. Clinician: {CLINICIANS[patient.id % len(CLINICIANS)]}.",
            checklist=dict(CHECKLIST), adverse_events=s.adverse_events, created_by=ACTOR,
        ))
    for t in planned.therapies:
        session.add(models.ConcurrentTherapy(
            patient_id=patient.id, name=t.name, dose=t.dose, start=t.start, stop=t.stop, created_by=ACTOR,
        ))
    result.sessions += len(planned.sessions)
    result.therapies += len(planned.therapies)
    for number, v in enumerate(planned.visits):
        visit = models.Visit(patient_id=patient.id, date=v.date, notes=v.notes,
                             capture_conditions=dict(CAPTURE_CONDITIONS), created_by=ACTOR)
        session.add(visit)
        session.flush()
        for m in v.measurements:
            session.add(models.DensityMeasurement(
                visit_id=visit.id, site=m.site, density_per_cm2=m.density,
                shaft_diameter_um=m.shaft_diameter_um, terminal_pct=m.terminal_pct, created_by=ACTOR,
            ))
        if v.scale is not None:
            regions = v.scale.salt_regions or (None, None, None, None)
            session.add(models.ScaleScore(
                visit_id=visit.id, scale=v.scale.scale, stage=v.scale.stage, salt_score=v.scale.salt_score,
                salt_vertex_pct=regions[0], salt_posterior_pct=regions[1], salt_left_pct=regions[2],
                salt_right_pct=regions[3], created_by=ACTOR,
            ))
        result.visits += 1
        result.measurements += len(v.measurements)
        if with_photos:
            result.photos += _store_photos(session, planned, visit.id, v, number)


def _store_photos(session: Session, planned: DemoPatient, visit_id: int, visit: DemoVisit, number: int) -> int:
    from tracker.operations.demo_photos import draw_scalp_photo
    from tracker.photos.store import store_photo

    taken = datetime.combine(visit.date, datetime.min.time(), UTC) + timedelta(hours=9, minutes=30 + 7 * number)
    for view, density in visit.views:
        jpeg = draw_scalp_photo(density, view, planned.photo_seed, jitter=number, captured_at=taken)
        store_photo(session, visit_id=visit_id, view=view, data=jpeg,
                    file_name=f"{planned.mrn}_{visit.date.isoformat()}_{view}.jpg", actor=ACTOR)
    return len(visit.views)


def milestone_statuses(url: str | None = None, today: date | None = None) -> dict[str, int]:
    """How many milestone results (per demo patient, site and milestone) have each status."""
    from tracker.progress.patient_progress import patient_progress

    counts: Counter[str] = Counter()
    with transaction(url) as session:
        patients = session.scalars(
            select(models.Patient).where(models.Patient.mrn.like(f"{MRN_PREFIX}%"), models.Patient.deleted_at.is_(None))
        ).all()
        for patient in patients:
            progress = patient_progress(session, patient, today or date.today())
            counts.update(m.status for site in progress.sites for m in site.milestones)
    return dict(counts)


def load_demo(url: str | None = None, *, today: date | None = None, with_photos: bool = True,
              seed: int = 2026, limit: int | None = None) -> DemoResult:
    """Write the fictional clinic into the database at ``url`` (default: the configured one).

    Parameters:
        url: database URL; ``None`` uses ``DATABASE_URL`` / the embedded SQLite database.
        today: the last day the clinic's records may carry (default: the current date).
        with_photos: draw and store two photos per visit (a few hundred in all); ``False`` is faster.
        seed: the same seed and ``today`` make the same clinic.
        limit: only the first ``limit`` patients (a later run without it adds the rest).

    Idempotent: patients whose MRN already exists are left alone, so a second run adds nothing.
    """
    started = time.perf_counter()
    today = today or date.today()
    result = DemoResult()
    protocol_ids, result.protocol_added = _ensure_protocols(url)
    with transaction(url) as session:
        existing = set(session.scalars(select(models.Patient.mrn).where(models.Patient.mrn.like(f"{MRN_PREFIX}%"))))
    for planned in plan_clinic(today, seed)[:limit]:
        if planned.mrn in existing:
            result.patients_existing += 1
            continue
        # One transaction per patient: the database is never locked for the whole load, and an
        # interrupted load resumes where it stopped.
        with transaction(url) as session:
            _write_patient(session, planned, protocol_ids.get(planned.protocol_name), with_photos, result)
        result.patients_added += 1
    if result.patients_added:
        from tracker.access import audit
        from tracker.access.actors import os_user

        with transaction(url) as session:  # the rows' author is 'demo'; the trail also names who ran it
            audit.record(session, None, "import", username=ACTOR,
                         detail=f"demo clinic: {result.patients_added} fictional patients added "
                                f"(OS user {os_user()})")
    result.statuses = milestone_statuses(url, today)
    result.seconds = time.perf_counter() - started
    return result


# What ``demo --if-empty`` looks at, in the words it prints. Every table of the clinic's own records is here;
# the audit trail and sign-in attempts are not (they follow from these), nor the default protocol that set-up
# seeds (``created_by`` 'system').
_RECORD_WORDS = (
    (models.Patient, "patient", "patients"),
    (models.TreatmentSession, "treatment session", "treatment sessions"),
    (models.Visit, "visit", "visits"),
    (models.DensityMeasurement, "density measurement", "density measurements"),
    (models.ScaleScore, "scale score", "scale scores"),
    (models.Photo, "photo", "photos"),
    (models.ConcurrentTherapy, "concurrent therapy", "concurrent therapies"),
    (models.BatchDocument, "batch document", "batch documents"),
    (models.Protocol, "protocol", "protocols"),
)


def clinic_records(url: str | None = None) -> str:
    """What the installation holds that neither the demo clinic nor set-up wrote, in words ('1 account,
    3 patients'); empty for an installation the demo may be loaded into. An account counts: the first admin
    is created on the command line before the first ``make run`` (README), and that installation is real."""
    counts: list[tuple[int, str, str]] = []
    with transaction(url) as session:
        accounts = session.scalar(select(func.count(models.User.id)).where(models.User.is_demo.is_(False))) or 0
        counts.append((accounts, "account", "accounts"))
        for model, one, many in _RECORD_WORDS:
            authors = (ACTOR, "system") if model is models.Protocol else (ACTOR,)
            theirs = ~model.created_by.in_(authors) | model.created_by.is_(None)
            if model is models.Protocol:  # a seeded or demo protocol that the clinic edited is the clinic's
                theirs = theirs | (model.version != 1)
            counts.append((session.scalar(select(func.count()).select_from(model).where(theirs)) or 0, one, many))
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)
