"""Photo timeline, photo images and before/after: layout, fitting, fading, framing warnings, and who may see
what (on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat
from sqlalchemy import select

from db import models
from tracker.access.actors import Actor
from tracker.errors import NotFound, PermissionDenied, ValidationError
from tracker.operations.database import transaction
from tracker.photos.store import store_photo
from tracker.photos.views import (
    LETTERBOX,
    FramingWarning,
    SiteDensity,
    TimelineVisit,
    before_after,
    condition_warnings,
    photo_image,
    photo_timeline,
)
from tracker.records.visits import CAPTURE_CHECKS

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
        deleted_photo = session.get(models.Photo, photos["month6_frontal"])
        assert deleted_photo is not None
        deleted_photo.deleted_at = models.utcnow()
        deleted_photo.deleted_reason = "wrong view"
        removed = session.get(models.Visit, visits["removed"])
        assert removed is not None
        removed.deleted_at = models.utcnow()
        removed.deleted_reason = "entered twice"
        return PhotoPatient(patient.id, visits, photos)


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


# --- the timeline ---------------------------------------------------------------------------------------


def test_timeline_has_a_row_per_photographed_view_and_a_column_per_live_visit(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    timeline = photo_timeline(CLINICIAN, "P-1", clinic)
    assert (timeline.mrn, timeline.full_name) == ("P-1", "Ada Example")
    v, p = made.visits, made.photos
    assert timeline.visits == (
        TimelineVisit(v["pre"], date(2025, 1, 2)), TimelineVisit(v["baseline"], date(2025, 1, 15)),
        TimelineVisit(v["month3"], date(2025, 4, 14)), TimelineVisit(v["month6"], date(2025, 7, 15)),
        TimelineVisit(v["month12"], date(2026, 1, 20)),
    )  # date order; the soft-deleted visit is not a column
    assert [(row.view, row.label) for row in timeline.rows] == [
        ("frontal", "Frontal"), ("vertex", "Vertex"), ("closeup", "Close-up (trichoscopy)")]  # SCALP_VIEWS order
    cells = {row.view: row.cells for row in timeline.rows}
    assert cells["frontal"] == (None, p["baseline_frontal"], None, None, p["month12_frontal"])  # deleted photo gone
    assert cells["vertex"] == (p["pre_vertex"], p["baseline_vertex"], None, p["month6_vertex"], p["month12_vertex"])
    assert cells["closeup"] == (None, p["baseline_closeup"], None, None, None)
    assert timeline.photo_count == 7


def test_photo_images_are_the_stored_copies(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    thumbnail = opened(photo_image(CLINICIAN, made.photos["month12_vertex"], "thumbnail", clinic))
    display = opened(photo_image(CLINICIAN, made.photos["month12_vertex"], "display", clinic))
    assert thumbnail.size == (320, 180) and display.size == (1280, 720)


def test_removed_photos_and_visits_are_not_served(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    for photo in ("month6_frontal", "removed_vertex"):
        with pytest.raises(NotFound):
            photo_image(CLINICIAN, made.photos[photo], "display", clinic)
    with pytest.raises(NotFound):
        before_after(CLINICIAN, "P-1", "vertex", made.visits["baseline"], made.visits["removed"], url=clinic)


# --- before/after ---------------------------------------------------------------------------------------


def test_default_pair_is_baseline_and_latest_fitted_into_one_frame(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    result = before_after(CLINICIAN, "P-1", "vertex", fade=50, url=clinic)
    assert result.views == ("frontal", "vertex", "closeup")
    assert [v.id for v in result.visits] == [made.visits[n] for n in ("pre", "baseline", "month6", "month12")]
    # baseline: the latest visit with a vertex photo on or before day 0 (15 Jan 2025), not the first one
    assert (result.first.visit_id, result.second.visit_id) == (made.visits["baseline"], made.visits["month12"])
    assert (result.first.date, result.second.date) == (date(2025, 1, 15), date(2026, 1, 20))
    assert result.first.densities == (SiteDensity("vertex", 150.0),)
    assert result.second.densities == (SiteDensity("vertex", 200.0),)
    assert result.first.months == 0.0 and result.second.months == pytest.approx(370 / 30.4375, abs=0.01)

    before, after, blended = opened(result.first.image), opened(result.second.image), opened(result.blended)
    # the baseline's 4:3 shape at the larger photo's long side (1280 px), the same for both and the blend
    assert before.size == after.size == blended.size == result.frame == (1280, 960)
    # the 16:9 photo is letterboxed, not stretched: 720 rows of picture, 120 rows of bar above and below
    assert all(abs(a - b) <= 6 for a, b in zip(after.getpixel((640, 50)), LETTERBOX, strict=True))
    assert all(abs(a - b) <= 6 for a, b in zip(after.getpixel((640, 909)), LETTERBOX, strict=True))
    assert mean_difference(after.crop((0, 130, 1280, 830)), Image.new("RGB", (1280, 700), LETTERBOX)) > 100
    assert mean_difference(before.crop((0, 0, 1280, 120)), Image.new("RGB", (1280, 120), LETTERBOX)) > 100
    # the blend is neither photo, and sits halfway between them (up to JPEG noise on the fine strands)
    from_before, from_after = mean_difference(blended, before), mean_difference(blended, after)
    assert from_before > 20 and from_after > 20
    assert mean_difference(blended, Image.blend(before, after, 0.5)) < min(from_before, from_after) / 5


def test_fade_ends_are_the_photos_and_no_fade_means_no_blend(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    v = made.visits
    start = before_after(CLINICIAN, "P-1", "vertex", v["baseline"], v["month6"], fade=0, url=clinic)
    end = before_after(CLINICIAN, "P-1", "vertex", v["baseline"], v["month6"], fade=100, url=clinic)
    assert mean_difference(opened(start.blended), opened(start.first.image)) < 2
    assert mean_difference(opened(end.blended), opened(end.second.image)) < 2
    assert mean_difference(opened(start.first.image), opened(start.second.image)) > 1  # more hair at 6 months
    assert before_after(CLINICIAN, "P-1", "vertex", url=clinic).blended is None


def test_photos_taken_the_same_way_carry_no_warning(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    result = before_after(CLINICIAN, "P-1", "vertex", made.visits["baseline"], made.visits["month6"], url=clinic)
    assert result.framing_warnings == () and result.caution is None


def test_framing_differences_are_said_plainly(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    result = before_after(CLINICIAN, "P-1", "vertex", url=clinic)  # baseline 4:3 against month 12 at 16:9
    assert [w.what for w in result.framing_warnings] == ["shape", "camera distance"]
    assert result.caution == (
        "These two photos were not taken the same way (shape and camera distance differ): compare with care.")
    assert "960×720 against 1280×720" in result.framing_warnings[0].detail
    assert "20 Jan 2026" in result.framing_warnings[1].detail
    tiny = before_after(CLINICIAN, "P-1", "vertex", made.visits["pre"], made.visits["baseline"], url=clinic)
    assert [w.what for w in tiny.framing_warnings] == ["image size"]  # 400×300 against 960×720


def test_view_choice_and_impossible_choices(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    other = make_photo_patient(clinic, "P-2", "Bea Other", seed=2)
    v = made.visits
    assert before_after(CLINICIAN, "P-1", url=clinic).view == "frontal"  # first view with two visits
    closeup = before_after(CLINICIAN, "P-1", "closeup", url=clinic)  # one visit only: shown alone
    assert closeup.first.visit_id == v["baseline"] and closeup.second is None and closeup.blended is None
    with pytest.raises(ValidationError):
        before_after(CLINICIAN, "P-1", "vertex", v["baseline"], v["baseline"], url=clinic)
    with pytest.raises(ValidationError):
        before_after(CLINICIAN, "P-1", "crown", url=clinic)
    with pytest.raises(ValidationError):
        before_after(CLINICIAN, "P-1", "vertex", fade=101, url=clinic)
    with pytest.raises(NotFound):  # no vertex photo at the 3-month visit
        before_after(CLINICIAN, "P-1", "vertex", v["baseline"], v["month3"], url=clinic)
    with pytest.raises(NotFound):  # another patient's visit is not one of this patient's
        before_after(CLINICIAN, "P-1", "vertex", v["baseline"], other.visits["month6"], url=clinic)


def visit(day: date, conditions: dict | None, id_: int) -> models.Visit:
    return models.Visit(id=id_, patient_id=1, date=day, capture_conditions=conditions)


def test_capture_checklists_between_the_two_visits_are_followed():
    first = visit(date(2025, 1, 15), ALL_TICKED | {"distance": "30 cm"}, 1)
    middle = visit(date(2025, 4, 14), ALL_TICKED | {"same_lighting": False}, 2)
    unrecorded = visit(date(2025, 5, 1), None, 3)
    last = visit(date(2025, 7, 15), ALL_TICKED | {"distance": "45 cm", "dry_hair": False, "device": "clinic camera"}, 4)
    warnings = condition_warnings(first, last, [middle, unrecorded, last])
    assert [w.what for w in warnings] == ["lighting", "camera distance", "hair dryness"]
    assert warnings[0] == FramingWarning("lighting", '"same lighting" was not ticked at the visit of 14 Apr 2025')
    assert warnings[1].detail == "30 cm on 15 Jan 2025, 45 cm on 15 Jul 2025"
    # the device is the same whatever its capitals; nothing unrecorded is counted as a difference
    assert condition_warnings(first, unrecorded, [middle, unrecorded])[0].what == "lighting"
    assert condition_warnings(middle, unrecorded, [unrecorded]) == []


# --- who may see what -----------------------------------------------------------------------------------


def test_patient_account_sees_its_own_photos_only(clinic):
    own = make_photo_patient(clinic, "P-1", "Ada Example")
    other = make_photo_patient(clinic, "P-2", "Bea Other", seed=2)
    ada = Actor("ada", "patient", patient_id=own.patient_id)
    assert photo_timeline(ada, None, clinic).mrn == "P-1"
    assert before_after(ada, None, "vertex", url=clinic).mrn == "P-1"
    assert photo_image(ada, own.photos["baseline_vertex"], "display", clinic)[:3] == b"\xff\xd8\xff"
    refusals = [
        lambda: photo_image(ada, other.photos["baseline_vertex"], "thumbnail", clinic),
        lambda: photo_image(ada, other.photos["baseline_vertex"], "display", clinic),
        lambda: photo_image(ada, 999_999, "display", clinic),  # same words as for another patient's photo
        lambda: photo_timeline(ada, "P-2", clinic),
        lambda: photo_timeline(ada, "P-404", clinic),
        lambda: before_after(ada, "P-2", "vertex", url=clinic),
        lambda: before_after(ada, None, "vertex", own.visits["baseline"], other.visits["month6"], url=clinic),
    ]
    messages = set()
    for refused in refusals:
        with pytest.raises((PermissionDenied, NotFound)) as caught:
            refused()
        messages.add(str(caught.value))
        assert "Bea" not in str(caught.value) and "P-2" not in str(caught.value)
    with transaction(clinic) as session:
        refused = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "refused")).all()
    assert len(refused) == 6  # every PermissionDenied is recorded (the foreign visit id is a NotFound)
    assert {e.username for e in refused} == {"ada"}


def test_signed_out_is_refused(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    for refused in (lambda: photo_timeline(None, "P-1", clinic),
                    lambda: photo_image(None, made.photos["baseline_vertex"], "thumbnail", clinic),
                    lambda: before_after(None, "P-1", "vertex", url=clinic)):
        with pytest.raises(PermissionDenied, match="sign in"):
            refused()


def test_views_are_audited(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    photo_timeline(ADMIN, "P-1", clinic)
    photo_image(CLINICIAN, made.photos["baseline_vertex"], "thumbnail", clinic)  # covered by the timeline entry
    photo_image(CLINICIAN, made.photos["baseline_vertex"], "display", clinic)
    before_after(CLINICIAN, "P-1", "vertex", url=clinic)
    with transaction(clinic) as session:
        entries = session.execute(
            select(models.AuditEntry.username, models.AuditEntry.detail, models.AuditEntry.patient_id)
            .where(models.AuditEntry.action == "view").order_by(models.AuditEntry.id)
        ).all()
    assert [(e.username, e.detail) for e in entries] == [
        ("admin.kim", "photo timeline (7 photos)"),
        ("dr.lee", f"photo {made.photos['baseline_vertex']} (vertex, visit of 2025-01-15)"),
        ("dr.lee", "before/after vertex: 2025-01-15 and 2026-01-20"),
    ]
    assert {e.patient_id for e in entries} == {made.patient_id}
