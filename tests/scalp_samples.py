"""Fictional scalp photos at a patient's visits, for the photo timeline, serving and before/after tests: skin
with dark strands in proportion to the density, stored through the photo store.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date

from PIL import Image, ImageChops, ImageDraw, ImageStat

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.photos.store import store_photo
from tracker.records.visit_form import CAPTURE_CHECKS

CLINICIAN = Actor("dr.lee", "clinician")
ADMIN = Actor("admin.kim", "admin")
SKIN, HAIR = (224, 184, 154), (40, 29, 24)
ALL_TICKED = {key: True for key in CAPTURE_CHECKS} | {"device": "Clinic camera"}


def scalp_jpeg(density: float, size: tuple[int, int], seed: int) -> bytes:
    """A fictional scalp: skin with dark strands, their number proportional to ``density``.

    One ``seed`` lays the strands out the same way at every density (a denser photo's strands are a
    superset of a sparser one's), so two visits differ in the hair, not the layout.
    """
    width, height = size
    image = Image.new("RGB", size, SKIN)
    draw = ImageDraw.Draw(image)
    layout = random.Random(seed)
    strands = [(layout.random(), layout.random(), layout.uniform(-0.6, 0.6)) for _ in range(3000)]
    for x, y, slope in strands[: int(density * 10)]:
        x0, y0 = x * width, y * height
        length = 0.03 * width
        draw.line((x0, y0, x0 + length, y0 + slope * length), fill=HAIR, width=max(1, width // 400))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@dataclass(frozen=True)
class PhotoPatient:
    patient_id: int
    visits: dict[str, int]
    photos: dict[str, int]


def make_photo_patient(url: str, mrn: str, name: str, seed: int = 1) -> PhotoPatient:
    """Day 0 2025-01-15 and six visits (one soft-deleted) with vertex and frontal photos:

    ==========  ======================  =========================================  ==================
    visit       vertex photo            other photos                               notes
    ==========  ======================  =========================================  ==================
    pre         400×300, density 140                                               tiny: pixel size
    baseline    960×720, density 150    frontal 960×720, closeup 800×800
    month3      none (density 175)
    month6      960×720, density 170    frontal (soft-deleted)                     all boxes ticked
    month12     1280×720, density 200   frontal 960×720                            "same distance" no
    removed     960×720 (visit deleted)
    ==========  ======================  =========================================  ==================
    """
    visits: dict[str, int] = {}
    photos: dict[str, int] = {}
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=name, sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=date(2025, 1, 15), treatment="exosome",
                                            product="ExoHair", lot_number="EXO-1"))
        plan: tuple[tuple[str, date, float, dict[str, bool | str] | None, list[tuple[str, tuple[int, int]]]], ...] = (
            ("pre", date(2025, 1, 2), 140.0, ALL_TICKED, [("vertex", (400, 300))]),
            ("baseline", date(2025, 1, 15), 150.0, ALL_TICKED,
             [("vertex", (960, 720)), ("frontal", (960, 720)), ("closeup", (800, 800))]),
            ("month3", date(2025, 4, 14), 175.0, None, []),
            ("month6", date(2025, 7, 15), 170.0, ALL_TICKED, [("vertex", (960, 720)), ("frontal", (960, 720))]),
            ("month12", date(2026, 1, 20), 200.0, ALL_TICKED | {"same_distance": False},
             [("vertex", (1280, 720)), ("frontal", (960, 720))]),
            ("removed", date(2026, 2, 1), 210.0, ALL_TICKED, [("vertex", (960, 720))]),
        )
        for name_, day, density, conditions, shots in plan:
            visit = models.Visit(patient_id=patient.id, date=day, capture_conditions=conditions)
            session.add(visit)
            session.flush()
            visits[name_] = visit.id
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density))
            for view, size in shots:
                photo = store_photo(session, visit_id=visit.id, view=view, file_name=f"{view}.jpg", actor="test",
                                    data=scalp_jpeg(density, size, seed * 100 + len(view)))
                photos[f"{name_}_{view}"] = photo.id
        deleted_photo = session.get_one(models.Photo, photos["month6_frontal"])
        deleted_photo.deleted_at = models.utcnow()
        deleted_photo.deleted_reason = "wrong view"
        removed = session.get_one(models.Visit, visits["removed"])
        removed.deleted_at = models.utcnow()
        removed.deleted_reason = "entered twice"
        return PhotoPatient(patient.id, visits, photos)


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3
