"""One patient's progress: read their records, run the milestone engine, and report it as plain data.

``patient_progress`` is what the progress page, the consult screen, the report and
``python -m tracker progress`` all use; ``progress_json`` is the documented JSON shape.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.access.patient_lookup import with_mrn
from tracker.course.milestones import DensityRecord, Progress, SessionRecord, assess
from tracker.course.protocols import to_engine
from tracker.database import AnyRow, Reads, read_connection, transaction
from tracker.errors import NotFound


def find_patient(session: Session, mrn: str) -> models.Patient:
    patient = session.scalar(
        with_mrn(select(models.Patient).where(models.Patient.deleted_at.is_(None)), models.Patient.mrn, mrn)
    )
    if patient is None:
        raise NotFound(f"No patient with MRN {mrn.strip()!r}.")
    return patient


# The reads every progress view repeats, built once as Core statements: pages call them on every rerun,
# and building an ORM query costs more than running it (bench_progress_page.py).
_session = models.Base.metadata.tables[models.TreatmentSession.__tablename__]
_visit = models.Base.metadata.tables[models.Visit.__tablename__]
_measure = models.Base.metadata.tables[models.DensityMeasurement.__tablename__]
SESSIONS = (
    select(_session.c.date, _session.c.treatment, _session.c.product, _session.c.lot_number)
    .where(_session.c.patient_id == bindparam("patient_id"), _session.c.deleted_at.is_(None))
    .order_by(_session.c.date, _session.c.id)
)
MEASUREMENTS = (
    select(_visit.c.date, _measure.c.site, _measure.c.density_per_cm2, _measure.c.shaft_diameter_um,
           _measure.c.terminal_pct, _measure.c.anagen_pct)
    .select_from(_visit.join(_measure, _measure.c.visit_id == _visit.c.id))
    .where(_visit.c.patient_id == bindparam("patient_id"), _visit.c.deleted_at.is_(None),
           _measure.c.deleted_at.is_(None))
    .order_by(_visit.c.date, _measure.c.id)
)


def read_measurements(session: Reads, patient_id: int) -> list[AnyRow]:
    """A patient's live density measurements with their visit date and optional metrics, oldest first."""
    return list(read_connection(session).execute(MEASUREMENTS, {"patient_id": patient_id}).all())


def load_records(session: Reads, patient_id: int,
                 measurements: list[AnyRow] | None = None) -> tuple[list[SessionRecord], list[DensityRecord]]:
    """A patient's live sessions and density measurements (soft-deleted rows are left out).

    ``measurements`` are rows of ``read_measurements`` when the caller has read them already.
    """
    if measurements is None:
        measurements = read_measurements(session, patient_id)
    sessions = [SessionRecord(*row) for row in read_connection(session).execute(SESSIONS,
                                                                                {"patient_id": patient_id}).all()]
    return sessions, [DensityRecord(day, site, density) for day, site, density, *_ in measurements]


def patient_progress(session: Session, patient: models.Patient, as_of: date | None = None) -> Progress:
    sessions, measurements = load_records(session, patient.id)
    return assess(sessions, measurements, to_engine(patient.protocol), as_of)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def to_json(mrn: str, protocol_name: str, progress: Progress) -> dict[str, Any]:
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
                        # hairs/cm²: baseline × the protocol's noise % / 100; null where nothing was judged
                        "noise": _num(m.noise),
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


def progress_json(actor: Actor | None, mrn: str, as_of: date | None = None, url: str | None = None) -> dict[str, Any]:
    """One patient's progress in the documented JSON shape (``python -m tracker progress``); staff only,
    audited as one view of the patient."""
    with audit.refusals_recorded(actor, "progress", mrn, url), transaction(url) as session:
        require_role(actor, *STAFF)
        patient = find_patient(session, mrn)
        progress = patient_progress(session, patient, as_of)
        protocol_name = to_engine(patient.protocol).name
        audit.record(session, actor, "view", patient_id=patient.id, detail="progress (JSON or text)")
        return to_json(patient.mrn, protocol_name, progress)
