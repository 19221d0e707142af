"""The demo clinic written (``tracker.operations.demo``): idempotent, about forty fictional patients, a real
mix of milestone statuses, and photos whose visible hair follows the recorded density (the plan alone:
test_demo_plan.py)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import func, select

from db import models
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.milestones import (
    AHEAD,
    BEHIND,
    DUE,
    MISSED,
    NO_BASELINE,
    ON_TRACK,
    UPCOMING,
    DensityRecord,
    SessionRecord,
    assess,
)
from tracker.course.protocols import to_engine
from tracker.course.salt import SaltRecord, outcome_records
from tracker.course.vocabulary import site_words
from tracker.database import transaction
from tracker.operations.demo import load_demo
from tracker.operations.demo_photos import draw_scalp_photo
from tracker.operations.demo_plan import ACTOR, FICTIONAL_SURNAMES, MRN_PREFIX, PRP_PROTOCOL_NAME
from tracker.records.patient_fields import parse_target_areas

TODAY = date(2026, 3, 1)
TABLES = (models.Protocol, models.Patient, models.TreatmentSession, models.ConcurrentTherapy, models.Visit,
          models.DensityMeasurement, models.ScaleScore, models.Photo)


def _counts(url: str) -> dict[str, int]:
    with transaction(url) as session:
        return {table.__tablename__: session.execute(select(func.count()).select_from(table)).scalar_one()
                for table in TABLES}


def _statuses_by_patient(url: str) -> dict[str, set[str]]:
    """Every milestone status of each demo patient, from the database rows, through the engine."""
    out: dict[str, set[str]] = {}
    with transaction(url) as session:
        for patient in session.scalars(select(models.Patient).where(models.Patient.mrn.like(f"{MRN_PREFIX}%"))):
            sessions = [
                SessionRecord(s.date, s.treatment, s.product, s.lot_number)
                for s in session.scalars(select(models.TreatmentSession)
                                         .where(models.TreatmentSession.patient_id == patient.id))
            ]
            measurements = [
                DensityRecord(day, site, density)
                for day, site, density in session.execute(
                    select(models.Visit.date, models.DensityMeasurement.site, models.DensityMeasurement.density_per_cm2)
                    .join(models.DensityMeasurement, models.DensityMeasurement.visit_id == models.Visit.id)
                    .where(models.Visit.patient_id == patient.id)
                )
            ]
            salt_scores = [
                SaltRecord(day, score)
                for day, score in session.execute(
                    select(models.Visit.date, models.ScaleScore.salt_score)
                    .join(models.ScaleScore, models.ScaleScore.visit_id == models.Visit.id)
                    .where(models.Visit.patient_id == patient.id, models.ScaleScore.scale == "salt")
                ) if score is not None
            ]
            protocol = to_engine(patient.protocol)
            # Alopecia areata patients are on the SALT protocol: judged on their SALT scores.
            progress = assess(sessions, outcome_records(protocol, measurements, salt_scores), protocol, TODAY)
            out[patient.mrn] = {m.status for site in progress.sites for m in site.milestones}
    return out


def test_load_demo_twice_adds_nothing_the_second_time(clinic):
    first = load_demo(clinic, today=TODAY, with_photos=False)
    counts = _counts(clinic)
    second = load_demo(clinic, today=TODAY, with_photos=False)

    assert _counts(clinic) == counts
    assert (first.patients_added, first.patients_existing) == (40, 0)
    assert (second.patients_added, second.patients_existing) == (0, 40)
    assert first.protocol_added and not second.protocol_added
    assert counts["patient"] == 40 and counts["photo"] == 0
    assert counts["visit"] > 80 and counts["treatment_session"] > 40
    assert "nothing added" in second.summary()
    with transaction(clinic) as session:
        names = session.scalars(select(models.Protocol.name).order_by(models.Protocol.name)).all()
    assert names == ["Alopecia areata (SALT)", "Exosome (default)", PRP_PROTOCOL_NAME]


def test_every_demo_patient_is_fictional_and_every_row_is_written_by_demo(clinic):
    load_demo(clinic, today=TODAY, with_photos=False)
    with transaction(clinic) as session:
        patients = session.scalars(select(models.Patient)).all()
        writers = {
            table.__tablename__: set(session.scalars(select(table.created_by).distinct()))
            for table in TABLES[1:-1]
        }
    assert all(p.mrn.startswith(MRN_PREFIX) for p in patients)
    assert all(p.full_name.split()[-1] in FICTIONAL_SURNAMES for p in patients)
    assert all("Fictional" in (p.notes or "") for p in patients)
    assert len({p.full_name for p in patients}) == len(patients)
    assert all(w == {ACTOR} for w in writers.values()), writers


def test_demo_target_areas_are_stored_as_the_intake_stores_them(clinic):
    load_demo(clinic, today=TODAY, with_photos=False)
    with transaction(clinic) as session:
        patients = session.scalars(select(models.Patient)).all()
        areas = set(session.scalars(select(models.TreatmentSession.areas)))
    # The intake's form: codes joined by a bare comma ("vertex,frontal"), never ", ".
    assert all(p.target_areas and p.target_areas == parse_target_areas(p.target_areas) for p in patients)
    assert all(" " not in p.target_areas for p in patients)
    # The sessions' areas treated, as the session form prefills them: in words.
    words = {site_words(view) for view in SCALP_VIEWS}
    assert areas and all(part in words for a in areas for part in a.split(", "))


def test_demo_statuses_are_mixed_as_the_engine_sees_them(clinic):
    result = load_demo(clinic, today=TODAY, with_photos=False)
    statuses = _statuses_by_patient(clinic)

    def having(status: str) -> int:
        return sum(status in found for found in statuses.values())

    assert having(AHEAD) >= 3
    assert having(BEHIND) >= 3
    assert having(DUE) >= 2
    assert having(MISSED) >= 2
    assert having(NO_BASELINE) >= 1
    assert sum(found == {UPCOMING} for found in statuses.values()) >= 3  # only just started
    # Most assessed milestones are on track; ahead and behind are the exceptions.
    assert result.statuses[ON_TRACK] > result.statuses[AHEAD] + result.statuses[BEHIND]
    assert set(result.statuses) <= {AHEAD, ON_TRACK, BEHIND, UPCOMING, DUE, MISSED, NO_BASELINE}


def test_demo_clinic_has_the_variety_a_clinic_shows(clinic):
    load_demo(clinic, today=TODAY, with_photos=False)
    with transaction(clinic) as session:
        conditions = Counter(session.scalars(select(models.Patient.condition)))
        sexes = set(session.scalars(select(models.Patient.sex)))
        lots = Counter(session.scalars(select(models.TreatmentSession.lot_number)))
        treatments = set(session.scalars(select(models.TreatmentSession.treatment)))
        therapies = session.scalars(select(models.ConcurrentTherapy)).all()
        salt = session.scalars(select(models.ScaleScore.salt_score).where(models.ScaleScore.scale == "salt")).all()
        prp_patients = session.scalar(
            select(func.count(models.Patient.id)).join(models.Protocol).where(models.Protocol.name == PRP_PROTOCOL_NAME)
        )
        latest = max(
            session.scalar(select(func.max(models.Visit.date))),
            session.scalar(select(func.max(models.TreatmentSession.date))),
            max(t.stop or t.start for t in therapies),
        )
        repeats = session.execute(
            select(models.TreatmentSession.patient_id).group_by(models.TreatmentSession.patient_id)
            .having(func.count() > 1)
        ).all()

    assert conditions.most_common(1)[0][0] == "androgenetic_alopecia"
    assert set(conditions) == {"androgenetic_alopecia", "alopecia_areata", "telogen_effluvium", "other"}
    assert {"female", "male"} <= sexes
    assert treatments == {"exosome", "prp"}
    assert prp_patients >= 5
    assert sum(count >= 3 for count in lots.values()) >= 3  # a recall lookup finds several patients
    assert all(lot.startswith(("EXO-", "PRP-")) for lot in lots)
    assert {t.name.split()[0] for t in therapies} >= {"Minoxidil", "Finasteride", "Viviscal"}
    assert any(t.stop for t in therapies)
    assert salt and all(0 <= s <= 100 for s in salt)
    assert len(repeats) >= 10
    assert latest <= TODAY


def test_demo_with_photos_stores_two_views_per_visit(sqlite_clinic):
    from tracker.photos.store import read_display

    result = load_demo(sqlite_clinic, today=TODAY, limit=3)
    assert result.patients_added == 3 and result.photos == 2 * result.visits > 0
    with transaction(sqlite_clinic) as session:
        rows = session.execute(
            select(models.Photo, models.Visit.date).join(models.Visit, models.Photo.visit_id == models.Visit.id)
        ).all()
        per_visit = Counter(photo.visit_id for photo, _ in rows)
        assert len(rows) == result.photos
        assert set(per_visit.values()) == {2}
        for photo, visit_date in rows:
            assert photo.view in SCALP_VIEWS and photo.created_by == ACTOR
            assert photo.captured_at.date() == visit_date
            assert Image.open(io.BytesIO(read_display(photo))).size == (960, 720)

    rest = load_demo(sqlite_clinic, today=TODAY, with_photos=False)
    assert (rest.patients_added, rest.patients_existing) == (37, 3)


def test_cli_demo_loads_the_clinic_once(sqlite_clinic, capsys):
    from tracker.operations.cli import main

    assert main(["demo", "--no-photos"]) == 0
    assert "40 fictional patients" in capsys.readouterr().out
    assert main(["demo", "--no-photos"]) == 0
    assert "nothing added" in capsys.readouterr().out


def _luminance_histogram(jpeg: bytes) -> list[int]:
    return Image.open(io.BytesIO(jpeg)).convert("L").histogram()


def _dark_fraction(jpeg: bytes, threshold: int) -> float:
    histogram = _luminance_histogram(jpeg)
    return sum(histogram[:threshold]) / sum(histogram)


@pytest.mark.parametrize("view", SCALP_VIEWS)
def test_visible_hair_grows_with_recorded_density(view):
    bare = draw_scalp_photo(1, view, seed=5)
    histogram = _luminance_histogram(bare)
    half, seen, median = sum(histogram) / 2, 0, 0
    while seen + histogram[median] < half:
        seen += histogram[median]
        median += 1
    threshold = int(0.6 * median)  # well below the bare scalp, above the hair

    def hair(density: float, jitter: int = 0) -> float:
        """Share of the frame darkened by hair: dark pixels beyond those of the bare scalp."""
        return _dark_fraction(draw_scalp_photo(density, view, seed=5, jitter=jitter),
                              threshold) - _dark_fraction(bare, threshold)

    fractions = [hair(d) for d in (60, 100, 140, 180, 240)]
    assert fractions == sorted(fractions) and len(set(fractions)) == len(fractions), fractions
    assert fractions[0] > 0.005
    # A typical before/after (120 → 165 hairs/cm², two visits) is plain to see, not a few stray pixels.
    before, after = hair(120, jitter=0), hair(165, jitter=1)
    assert after > before * 1.3, (before, after)


def test_scalp_photo_is_a_reproducible_jpeg_of_the_asked_size():
    first = draw_scalp_photo(150, "frontal", seed=9, size=(640, 480), jitter=2)
    assert first == draw_scalp_photo(150, "frontal", seed=9, size=(640, 480), jitter=2)
    assert first != draw_scalp_photo(150, "frontal", seed=9, size=(640, 480), jitter=3)
    image = Image.open(io.BytesIO(first))
    assert (image.format, image.size) == ("JPEG", (640, 480))
    with pytest.raises(ValueError):
        draw_scalp_photo(150, "nape", seed=9)
