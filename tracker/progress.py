"""One patient's progress: read their records, run the milestone engine, and report it as plain data.

``patient_progress`` is what the progress page, the consult screen, the report and
``python -m tracker progress`` all use; ``progress_json`` is the documented JSON shape.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.database import transaction
from tracker.errors import NotFound
from tracker.milestones import DensityRecord, Progress, SessionRecord, assess
from tracker.protocols import to_engine


def find_patient(session: Session, mrn: str) -> models.Patient:
    patient = session.scalar(
        select(models.Patient).where(models.Patient.mrn == mrn.strip(), models.Patient.deleted_at.is_(None))
    )
    if patient is None:
        raise NotFound(f"No patient with MRN {mrn.strip()!r}.")
    return patient


def load_records(session: Session, patient_id: int) -> tuple[list[SessionRecord], list[DensityRecord]]:
    """A patient's live sessions and density measurements (soft-deleted rows are left out)."""
    treatment = models.TreatmentSession
    sessions = [
        SessionRecord(*row)
        for row in session.execute(
            select(treatment.date, treatment.treatment, treatment.product, treatment.lot_number)
            .where(treatment.patient_id == patient_id, treatment.deleted_at.is_(None))
        )
    ]
    measurements = [
        DensityRecord(visit_date, site, density)
        for visit_date, site, density in session.execute(
            select(models.Visit.date, models.DensityMeasurement.site, models.DensityMeasurement.density_per_cm2)
            .join(models.DensityMeasurement, models.DensityMeasurement.visit_id == models.Visit.id)
            .where(
                models.Visit.patient_id == patient_id,
                models.Visit.deleted_at.is_(None),
                models.DensityMeasurement.deleted_at.is_(None),
            )
        )
    ]
    return sessions, measurements


def patient_progress(session: Session, patient: models.Patient, as_of: date | None = None) -> Progress:
    sessions, measurements = load_records(session, patient.id)
    return assess(sessions, measurements, to_engine(patient.protocol), as_of)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def to_json(mrn: str, protocol_name: str, progress: Progress) -> dict:
    """The documented JSON shape (README, "progress"): dates ISO, numbers rounded to 2 decimals."""
    return {
        "mrn": mrn,
        "as_of": _iso(progress.as_of),
        "protocol": protocol_name,
        "day0": _iso(progress.day0),
        "sites": [
            {
                "site": site.site,
                "baseline": (
                    {"date": _iso(site.baseline.date), "density": _num(site.baseline.density)}
                    if site.baseline else None
                ),
                "milestones": [
                    {
                        "name": m.name,
                        "window_start": _iso(m.window_start),
                        "window_end": _iso(m.window_end),
                        "target": _iso(m.target),
                        "visit_date": _iso(m.visit_date),
                        "density": _num(m.density),
                        "months": _num(m.months),
                        "change": _num(m.change),
                        "change_pct": _num(m.change_pct),
                        "expected_low": _num(m.expected_low),
                        "expected_high": _num(m.expected_high),
                        "status": m.status,
                    }
                    for m in site.milestones
                ],
            }
            for site in progress.sites
        ],
        "next_session_window": (
            {"start": _iso(progress.next_session_window.start), "end": _iso(progress.next_session_window.end)}
            if progress.next_session_window else None
        ),
        "nsaid_free": [
            {"session_date": _iso(s.session_date), "start": _iso(s.start), "end": _iso(s.end)}
            for s in progress.nsaid_free
        ],
        "active_until": (
            {"earliest": _iso(progress.active_until.start), "latest": _iso(progress.active_until.end)}
            if progress.active_until else None
        ),
    }


def progress_json(mrn: str, as_of: date | None = None, url: str | None = None) -> dict:
    with transaction(url) as session:
        patient = find_patient(session, mrn)
        progress = patient_progress(session, patient, as_of)
        protocol_name = to_engine(patient.protocol).name
        return to_json(patient.mrn, protocol_name, progress)
