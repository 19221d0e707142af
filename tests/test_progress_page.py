"""The progress page's one read: the progress view and the photo record together, one access check and one
audit entry, exactly what the two separate services return."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.scalp_samples import make_photo_patient
from tracker.access.actors import Actor
from tracker.access.patient_lookup import resolve_patient
from tracker.database import transaction
from tracker.errors import PermissionDenied
from tracker.photos.timeline import photo_timeline
from tracker.progress.page_data import progress_page
from tracker.progress.view import build_view

AS_OF = date(2026, 2, 1)
CLINICIAN = Actor("dr.lee", "clinician")


def _views(url: str) -> list[tuple[str, str | None]]:
    with transaction(url) as session:
        return [(row.username, row.detail) for row in session.execute(
            select(models.AuditEntry.username, models.AuditEntry.detail)
            .where(models.AuditEntry.action == "view").order_by(models.AuditEntry.id))]


def test_page_is_the_progress_view_and_the_photo_timeline_in_one_audited_read(clinic):
    made = make_photo_patient(clinic, "P-1", "Ada Example")
    page = progress_page(CLINICIAN, "P-1", AS_OF, clinic)
    with transaction(clinic) as session:
        assert page.view == build_view(session, resolve_patient(session, CLINICIAN, "P-1"), AS_OF)
    assert page.photos == photo_timeline(CLINICIAN, "P-1", clinic)
    entries = _views(clinic)
    assert entries[0] == ("dr.lee", "progress and photo record (7 photos)")  # one entry for the whole page
    assert len(entries) == 2  # then the photo timeline's own

    coverage = page.coverage
    assert (coverage.photo_count, coverage.visits_with_photos) == (7, 4)  # deleted photo and visit left out
    by_view = {v.view: v for v in coverage.views}
    assert [v.view for v in coverage.views][:6] == [
        "frontal", "vertex", "left_temporal", "right_temporal", "occipital", "closeup"]
    assert (by_view["vertex"].visits, by_view["vertex"].first, by_view["vertex"].latest) == (
        4, date(2025, 1, 2), date(2026, 1, 20))
    assert (by_view["frontal"].visits, by_view["frontal"].first) == (2, date(2025, 1, 15))  # month 6's was removed
    assert (by_view["occipital"].visits, by_view["occipital"].first) == (0, None)
    assert coverage.latest_visit == date(2026, 1, 20)
    assert coverage.missing_at_latest == (
        "Left temporal", "Right temporal", "Occipital", "Close-up (trichoscopy)")
    assert made.patient_id


def test_page_of_a_patient_without_photos(clinic):
    from tests.test_progress_view import make_patient

    make_patient(clinic, "P-2", "Bea Example")
    coverage = progress_page(CLINICIAN, "P-2", AS_OF, clinic).coverage
    assert (coverage.photo_count, coverage.visits_with_photos, coverage.latest_visit) == (0, 0, None)
    assert coverage.missing_at_latest == () and all(v.visits == 0 for v in coverage.views)


def test_patient_account_reads_its_own_page_and_no_other(clinic):
    own = make_photo_patient(clinic, "P-1", "Ada Example")
    make_photo_patient(clinic, "P-2", "Bea Other", seed=2)
    patient = Actor("ada", "patient", patient_id=own.patient_id)
    page = progress_page(patient, None, AS_OF, clinic)
    assert (page.view.mrn, page.photos.mrn, page.photos.full_name) == ("P-1", "P-1", "Ada Example")
    with pytest.raises(PermissionDenied):
        progress_page(patient, "P-2", AS_OF, clinic)
    with transaction(clinic) as session:
        refused = session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "refused")).all()
    assert refused == ["progress: asked for MRN 'P-2'"]
