"""What the record page's correction forms start from (``correctable_entries``, staff only): every live visit,
density measurement, scale score, treatment session and photo of one patient, with its version and its values as
recorded, in the record's date order.

The forms are pre-filled with these values; the version is the one the clinician opened, which the correction
services check (``tracker.records.*_corrections``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import show_date
from tracker.course.scales import SCALE_LABELS
from tracker.course.vocabulary import site_words, treatment_words, view_words
from tracker.database import reading
from tracker.progress.patient_progress import find_patient
from tracker.records.treatment_sessions import PRE_SESSION_CHECKS
from tracker.records.visit_form import CAPTURE_CHECKS

VISIT, MEASUREMENT, SCALE_SCORE, SESSION, PHOTO = "visit", "measurement", "scale score", "session", "photo"


@dataclass(frozen=True)
class CorrectableEntry:
    """One row a clinician may correct: ``kind`` (visit, measurement, scale score, session or photo), its id and
    version, the words it is chosen by, and its ``values`` as recorded, by the field names the correction
    service takes (dates as dates, numbers as floats in their units, a checklist as {key: ticked})."""

    kind: str
    row_id: int
    version: int
    label: str
    day: date
    values: Mapping[str, object] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.row_id}"


def correctable_entries(actor: Actor, mrn: str, url: str | None = None) -> tuple[CorrectableEntry, ...]:
    """Every live entry of the patient that a correction form can change, oldest first (a visit, then its
    measurements, scale scores and photos; a session after a visit of the same day). Staff only; audited as a
    view of the patient. Raises ``NotFound`` for an unknown MRN."""
    require_role(actor, *STAFF)
    with reading(url) as session:
        patient = find_patient(session, mrn or "")
        entries = _visit_entries(session, patient.id) + _session_entries(session, patient.id)
        audit.record(session, actor, "view", patient_id=patient.id, detail="correction forms")
    return tuple(sorted(entries, key=lambda e: (e.day, e.kind == SESSION)))


def _visit_entries(session: Session, patient_id: int) -> list[CorrectableEntry]:
    entries: list[CorrectableEntry] = []
    visits = session.scalars(select(models.Visit).where(
        models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None))
        .order_by(models.Visit.date, models.Visit.id))
    for visit in visits:
        of = f"the visit of {show_date(visit.date)}"
        capture = visit.capture_conditions or {}
        entries.append(CorrectableEntry(VISIT, visit.id, visit.version, f"Visit of {show_date(visit.date)}",
                                        visit.date, {
            "date": visit.date, "notes": visit.notes or "", "device": str(capture.get("device") or ""),
            "capture": {key: bool(capture.get(key, False)) for key in CAPTURE_CHECKS},
            "global_assessment": visit.global_assessment, "satisfaction": visit.satisfaction,
        }))
        for m in session.scalars(select(models.DensityMeasurement).where(
                models.DensityMeasurement.visit_id == visit.id, models.DensityMeasurement.deleted_at.is_(None))
                .order_by(models.DensityMeasurement.site)):
            entries.append(CorrectableEntry(
                MEASUREMENT, m.id, m.version, f"{site_words(m.site)} density {m.density_per_cm2:g} hairs/cm² at {of}",
                visit.date, {"site": m.site, "density_per_cm2": m.density_per_cm2,
                             "shaft_diameter_um": m.shaft_diameter_um, "terminal_pct": m.terminal_pct,
                             "anagen_pct": m.anagen_pct}))
        for s in session.scalars(select(models.ScaleScore).where(
                models.ScaleScore.visit_id == visit.id, models.ScaleScore.deleted_at.is_(None))
                .order_by(models.ScaleScore.id)):
            score = s.stage if s.scale != "salt" else "" if s.salt_score is None else f"{s.salt_score:g}"
            entries.append(CorrectableEntry(
                SCALE_SCORE, s.id, s.version, f"{SCALE_LABELS.get(s.scale, s.scale)} {score} at {of}", visit.date,
                {"scale": s.scale, "stage": s.stage, "salt_vertex_pct": s.salt_vertex_pct,
                 "salt_posterior_pct": s.salt_posterior_pct, "salt_left_pct": s.salt_left_pct,
                 "salt_right_pct": s.salt_right_pct}))
        for p in session.scalars(select(models.Photo).where(
                models.Photo.visit_id == visit.id, models.Photo.deleted_at.is_(None)).order_by(models.Photo.id)):
            name = f" {p.original_file_name}" if p.original_file_name else ""
            entries.append(CorrectableEntry(PHOTO, p.id, p.version, f"{view_words(p.view)} photo{name} from {of}",
                                            visit.date, {"view": p.view}))
    return entries


def _session_entries(session: Session, patient_id: int) -> list[CorrectableEntry]:
    rows = session.scalars(select(models.TreatmentSession).where(
        models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.deleted_at.is_(None))
        .order_by(models.TreatmentSession.date, models.TreatmentSession.id))
    return [
        CorrectableEntry(
            SESSION, s.id, s.version,
            f"{treatment_words(s.treatment)} session of {show_date(s.date)}"
            + (f", lot {s.lot_number}" if s.lot_number else ""), s.date, {
                "date": s.date, "treatment": s.treatment, "product": s.product or "",
                "lot_number": s.lot_number or "", "volume_ml": s.volume_ml, "areas": s.areas or "",
                "adverse_events": s.adverse_events or "", "notes": s.notes or "",
                "checklist": {key: bool((s.checklist or {}).get(key, False)) for key in PRE_SESSION_CHECKS},
            })
        for s in rows
    ]
