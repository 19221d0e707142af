"""Corrections of visits, measurements, scale scores, sessions and photo views in place (issue #12): the value
changed, the previous one kept in the history with the reason, version + 1, audited, the milestone judgement
recomputed at once; stale versions, bad values and no-op corrections refused with nothing written.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.patient_samples import DR, TODAY, changes_of, patient_actor, seed
from tracker.access.actors import Actor
from tracker.course.vocabulary import FIELD_WORDS
from tracker.database import transaction
from tracker.errors import ConflictError, NeedsConfirmation, NotFound, PermissionDenied, ValidationError
from tracker.photos.timeline import photo_timeline
from tracker.progress.patient_progress import progress_json
from tracker.records.history import soft_delete
from tracker.records.measurement_corrections import correct_measurement
from tracker.records.patient_record import patient_record
from tracker.records.photo_corrections import correct_photo_view
from tracker.records.row_corrections import NOTHING_CHANGED
from tracker.records.scale_corrections import correct_scale_score
from tracker.records.session_corrections import correct_session
from tracker.records.treatment_sessions import PRE_SESSION_CHECKS
from tracker.records.visit_corrections import correct_visit
from tracker.records.visit_form import CAPTURE_CHECKS

DAY0 = date(2025, 1, 10)
THREE_MONTHS = date(2025, 4, 10)


@pytest.fixture
def typo(clinic):
    """RT-30: an exosome session on day 0 (2025-01-10) with a baseline of 130 hairs/cm² at the vertex, and the
    3-month visit (2025-04-10) typed 183 instead of 138. Returns (url, measurement id of the 183)."""
    seed(clinic, "RT-30", "Tomas Typo", sessions=[DAY0],
         visits=[(DAY0, {"vertex": 130}), (THREE_MONTHS, {"vertex": 183})])
    with transaction(clinic) as session:
        measurement_id = session.scalar(select(models.DensityMeasurement.id).where(
            models.DensityMeasurement.density_per_cm2 == 183))
    return clinic, measurement_id


def row_of(url, model, row_id):
    with transaction(url) as session:
        row = session.get(model, row_id)
        session.expunge(row)
        return row


def audits(url) -> list[tuple[str, str]]:
    with transaction(url) as session:
        return [(a.action, a.detail) for a in session.scalars(
            select(models.AuditEntry).where(models.AuditEntry.action == "update").order_by(models.AuditEntry.id))]


# --- the judgement example --------------------------------------------------------------------------------


def test_a_mistyped_density_corrected_is_judged_again_at_once(typo):
    url, measurement_id = typo
    # 2025-01-10 → 2025-04-10 is 90 days = 2.957 months (days / 30.4375). The default band runs from −10..+5 at
    # month 2 to +5..+20 at month 3, so at 2.957 months it is −10 + 15 × 0.957 = +4.35 .. +19.35 hairs/cm²; the
    # noise is 10% of the 130 baseline = 13. Typed 183: +53 > 19.35 + 13 = 32.35, ahead.
    before = patient_record(DR, "RT-30", today=TODAY).milestones[0]
    assert (before.name, before.status) == ("early_response", "ahead")

    result = correct_measurement(DR, measurement_id, {"density_per_cm2": "138"}, "typed 183 for 138",
                                 expected_version=1, today=TODAY)

    # Corrected to 138: +8, inside +4.35 .. +19.35: on track.
    assert (result.kind, result.version) == ("measurement", 2)
    assert [(c.field, c.label, c.old_value, c.new_value) for c in result.changes] == [
        ("density_per_cm2", "Density (hairs/cm²)", "183", "138")]
    [judgement] = result.milestones
    assert (judgement.site, judgement.milestone, judgement.status_before, judgement.status) == (
        "vertex", "early_response", "ahead", "on_track")
    assert (judgement.visit_date, judgement.value, judgement.change, judgement.noise) == (THREE_MONTHS, 138, 8, 13)
    assert judgement.expected_low == pytest.approx(4.353, abs=1e-3)
    assert judgement.expected_high == pytest.approx(19.353, abs=1e-3)
    assert judgement.status_label == "On track" and judgement.changed
    # The record, the progress JSON (the page's and the PDF's source) read the corrected value.
    assert patient_record(DR, "RT-30", today=TODAY).milestones[0].status == "on_track"
    milestone = progress_json(DR, "RT-30", as_of=TODAY)["sites"][0]["milestones"][0]
    assert (milestone["density"], milestone["change"], milestone["status"]) == (138, 8, "on_track")
    # The history keeps 183 with who and why; the row's version went up; the audit trail says what changed.
    assert changes_of(url) == [("density_measurement", "density_per_cm2", "183", "138", "typed 183 for 138", "dr.lee")]
    history = patient_record(DR, "RT-30", today=TODAY).history
    assert [(h.what, h.field, h.old_value, h.new_value, h.reason) for h in history] == [
        ("Density measurement (Vertex, visit of 2025-04-10)", "Density (hairs/cm²)", "183", "138", "typed 183 for 138")]
    assert row_of(url, models.DensityMeasurement, measurement_id).version == 2
    assert audits(url) == [("update", f"density measurement {measurement_id} of visit 2 corrected: density_per_cm2")]


def test_a_measurement_reads_decimal_commas_and_clears_optional_values(typo):
    url, measurement_id = typo
    result = correct_measurement(DR, measurement_id, {"density_per_cm2": "138,5", "shaft_diameter_um": "62,5",
                                                      "terminal_pct": "71%", "anagen_pct": ""},
                                 "values from the device printout", expected_version=1, today=TODAY)
    assert [(c.field, c.old_value, c.new_value) for c in result.changes] == [
        ("density_per_cm2", "183", "138.5"), ("shaft_diameter_um", None, "62.5"), ("terminal_pct", None, "71")]
    row = row_of(url, models.DensityMeasurement, measurement_id)
    assert (row.density_per_cm2, row.shaft_diameter_um, row.terminal_pct, row.anagen_pct) == (138.5, 62.5, 71, None)


def test_a_measurement_moved_to_another_site(typo):
    url, measurement_id = typo
    result = correct_measurement(DR, measurement_id, {"site": "Frontal"}, "measured at the front",
                                 expected_version=1, today=TODAY)
    assert [(c.field, c.old_value, c.new_value) for c in result.changes] == [("site", "vertex", "frontal")]
    # The vertex has no 3-month visit now (due then missed); the frontal site has no baseline.
    assert {(m.site, m.status) for m in result.milestones} >= {("frontal", "no_baseline")}
    history = patient_record(DR, "RT-30", today=TODAY).history
    assert (history[0].field, history[0].old_value, history[0].new_value) == ("Site", "Vertex", "Frontal")


@pytest.mark.parametrize("changes, message", [
    ({"density_per_cm2": "abc"}, "density at vertex 'abc' is not a number"),
    ({"density_per_cm2": "700"}, "density at vertex 700 is out of range"),
    ({"density_per_cm2": ""}, "density at vertex is required"),
    ({"shaft_diameter_um": "250"}, "shaft diameter at vertex 250 µm is out of range"),
    ({"anagen_pct": "120"}, "anagen % at vertex 120 is out of range"),
    ({"colour": "red"}, "'colour' is not a field of a measurement"),
    ({"density_per_cm2": "183"}, NOTHING_CHANGED),
    ({"density_per_cm2": "183,0"}, NOTHING_CHANGED),
])
def test_bad_measurement_corrections_are_refused_and_nothing_is_written(typo, changes, message):
    url, measurement_id = typo
    with pytest.raises(ValidationError) as refused:
        correct_measurement(DR, measurement_id, changes, "typo", expected_version=1, today=TODAY)
    assert message in str(refused.value)
    row = row_of(url, models.DensityMeasurement, measurement_id)
    assert (row.density_per_cm2, row.version) == (183, 1)
    assert changes_of(url) == [] and audits(url) == []


def test_a_site_already_measured_at_the_visit_is_refused(typo):
    url, measurement_id = typo
    with transaction(url) as session:
        session.add(models.DensityMeasurement(visit_id=2, site="frontal", density_per_cm2=90, created_by="test"))
    with pytest.raises(ValidationError, match="site 'frontal' is already measured at this visit"):
        correct_measurement(DR, measurement_id, {"site": "frontal"}, "wrong site", expected_version=1, today=TODAY)


def test_a_stale_version_is_refused_with_nothing_written(typo):
    url, measurement_id = typo
    correct_measurement(DR, measurement_id, {"density_per_cm2": "138"}, "typo", expected_version=1, today=TODAY)
    with pytest.raises(ConflictError, match="Someone else changed this record since you opened it"):
        correct_measurement(DR, measurement_id, {"density_per_cm2": "183"}, "no, it was right", expected_version=1,
                            today=TODAY)
    assert row_of(url, models.DensityMeasurement, measurement_id).density_per_cm2 == 138
    assert len(changes_of(url)) == 1 and len(audits(url)) == 1


def test_reason_required_staff_only_and_removed_rows_are_not_found(typo):
    url, measurement_id = typo
    with pytest.raises(ValidationError, match="A reason is required"):
        correct_measurement(DR, measurement_id, {"density_per_cm2": "138"}, "  ", expected_version=1, today=TODAY)
    with pytest.raises(PermissionDenied):  # a patient account may read its record, never correct it
        correct_measurement(patient_actor(1), measurement_id, {"density_per_cm2": "138"}, "typo",
                            expected_version=1, today=TODAY)
    soft_delete(DR, "visit", 2, "wrong patient")
    with pytest.raises(NotFound):
        correct_measurement(DR, measurement_id, {"density_per_cm2": "138"}, "typo", expected_version=1, today=TODAY)
    assert changes_of(url) == []


# --- visits -----------------------------------------------------------------------------------------------


def test_a_visit_corrected_in_place(typo):
    url, _ = typo
    result = correct_visit(DR, 2, {"date": "2025-04-08", "notes": "  rechecked  ", "device": "Dermlite",
                                   "capture": {"dry_hair": True, "same_lighting": True},
                                   "global_assessment": "+1", "satisfaction": "7"},
                           "wrong day typed", expected_version=1, today=TODAY)
    assert result.version == 2
    assert [(c.field, c.old_value, c.new_value) for c in result.changes] == [
        ("date", "2025-04-10", "2025-04-08"), ("notes", None, "rechecked"), ("global_assessment", None, "1"),
        ("satisfaction", None, "7"), ("dry_hair", "no", "yes"), ("same_lighting", "no", "yes"),
        ("device", None, "Dermlite")]
    # Two days earlier: 88 days = 2.891 months, band +3.37 .. +18.37, +53 is still ahead; the judgement is
    # reported because the milestone is judged on the corrected visit.
    [judgement] = result.milestones
    assert (judgement.visit_date, judgement.status_before, judgement.status) == (date(2025, 4, 8), "ahead", "ahead")
    assert judgement.expected_low == pytest.approx(-10 + 15 * (88 / 30.4375 - 2), abs=1e-3)
    visit = row_of(url, models.Visit, 2)
    assert (visit.date, visit.notes, visit.global_assessment, visit.satisfaction) == (
        date(2025, 4, 8), "rechecked", 1, 7)
    assert visit.capture_conditions == {"dry_hair": True, "same_parting": False, "same_distance": False,
                                        "same_lighting": True, "device": "Dermlite"}
    history = {(h.field, h.old_value, h.new_value) for h in patient_record(DR, "RT-30", today=TODAY).history}
    assert ("Global photographic assessment", None, "+1 Slightly increased") in history
    assert ("Hair dry", "no", "yes") in history and ("Date", "2025-04-10", "2025-04-08") in history


def test_a_visit_moved_out_of_its_window_is_judged_again(typo):
    url, _ = typo
    # The early-response window is 2–3 months after day 0: 2025-03-10 .. 2025-04-10. Moved to 2025-05-20 the visit
    # leaves it: the window closed with no visit (missed), and the visit is not judged at 3 months any more.
    unticked = dict.fromkeys(CAPTURE_CHECKS, False)  # as the form sends a visit imported without its checklist
    result = correct_visit(DR, 2, {"date": "2025-05-20", "capture": unticked, "device": ""},
                           "date of the next visit typed", expected_version=1, today=TODAY)
    assert [(c.field, c.old_value, c.new_value) for c in result.changes] == [("date", "2025-04-10", "2025-05-20")]
    assert [(m.milestone, m.status_before, m.status) for m in result.milestones] == [
        ("early_response", "ahead", "missed")]
    assert row_of(url, models.Visit, 2).capture_conditions is None  # nothing recorded about it: nothing invented
    history = patient_record(DR, "RT-30", today=TODAY).history
    assert [(h.what, h.field, h.old_value, h.new_value) for h in history] == [
        ("Visit of 2025-05-20", "Date", "2025-04-10", "2025-05-20")]
    assert patient_record(DR, "RT-30", today=TODAY).milestones[0].status == "missed"


def test_a_visit_date_is_read_in_the_clinics_format(typo, monkeypatch):
    url, _ = typo
    monkeypatch.setenv("TRACKER_DATE_FORMAT", "DD/MM/YYYY")
    with pytest.raises(ValidationError, match="visit date '13/31/2025' is not a real date: there is no month 31"):
        correct_visit(DR, 2, {"date": "13/31/2025"}, "typo", expected_version=1, today=TODAY)
    with pytest.raises(ValidationError, match="the patient already has a visit on 10/01/2025"):
        correct_visit(DR, 2, {"date": "10/01/2025"}, "typo", expected_version=1, today=TODAY)
    correct_visit(DR, 2, {"date": "08/04/2025"}, "typo", expected_version=1, today=TODAY)  # 8 April, not 4 August
    assert row_of(url, models.Visit, 2).date == date(2025, 4, 8)
    history = patient_record(DR, "RT-30", today=TODAY).history
    assert [(h.what, h.old_value, h.new_value) for h in history] == [
        ("Visit of 08/04/2025", "10/04/2025", "08/04/2025")]


@pytest.mark.parametrize("changes, message", [
    ({"date": "2025-07-01"}, "visit date 2025-07-01 is in the future (today is 2025-06-01)"),
    ({"date": "1974-12-31"}, "visit date 1974-12-31 is before the patient's birth date 1975-01-01"),
    ({"date": "10/04/2025"}, "visit date '10/04/2025' is not written YYYY-MM-DD"),
    ({"date": "2025-01-10"}, "the patient already has a visit on 2025-01-10"),
    ({"satisfaction": "11"}, "patient satisfaction 11 is out of range"),
    ({"global_assessment": "4"}, "global photographic assessment +4 is out of range"),
    ({"capture": {"flash": True}}, "the capture checklist has no item 'flash'"),
    ({"notes": "x" * 10_001}, "notes is too long"),
    ({"date": "2025-04-10", "notes": ""}, NOTHING_CHANGED),
])
def test_bad_visit_corrections_are_refused(typo, changes, message):
    url, _ = typo
    with pytest.raises(ValidationError) as refused:
        correct_visit(DR, 2, changes, "typo", expected_version=1, today=TODAY)
    assert message in str(refused.value)
    assert row_of(url, models.Visit, 2).version == 1 and changes_of(url) == [] and audits(url) == []


def test_a_stale_visit_version_is_refused(typo):
    url, _ = typo
    correct_visit(DR, 2, {"notes": "first"}, "note", expected_version=1, today=TODAY)
    with pytest.raises(ConflictError):
        correct_visit(DR, 2, {"date": "2025-04-08"}, "typo", expected_version=1, today=TODAY)
    assert row_of(url, models.Visit, 2).date == THREE_MONTHS and len(changes_of(url)) == 1


# --- scale scores -----------------------------------------------------------------------------------------


def add_score(url, visit_id, **values) -> int:
    with transaction(url) as session:
        score = models.ScaleScore(visit_id=visit_id, created_by="test", **values)
        session.add(score)
        session.flush()
        return score.id


def test_a_stage_corrected(typo):
    url, _ = typo
    score_id = add_score(url, 2, scale="norwood", stage="III")
    result = correct_scale_score(DR, score_id, {"stage": "IIIA"}, "vertex variant", expected_version=1, today=TODAY)
    assert [(c.field, c.old_value, c.new_value) for c in result.changes] == [("stage", "III", "IIIA")]
    assert (result.version, row_of(url, models.ScaleScore, score_id).stage) == (2, "IIIA")
    with pytest.raises(ValidationError, match="Norwood–Hamilton stage 'VIII' is not one of"):
        correct_scale_score(DR, score_id, {"stage": "VIII"}, "typo", expected_version=2, today=TODAY)
    with pytest.raises(ValidationError, match="'salt_vertex_pct' is not a field of a stage"):
        correct_scale_score(DR, score_id, {"salt_vertex_pct": "10"}, "typo", expected_version=2, today=TODAY)
    with pytest.raises(ConflictError):
        correct_scale_score(DR, score_id, {"stage": "IV"}, "typo", expected_version=1, today=TODAY)
    assert len(changes_of(url)) == 1


def test_salt_regions_corrected_and_the_score_and_judgement_follow(clinic):
    # An alopecia areata patient on the SALT protocol: baseline SALT 40 (vertex 100% lost), day 0 2025-01-10; at
    # the 3-month visit the vertex was typed 50 (SALT 20, a 50% improvement) for 80 (SALT 32, 20%).
    with transaction(clinic) as session:
        protocol = session.scalar(select(models.Protocol).where(models.Protocol.outcome_measure == "salt"))
        patient = models.Patient(mrn="RT-AA", full_name="Alma Areata", sex="female", birth_date=date(1990, 1, 1),
                                 condition="alopecia_areata", baseline_scale="salt", baseline_stage="40",
                                 protocol_id=protocol.id, created_by="test")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=DAY0, treatment="exosome", product="Exo",
                                            lot_number="L1", created_by="test"))
        visits = [models.Visit(patient_id=patient.id, date=day, created_by="test") for day in (DAY0, THREE_MONTHS)]
        session.add_all(visits)
        session.flush()
        baseline_visit, visit_id = visits[0].id, visits[1].id
    add_score(clinic, baseline_visit, scale="salt", salt_score=40.0, salt_vertex_pct=100, salt_posterior_pct=0,
              salt_left_pct=0, salt_right_pct=0)
    score_id = add_score(clinic, visit_id, scale="salt", salt_score=20.0, salt_vertex_pct=50, salt_posterior_pct=0,
                         salt_left_pct=0, salt_right_pct=0)
    result = correct_scale_score(DR, score_id, {"salt_vertex_pct": "80"}, "vertex misread", expected_version=1,
                                 today=TODAY)
    # SALT = 80 × 0.40 = 32. Improvement (40 − 32) / 40 = 20%; the SALT band at 2.957 months is
    # −20 + 20 × 2.957 / 3 ≈ −0.29 .. +29.71 (noise 10 points): on track, where 50% was ahead (> 39.71).
    assert [(c.field, c.old_value, c.new_value) for c in result.changes] == [
        ("salt_vertex_pct", "50", "80"), ("salt_score", "20", "32")]
    [judgement] = result.milestones
    assert (judgement.status_before, judgement.status, judgement.value, judgement.change) == (
        "ahead", "on_track", 32, 20)
    with pytest.raises(ValidationError, match="SALT vertex \\(top\\) % hair loss 120 is out of range"):
        correct_scale_score(DR, score_id, {"salt_vertex_pct": "120"}, "typo", expected_version=2, today=TODAY)


# --- sessions ---------------------------------------------------------------------------------------------


def session_id_of(url) -> int:
    with transaction(url) as session:
        return session.execute(select(models.TreatmentSession.id)).scalar_one()


def test_a_session_corrected_in_place(typo):
    url, _ = typo
    session_id = session_id_of(url)
    result = correct_session(DR, session_id, {"lot_number": " LOT-0111 ", "volume_ml": "4,5", "product": "ExoHair",
                                              "areas": "vertex,   crown", "checklist": {"hydrated": True}},
                             "lot misread from the vial", expected_version=1, today=TODAY)
    assert [(c.field, c.old_value, c.new_value) for c in result.changes] == [
        ("lot_number", "LOT-0110", "LOT-0111"), ("volume_ml", None, "4.5"), ("areas", None, "vertex, crown"),
        ("hydrated", "no", "yes")]
    assert result.milestones == ()  # nothing of the course changed
    row = row_of(url, models.TreatmentSession, session_id)
    assert (row.lot_number, row.volume_ml, row.version) == ("LOT-0111", 4.5, 2)
    what = {(h.what, h.field, h.old_value, h.new_value) for h in patient_record(DR, "RT-30", today=TODAY).history}
    assert ("Exosome session of 2025-01-10", "Lot number", "LOT-0110", "LOT-0111") in what


def test_a_session_date_moves_day_0_and_the_milestones_follow(typo):
    url, _ = typo
    # Day 0 moved from 2025-01-10 to 2025-02-10: the early-response window is now 2025-04-10 .. 2025-05-10 and the
    # 2025-04-10 visit, 59 days = 1.94 months after day 0, is its first day; the band there is still the shedding
    # phase's −10 .. +5. The baseline stays the 2025-01-10 visit (on or before day 0): +53 is ahead.
    result = correct_session(DR, session_id_of(url), {"date": "2025-02-10"}, "wrong month", expected_version=1,
                             today=TODAY)
    early = next(m for m in result.milestones if m.milestone == "early_response")
    assert (early.status_before, early.status) == ("ahead", "ahead")
    assert early.visit_date == THREE_MONTHS  # 2025-04-10 is the window's first day now, 2 months after day 0
    assert early.expected_low == pytest.approx(-10.0) and early.expected_high == pytest.approx(5.0)
    assert patient_record(DR, "RT-30", today=TODAY).day0 == date(2025, 2, 10)


@pytest.mark.parametrize("changes, message", [
    ({"lot_number": ""}, "lot number is required for exosome sessions"),
    ({"date": "2025-07-01"}, "session date 2025-07-01 is in the future"),
    ({"date": "1970-01-01"}, "session date 1970-01-01 is before the patient's birth date"),
    ({"treatment": "laser"}, "treatment 'laser' is not one of exosome, prp, other"),
    ({"volume_ml": "45"}, "volume 45 ml is out of range"),
    ({"checklist": {"fasting": True}}, "the pre-session checklist has no item 'fasting'"),
    ({"lot_number": "LOT-0110", "product": "ExoHair"}, NOTHING_CHANGED),
])
def test_bad_session_corrections_are_refused(typo, changes, message):
    url, _ = typo
    session_id = session_id_of(url)
    with pytest.raises(ValidationError) as refused:
        correct_session(DR, session_id, changes, "typo", expected_version=1, today=TODAY)
    assert message in str(refused.value)
    assert row_of(url, models.TreatmentSession, session_id).version == 1 and changes_of(url) == []


def test_a_prp_session_may_lose_its_lot_and_an_exosome_one_needs_one(typo):
    url, _ = typo
    session_id = session_id_of(url)
    correct_session(DR, session_id, {"treatment": "prp", "lot_number": ""}, "it was PRP", expected_version=1,
                    today=TODAY)
    with pytest.raises(ValidationError, match="lot number is required for exosome sessions"):
        correct_session(DR, session_id, {"treatment": "exosome"}, "it was exosome after all", expected_version=2,
                        today=TODAY)
    with pytest.raises(ConflictError):
        correct_session(DR, session_id, {"notes": "x"}, "note", expected_version=1, today=TODAY)


# --- photos -----------------------------------------------------------------------------------------------


def test_a_photo_moved_from_right_temporal_to_vertex_appears_under_vertex(recorded):
    url, _ = recorded
    with transaction(url) as session:
        visit_id = session.scalar(select(models.Visit.id).where(models.Visit.date == date(2025, 4, 10)))
        photo = models.Photo(visit_id=visit_id, view="right_temporal", sha256="ab" * 32, original_key="o/r",
                             display_key="d/r", thumbnail_key="t/r", media_type="image/jpeg", width=10, height=10,
                             original_file_name="IMG_0412.jpg", created_by="test")
        session.add(photo)
        session.flush()
        photo_id = photo.id
    before = photo_timeline(DR, "RT-7")
    assert {row.view: row.cells[1] for row in before.rows}.get("right_temporal") == photo_id
    result = correct_photo_view(DR, photo_id, "vertex", "filed under the wrong view", expected_version=1)
    assert [(c.field, c.old_value, c.new_value) for c in result.changes] == [("view", "right_temporal", "vertex")]
    rows = {row.view: row.cells for row in photo_timeline(DR, "RT-7").rows}
    assert "right_temporal" not in rows and rows["vertex"][1] == photo_id
    history = patient_record(DR, "RT-7", today=TODAY).history
    assert (history[0].what, history[0].field, history[0].old_value, history[0].new_value) == (
        "Photo (IMG_0412.jpg, visit of 2025-04-10)", "View", "Right temporal", "Vertex")
    assert row_of(url, models.Photo, photo_id).version == 2
    with pytest.raises(ValidationError, match=NOTHING_CHANGED):
        correct_photo_view(DR, photo_id, "vertex", "again", expected_version=2)
    with pytest.raises(ValidationError, match="view 'crown' is not a standard view: choose one of Frontal, Vertex"):
        correct_photo_view(DR, photo_id, "crown", "typo", expected_version=2)
    with pytest.raises(ConflictError):
        correct_photo_view(DR, photo_id, "occipital", "typo", expected_version=1)


def test_a_photo_cannot_join_its_own_twin(recorded):
    url, _ = recorded
    with transaction(url) as session:
        vertex = session.scalar(select(models.Photo).where(models.Photo.view == "vertex"))
        twin = models.Photo(visit_id=vertex.visit_id, view="occipital", sha256=vertex.sha256, original_key="o/v",
                            display_key="d/v", thumbnail_key="t/v", media_type="image/jpeg", width=10, height=10,
                            created_by="test")
        session.add(twin)
        session.flush()
        twin_id = twin.id
    with pytest.raises(ValidationError, match="this very photo is already filed under Vertex at this visit"):
        correct_photo_view(DR, twin_id, "vertex", "wrong view", expected_version=1)
    assert changes_of(url) == []


def test_the_checklists_words_are_the_forms_words():
    for key, label in (CAPTURE_CHECKS | PRE_SESSION_CHECKS).items():
        assert FIELD_WORDS[key] == label


def test_every_kind_of_correction_is_audited_with_the_fields_it_changed(recorded):
    url, patient_id = recorded
    with transaction(url) as session:
        visit = session.scalar(select(models.Visit).where(models.Visit.date == date(2025, 4, 10)))
        measurement_id = session.scalar(select(models.DensityMeasurement.id).where(
            models.DensityMeasurement.visit_id == visit.id, models.DensityMeasurement.site == "vertex"))
        photo_id = session.scalar(select(models.Photo.id).where(models.Photo.view == "frontal"))
        visit_id = visit.id
    score_id = add_score(url, visit_id, scale="norwood", stage="III")
    session_id = session_id_of(url)
    correct_visit(DR, visit_id, {"satisfaction": "6"}, "asked at the desk", expected_version=1, today=TODAY)
    correct_measurement(DR, measurement_id, {"terminal_pct": "64"}, "printout", expected_version=1, today=TODAY)
    correct_scale_score(DR, score_id, {"stage": "IV"}, "restaged", expected_version=1, today=TODAY)
    correct_session(DR, session_id, {"volume_ml": "5"}, "vial size", expected_version=1, today=TODAY)
    correct_photo_view(DR, photo_id, "occipital", "wrong view", expected_version=1)
    assert audits(url) == [
        ("update", f"visit {visit_id} corrected: satisfaction"),
        ("update", f"density measurement {measurement_id} of visit {visit_id} corrected: terminal_pct"),
        ("update", f"scale score {score_id} of visit {visit_id} corrected: stage"),
        ("update", f"treatment session {session_id} corrected: volume_ml"),
        ("update", f"photo {photo_id} of visit 1 corrected: view"),
    ]
    with transaction(url) as session:
        entries = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "update")).all()
        assert {(e.username, e.patient_id) for e in entries} == {("dr.lee", patient_id)}
    assert [h.reason for h in patient_record(DR, "RT-7", today=TODAY).history][:5] == [
        "wrong view", "vial size", "restaged", "printout", "asked at the desk"]


def test_two_clinicians_correcting_the_same_density_at_once_never_overwrite_each_other(typo, figure):
    """Both opened version 1 and save together: the row's lock makes one wait for the other, which then finds
    version 2 and is refused; whichever order the database picks, one value and one history line are kept."""
    url, measurement_id = typo
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def save(who: str, density: str) -> None:
        start.wait()
        try:
            outcomes[who] = correct_measurement(Actor(who, "clinician"), measurement_id, {"density_per_cm2": density},
                                                "typo", expected_version=1, today=TODAY, url=url)
        except ConflictError as refused:
            outcomes[who] = refused

    threads = [threading.Thread(target=save, args=args) for args in (("dr.a", "138"), ("dr.b", "139"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    saved = {who: result for who, result in outcomes.items() if not isinstance(result, ConflictError)}
    assert len(outcomes) == 2 and len(saved) == 1, outcomes
    [(winner, _)] = saved.items()
    assert row_of(url, models.DensityMeasurement, measurement_id).density_per_cm2 == {"dr.a": 138, "dr.b": 139}[winner]
    assert [(c[2], c[5]) for c in changes_of(url)] == [("183", winner)]
    figure(f"concurrent corrections ({url.split(':')[0]}): 2 at once on one row, 1 saved, 1 refused")


# --- issue #12 review: corrections ask the logging forms' plausibility questions ----------------------------


def ids(url, model, **where) -> int:
    with transaction(url) as session:
        return session.execute(select(model.id).filter_by(**where)).scalar_one()


def test_a_corrected_density_far_from_the_sites_neighbouring_visit_is_asked_first(clinic):
    """Frontal 121.4 → 58.3 was saved without a question: (58.3 − 121.4) / 121.4 = −51.98%, asked as 52% below
    the previous visit's 121.4. Compared with the neighbouring visit, never with the value being corrected."""
    seed(clinic, "RT-31", "Fiona Frontal", visits=[(date(2025, 1, 10), {"frontal": 121.4}),
                                                   (date(2025, 4, 10), {"frontal": 121.4}),
                                                   (date(2025, 7, 10), {"frontal": 300})])
    april = ids(clinic, models.DensityMeasurement, density_per_cm2=121.4, visit_id=ids(
        clinic, models.Visit, date=date(2025, 4, 10)))
    # 300 typed for 130: −57% from the value corrected, but +7% from the previous visit's 121.4 → not asked.
    july = ids(clinic, models.DensityMeasurement, density_per_cm2=300)
    correct_measurement(DR, july, {"density_per_cm2": "130"}, "typo", expected_version=1, today=TODAY)
    assert row_of(clinic, models.DensityMeasurement, july).density_per_cm2 == 130

    question = ("Frontal density 58.3 hairs/cm² is 52% below the previous visit's 121.4 (2025-01-10): "
                "check the value")
    with pytest.raises(NeedsConfirmation) as asked:
        correct_measurement(DR, april, {"density_per_cm2": "58,3"}, "printout", expected_version=1, today=TODAY)
    assert asked.value.warnings == (question,)
    assert row_of(clinic, models.DensityMeasurement, april).density_per_cm2 == 121.4  # nothing saved
    assert len(changes_of(clinic)) == 1  # the July correction only
    saved = correct_measurement(DR, april, {"density_per_cm2": "58,3"}, "printout", expected_version=1,
                                today=TODAY, acknowledged=[question])
    assert (saved.version, row_of(clinic, models.DensityMeasurement, april).density_per_cm2) == (2, 58.3)


def test_a_visit_moved_six_years_before_the_first_session_is_asked_first(clinic):
    """14/01/2026 → 14/01/2020 with the first session on 2026-01-20: 2198 days before it, more than a year."""
    seed(clinic, "RT-32", "Yusuf Year", sessions=[date(2026, 1, 20)], visits=[(date(2026, 1, 14), {"vertex": 140})])
    visit_id = ids(clinic, models.Visit, date=date(2026, 1, 14))
    today = date(2026, 6, 1)
    with pytest.raises(NeedsConfirmation) as asked:
        correct_visit(DR, visit_id, {"date": "2020-01-14"}, "typo", expected_version=1, today=today)
    assert asked.value.warnings == (
        "Visit date 2020-01-14 is 2198 days before the first treatment session (2026-01-20), more than a year: a "
        "baseline is measured shortly before the first session; check the date",)
    assert row_of(clinic, models.Visit, visit_id).date == date(2026, 1, 14)
    correct_visit(DR, visit_id, {"date": "2020-01-14"}, "typo", expected_version=1, today=today,
                  acknowledged=asked.value.warnings)
    assert row_of(clinic, models.Visit, visit_id).date == date(2020, 1, 14)


def test_a_session_moved_two_years_from_every_visit_is_asked_first(typo):
    url, _ = typo
    session_id = ids(url, models.TreatmentSession)
    with pytest.raises(NeedsConfirmation) as asked:
        correct_session(DR, session_id, {"date": "2023-01-10"}, "typo", expected_version=1, today=TODAY)
    # 2023-01-10 to the nearest visit, 2025-01-10: 731 days.
    assert asked.value.warnings == (
        "Session date 2023-01-10 is 731 days from the nearest visit (2025-01-10); no visit is within 120 days of it: "
        "check the date",)
    assert row_of(url, models.TreatmentSession, session_id).date == DAY0
    assert changes_of(url) == []
    correct_session(DR, session_id, {"date": "2023-01-10"}, "typo", expected_version=1, today=TODAY,
                    acknowledged=asked.value.warnings)
    assert row_of(url, models.TreatmentSession, session_id).date == date(2023, 1, 10)
