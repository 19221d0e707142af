"""The patient record (``tracker.records.patient_record``): header, milestone strip, timeline; who may read it.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.patient_samples import DR, TODAY, patient_actor, seed
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied
from tracker.records.patient_record import patient_record


def test_target_areas_stored_with_spaces_read_without_them(recorded):
    url, _ = recorded
    with transaction(url) as session:  # as the demo once stored them
        session.scalars(select(models.Patient).where(models.Patient.mrn == "RT-7")).one().target_areas = (
            "vertex,  frontal")
    assert patient_record(DR, "RT-7", today=TODAY).details.target_areas == ("vertex", "frontal")


def test_record_header_strip_and_timeline(recorded):
    url, _ = recorded
    record = patient_record(DR, "RT-7", today=TODAY)
    assert record.day0 == date(2025, 1, 10)
    assert record.details.age == 50
    strip = record.milestones
    assert [m.name for m in strip] == ["early_response", "noticeable_growth", "continued_improvement"]
    # 90 days = 2.957 months: band -10+0.957*15 = +4.35 to 5+0.957*15 = +19.35. Frontal (baseline 100, noise
    # 10) at -5 is below the band but not below 4.35 - 10 = -5.65; vertex (baseline 150, noise 15) at +20 is
    # above it but not above 19.35 + 15 = 34.35: both within the measurement noise, so on track.
    assert (strip[0].status, strip[0].window_start, strip[0].window_end) == (
        "on_track", date(2025, 3, 10), date(2025, 4, 10))
    # The same sentence as the progress cards, with the noise that makes each on track and true minus signs.
    assert strip[0].site_notes == (
        "Frontal on 2025-04-10: −5 hairs/cm² (−5%). The expected range is +4 to +19; the difference is within "
        "the measurement noise (±10), so this is consistent with the expected course.",
        "Vertex on 2025-04-10: +20 hairs/cm² (+13%). The expected range is +4 to +19; the difference is within "
        "the measurement noise (±15), so this is consistent with the expected course.",
    )
    # Month 6 window 2025-06-10..08-10 opens after TODAY.
    assert (strip[1].status, strip[1].target, strip[1].overdue) == ("upcoming", date(2025, 7, 10), False)
    assert record.milestone_note is None
    timeline = record.timeline
    assert [(e.date, e.kind) for e in timeline] == [
        (date(2025, 1, 10), "visit"), (date(2025, 1, 10), "session"), (date(2025, 4, 10), "visit")]
    assert [(d.site, d.density) for d in timeline[0].densities] == [("frontal", 100), ("vertex", 150)]
    assert len(timeline[0].photos) == 2 and timeline[2].photos == ()
    assert (timeline[1].product, timeline[1].lot_number, timeline[1].title) == (
        "ExoHair", "LOT-0110", "Exosome session")


def test_record_of_a_new_patient_explains_the_empty_strip(clinic):
    seed(clinic, "NEW-1", "Eli New")
    record = patient_record(DR, "NEW-1", today=TODAY)
    assert record.milestones == () and record.day0 is None
    assert "No treatment session yet" in record.milestone_note


def test_patient_account_reaches_only_its_own_record(recorded):
    url, patient_id = recorded
    other_id = seed(url, "RT-8", "Gina Other")
    assert patient_record(patient_actor(patient_id), "RT-7", today=TODAY).details.mrn == "RT-7"
    with pytest.raises(PermissionDenied) as refused:
        patient_record(patient_actor(patient_id), "RT-8", today=TODAY)
    with pytest.raises(PermissionDenied) as unknown:
        patient_record(patient_actor(patient_id), "NO-SUCH", today=TODAY)
    assert str(refused.value) == str(unknown.value)  # a refusal does not confirm that an MRN exists
    assert patient_record(patient_actor(other_id), "RT-8", today=TODAY).details.full_name == "Gina Other"


def test_record_needs_an_actor_and_an_existing_patient(recorded):
    with pytest.raises(PermissionDenied):
        patient_record(None, "RT-7", today=TODAY)
    with pytest.raises(NotFound):
        patient_record(DR, "NO-SUCH", today=TODAY)


def test_viewing_a_record_is_audited(recorded):
    url, patient_id = recorded
    patient_record(DR, "RT-7", today=TODAY)
    with transaction(url) as session:
        entry = session.scalar(select(models.AuditEntry).order_by(models.AuditEntry.id.desc()))
    assert (entry.action, entry.patient_id, entry.username) == ("view", patient_id, "dr.lee")


def test_the_visit_list_carries_each_visits_assessment_and_satisfaction(recorded):
    url, _ = recorded
    with transaction(url) as session:
        later = session.scalar(select(models.Visit).where(models.Visit.date == date(2025, 4, 10)))
        later.global_assessment, later.satisfaction = -1, 4
    visits = [e for e in patient_record(DR, "RT-7", today=TODAY).timeline if e.kind == "visit"]
    assert [(e.date, e.global_assessment, e.satisfaction) for e in visits] == [
        (date(2025, 1, 10), None, None), (date(2025, 4, 10), -1, 4)]
