"""Saving an assisted count: a close-up's hairs, as detected and corrected by the clinician, become the density
of one site at the photo's visit (``density_measurement`` with ``method='counted'``).

``save_counted_density`` is staff only, checks the patient, and writes in one transaction: the measurement with
its ``photo_id`` and its ``count_detail`` (below), the visit's new version and the audit entry. The whole-clinic
lists' outlook follows on commit (``tracker.progress.outlook`` notices the new measurement). The count gets the
checks a typed density gets: the range of ``parse_density`` (more than 0, at most 600 hairs/cm²) and the
unlikely-change question of ``tracker.records.plausibility`` (``NeedsConfirmation``). A site that already has a
density at that visit is refused: changing a recorded value is a correction with its reason, from the patient
record.

``count_detail`` (JSON), read by the chart, the PDF and ``progress --json``::

    {"count": 112, "density_per_cm2": 186.67, "terminal": 90, "vellus": 12,
     "field_width_mm": 8.0, "field_height_mm": 6.0, "device": "Dermatoscope A", "device_id": 3,
     "image": {"photo_id": 41, "sha256": "…", "copy": "display", "size": [1600, 1500]},
     "detected": [[x, y, width_um | null, "terminal" | "vellus" | null], …],
     "added": [[x, y], …], "removed": [index into detected, …]}

Positions are pixels of the display copy (upright); ``count`` = detected − removed + added; the field is along
the photo's x and y (the device's, turned a quarter for a portrait photo: ``hair_count.fitted_field``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import show_date
from tracker.course.vocabulary import MeasurementMethod, site_words
from tracker.database import transaction
from tracker.errors import NeedsConfirmation, NotFound, ValidationError
from tracker.photos.hair_count import HairCount, fitted_field, recount
from tracker.photos.serving import reachable_photo
from tracker.records.closeup_count import CLOSEUP, check_marks
from tracker.records.plausibility import density_warnings, unacknowledged
from tracker.records.recorded_visits import recorded_densities
from tracker.validation import parse_density, parse_site


@dataclass(frozen=True)
class CountSaved:
    """The saved measurement: hairs/cm² over the field, the hairs counted, and the terminal/vellus split
    (None where the resolution did not allow telling them apart)."""

    measurement_id: int
    visit_id: int
    site: str
    count: int
    density_per_cm2: float
    terminal: int | None
    vellus: int | None


def save_counted_density(actor: Actor | None, photo_id: int, device_id: int, site: str, found: HairCount,
                         size: tuple[int, int], added: Sequence[tuple[float, float]] = (),
                         removed: Sequence[int] = (), acknowledged: Collection[str] = (),
                         url: str | None = None) -> CountSaved:
    """Store the corrected count of close-up ``photo_id`` as the density of ``site`` at its visit.

    ``found``: the detections the count screen showed (``closeup_count``), made with device ``device_id``'s
    field; ``added``: (x, y) pixels of marks the clinician added; ``removed``: indices into ``found.marks`` the
    clinician removed; ``size``: the counted image's (width, height) px (``CountScreen.size``), which the
    added marks must fall inside.

    Raises PermissionDenied for anyone but staff and for a patient the actor may not see; NotFound for a photo
    that is no live close-up, or a retired or unknown device; ValidationError for a bad site, corrections that
    do not fit the image, detections made with another field, a count of no hair or an impossible density, or a
    site already measured at that visit; NeedsConfirmation for an unlikely change not yet acknowledged.
    """
    clean_site = parse_site(site)
    added_marks = [(float(x), float(y)) for x, y in added]
    removed_marks = [int(index) for index in removed]
    with audit.refusals_recorded(actor, f"hair count of photo {photo_id}", None, url), transaction(url) as session:
        require_role(actor, *STAFF)
        photo, visit = reachable_photo(session, actor, photo_id)
        visit = session.get_one(models.Visit, visit.id, with_for_update=True)
        if photo.view != CLOSEUP:
            raise ValidationError("Only a close-up (trichoscopy) photo can be counted: this photo is of another view.")
        device = session.get(models.CaptureDevice, device_id)
        if device is None or device.retired_at is not None:
            raise NotFound("This capture device does not exist or has been retired. Choose another.")
        field = fitted_field((device.field_width_mm, device.field_height_mm), size)  # turned for a portrait photo
        if tuple(found.field_mm) != field:
            raise ValidationError("The detections were made with another device's field of view: count again.")
        check_marks(found, size, added_marks, removed_marks)
        counted = recount(found, added_marks, removed_marks)
        if counted.count == 0:
            raise ValidationError("The count was not saved: no hair is marked on this close-up. Add the hairs "
                                  "by clicking on them, or type the density on the visit instead.")
        density = parse_density(round(counted.density_per_cm2, 2), f"{site_words(clean_site)} density")
        _refuse_measured(session, visit, clean_site)
        warnings = density_warnings(visit.date, [(clean_site, density)],
                                    recorded_densities(session, visit.patient_id, leaving_out_visit=visit.id))
        asked = unacknowledged(warnings, frozenset(acknowledged))
        if asked:
            raise NeedsConfirmation(asked)
        row = models.DensityMeasurement(
            visit_id=visit.id, site=clean_site, density_per_cm2=density, terminal_pct=_terminal_pct(counted),
            method=MeasurementMethod.COUNTED.value, photo_id=photo.id, created_by=actor.username if actor else None,
            count_detail=_detail(counted, found, device, photo, size, added_marks, removed_marks),
        )
        session.add(row)
        visit.version += 1
        session.flush()
        audit.record(session, actor, "create", patient_id=visit.patient_id,
                     detail=f"assisted count of photo {photo.id} for {clean_site} at visit {visit.id} "
                            f"({visit.date.isoformat()}): {counted.count} hairs in {field[0]:g}×{field[1]:g} mm "
                            f"({device.name}), {density:g} hairs/cm²; {len(removed_marks)} removed, "
                            f"{len(added_marks)} added")
        return CountSaved(row.id, visit.id, clean_site, counted.count, density, counted.terminal, counted.vellus)


def _refuse_measured(session: Session, visit: models.Visit, site: str) -> None:
    recorded = session.scalar(select(models.DensityMeasurement).where(
        models.DensityMeasurement.visit_id == visit.id, models.DensityMeasurement.site == site,
        models.DensityMeasurement.deleted_at.is_(None)))
    if recorded is not None:
        raise ValidationError(
            f"The count was not saved: {site_words(site)} is already measured at the visit of "
            f"{show_date(visit.date)} ({recorded.density_per_cm2:g} hairs/cm², {recorded.method}). To replace it, "
            "correct or remove that measurement from the patient record (with its reason), then save the count "
            "again; or save the count for another site.")


def _terminal_pct(counted: HairCount) -> float | None:
    """Terminal hairs in % of the hairs whose width was measured (DESIGN.md §2: terminal > 40 µm)."""
    terminal, vellus = counted.terminal, counted.vellus
    if terminal is None or vellus is None or terminal + vellus == 0:
        return None
    return round(terminal / (terminal + vellus) * 100, 1)


def _detail(counted: HairCount, found: HairCount, device: models.CaptureDevice, photo: models.Photo,
            size: tuple[int, int], added: list[tuple[float, float]], removed: list[int]) -> dict[str, Any]:
    return {
        "count": counted.count, "density_per_cm2": round(counted.density_per_cm2, 2),
        "terminal": counted.terminal, "vellus": counted.vellus,
        "field_width_mm": found.field_mm[0], "field_height_mm": found.field_mm[1],
        "device": device.name, "device_id": device.id,
        "image": {"photo_id": photo.id, "sha256": photo.sha256, "copy": "display",
                  "size": list(size)},
        "detected": [[round(m.x, 1), round(m.y, 1), None if m.width_um is None else round(m.width_um, 1), m.kind]
                     for m in found.marks],
        "added": [[round(x, 1), round(y, 1)] for x, y in added],
        "removed": sorted(removed),
    }
