"""The record page's "Correct an entry" form (ui/record_corrections.py), driven through the app with AppTest:
pre-filled with the recorded values, saved with a reason, the change and the new judgement said, conflicts and bad
values refused with what was typed kept.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tests.patient_samples import ADMIN, DR, seed
from tracker.database import transaction
from tracker.records.measurement_corrections import correct_measurement
from tracker.records.patient_record import patient_record

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def typo_patient(url) -> int:
    """RT-30: day 0 on 2025-01-10 with 130 hairs/cm² at the vertex; the 3-month visit typed 183 for 138."""
    seed(url, "RT-30", "Tomas Typo", sessions=[date(2025, 1, 10)],
         visits=[(date(2025, 1, 10), {"vertex": 130}), (date(2025, 4, 10), {"vertex": 183})])
    with transaction(url) as session:
        return session.execute(select(models.DensityMeasurement.id).where(
            models.DensityMeasurement.density_per_cm2 == 183)).scalar_one()


def open_record(mrn: str = "RT-30") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = DR
    at.session_state["mrn"] = mrn
    at.run()
    at.switch_page("pages/patient_record.py")
    at.run()
    assert not at.exception, at.exception
    return at


def choose(at: AppTest, key: str) -> AppTest:
    at.selectbox(key="fix_choice").set_value(key).run()
    assert not at.exception, at.exception
    return at


def messages(at: AppTest, kind: str) -> str:
    return "\n".join(element.value for element in getattr(at, kind)).replace("\\", "")


def test_a_density_is_corrected_and_the_new_judgement_shown(clinic):
    measurement_id = typo_patient(clinic)
    at = choose(open_record(), f"measurement:{measurement_id}")
    assert at.text_input(key="fix_density_per_cm2").value == "183"  # pre-filled with what was recorded
    assert at.text_input(key="fix_site").value == "vertex"
    at.text_input(key="fix_density_per_cm2").input("138")
    at.text_input(key="fix_reason").input("typed 183 for 138")
    at.button(key="fix_submit").click().run()
    assert not at.exception, at.exception
    success = messages(at, "success")
    assert ("Corrected Vertex density 183 hairs/cm² at the visit of 2025-04-10: Density (hairs/cm²): 183 → 138. "
            "The previous values are in the history.") in success
    # +8 from 130, inside the band +4.35 .. +19.35 at 2.957 months; it read ahead with 183 (+53).
    assert ("Early response (2–3 months), Vertex: now On track (was Ahead). Vertex on 2025-04-10: +8 hairs/cm² "
            "(+6%). The expected range is +4 to +19") in success
    history = at.dataframe[-1].value
    assert list(history.iloc[0][["What", "Field", "Previous value", "New value", "Reason"]]) == [
        "Density measurement (Vertex, visit of 2025-04-10)", "Density (hairs/cm²)", "183", "138", "typed 183 for 138"]
    record = patient_record(DR, "RT-30")
    assert record.milestones[0].status == "on_track"
    assert record.timeline[-1].densities[0].density == 138
    # The form closed; choosing the entry again opens it at the new version with the new value.
    assert at.selectbox(key="fix_choice").value is None
    at = choose(at, f"measurement:{measurement_id}")
    assert at.text_input(key="fix_density_per_cm2").value == "138"


def test_a_correction_without_a_reason_or_with_a_bad_value_keeps_what_was_typed(clinic):
    measurement_id = typo_patient(clinic)
    at = choose(open_record(), f"measurement:{measurement_id}")
    at.text_input(key="fix_density_per_cm2").input("13,8")
    at.button(key="fix_submit").click().run()
    assert "A reason is required" in messages(at, "error")
    at.text_input(key="fix_density_per_cm2").input("1380")
    at.text_input(key="fix_reason").input("typo")
    at.button(key="fix_submit").click().run()
    assert "density at vertex 1380 is out of range" in messages(at, "error")
    assert at.text_input(key="fix_density_per_cm2").value == "1380"
    assert patient_record(DR, "RT-30").timeline[-1].densities[0].density == 183


def test_someone_elses_change_meanwhile_is_a_conflict(clinic):
    measurement_id = typo_patient(clinic)
    at = choose(open_record(), f"measurement:{measurement_id}")
    correct_measurement(ADMIN, measurement_id, {"anagen_pct": "80"}, "from the printout", expected_version=1)
    at.text_input(key="fix_density_per_cm2").input("138")
    at.text_input(key="fix_reason").input("typo")
    at.button(key="fix_submit").click().run()
    assert "Someone else changed this record since you opened it; reload and re-apply" in messages(at, "error")
    assert patient_record(DR, "RT-30").timeline[-1].densities[0].density == 183
    at.button(key="fix_reload").click().run()  # reload: the other change shows, and a save goes through
    assert at.text_input(key="fix_anagen_pct").value == "80"
    at.text_input(key="fix_density_per_cm2").input("138")
    at.text_input(key="fix_reason").input("typo")
    at.button(key="fix_submit").click().run()
    assert "Density (hairs/cm²): 183 → 138" in messages(at, "success")


def test_a_visit_date_and_a_photo_view_are_corrected(recorded):
    url, _ = recorded
    with transaction(url) as session:
        visit_id = session.scalar(select(models.Visit.id).where(models.Visit.date == date(2025, 4, 10)))
        photo_id = session.scalar(select(models.Photo.id).where(models.Photo.view == "frontal"))
    at = choose(open_record("RT-7"), f"visit:{visit_id}")
    assert at.text_input(key="fix_date").value == "2025-04-10"
    at.text_input(key="fix_date").input("2025-01-10")
    at.text_input(key="fix_reason").input("typo")
    at.button(key="fix_submit").click().run()
    assert "the patient already has a visit on 2025-01-10" in messages(at, "error")
    at.text_input(key="fix_date").input("2025-04-08")
    at.selectbox(key="fix_satisfaction").set_value(8)
    at.button(key="fix_submit").click().run()
    assert "Date: 2025-04-10 → 2025-04-08; Patient satisfaction (0–10): (empty) → 8" in messages(at, "success")
    at = choose(at, f"photo:{photo_id}")
    at.selectbox(key="fix_view").set_value("occipital")
    at.text_input(key="fix_reason").input("filed under the wrong view")
    at.button(key="fix_submit").click().run()
    assert "View: Frontal → Occipital" in messages(at, "success")
    assert [p.view for p in patient_record(DR, "RT-7").timeline[0].photos] == ["vertex", "occipital"]


def test_a_session_lot_is_corrected(recorded):
    url, _ = recorded
    with transaction(url) as session:
        session_id = session.scalar(select(models.TreatmentSession.id))
    at = choose(open_record("RT-7"), f"session:{session_id}")
    assert (at.text_input(key="fix_lot_number").value, at.text_input(key="fix_date").value) == (
        "LOT-0110", "2025-01-10")
    at.text_input(key="fix_lot_number").input("")
    at.text_input(key="fix_reason").input("lot misread")
    at.button(key="fix_submit").click().run()
    assert "lot number is required for exosome sessions" in messages(at, "error")
    at.text_input(key="fix_lot_number").input("LOT-0111")
    at.text_input(key="fix_volume_ml").input("4,5")
    at.button(key="fix_submit").click().run()
    assert "Lot number: LOT-0110 → LOT-0111; Volume (ml): (empty) → 4.5" in messages(at, "success")
    assert "No milestone judgement changed." in messages(at, "info")


def test_a_stage_and_salt_regions_are_corrected(recorded):
    url, _ = recorded
    with transaction(url) as session:
        visit_id = session.scalar(select(models.Visit.id).where(models.Visit.date == date(2025, 4, 10)))
        stage = models.ScaleScore(visit_id=visit_id, scale="norwood", stage="III", created_by="test")
        salt = models.ScaleScore(visit_id=visit_id, scale="salt", salt_score=20.0, salt_vertex_pct=50,
                                 salt_posterior_pct=0, salt_left_pct=0, salt_right_pct=0, created_by="test")
        session.add_all([stage, salt])
        session.flush()
        stage_id, salt_id = stage.id, salt.id
    at = choose(open_record("RT-7"), f"scale score:{stage_id}")
    assert at.selectbox(key="fix_stage").value == "III"
    at.selectbox(key="fix_stage").set_value("IV")
    at.text_input(key="fix_reason").input("restaged from the photos")
    at.button(key="fix_submit").click().run()
    assert "Stage: III → IV" in messages(at, "success")
    at = choose(at, f"scale score:{salt_id}")
    assert at.text_input(key="fix_salt_vertex_pct").value == "50"
    at.text_input(key="fix_salt_vertex_pct").input("80")
    at.text_input(key="fix_reason").input("vertex misread")
    at.button(key="fix_submit").click().run()
    # SALT = 80 % × 0.40 (the vertex's share of the scalp) = 32.
    assert "SALT vertex % hair loss: 50 → 80; SALT score: 20 → 32" in messages(at, "success")


def test_values_nobody_touched_are_neither_rounded_nor_recorded_as_changes(clinic):
    """Issue #12 review: 138.3333333 and 61.23456789 were pre-filled as 138.333 and 61.2346; correcting only
    Terminal % saved the rounded values too, and the history read "138.333 → 138.333"."""
    measurement_id = typo_patient(clinic)
    with transaction(clinic) as session:
        row = session.get(models.DensityMeasurement, measurement_id)
        row.density_per_cm2, row.shaft_diameter_um = 138.3333333, 61.23456789
    at = choose(open_record(), f"measurement:{measurement_id}")
    assert at.text_input(key="fix_density_per_cm2").value == "138.3333333"
    assert at.text_input(key="fix_shaft_diameter_um").value == "61.23456789"
    at.text_input(key="fix_terminal_pct").input("70")
    at.text_input(key="fix_reason").input("terminal % from the printout")
    at.button(key="fix_submit").click().run()
    assert not at.exception and not at.error, messages(at, "error")
    assert ("Corrected Vertex density 138.333 hairs/cm² at the visit of 2025-04-10: Terminal %: (empty) → 70. The "
            "previous values are in the history.") in messages(at, "success")
    with transaction(clinic) as session:
        row = session.get(models.DensityMeasurement, measurement_id)
        assert (row.density_per_cm2, row.shaft_diameter_um, row.terminal_pct) == (138.3333333, 61.23456789, 70)
        kept = session.scalars(select(models.ChangeRecord.field)).all()
    assert kept == ["terminal_pct"]  # one history line: the value that changed


def test_a_correction_to_an_entry_removed_meanwhile_says_so(clinic):
    from tracker.records.history import soft_delete

    measurement_id = typo_patient(clinic)
    at = choose(open_record(), f"measurement:{measurement_id}")
    with transaction(clinic) as session:
        visit_id = session.get(models.DensityMeasurement, measurement_id).visit_id
    soft_delete(ADMIN, "visit", visit_id, "entered for the wrong patient")  # someone else, meanwhile
    at.text_input(key="fix_density_per_cm2").input("138")
    at.text_input(key="fix_reason").input("typo")
    at.button(key="fix_submit").click().run()
    assert not at.exception, at.exception
    assert ("Vertex density 183 hairs/cm² at the visit of 2025-04-10 was removed from the record by someone else "
            "since you opened it: nothing was saved") in messages(at, "error")
    assert at.selectbox(key="fix_choice").value is None
    assert not [box for box in at.text_input if box.key == "fix_density_per_cm2"]  # the form is closed
    with transaction(clinic) as session:
        assert session.get(models.DensityMeasurement, measurement_id).density_per_cm2 == 183
        assert session.get(models.Visit, visit_id).deleted_at is not None
        assert session.scalars(select(models.ChangeRecord.field)).all() == []


def test_an_unlikely_correction_is_asked_about_and_saved_only_by_save_anyway(clinic):
    """Issue #12 review: corrections skipped the forms' questions. 183 corrected to 58,3 (the comma read as a
    decimal): (58.3 − 130) / 130 = −55% from the previous visit's 130 → asked; 56 typed instead is asked afresh."""
    measurement_id = typo_patient(clinic)
    at = choose(open_record(), f"measurement:{measurement_id}")
    at.text_input(key="fix_density_per_cm2").input("58,3")
    at.text_input(key="fix_reason").input("from the printout")
    at.button(key="fix_submit").click().run()
    assert not at.exception and not at.error, messages(at, "error")
    assert ("Vertex density 58.3 hairs/cm² is 55% below the previous visit's 130 (2025-01-10): check the value"
            in messages(at, "warning"))
    assert "nothing was saved" in messages(at, "warning")
    assert at.text_input(key="fix_density_per_cm2").value == "58,3"  # what was typed is kept
    assert patient_record(DR, "RT-30").timeline[-1].densities[0].density == 183

    at.text_input(key="fix_density_per_cm2").input("56")  # changed after the question: asked about afresh
    at.button(key="fix_anyway").click().run()
    assert "Vertex density 56 hairs/cm² is 57% below the previous visit's 130" in messages(at, "warning")  # 74/130
    assert patient_record(DR, "RT-30").timeline[-1].densities[0].density == 183

    at.button(key="fix_anyway").click().run()
    assert not at.exception, at.exception
    assert "Density (hairs/cm²): 183 → 56" in messages(at, "success")
    assert "Please check before saving" not in messages(at, "warning")
    assert patient_record(DR, "RT-30").timeline[-1].densities[0].density == 56


def test_a_session_date_moved_far_from_every_visit_is_asked_about(clinic):
    typo_patient(clinic)
    with transaction(clinic) as session:
        session_id = session.scalar(select(models.TreatmentSession.id))
    at = choose(open_record(), f"session:{session_id}")
    at.text_input(key="fix_date").input("2023-01-10")
    at.text_input(key="fix_reason").input("year mistyped")
    at.button(key="fix_submit").click().run()
    assert not at.exception and not at.error, messages(at, "error")
    assert ("Session date 2023-01-10 is 731 days from the nearest visit (2025-01-10); no visit is within 120 days of "
            "it: check the date") in messages(at, "warning")
    at.button(key="fix_anyway").click().run()
    assert "Date: 2025-01-10 → 2023-01-10" in messages(at, "success")
