"""Serving photos (``tracker.photos.serving``) and who may see what, for the three photo services (timeline,
images, before/after: one refusal rule), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db import models
from tests.scalp_samples import ADMIN, CLINICIAN, make_photo_patient, opened
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied
from tracker.photos.before_after import before_after
from tracker.photos.serving import photo_image
from tracker.photos.timeline import photo_timeline


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
        ("dr.lee", f"photo {made.photos['baseline_vertex']} (Vertex, visit of 2025-01-15)"),
        ("dr.lee", "before/after Vertex: 2025-01-15 and 2026-01-20"),
    ]
    assert {e.patient_id for e in entries} == {made.patient_id}
