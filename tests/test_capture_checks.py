"""The photo check before a visit is saved (``tracker.records.capture_checks``) and what is stored with the photo,
through the real services on SQLite (and PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import date

import pytest
from PIL import Image, ImageFilter
from sqlalchemy import select

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.operations.demo_photos import draw_scalp_photo
from tracker.records.capture_checks import check_photos, previous_photo
from tracker.records.visit_form import PhotoUpload, SiteEntry, VisitEntry
from tracker.records.visits import log_visit

CLINICIAN = Actor(username="dr.lee", role="clinician")
TODAY = date(2025, 9, 1)
BASELINE = date(2025, 6, 2)
SIZE = (960, 720)
PDF = b"%PDF-1.4\n% a scanned consent form\n%%EOF\n"


def blurred(view: str) -> bytes:
    image = Image.open(io.BytesIO(draw_scalp_photo(140, view, 3, SIZE))).filter(ImageFilter.GaussianBlur(4))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def patient(clinic):
    """A patient with a baseline visit whose vertex photo is in the photo store."""
    with transaction(clinic) as session:
        session.add(models.Patient(mrn="RT-0001", full_name="Ana Souza", sex="female", birth_date=date(1980, 5, 1),
                                   condition="androgenetic_alopecia", created_by="test"))
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=BASELINE, sites=[SiteEntry("vertex", 120)]),
              [PhotoUpload("vertex", "vertex.jpg", draw_scalp_photo(120, "vertex", 3, SIZE))], today=TODAY)
    return clinic


def test_each_upload_is_measured_against_the_same_view_at_the_previous_visit(patient):
    uploads = [PhotoUpload("vertex", "top.jpg", draw_scalp_photo(120, "vertex", 3, SIZE, jitter=1)),
               PhotoUpload("occipital", "back.jpg", blurred("occipital")),
               PhotoUpload("frontal", "consent.jpg", PDF)]
    top, back, consent = check_photos(CLINICIAN, "RT-0001", uploads, before=TODAY)

    assert top.compared_with == BASELINE and top.quality is not None and top.quality.framing_score is not None
    assert top.sha256 == hashlib.sha256(uploads[0].data).hexdigest()
    assert back.compared_with is None and back.quality is not None and back.quality.framing_score is None
    assert back.problems[0].startswith('Occipital photo "back.jpg": out of focus: sharpness ')
    assert consent.quality is None and consent.record(kept=True) is None
    (refusal,) = consent.problems  # intake's own words, naming the view and the file
    assert refusal.startswith('Frontal photo: The file "consent.jpg" is a PDF document, not a photo')
    with transaction(patient) as session:
        details = session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "view")).all()
    assert "capture check of 3 photo(s) against 1 earlier photo(s)" in details


def test_the_previous_photo_is_the_one_of_the_latest_visit_before_the_visits_date(patient):
    (check,) = check_photos(CLINICIAN, "RT-0001", [PhotoUpload("vertex", "top.jpg", blurred("vertex"))],
                            before=BASELINE)  # the baseline itself: nothing earlier
    assert check.compared_with is None
    (check,) = check_photos(CLINICIAN, "RT-0001", [PhotoUpload("vertex", "top.jpg", blurred("vertex"))],
                            before="2025-06-03")  # typed as in the form
    assert check.compared_with == BASELINE
    shown = previous_photo(CLINICIAN, "RT-0001", "vertex", before=TODAY)
    assert shown is not None and shown.visit_date == BASELINE
    assert Image.open(io.BytesIO(shown.display_jpeg)).size == SIZE
    assert previous_photo(CLINICIAN, "RT-0001", "occipital", before=TODAY) is None


def test_a_checked_photo_is_stored_with_its_findings_and_another_files_findings_are_not(patient):
    back, top = PhotoUpload("occipital", "back.jpg", blurred("occipital")), PhotoUpload(
        "vertex", "top.jpg", draw_scalp_photo(125, "vertex", 3, SIZE, jitter=2))
    back_check, top_check = check_photos(CLINICIAN, "RT-0001", [back, top], before=TODAY)
    kept = PhotoUpload(back.view, back.file_name, back.data, quality=back_check.record(kept=True))
    # The vertex file was replaced after its check: the check's findings are not the new file's.
    replaced = PhotoUpload("vertex", "top-again.jpg", draw_scalp_photo(126, "vertex", 3, SIZE, jitter=3),
                           quality=top_check.record(kept=False))
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=TODAY, sites=[SiteEntry("vertex", 130)]), [kept, replaced],
              today=TODAY)
    with transaction(patient) as session:
        stored = {photo.view: photo.quality for photo in session.scalars(
            select(models.Photo).join(models.Visit).where(models.Visit.date == TODAY))}
    assert stored["vertex"] is None
    occipital = stored["occipital"]
    assert occipital["kept_anyway"] is True and occipital["sha256"] == hashlib.sha256(back.data).hexdigest()
    assert [problem["check"] for problem in occipital["problems"]] == ["focus"]
    assert occipital["width"] == SIZE[0] and occipital["sharpness"] < 15


def test_checking_decodes_each_upload_once(patient, monkeypatch):
    opened: Counter[str] = Counter()
    real_open = Image.open

    def counting_open(source, *args, **options):
        if hasattr(source, "read") and hasattr(source, "seek"):
            start = source.tell()
            opened[hashlib.sha256(source.read()).hexdigest()] += 1
            source.seek(start)
        return real_open(source, *args, **options)

    monkeypatch.setattr(Image, "open", counting_open)
    uploads = [PhotoUpload("vertex", "top.jpg", draw_scalp_photo(120, "vertex", 3, SIZE, jitter=1)),
               PhotoUpload("frontal", "front.jpg", draw_scalp_photo(120, "frontal", 3, SIZE))]
    check_photos(CLINICIAN, "RT-0001", uploads, before=TODAY)
    assert [opened[hashlib.sha256(u.data).hexdigest()] for u in uploads] == [1, 1]
