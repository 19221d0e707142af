"""Soft deletes (``tracker.records.history.soft_delete``): removed rows stay in the history with their reason.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.patient_samples import DR, TODAY
from tracker.database import transaction
from tracker.errors import ConflictError, NotFound, ValidationError
from tracker.records.history import soft_delete
from tracker.records.patient_record import patient_record
from tracker.records.therapies import add_therapy


def test_removing_a_visit_keeps_it_in_history_with_its_reason(recorded):
    url, _ = recorded
    record = patient_record(DR, "RT-7", today=TODAY)
    baseline = record.timeline[0]
    soft_delete(DR, "visit", baseline.row_id, "entered on the wrong patient", expected_version=baseline.version)
    record = patient_record(DR, "RT-7", today=TODAY)
    assert [e.kind for e in record.timeline] == ["session", "visit"]
    # Without a baseline the 3-month visit can no longer be judged.
    assert record.milestones[0].status == "no_baseline"
    removed = [(h.what, h.old_value, h.reason, h.by) for h in record.history]
    assert ("Visit", "visit of 2025-01-10", "entered on the wrong patient", "dr.lee") in removed
    assert sum(1 for h in record.history if h.what == "Photo") == 2  # its photos went with it
    with transaction(url) as session:
        visit = session.get(models.Visit, baseline.row_id)
        assert (visit.deleted_by, visit.deleted_reason, visit.version) == ("dr.lee", "entered on the wrong patient", 2)
        measurements = session.scalars(select(models.DensityMeasurement).where(
            models.DensityMeasurement.visit_id == visit.id)).all()
        assert all(m.deleted_at is not None for m in measurements)
    with pytest.raises(ConflictError, match="already removed"):
        soft_delete(DR, "visit", baseline.row_id, "again")


@pytest.mark.parametrize("kind", ["session", "photo"])
def test_removing_a_session_or_photo(recorded, kind):
    url, _ = recorded
    record = patient_record(DR, "RT-7", today=TODAY)
    row_id = record.timeline[1].row_id if kind == "session" else record.timeline[0].photos[0].id
    soft_delete(DR, kind, row_id, "duplicate entry")
    record = patient_record(DR, "RT-7", today=TODAY)
    if kind == "session":
        assert record.day0 is None and [e.kind for e in record.timeline] == ["visit", "visit"]
    else:
        assert len(record.timeline[0].photos) == 1
    assert record.history[0].reason == "duplicate entry"


def test_removing_a_therapy(recorded):
    url, _ = recorded
    therapy_id = add_therapy(DR, "RT-7", "minoxidil", "5%", date(2025, 1, 1), today=TODAY)
    soft_delete(DR, "therapy", therapy_id, "never started", expected_version=1)
    record = patient_record(DR, "RT-7", today=TODAY)
    assert record.therapies == ()
    assert record.history[0].old_value == "minoxidil from 2025-01-01"


@pytest.mark.parametrize("kind, reason, error", [
    ("visit", "", ValidationError),
    ("patient", "why", ValidationError),
    ("visit", "why", ConflictError),  # stale version
])
def test_bad_removals_write_nothing(recorded, kind, reason, error):
    url, _ = recorded
    visit_id = patient_record(DR, "RT-7", today=TODAY).timeline[0].row_id
    with pytest.raises(error):
        soft_delete(DR, kind, visit_id, reason, expected_version=7)
    assert len(patient_record(DR, "RT-7", today=TODAY).timeline) == 3


def test_removing_what_does_not_exist(recorded):
    with pytest.raises(NotFound):
        soft_delete(DR, "photo", 9999, "gone")
