"""The count screen's reading: a patient's close-up photos, the clinic's devices, and the hairs detected on one
close-up with one device's field of view (``tracker.photos.hair_count``).

``closeup_count`` is staff only (counting writes a measurement; a patient account never counts), checks the
patient like every read (``resolve_patient``), runs in a read-only transaction and is audited as a view; refused
attempts are audited too. The detection runs on the photo's display copy (upright, at most 2048 px, no EXIF):
the marks are pixels of that copy, which is also what the screen shows, so a click lands where it is drawn.
The field of view covers the whole frame whatever its pixel size, so the density does not depend on the copy.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from PIL import Image
from sqlalchemy import select

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.access.patient_lookup import resolve_patient
from tracker.database import reading
from tracker.errors import NotFound, ValidationError
from tracker.photos.hair_count import HairCount, count_hairs
from tracker.photos.serving import _read
from tracker.records.capture_devices import CaptureDevice, _device

CLOSEUP = "closeup"


@dataclass(frozen=True)
class Closeup:
    """A close-up photo of a live visit, with the sites that visit already has a density for."""

    photo_id: int
    visit_id: int
    date: date
    measured_sites: tuple[str, ...]


@dataclass(frozen=True)
class CountScreen:
    """What the count screen shows.

    ``closeups``: the patient's close-ups, newest visit first; ``devices``: the devices in use, by name;
    ``sites``: the sites the patient has densities for (to choose from), most measured first.
    ``photo``/``device``: the chosen ones (None: nothing to count yet); ``image`` the display copy (JPEG) of
    ``photo``, ``size`` its (width, height) in px; ``found``: the detections on it with ``device``'s field
    (marks in ``size`` pixels; None until both are chosen).
    """

    mrn: str
    full_name: str
    closeups: tuple[Closeup, ...]
    devices: tuple[CaptureDevice, ...]
    sites: tuple[str, ...]
    photo: Closeup | None = None
    device: CaptureDevice | None = None
    image: bytes | None = None
    size: tuple[int, int] | None = None
    found: HairCount | None = None


def closeup_count(actor: Actor | None, mrn: str | None, photo_id: int | None = None, device_id: int | None = None,
                  url: str | None = None) -> CountScreen:
    """The patient's close-ups and devices, and, given both ``photo_id`` and ``device_id``, the hairs detected
    on that close-up over that device's field (audited as a view of the patient). Staff only.

    Raises PermissionDenied for a patient account or nobody; NotFound for an unknown MRN, a photo that is not a
    live close-up of this patient, or a device that does not exist or is retired; ValidationError from the
    detection for an image it cannot read.
    """
    with audit.refusals_recorded(actor, "hair count", mrn, url), reading(url) as session:
        require_role(actor, *STAFF)
        patient = resolve_patient(session, actor, mrn)
        rows = session.execute(
            select(models.Photo, models.Visit)
            .join(models.Visit, models.Visit.id == models.Photo.visit_id)
            .where(models.Visit.patient_id == patient.id, models.Visit.deleted_at.is_(None),
                   models.Photo.deleted_at.is_(None), models.Photo.view == CLOSEUP)
            .order_by(models.Visit.date.desc(), models.Photo.id.desc())
        ).all()
        measured = session.execute(
            select(models.DensityMeasurement.visit_id, models.DensityMeasurement.site)
            .join(models.Visit, models.Visit.id == models.DensityMeasurement.visit_id)
            .where(models.Visit.patient_id == patient.id, models.Visit.deleted_at.is_(None),
                   models.DensityMeasurement.deleted_at.is_(None))
        ).all()
        by_visit: dict[int, list[str]] = {}
        for visit_id, site in measured:
            by_visit.setdefault(visit_id, []).append(site)
        site_counts: dict[str, int] = {}
        for _visit_id, site in measured:
            site_counts[site] = site_counts.get(site, 0) + 1
        closeups = tuple(Closeup(photo.id, visit.id, visit.date, tuple(sorted(by_visit.get(visit.id, ()))))
                         for photo, visit in rows)
        devices = tuple(_device(row) for row in session.scalars(
            select(models.CaptureDevice).where(models.CaptureDevice.retired_at.is_(None))
            .order_by(models.CaptureDevice.name)))
        screen = CountScreen(patient.mrn, patient.full_name, closeups, devices,
                             tuple(sorted(site_counts, key=lambda s: (-site_counts[s], s))))
        photo = _chosen_photo(closeups, photo_id)
        device = _chosen_device(devices, device_id)
        if photo is None:
            audit.record(session, actor, "view", patient_id=patient.id, detail="hair count: close-ups listed")
            return screen
        data = _read(next(p for p, _v in rows if p.id == photo.photo_id), "display")
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
        found = count_hairs(image, device.field_mm) if device else None
        audit.record(session, actor, "view", patient_id=patient.id,
                     detail=f"hair count: photo {photo.photo_id} (close-up, visit of {photo.date.isoformat()})"
                            + (f" with {device.name!r}" if device else ""))
        return CountScreen(screen.mrn, screen.full_name, closeups, devices, screen.sites, photo, device, data,
                           image.size, found)


def _chosen_photo(closeups: tuple[Closeup, ...], photo_id: int | None) -> Closeup | None:
    if photo_id is None:
        return None
    chosen = next((c for c in closeups if c.photo_id == photo_id), None)
    if chosen is None:
        raise NotFound("This photo is not a close-up of this patient (or it has been removed). Choose another.")
    return chosen


def _chosen_device(devices: tuple[CaptureDevice, ...], device_id: int | None) -> CaptureDevice | None:
    if device_id is None:
        return None
    chosen = next((d for d in devices if d.id == device_id), None)
    if chosen is None:
        raise NotFound("This capture device does not exist or has been retired. Choose another.")
    return chosen


def check_marks(found: HairCount, size: tuple[int, int], added: list[tuple[float, float]],
                removed: list[int]) -> None:
    """Refuse corrections that cannot come from clicks on this image: an added mark outside the ``size``
    (width, height) pixels, or a removed index that is no detection of ``found`` (or given twice)."""
    width, height = size
    problems = [f"the added mark at ({x:g}, {y:g}) is outside the photo ({width}×{height} px)"
                for x, y in added if not (0 <= x <= width and 0 <= y <= height)]
    problems += [f"mark {index} was removed but is no detection on this photo"
                 for index in removed if not 0 <= index < len(found.marks)]
    if len(set(removed)) != len(removed):
        problems.append("a detection was removed twice")
    if problems:
        raise ValidationError("The count was not saved: " + problems[0], problems)
