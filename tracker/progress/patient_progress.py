"""One patient's progress: read their records, run the milestone engine, and report it as plain data.

``patient_progress`` is what the progress page, the consult screen, the report and
``python -m tracker progress`` all use; ``progress_json`` is the documented JSON shape.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.access.patient_lookup import with_mrn
from tracker.course.milestones import DensityRecord, Progress, Protocol, SessionRecord, SiteProgress, assess
from tracker.course.protocols import to_engine
from tracker.course.salt import SaltCourse, SaltRecord, outcome_records, salt_course
from tracker.course.vocabulary import MeasurementMethod, OutcomeMeasure
from tracker.database import AnyRow, Reads, read_connection, reading
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
# The columns after the three optional metrics say how the density was measured: the method and, for an
# assisted count, the hairs counted and the field (mm) from its ``count_detail`` (tracker.records.counted_density).
_COUNTED = (_measure.c.method, _measure.c.count_detail["count"].as_integer(),
            _measure.c.count_detail["field_width_mm"].as_float(), _measure.c.count_detail["field_height_mm"].as_float())
MEASUREMENTS = (
    select(_visit.c.date, _measure.c.site, _measure.c.density_per_cm2, _measure.c.shaft_diameter_um,
           _measure.c.terminal_pct, _measure.c.anagen_pct, *_COUNTED)
    .select_from(_visit.join(_measure, _measure.c.visit_id == _visit.c.id))
    .where(_visit.c.patient_id == bindparam("patient_id"), _visit.c.deleted_at.is_(None),
           _measure.c.deleted_at.is_(None))
    .order_by(_visit.c.date, _measure.c.id)
)


_scale = models.Base.metadata.tables[models.ScaleScore.__tablename__]
_patient = models.Base.metadata.tables[models.Patient.__tablename__]
_protocol = models.Base.metadata.tables[models.Protocol.__tablename__]
_LIVE_SALT = (_visit.c.deleted_at.is_(None), _scale.c.deleted_at.is_(None), _scale.c.scale == "salt",
              _scale.c.salt_score.is_not(None))
SALT_SCORES = (
    select(_visit.c.date, _scale.c.salt_score)
    .select_from(_visit.join(_scale, _scale.c.visit_id == _visit.c.id))
    .where(_visit.c.patient_id == bindparam("patient_id"), *_LIVE_SALT)
    .order_by(_visit.c.date, _scale.c.id)
)
# Every live patient on a SALT protocol, for the lists that judge the whole clinic at once.
CLINIC_SALT_SCORES = (
    select(_visit.c.patient_id, _visit.c.date, _scale.c.salt_score)
    .select_from(_visit.join(_scale, _scale.c.visit_id == _visit.c.id)
                 .join(_patient, _patient.c.id == _visit.c.patient_id)
                 .join(_protocol, _protocol.c.id == _patient.c.protocol_id))
    .where(_patient.c.deleted_at.is_(None), _protocol.c.outcome_measure == OutcomeMeasure.SALT.value, *_LIVE_SALT)
    .order_by(_visit.c.date, _scale.c.id)
)


def read_salt_scores(session: Reads, patient_id: int) -> list[SaltRecord]:
    """A patient's live SALT scores (0–100) with their visit date, oldest first."""
    rows = read_connection(session).execute(SALT_SCORES, {"patient_id": patient_id}).all()
    return [SaltRecord(day, score) for day, score in rows]


def read_measurements(session: Reads, patient_id: int) -> list[AnyRow]:
    """A patient's live density measurements with their visit date and optional metrics, oldest first."""
    return list(read_connection(session).execute(MEASUREMENTS, {"patient_id": patient_id}).all())


def load_records(session: Reads, patient_id: int, measurements: list[AnyRow] | None = None,
                 protocol: Protocol | None = None) -> tuple[list[SessionRecord], list[DensityRecord]]:
    """A patient's live sessions and the series the engine judges for ``protocol`` (soft-deleted rows are left
    out): the density measurements, or for a SALT protocol the SALT scores as the one site "scalp"
    (``tracker.course.salt.outcome_records``). ``protocol`` None reads the density measurements.

    ``measurements`` are rows of ``read_measurements`` when the caller has read them already.
    """
    sessions = [SessionRecord(*row) for row in read_connection(session).execute(SESSIONS,
                                                                                {"patient_id": patient_id}).all()]
    if protocol is not None and protocol.judged_on_salt:
        return sessions, outcome_records(protocol, (), read_salt_scores(session, patient_id))
    if measurements is None:
        measurements = read_measurements(session, patient_id)
    return sessions, [density_record(row) for row in measurements]


def density_record(row: AnyRow) -> DensityRecord:
    """A row of ``read_measurements`` as the engine's record, with how it was measured."""
    day, site, density, _shaft, _terminal, _anagen, method, hairs, width, height = row
    counted = method == MeasurementMethod.COUNTED and hairs is not None and width and height
    return DensityRecord(day, site, density, method, hairs if counted else None,
                         (width, height) if counted else None)


def patient_progress(session: Session, patient: models.Patient, as_of: date | None = None) -> Progress:
    """The engine's judgement of ``patient`` on their protocol's outcome measure (density or SALT)."""
    protocol = to_engine(patient.protocol)
    sessions, measurements = load_records(session, patient.id, protocol=protocol)
    return assess(sessions, measurements, protocol, as_of)


def density_progress(session: Reads, patient_id: int, protocol: Protocol, as_of: date | None = None) -> Progress:
    """A SALT-protocol patient's density measurements as the engine sees them, but judged against nothing: the
    protocol without milestone windows, so each site has its baseline and measurements and no milestones
    (its band is in % of SALT improvement, which says nothing about hairs/cm²)."""
    sessions, densities = load_records(session, patient_id)
    return assess(sessions, densities, replace(protocol, windows=()), as_of)


def _iso(value: date | None) -> str | None:
    # The JSON of ``progress --json`` is read by machines: YYYY-MM-DD whatever the clinic's date format.
    return value.isoformat() if value else None


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _site_json(site: SiteProgress) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "site": site.site,
        "baseline": (
            {"date": _iso(site.baseline.date), "density": _num(site.baseline.density)} if site.baseline else None
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
    # Every measurement with how it was made; a SALT protocol's density sites have only these (no band, no status).
    entry["measurements"] = [_measurement_json(m) for m in site.measurements]
    return entry


def _measurement_json(record: DensityRecord) -> dict[str, Any]:
    """``{"date", "density", "method"}``, and for an assisted count ``"hairs"`` and ``"field_mm"`` [w, h]."""
    entry: dict[str, Any] = {"date": _iso(record.date), "density": _num(record.density), "method": record.method}
    if record.hairs is not None and record.field_mm is not None:
        entry |= {"hairs": record.hairs, "field_mm": list(record.field_mm)}
    return entry


def salt_json(course: SaltCourse) -> dict[str, Any]:
    """The ``"salt"`` object of ``progress --json`` (README, "progress"): SALT scores 0–100, improvement and
    band in % of the baseline score, noise in percentage points of improvement."""
    return {
        "baseline": (
            {"date": _iso(course.baseline.date), "score": _num(course.baseline.density)} if course.baseline else None
        ),
        "scores": [{"date": _iso(record.date), "score": _num(record.score)} for record in course.scores],
        "milestones": [
            {
                "name": m.result.name,
                "window_start": _iso(m.result.window_start),
                "window_end": _iso(m.result.window_end),
                "target": _iso(m.result.target),
                "visit_date": _iso(m.result.visit_date),
                "score": _num(m.score),
                "months": _num(m.result.months),
                "improvement_pct": _num(m.improvement_pct),
                "expected_low": _num(m.result.expected_low),
                "expected_high": _num(m.result.expected_high),
                "noise": _num(m.result.noise),
                "status": m.result.status,
                "endpoints": (
                    {"response": m.endpoints.response, "salt50": m.endpoints.salt50, "salt75": m.endpoints.salt75,
                     "salt90": m.endpoints.salt90}
                    if m.endpoints else None
                ),
            }
            for m in course.milestones
        ],
    }


def to_json(mrn: str, protocol_name: str, progress: Progress, density: Progress | None = None) -> dict[str, Any]:
    """The documented JSON shape (README, "progress"): dates ISO, numbers rounded to 2 decimals.

    ``progress``: the engine's judgement on the protocol's outcome measure. For a SALT protocol pass also
    ``density``, the density measurements assessed without milestone windows: ``"sites"`` then lists them
    as measured (``"measurements"``, empty ``"milestones"``: no band, no status) and ``"salt"`` holds the
    judged course; ``"outcome"`` says which (``"density"`` or ``"salt"``).
    """
    salt = density is not None
    return {
        "mrn": mrn,
        "as_of": _iso(progress.as_of),
        "protocol": protocol_name,
        "outcome": OutcomeMeasure.SALT if salt else OutcomeMeasure.DENSITY,
        "day0": _iso(progress.day0),
        "sites": [_site_json(site) for site in (density or progress).sites],
        **({"salt": salt_json(salt_course(progress))} if salt else {}),
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
    with audit.refusals_recorded(actor, "progress", mrn, url), reading(url) as session:
        require_role(actor, *STAFF)
        patient = find_patient(session, mrn)
        protocol = to_engine(patient.protocol)
        progress = patient_progress(session, patient, as_of)
        density = density_progress(session, patient.id, protocol, as_of) if protocol.judged_on_salt else None
        audit.record(session, actor, "view", patient_id=patient.id, detail="progress (JSON or text)")
        return to_json(patient.mrn, protocol.name, progress, density)
