"""Fictional close-up (trichoscopy) photos with a known number of hairs, and a patient whose visits hold them, for
the count screen's tests: short dark shafts on skin, each emerging at a known point inside the frame.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from datetime import date

from PIL import Image, ImageDraw

from db import models
from tests.scalp_samples import ALL_TICKED, SKIN, scalp_jpeg
from tracker.database import transaction
from tracker.photos.store import store_photo

HAIR = (45, 32, 26)


def closeup_jpeg(hairs: int, size: tuple[int, int] = (800, 600), seed: int = 7, width_px: int = 5) -> bytes:
    """A close-up with ``hairs`` shafts, each from a point well inside the frame, 60–110 px long, spread on a grid
    so that no two touch (the count is known). ``width_px`` is the shaft's thickness."""
    width, height = size
    image = Image.new("RGB", size, SKIN)
    draw = ImageDraw.Draw(image)
    layout = random.Random(seed)
    columns = max(1, math.ceil(math.sqrt(hairs * width / height)))
    rows = max(1, math.ceil(hairs / columns))
    cell_w, cell_h = width / columns, height / rows
    for n in range(hairs):
        column, row = n % columns, n // columns
        x0 = (column + 0.2 + 0.2 * layout.random()) * cell_w
        y0 = (row + 0.25 + 0.2 * layout.random()) * cell_h
        angle = layout.uniform(-0.5, 0.5)
        length = min(cell_w, cell_h) * 0.5
        draw.line((x0, y0, x0 + length * math.cos(angle), y0 + length * math.sin(angle)), fill=HAIR, width=width_px)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


@dataclass(frozen=True)
class CloseupPatient:
    patient_id: int
    mrn: str
    visits: dict[str, int]
    photos: dict[str, int]


def make_closeup_patient(url: str, mrn: str = "CU-1", name: str = "Cleo Closeup", hairs: int = 24) -> CloseupPatient:
    """Day 0 2025-01-15; a baseline visit that day with a vertex density of 150 (typed) and a close-up of
    ``hairs`` hairs, and a month-6 visit (2025-07-15) with a close-up of ``hairs`` hairs and a vertex photo, no
    density yet."""
    visits: dict[str, int] = {}
    photos: dict[str, int] = {}
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=name, sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=date(2025, 1, 15), treatment="exosome",
                                            product="ExoHair", lot_number="EXO-1"))
        for label, day in (("baseline", date(2025, 1, 15)), ("month6", date(2025, 7, 15))):
            visit = models.Visit(patient_id=patient.id, date=day, capture_conditions=ALL_TICKED)
            session.add(visit)
            session.flush()
            visits[label] = visit.id
            photos[f"{label}_closeup"] = store_photo(
                session, visit_id=visit.id, view="closeup", file_name="closeup.jpg", actor="test",
                data=closeup_jpeg(hairs, seed=len(label))).id
        session.add(models.DensityMeasurement(visit_id=visits["baseline"], site="vertex", density_per_cm2=150.0))
        photos["month6_vertex"] = store_photo(session, visit_id=visits["month6"], view="vertex",
                                              file_name="vertex.jpg", actor="test",
                                              data=scalp_jpeg(160, (640, 480), 3)).id
        return CloseupPatient(patient.id, mrn, visits, photos)
