"""The "Log visit" and "Log treatment session" pages, driven through the real entry script with AppTest.

Streamlit 1.67's AppTest can stage uploads (``file_uploader(...).upload``) and camera shots, so photos and
batch documents go through the pages as a browser would send them.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db import models
from tracker.access.actors import Actor
from tracker.clinic_dates import show_date
from tracker.course.calendar_months import add_months
from tracker.database import transaction
from tracker.operations.demo_photos import draw_scalp_photo
from tracker.records.treatment_sessions import SessionEntry, log_session
from tracker.records.visit_form import SiteEntry, VisitEntry
from tracker.records.visits import log_visit

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CLINICIAN = Actor(username="dr.lee", role="clinician")
SAVE_VISIT = "FormSubmitter:log_visit-Save visit"
SAVE_SESSION = "FormSubmitter:log_session-Save session"
KEEP_PHOTOS = "FormSubmitter:log_visit-Keep these photos and save"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def add_patient(url, mrn="RT-0001", *, full_name="Ana Souza", condition="androgenetic_alopecia",
                target_areas="vertex, frontal", sex="female") -> int:
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=full_name, sex=sex, birth_date=date(1980, 5, 1),
                                 condition=condition, target_areas=target_areas, created_by="test")
        session.add(patient)
        session.flush()
        return patient.id


def jpeg() -> bytes:
    """A sharp, well-exposed scalp photo, which the photo check passes (the save is not stopped to ask about it)."""
    return draw_scalp_photo(150, "vertex", 7, (960, 720))


def count(url, model) -> int:
    with transaction(url) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def shown(text: str) -> str:
    """What the reader sees of a Markdown string: the pages escape punctuation with backslashes."""
    return re.sub(r"\\(.)", r"\1", text)


def errors(at) -> str:
    return shown("\n".join(e.value for e in at.error))


def open_page(page: str, actor: Actor = CLINICIAN, mrn: str | None = "RT-0001") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = actor
    if mrn:
        at.session_state["mrn"] = mrn
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception
    return at


# --- Log visit --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_visit_page_renders_for_staff_with_sites_prefilled(clinic, role):
    add_patient(clinic, full_name="Ana [Souza]")
    at = open_page("pages/log_visit.py", Actor(username="dr.lee", role=role))
    assert at.title[0].value == "Log visit"
    assert shown(at.subheader[0].value) == "Ana [Souza] · MRN RT-0001"  # brackets shown, not a link
    assert [w.key for w in at.text_input if w.key.startswith("visit_density_")] == [
        "visit_density_vertex", "visit_density_frontal"]
    assert len(at.file_uploader) == 6  # one per standard view
    assert at.selectbox(key="visit_scale").value == "ludwig"


@pytest.mark.parametrize("page", ["pages/log_visit.py", "pages/log_session.py"])
def test_logging_pages_are_absent_for_a_patient_account(clinic, page):
    patient_id = add_patient(clinic)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = Actor(username="ana", role="patient", patient_id=patient_id)
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)


def test_visit_page_without_a_patient_offers_a_search(clinic):
    add_patient(clinic, "RT-0001", full_name="Ana Souza")
    add_patient(clinic, "RT-0002", full_name="Bruno Lima")
    at = open_page("pages/log_visit.py", mrn=None)
    at.text_input(key="pick_visit_query").set_value("bruno").run()
    assert at.selectbox(key="pick_visit_patient").value.mrn == "RT-0002"
    at.button(key="pick_visit_go").click().run()
    assert not at.exception
    assert at.session_state["mrn"] == "RT-0002"
    assert shown(at.subheader[0].value) == "Bruno Lima · MRN RT-0002"


def test_visit_validation_lists_every_problem_and_keeps_what_was_typed(clinic):
    add_patient(clinic)
    at = open_page("pages/log_visit.py")
    tomorrow = date.today() + timedelta(days=1)
    at.text_input(key="visit_date").input(show_date(tomorrow))
    at.text_input(key="visit_density_vertex").input("0")
    at.text_input(key="visit_density_frontal").input("700")
    at.text_input(key="visit_terminal_frontal").input("120")
    at.selectbox(key="visit_stage_ludwig").set_value("II")
    at.checkbox(key="visit_check_dry_hair").check()
    at.text_area(key="visit_notes").set_value("Patient *reports* less shedding")
    at.button(key=SAVE_VISIT).click().run()

    assert not at.exception
    text = errors(at)
    assert f"visit date {tomorrow.isoformat()} is in the future" in text
    assert "density at vertex 0 is out of range" in text
    assert "density at frontal 700 is out of range" in text
    assert "terminal % at frontal 120 is out of range" in text
    # Everything typed is still there.
    assert at.text_input(key="visit_date").value == show_date(tomorrow)
    assert at.text_input(key="visit_density_vertex").value == "0"
    assert at.text_input(key="visit_density_frontal").value == "700"
    assert at.text_input(key="visit_terminal_frontal").value == "120"
    assert at.selectbox(key="visit_stage_ludwig").value == "II"
    assert at.checkbox(key="visit_check_dry_hair").value is True
    assert at.text_area(key="visit_notes").value == "Patient *reports* less shedding"
    assert count(clinic, models.Visit) == 0


def test_visit_saved_from_the_page_with_a_photo_and_the_form_starts_afresh(clinic):
    patient_id = add_patient(clinic)
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_date").input(show_date(date(2025, 3, 1)))
    at.text_input(key="visit_density_vertex").input("151.5")
    at.text_input(key="visit_shaft_vertex").input("64")
    at.selectbox(key="visit_stage_ludwig").set_value("II")
    for check in ("dry_hair", "same_parting", "same_distance", "same_lighting"):
        at.checkbox(key=f"visit_check_{check}").check()
    at.text_area(key="visit_notes").set_value("baseline")
    uploader = next(u for u in at.file_uploader if u.key.startswith("visit_photos_vertex_"))
    uploader.upload("top.jpg", jpeg(), "image/jpeg")
    at.button(key=SAVE_VISIT).click().run()

    assert not at.exception, at.exception
    assert not at.error
    assert at.success[0].value == "Visit of 2025-03-01 saved."
    outcome = at.dataframe[0].value
    assert list(outcome["Site"]) == ["Vertex"] and list(outcome["Status"]) == ["Baseline recorded"]
    assert at.text_input(key="visit_density_vertex").value == ""  # a fresh form
    assert at.selectbox(key="visit_stage_ludwig").value == ""  # "Not scored", not the last visit's stage
    assert at.selectbox(key="visit_assessment").value is None  # "Not assessed"
    with transaction(clinic) as session:
        visit = session.scalars(select(models.Visit)).one()
        assert (visit.patient_id, visit.date, visit.notes, visit.created_by) == (
            patient_id, date(2025, 3, 1), "baseline", "dr.lee")
        assert visit.capture_conditions["dry_hair"] is True
        (measurement,) = visit.measurements
        assert (measurement.site, measurement.density_per_cm2, measurement.shaft_diameter_um) == ("vertex", 151.5, 64)
        assert session.scalars(select(models.ScaleScore.stage)).one() == "II"
        photo = session.scalars(select(models.Photo)).one()
        assert (photo.view, photo.original_file_name) == ("vertex", "top.jpg")


def test_visit_page_shows_the_milestone_status_at_once(clinic):
    patient_id = add_patient(clinic, target_areas="vertex")
    day0 = add_months(date.today(), -3)
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=day0 - timedelta(days=3), sites=(SiteEntry("vertex", 150.0),)))
    log_session(CLINICIAN, "RT-0001", SessionEntry(date=day0, treatment="exosome", lot_number="L-1"))
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_density_vertex").input("162")  # +12: inside the 3-month band (≈ +5 … +20)
    at.button(key=SAVE_VISIT).click().run()

    assert not at.exception and not at.error
    row = at.dataframe[0].value.iloc[0]
    assert row["Milestone"] == "Early response (2–3 months)"
    assert row["Change vs baseline (hairs/cm²)"] == "+12.0 (+8%)"
    assert row["Status"] == "On track: consistent with the expected range"
    assert count(clinic, models.Visit) == 2
    assert patient_id


def test_salt_calculator_for_alopecia_areata(clinic):
    add_patient(clinic, condition="alopecia_areata")
    at = open_page("pages/log_visit.py")
    assert at.selectbox(key="visit_scale").value == "salt"
    for region, value in (("vertex", 10), ("posterior", 20), ("left_side", 30), ("right_side", 40)):
        at.text_input(key=f"visit_salt_{region}").input(str(value))
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception and not at.error
    assert "SALT score: 21.4" in [m.value for m in at.markdown]
    with transaction(clinic) as session:
        assert session.scalars(select(models.ScaleScore.salt_score)).one() == 21.4


def test_salt_region_out_of_range_is_reported(clinic):
    add_patient(clinic, condition="alopecia_areata")
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_salt_vertex").input("150")
    at.button(key=SAVE_VISIT).click().run()
    assert "SALT vertex (top) % hair loss 150 is out of range" in errors(at)
    assert "posterior (back) % hair loss is required" in errors(at)
    assert at.text_input(key="visit_salt_vertex").value == "150"
    assert count(clinic, models.ScaleScore) == 0


def test_a_site_can_be_added(clinic):
    add_patient(clinic)
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_new_site").set_value("Left temporal")
    at.button(key="visit_add_site").click().run()
    assert not at.exception
    at.text_input(key="visit_density_left_temporal").input("120")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.error
    with transaction(clinic) as session:
        assert session.scalars(select(models.DensityMeasurement.site)).all() == ["left_temporal"]


def test_a_refused_photo_is_named_and_nothing_is_saved(clinic):
    add_patient(clinic)
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_density_vertex").input("150")
    uploader = next(u for u in at.file_uploader if u.key.startswith("visit_photos_occipital_"))
    uploader.upload("[scan](x).jpg", b"%PDF-1.7 not a photo", "image/jpeg")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception
    assert 'Occipital photo: The file "[scan](x).jpg" is a PDF document, not a photo' in errors(at)
    assert "\\[scan\\]" in at.error[0].value  # the name is escaped, never a Markdown link
    assert at.text_input(key="visit_density_vertex").value == "150"
    assert count(clinic, models.Visit) == 0 and count(clinic, models.Photo) == 0


def test_photos_from_a_photo_library_export_and_a_cut_off_upload_are_told_apart(clinic):
    """A PNG whose XMP unpacks past Pillow's 1 MiB guard is saved as it is; a cut-off one is called cut off."""
    import photo_samples as samples

    add_patient(clinic)
    exported = samples.png_with_chunks(samples.scene((640, 480)), samples.xmp_itxt(3 * 1024 * 1024))
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_density_vertex").input("150")
    uploader = next(u for u in at.file_uploader if u.key.startswith("visit_photos_occipital_"))
    uploader.upload("back.png", exported[: len(exported) // 2], "image/png")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception
    assert 'Occipital photo: The file "back.png" is an incomplete PNG photo: the file ends before its picture ' \
        "does" in errors(at)
    assert count(clinic, models.Visit) == 0 and count(clinic, models.Photo) == 0

    uploader = next(u for u in at.file_uploader if u.key.startswith("visit_photos_occipital_"))
    uploader.upload("back.png", exported, "image/png")
    at.button(key=SAVE_VISIT).click().run()
    # The exported scene is four flat colours: the photo check asks about it first (nothing saved), and it is kept.
    assert any("out of focus" in shown(w.value) for w in at.warning)
    assert count(clinic, models.Photo) == 0
    at.button(key=KEEP_PHOTOS).click().run()
    assert not at.exception and not at.error
    with transaction(clinic) as session:
        photo = session.scalars(select(models.Photo)).one()
        assert (photo.view, photo.media_type, photo.sha256) == (
            "occipital", "image/png", hashlib.sha256(exported).hexdigest())


# Camera photos go through the capture guide, a custom component that runs in the browser: they are tested in a
# real browser with Chromium's fake camera (tests/test_browser_capture_guide.py).


def test_choosing_another_patient_starts_a_fresh_form(clinic):
    add_patient(clinic, "RT-0001")
    add_patient(clinic, "RT-0002", full_name="Bruno Lima", target_areas="vertex")
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_density_vertex").input("150")
    at.text_area(key="visit_notes").set_value("for Ana")
    at.button(key="pick_visit_other").click().run()
    at.text_input(key="pick_visit_query").set_value("RT-0002").run()
    at.button(key="pick_visit_go").click().run()
    assert not at.exception
    assert shown(at.subheader[0].value) == "Bruno Lima · MRN RT-0002"
    assert at.text_input(key="visit_density_vertex").value == ""
    assert at.text_area(key="visit_notes").value == ""


# --- Log treatment session -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_session_page_renders_for_staff(clinic, role):
    add_patient(clinic)
    at = open_page("pages/log_session.py", Actor(username="dr.lee", role=role))
    assert at.title[0].value == "Log treatment session"
    assert at.text_input(key="session_areas").value == "Vertex, Frontal"  # the stored codes, in words
    assert at.selectbox(key="session_treatment").value == "exosome"
    assert len(at.file_uploader) == 1


def test_session_validation_lists_every_problem_and_keeps_what_was_typed(clinic):
    add_patient(clinic)
    at = open_page("pages/log_session.py")
    at.text_input(key="session_date").input(show_date(date(2025, 1, 31)))
    at.text_input(key="session_product").set_value("ExoVial 5")
    at.text_input(key="session_volume").input("50")
    at.text_area(key="session_notes").set_value("calm patient")
    at.button(key=SAVE_SESSION).click().run()
    assert not at.exception
    text = errors(at)
    assert "lot number is required for exosome sessions" in text
    assert "volume 50 ml is out of range" in text
    assert at.text_input(key="session_product").value == "ExoVial 5"
    assert at.text_input(key="session_volume").value == "50"
    assert at.text_area(key="session_notes").value == "calm patient"
    assert at.text_input(key="session_date").value == show_date(date(2025, 1, 31))
    assert count(clinic, models.TreatmentSession) == 0


def test_session_saved_from_the_page_shows_nsaid_span_and_next_window(clinic):
    patient_id = add_patient(clinic)
    at = open_page("pages/log_session.py")
    at.text_input(key="session_date").input(show_date(date(2025, 1, 31)))
    at.text_input(key="session_product").set_value("ExoVial 5")
    at.text_input(key="session_lot").set_value("LOT-17")
    at.text_input(key="session_volume").input("4")
    at.checkbox(key="session_check_hydrated").check()
    at.checkbox(key="session_check_no_nsaids").check()
    at.file_uploader(key="session_documents_1").upload("certificate.pdf", PDF, "application/pdf")
    at.button(key=SAVE_SESSION).click().run()

    assert not at.exception and not at.error
    assert shown(at.success[0].value) == "Exosome session of 2025-01-31 saved, lot LOT-17."
    assert [w.value for w in at.warning] == ["Not confirmed: Ate breakfast this morning"]
    infos = [i.value for i in at.info]
    assert "Avoid aspirin and ibuprofen (NSAIDs) from 2025-01-28 until 2025-02-21." in infos
    assert "Next session window: 2025-04-30 to 2025-07-31." in infos
    assert at.text_input(key="session_lot").value == ""  # a fresh form; the lot is never carried over
    assert at.text_input(key="session_product").value == "ExoVial 5"
    with transaction(clinic) as session:
        row = session.scalars(select(models.TreatmentSession)).one()
        assert (row.patient_id, row.lot_number, row.volume_ml, row.created_by) == (patient_id, "LOT-17", 4, "dr.lee")
        assert row.checklist == {"hydrated": True, "breakfast": False, "no_nsaids": True}
        document = session.scalars(select(models.BatchDocument)).one()
        assert (document.file_name, document.media_type) == ("certificate.pdf", "application/pdf")


def test_a_refused_document_is_named_and_nothing_is_saved(clinic):
    add_patient(clinic)
    at = open_page("pages/log_session.py")
    at.text_input(key="session_date").input(show_date(date(2025, 1, 31)))
    at.selectbox(key="session_treatment").set_value("prp")
    at.file_uploader(key="session_documents_1").upload("consent.pdf", b"PK\x03\x04 a zip", "application/pdf")
    at.button(key=SAVE_SESSION).click().run()
    assert not at.exception
    assert 'The file "consent.pdf" is not a PDF or an image we can read' in errors(at)
    assert at.selectbox(key="session_treatment").value == "prp"
    assert count(clinic, models.TreatmentSession) == 0 and count(clinic, models.BatchDocument) == 0


@pytest.mark.parametrize("page", ["log_visit.py", "log_session.py"])
def test_logging_pages_refuse_a_patient_account_even_when_run_directly(clinic, page):
    patient_id = add_patient(clinic)
    at = AppTest.from_file(str(Path(APP).parent / "pages" / page), default_timeout=30)
    at.session_state["actor"] = Actor(username="ana", role="patient", patient_id=patient_id)
    at.session_state["mrn"] = "RT-0001"
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["This page is not available to your account."]
    assert not at.number_input and not at.file_uploader


# --- Issue #12: typed values, plausibility, remembered set-up, photos later --------------------------------

SAVE_ANYWAY = "FormSubmitter:log_visit-Save anyway"
SAVE_SESSION_ANYWAY = "FormSubmitter:log_session-Save anyway"


def visit_rows(url) -> list[tuple[date, tuple[tuple[str, float], ...], int | None]]:
    """Every visit: its date, its (site, density) pairs and its number of photos."""
    with transaction(url) as session:
        return [
            (visit.date, tuple((m.site, m.density_per_cm2) for m in visit.measurements),
             session.scalar(select(func.count()).select_from(models.Photo).where(models.Photo.visit_id == visit.id)))
            for visit in session.scalars(select(models.Visit).order_by(models.Visit.date, models.Visit.id))
        ]


def warnings_shown(at) -> str:
    return shown("\n".join(w.value for w in at.warning))


def test_the_visit_date_starts_as_today_in_the_clinics_format_and_a_decimal_comma_is_a_decimal(clinic):
    add_patient(clinic)
    at = open_page("pages/log_visit.py")
    assert at.text_input(key="visit_date").value == show_date(date.today())
    assert at.text_input(key="visit_date").label == "Visit date (YYYY-MM-DD)"
    at.text_input(key="visit_date").input("2026-08-20")
    at.text_input(key="visit_density_vertex").input("58,3")  # the issue: saved as 583 by the number box
    at.text_input(key="visit_density_frontal").input("120,5")  # the issue: saved as 1205
    at.text_input(key="visit_terminal_frontal").input("62,5")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception and not at.error, errors(at)
    assert visit_rows(clinic) == [(date(2026, 8, 20), (("vertex", 58.3), ("frontal", 120.5)), 0)]
    with transaction(clinic) as session:
        assert session.scalars(select(models.DensityMeasurement.terminal_pct)
                               .where(models.DensityMeasurement.site == "frontal")).one() == 62.5


def test_a_date_in_another_format_is_refused_naming_the_clinics_format_and_nothing_is_saved(clinic):
    add_patient(clinic)
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_date").input("20/08/2026")  # the issue: became 2008-02-06, saved as the baseline
    at.text_input(key="visit_density_vertex").input("150")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception
    assert ("visit date '20/08/2026' is not written YYYY-MM-DD; type it as YYYY-MM-DD, for example 2026-08-20"
            in errors(at))
    assert at.text_input(key="visit_date").value == "20/08/2026"  # kept as typed, to be corrected
    assert count(clinic, models.Visit) == 0


def test_a_dd_mm_yyyy_clinic_reads_20_08_2026_as_20_august(clinic, monkeypatch):
    monkeypatch.setenv("TRACKER_DATE_FORMAT", "DD/MM/YYYY")
    add_patient(clinic)
    at = open_page("pages/log_visit.py")
    assert at.text_input(key="visit_date").label == "Visit date (DD/MM/YYYY)"
    assert at.text_input(key="visit_date").value == date.today().strftime("%d/%m/%Y")
    at.text_input(key="visit_date").input("20/08/2026")
    at.text_input(key="visit_density_vertex").input("150")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception and not at.error, errors(at)
    assert at.success[0].value == "Visit of 20/08/2026 saved."
    assert visit_rows(clinic) == [(date(2026, 8, 20), (("vertex", 150.0),), 0)]


def test_satisfaction_is_typed_and_7_5_is_not_changed_into_a_whole_number(clinic):
    add_patient(clinic)
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_satisfaction").input("7,5")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception
    assert "patient satisfaction 7,5 is not a whole number: choose a score from 0" in errors(at)
    assert count(clinic, models.Visit) == 0
    at.text_input(key="visit_satisfaction").input("8")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.error, errors(at)
    with transaction(clinic) as session:
        assert session.scalars(select(models.Visit.satisfaction)).one() == 8


def test_a_density_far_from_the_previous_visit_asks_first_and_save_anyway_saves_it(clinic):
    add_patient(clinic, target_areas="vertex")
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2026, 5, 2), sites=(SiteEntry("vertex", 120.0),)))
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_date").input("2026-08-20")
    at.text_input(key="visit_density_vertex").input("210")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception and not at.error
    # (210 − 120) / 120 = 75%
    assert ("Vertex density 210 hairs/cm² is 75% above the previous visit's 120 (2026-05-02): check the value"
            in warnings_shown(at))
    assert len(visit_rows(clinic)) == 1  # nothing saved yet
    assert at.text_input(key="visit_density_vertex").value == "210"  # what was typed is kept

    # A value changed after the question is asked about afresh: the confirmation was for 210.
    at.text_input(key="visit_density_vertex").input("220")
    at.button(key=SAVE_ANYWAY).click().run()
    assert "Vertex density 220 hairs/cm² is 83% above the previous visit's 120" in warnings_shown(at)  # 100/120
    assert len(visit_rows(clinic)) == 1

    at.button(key=SAVE_ANYWAY).click().run()
    assert not at.exception and not at.error, errors(at)
    assert at.success[0].value == "Visit of 2026-08-20 saved."
    assert visit_rows(clinic)[-1] == (date(2026, 8, 20), (("vertex", 220.0),), 0)
    assert not at.warning


def test_a_density_change_within_half_the_previous_value_does_not_ask(clinic):
    add_patient(clinic, target_areas="vertex")
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2026, 5, 2), sites=(SiteEntry("vertex", 120.0),)))
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_date").input("2026-08-20")
    at.text_input(key="visit_density_vertex").input("180")  # +60 = exactly 50%: not more than 50%
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception and not at.error and not at.warning
    assert at.success[0].value == "Visit of 2026-08-20 saved."
    assert len(visit_rows(clinic)) == 2


def test_a_visit_more_than_a_year_before_the_first_session_asks_first(clinic):
    add_patient(clinic, target_areas="vertex")
    log_session(CLINICIAN, "RT-0001", SessionEntry(date=date(2026, 8, 21), treatment="exosome", lot_number="L-1"))
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_date").input("2024-01-10")
    at.text_input(key="visit_density_vertex").input("150")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception and not at.error
    # 2024-01-10 → 2026-01-10: 366 + 365 = 731 days; → 2026-08-21: 21+28+31+30+31+30+31+21 = 223; 954 in all.
    assert ("Visit date 2024-01-10 is 954 days before the first treatment session (2026-08-21), more than a year"
            in warnings_shown(at))
    assert count(clinic, models.Visit) == 0
    at.button(key=SAVE_ANYWAY).click().run()
    assert not at.error, errors(at)
    assert visit_rows(clinic) == [(date(2024, 1, 10), (("vertex", 150.0),), 0)]


def test_a_session_far_from_every_visit_asks_first_and_save_anyway_saves_it(clinic):
    add_patient(clinic, target_areas="vertex")
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2026, 5, 2), sites=(SiteEntry("vertex", 120.0),)))
    at = open_page("pages/log_session.py")
    assert at.text_input(key="session_date").value == show_date(date.today())
    at.text_input(key="session_date").input("2025-05-02")  # the year mistyped: 365 days before the visit
    at.text_input(key="session_lot").input("LOT-9")
    at.text_input(key="session_volume").input("4,5")
    at.button(key=SAVE_SESSION).click().run()
    assert not at.exception and not at.error
    assert ("Session date 2025-05-02 is 365 days from the nearest visit (2026-05-02); no visit is within 120 days "
            "of it: check the date" in warnings_shown(at))
    assert count(clinic, models.TreatmentSession) == 0
    at.button(key=SAVE_SESSION_ANYWAY).click().run()
    assert not at.exception and not at.error, errors(at)
    assert shown(at.success[0].value) == "Exosome session of 2025-05-02 saved, lot LOT-9."
    with transaction(clinic) as session:
        row = session.scalars(select(models.TreatmentSession)).one()
        assert (row.date, row.volume_ml) == (date(2025, 5, 2), 4.5)


def test_a_session_date_in_another_format_is_refused_and_nothing_is_saved(clinic):
    add_patient(clinic)
    at = open_page("pages/log_session.py")
    at.text_input(key="session_date").input("31/01/2025")
    at.text_input(key="session_lot").input("LOT-1")
    at.button(key=SAVE_SESSION).click().run()
    assert not at.exception
    assert "session date '31/01/2025' is not written YYYY-MM-DD; type it as YYYY-MM-DD" in errors(at)
    assert count(clinic, models.TreatmentSession) == 0


def test_a_second_save_on_the_same_date_offers_to_add_and_adding_keeps_one_visit(clinic):
    add_patient(clinic, target_areas="vertex")
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_date").input("2026-08-20")
    at.text_input(key="visit_density_vertex").input("150")
    next(u for u in at.file_uploader if u.key.startswith("visit_photos_vertex_")).upload("top.jpg", jpeg(),
                                                                                      "image/jpeg")
    at.button(key=SAVE_VISIT).click().run()
    assert at.success[0].value == "Visit of 2026-08-20 saved."

    # The forgotten occipital photo, the same day.
    at.text_input(key="visit_date").input("2026-08-20")
    back = draw_scalp_photo(150, "occipital", 7, (960, 720))
    next(u for u in at.file_uploader if u.key.startswith("visit_photos_occipital_")).upload("back.jpg", back,
                                                                                         "image/jpeg")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception and not at.error
    assert "A visit of 2026-08-20 is already recorded for this patient: nothing was saved" in shown(at.info[0].value)
    assert len(visit_rows(clinic)) == 1
    at.button(key="FormSubmitter:log_visit-Add these photos and values to the visit of 2026-08-20").click().run()
    assert not at.exception and not at.error, errors(at)
    assert at.success[0].value == "Added to the visit of 2026-08-20."
    assert visit_rows(clinic) == [(date(2026, 8, 20), (("vertex", 150.0),), 2)]  # ONE visit, both photos
    with transaction(clinic) as session:
        assert sorted(session.scalars(select(models.Photo.view))) == ["occipital", "vertex"]


def test_the_form_remembers_the_previous_visits_device_and_checklist(clinic):
    add_patient(clinic, target_areas="vertex")
    at = open_page("pages/log_visit.py")
    assert at.text_input(key="visit_device").value == ""
    assert not any(at.checkbox(key=f"visit_check_{k}").value for k in ("dry_hair", "same_lighting"))
    at.text_input(key="visit_date").input("2026-05-02")
    at.text_input(key="visit_density_vertex").input("150")
    at.checkbox(key="visit_check_dry_hair").check()
    at.checkbox(key="visit_check_same_distance").check()
    at.text_input(key="visit_device").input("FotoFinder Medicam 1000")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.error, errors(at)

    again = open_page("pages/log_visit.py")  # the next visit, another day
    assert again.text_input(key="visit_device").value == "FotoFinder Medicam 1000"
    assert [again.checkbox(key=f"visit_check_{k}").value
            for k in ("dry_hair", "same_parting", "same_distance", "same_lighting")] == [True, False, True, False]
    assert "As at the previous visit: change what differs today." in [c.value for c in again.caption]
    again.text_input(key="visit_density_vertex").input("160")
    again.checkbox(key="visit_check_same_parting").check()
    again.button(key=SAVE_VISIT).click().run()
    assert not again.error, errors(again)
    with transaction(clinic) as session:
        latest = session.scalars(select(models.Visit).order_by(models.Visit.date.desc())).first()
        assert latest.capture_conditions == {"dry_hair": True, "same_parting": True, "same_distance": True,
                                             "same_lighting": False, "device": "FotoFinder Medicam 1000"}


def test_the_photo_boxes_are_in_reading_order_three_to_a_row(clinic):
    """Each row of three views is one set of columns: the page lists them frontal, vertex, … (on main the
    columns held frontal and right temporal, then vertex and occipital: Tab went from frontal to right temporal)."""
    add_patient(clinic)
    at = open_page("pages/log_visit.py")
    assert [u.label for u in at.file_uploader] == [
        "Frontal", "Vertex", "Left temporal", "Right temporal", "Occipital", "Close-up (trichoscopy)"]


def test_photos_are_added_to_a_recorded_visit_from_the_patient_record(clinic):
    add_patient(clinic, target_areas="vertex")
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2026, 3, 1), sites=(SiteEntry("vertex", 118.0),)))
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2026, 5, 2), sites=(SiteEntry("vertex", 120.0),)))
    at = open_page("pages/patient_record.py")
    # The latest visit first: the photo that arrived late is most often from it.
    assert at.selectbox(key="visit_photos_visit").options == ["Visit of 2026-05-02", "Visit of 2026-03-01"]
    at.selectbox(key="visit_photos_view").set_value("occipital")
    at.file_uploader(key="visit_photos_files_0").upload("late.jpg", jpeg(), "image/jpeg")
    at.button(key="FormSubmitter:visit_photos_form-Add photos to this visit").click().run()
    assert not at.exception and not at.error, errors(at)
    assert "1 occipital photo(s) added to the visit of 2026-05-02." in [s.value for s in at.success]
    assert visit_rows(clinic) == [(date(2026, 3, 1), (("vertex", 118.0),), 0),
                                  (date(2026, 5, 2), (("vertex", 120.0),), 1)]
    with transaction(clinic) as session:
        photo = session.scalars(select(models.Photo)).one()
        assert (photo.view, photo.original_file_name) == ("occipital", "late.jpg")
    # Nothing chosen: said so, nothing added.
    at.button(key="FormSubmitter:visit_photos_form-Add photos to this visit").click().run()
    assert "No photo was added: choose a photo for a view first." in errors(at)
    assert count(clinic, models.Photo) == 1


def test_photos_added_to_a_recorded_visit_are_checked_first(clinic):
    """Issue #14 review: "Add photos to a visit" stored a blurred photo unchecked. It is now checked as in the
    visit form: the problem is asked about, nothing is stored until the photo is kept, and the check is stored."""
    import io

    from PIL import Image, ImageFilter

    add_patient(clinic, target_areas="vertex")
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2026, 5, 2), sites=(SiteEntry("vertex", 120.0),)))
    sharp = Image.open(io.BytesIO(jpeg()))
    blurred = io.BytesIO()
    sharp.filter(ImageFilter.GaussianBlur(8)).save(blurred, "JPEG", quality=90)
    at = open_page("pages/patient_record.py")
    at.selectbox(key="visit_photos_view").set_value("occipital")
    at.file_uploader(key="visit_photos_files_0").upload("soft.jpg", blurred.getvalue(), "image/jpeg")
    at.button(key="FormSubmitter:visit_photos_form-Add photos to this visit").click().run()
    assert not at.exception and not at.error, errors(at)
    assert any("Occipital photo" in shown(w.value) and "out of focus" in shown(w.value) for w in at.warning)
    assert count(clinic, models.Photo) == 0
    at.button(key="FormSubmitter:visit_photos_form-Keep these photos and save").click().run()
    assert not at.exception and not at.error, errors(at)
    assert "1 occipital photo(s) added to the visit of 2026-05-02." in [s.value for s in at.success]
    assert not any("out of focus" in shown(w.value) for w in at.warning)  # the question is gone with its photos
    with transaction(clinic) as session:
        photo = session.scalars(select(models.Photo)).one()
        assert photo.quality["kept_anyway"] is True
        assert [problem["check"] for problem in photo.quality["problems"]] == ["focus"], photo.quality


def _blurred(seed: int = 7) -> bytes:
    import io

    from PIL import Image, ImageFilter

    out = io.BytesIO()
    sharp = Image.open(io.BytesIO(draw_scalp_photo(150, "vertex", seed, (960, 720))))
    sharp.filter(ImageFilter.GaussianBlur(8)).save(out, "JPEG", quality=90)
    return out.getvalue()


ADD_PHOTOS = "FormSubmitter:visit_photos_form-Add photos to this visit"
KEEP_ADDED = "FormSubmitter:visit_photos_form-Keep these photos and save"


def test_a_photo_question_is_never_answered_for_another_patient_or_for_photos_it_did_not_ask_about(clinic):
    """Issue #14 review: the question asked on one patient's record was shown on the next patient's, and its
    "Keep" stored the other patient's blurred photo unasked; a file chosen after the question was kept unasked."""
    add_patient(clinic, target_areas="vertex")
    add_patient(clinic, "RT-0002", full_name="Bruno Lima", target_areas="vertex")
    for mrn in ("RT-0001", "RT-0002"):
        log_visit(CLINICIAN, mrn, VisitEntry(date=date(2026, 5, 2), sites=(SiteEntry("vertex", 120.0),)))
    at = open_page("pages/patient_record.py")
    at.selectbox(key="visit_photos_view").set_value("occipital")
    at.file_uploader(key="visit_photos_files_0").upload("ana-soft.jpg", _blurred(), "image/jpeg")
    at.button(key=ADD_PHOTOS).click().run()
    assert any("ana-soft.jpg" in shown(w.value) for w in at.warning)
    # The clinician replaces the photo with another blurred one and presses Keep: the new file is asked about.
    at.file_uploader(key="visit_photos_files_0").clear()
    at.file_uploader(key="visit_photos_files_0").upload("second-soft.jpg", _blurred(8), "image/jpeg")
    at.button(key=KEEP_ADDED).click().run()
    assert not at.exception and not at.error, errors(at)
    assert count(clinic, models.Photo) == 0
    assert any("second-soft.jpg" in shown(w.value) for w in at.warning), [w.value for w in at.warning]
    # Another patient's record: no question of Ana's, no "Keep" to press.
    other = open_page("pages/patient_record.py", mrn="RT-0002")
    other.session_state["added_photos_quality_asked"] = at.session_state["added_photos_quality_asked"]
    other.session_state["added_photos_quality_asked_for"] = at.session_state["added_photos_quality_asked_for"]
    other.session_state["added_photos_quality_context"] = at.session_state["added_photos_quality_context"]
    other.run()
    assert not any("soft.jpg" in shown(w.value) for w in other.warning)
    assert KEEP_ADDED not in [b.key for b in other.button]
    assert count(clinic, models.Photo) == 0


def add_button(day: str) -> str:
    return f"FormSubmitter:log_visit-Add these photos and values to the visit of {day}"


def measured(url) -> list[tuple[date, str, float]]:
    with transaction(url) as session:
        return sorted(session.execute(
            select(models.Visit.date, models.DensityMeasurement.site, models.DensityMeasurement.density_per_cm2)
            .join(models.Visit, models.Visit.id == models.DensityMeasurement.visit_id)).all())


def test_adding_goes_to_the_visit_the_button_names_not_the_one_the_date_box_shows(clinic, monkeypatch):
    """Issue #12 review (DD/MM clinic): the offer to add to 02/04/2026, pressed after the date box was changed to
    12/07/2026 (another visit), said "Added to the visit of 12/07/2026". Same with "Save anyway" asked while adding.
    Also: after the offer, the previous save's green "saved" is gone (it is not this save's answer)."""
    monkeypatch.setenv("TRACKER_DATE_FORMAT", "DD/MM/YYYY")
    add_patient(clinic, target_areas="vertex, frontal")
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2026, 1, 2), sites=(SiteEntry("frontal", 100.0),)))
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2026, 7, 12), sites=(SiteEntry("vertex", 152.0),
                                                                              SiteEntry("frontal", 101.0))))
    at = open_page("pages/log_visit.py")
    at.text_input(key="visit_date").input("02/04/2026")
    at.text_input(key="visit_density_vertex").input("150")
    at.button(key=SAVE_VISIT).click().run()
    assert [s.value for s in at.success] == ["Visit of 02/04/2026 saved."]

    at.text_input(key="visit_date").input("02/04/2026")
    at.text_input(key="visit_density_frontal").input("200")
    at.button(key=SAVE_VISIT).click().run()
    assert not at.exception and not at.error, errors(at)
    assert "A visit of 02/04/2026 is already recorded for this patient: nothing was saved" in shown(at.info[0].value)
    assert not at.success  # the previous save's "Visit of 02/04/2026 saved." is not under this offer

    at.text_input(key="visit_date").input("12/07/2026")  # changed before pressing the offer for 02/04/2026
    at.button(key=add_button("02/04/2026")).click().run()
    assert not at.exception and not at.success and not at.error, errors(at)
    assert ("the visit offered was the one of 02/04/2026, but the visit date now reads 12/07/2026"
            in shown(at.info[0].value))
    assert [b.key for b in at.button if b.key.startswith("FormSubmitter:log_visit-Add")] == [add_button("12/07/2026")]
    expected = [(date(2026, 1, 2), "frontal", 100.0), (date(2026, 4, 2), "vertex", 150.0),
                (date(2026, 7, 12), "frontal", 101.0), (date(2026, 7, 12), "vertex", 152.0)]
    assert measured(clinic) == expected  # nothing added to 12/07/2026

    # Back to 02/04/2026, adding there: frontal 200 is asked about ((200 − 100) / 100 = 100% above 02/01/2026).
    at.text_input(key="visit_date").input("02/04/2026")
    at.button(key=add_button("12/07/2026")).click().run()
    at.button(key=add_button("02/04/2026")).click().run()
    assert "Frontal density 200 hairs/cm² is 100% above the previous visit's 100 (02/01/2026)" in warnings_shown(at)
    at.text_input(key="visit_date").input("12/07/2026")  # changed again before "Save anyway"
    at.button(key=SAVE_ANYWAY).click().run()
    assert not at.exception and not at.success and not at.error, errors(at)
    assert "but the visit date now reads 12/07/2026" in shown(at.info[0].value)
    assert measured(clinic) == expected

    at.text_input(key="visit_date").input("02/04/2026")
    at.button(key=SAVE_VISIT).click().run()
    at.button(key=add_button("02/04/2026")).click().run()
    at.button(key=SAVE_ANYWAY).click().run()
    assert not at.exception and not at.error, errors(at)
    assert [s.value for s in at.success] == ["Added to the visit of 02/04/2026."]
    assert measured(clinic) == sorted([*expected, (date(2026, 4, 2), "frontal", 200.0)])
    assert len(visit_rows(clinic)) == 3
