"""What a patient's visits already hold, read for the forms that add to them: the visit form's starting point
(sites measured last time, the previous set-up of camera and capture checklist) and the values a new or corrected
entry is compared with (the densities recorded per site, the first session's date).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_patient_access, require_role
from tracker.course.scales import scale_choices, stages
from tracker.database import reading
from tracker.errors import ValidationError
from tracker.progress.patient_progress import find_patient
from tracker.records.plausibility import RecordedDensity
from tracker.records.visit_form import CAPTURE_CHECKS
from tracker.validation import DEFAULT_SITE, parse_site


@dataclass(frozen=True)
class VisitFormDefaults:
    """What the visit form starts from: the patient's header, the sites to pre-fill, the scales."""

    mrn: str
    full_name: str
    sex: str
    condition: str
    sites: tuple[str, ...]
    last_visit_date: date | None
    scales: tuple[str, ...]  # the fitting scale first
    stages: Mapping[str, tuple[str, ...]]
    # The set-up of the patient's previous visit with photos, for the new form to start from: the camera or
    # device ('' when none was named) and each capture check (``CAPTURE_CHECKS`` key -> ticked).
    device: str = ""
    capture: Mapping[str, bool] = field(default_factory=dict)

    @property
    def scale(self) -> str:
        return self.scales[0]


def visit_form_defaults(actor: Actor, mrn: str, url: str | None = None) -> VisitFormDefaults:
    """The visit form's starting point for one patient: sites measured last time (else the patient's
    target areas, else ``primary``), the scale that fits the patient, the header, and the camera or device and
    capture checklist of the previous visit that recorded them (photos are compared fairly only when taken the
    same way each time, so the same set-up is the one to start from)."""
    require_role(actor, *STAFF)
    with reading(url) as session:
        patient = find_patient(session, mrn)
        require_patient_access(actor, patient.id)
        last_visit, last_sites = _last_measured_sites(session, patient.id)
        sites = last_sites or target_sites(patient.target_areas) or (DEFAULT_SITE,)
        choices = scale_choices(patient.condition, patient.sex, patient.baseline_scale)
        device, capture = _previous_set_up(session, patient.id)
        audit.record(session, actor, "view", patient_id=patient.id, detail="visit form")
        return VisitFormDefaults(
            mrn=patient.mrn,
            full_name=patient.full_name,
            sex=patient.sex,
            condition=patient.condition,
            sites=sites,
            last_visit_date=last_visit,
            scales=choices,
            stages={scale: stages(scale) for scale in choices},
            device=device,
            capture=capture,
        )


def _previous_set_up(session: Session, patient_id: int) -> tuple[str, dict[str, bool]]:
    """The device and capture checks of the latest live visit with a set-up, as they were ('' and none ticked
    when no visit has one).

    A visit has a set-up when it has photos (the set-up describes them: every check unticked and no device is
    then what was recorded, and the next form starts so, never from an older visit) or when it names a device
    or ticks a check; a visit with neither (ratings only) says nothing about how photos are taken.
    """
    with_photos = select(models.Photo.id).where(models.Photo.visit_id == models.Visit.id,
                                                models.Photo.deleted_at.is_(None)).exists()
    recorded = session.execute(
        select(models.Visit.capture_conditions, with_photos)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None))
        .order_by(models.Visit.date.desc(), models.Visit.id.desc())
    )
    for conditions, has_photos in recorded:
        conditions = conditions or {}
        device = conditions.get("device")
        device = device if isinstance(device, str) else ""
        checks = {key: conditions.get(key) is True for key in CAPTURE_CHECKS}
        if has_photos or any(checks.values()) or device.strip():
            return device, checks
    return "", {key: False for key in CAPTURE_CHECKS}


def target_sites(target_areas: str | None) -> tuple[str, ...]:
    """The patient's comma-separated target areas as site names; unusable entries are left out.

    >>> target_sites("Vertex, frontal hairline,, crown!")
    ('vertex', 'frontal_hairline')
    """
    sites: list[str] = []
    for part in (target_areas or "").split(","):
        name = re.sub(r"\s+", "_", part.strip())
        if not name:
            continue
        try:
            site = parse_site(name)
        except ValidationError:
            continue
        if site not in sites:
            sites.append(site)
    return tuple(sites)


def _last_measured_sites(session: Session, patient_id: int) -> tuple[date | None, tuple[str, ...]]:
    """The latest live visit with live measurements, and its sites in the order they were recorded."""
    rows = session.execute(
        select(models.Visit.id, models.Visit.date, models.DensityMeasurement.site)
        .join(models.DensityMeasurement, models.DensityMeasurement.visit_id == models.Visit.id)
        .where(
            models.Visit.patient_id == patient_id,
            models.Visit.deleted_at.is_(None),
            models.DensityMeasurement.deleted_at.is_(None),
        )
        .order_by(models.Visit.date.desc(), models.Visit.id.desc(), models.DensityMeasurement.id)
    ).all()
    if not rows:
        return None, ()
    latest_visit, latest_date = rows[0].id, rows[0].date
    return latest_date, tuple(dict.fromkeys(row.site for row in rows if row.id == latest_visit))


def recorded_densities(session: Session, patient_id: int, *, leaving_out_visit: int | None = None,
                       leaving_out_measurement: int | None = None) -> list[RecordedDensity]:
    """The patient's live densities (site, visit date, hairs/cm²) that a new or corrected value is compared with:
    all but those of ``leaving_out_visit`` (the visit being added to or moved) and ``leaving_out_measurement``
    (the value being corrected)."""
    query = (
        select(models.DensityMeasurement.site, models.Visit.date, models.DensityMeasurement.density_per_cm2)
        .join(models.Visit, models.Visit.id == models.DensityMeasurement.visit_id)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None),
               models.DensityMeasurement.deleted_at.is_(None))
    )
    if leaving_out_visit is not None:
        query = query.where(models.Visit.id != leaving_out_visit)
    if leaving_out_measurement is not None:
        query = query.where(models.DensityMeasurement.id != leaving_out_measurement)
    return [RecordedDensity(row.site, row.date, row.density_per_cm2) for row in session.execute(query)]


def first_session_date(session: Session, patient_id: int) -> date | None:
    """The date of the patient's first live treatment session (day 0), None before any."""
    return session.scalar(select(func.min(models.TreatmentSession.date)).where(
        models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.deleted_at.is_(None)))
