"""The Patients, New patient and Patient record pages, driven through the app with AppTest.

Each page: present for staff and absent for patient accounts, validation messages shown with everything
typed kept and nothing written, and a successful save visible through the services.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tracker.access.actors import Actor
from tracker.clinic_dates import show_date
from tracker.course.calendar_months import add_months
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME
from tracker.database import transaction
from tracker.records.patient_corrections import update_patient
from tracker.records.patient_intake import NewPatient, create_patient
from tracker.records.patient_list import list_patients
from tracker.records.patient_record import patient_record
from tracker.records.protocol_admin import save_protocol
from tracker.records.therapies import add_therapy

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DR = Actor(username="dr.lee", role="clinician")
ADMIN = Actor(username="admin.kim", role="admin")
TODAY = date.today()
MY_PAGES = ("pages/patients.py", "pages/new_patient.py", "pages/patient_record.py")


def open_page(page: str, actor: Actor = DR, mrn: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = actor
    if mrn:
        at.session_state["mrn"] = mrn
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def errors(at: AppTest) -> str:
    return "\n".join(texts(at.error))


def shown(at: AppTest) -> str:
    """Everything the page says in messages, captions and markdown, as one text to search."""
    parts = [*texts(at.error), *texts(at.success), *texts(at.info), *texts(at.warning), *texts(at.caption),
             *texts(at.markdown), *texts(at.title)]
    return "\n".join(parts)


def register(mrn: str = "RT-0001", name: str = "Ana Souza", **overrides) -> str:
    values: dict[str, Any] = dict(mrn=mrn, full_name=name, sex="female", birth_date=date(1980, 5, 17),
                  condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="II",
                  target_areas="vertex, frontal")
    values.update(overrides)
    return create_patient(DR, NewPatient(**values))


def add_course(url: str, mrn: str, *, day0: date, visits: list[tuple[date, float]]) -> None:
    with transaction(url) as session:
        patient = session.scalar(select(models.Patient).where(models.Patient.mrn == mrn))
        assert patient is not None
        session.add(models.TreatmentSession(patient_id=patient.id, date=day0, treatment="exosome",
                                            product="ExoHair", lot_number="LOT-42", created_by="test"))
        for day, density in visits:
            visit = models.Visit(patient_id=patient.id, date=day, created_by="test")
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density,
                                                  created_by="test"))


# --- Registration per role ----------------------------------------------------------------------------

@pytest.mark.parametrize("actor", [DR, ADMIN])
def test_pages_render_for_staff(clinic, actor):
    register()
    for page in MY_PAGES:
        at = open_page(page, actor, mrn="RT-0001")
        assert at.title, page


def test_pages_are_absent_for_patient_accounts(clinic):
    register()
    with transaction(clinic) as session:
        patient_id = session.scalar(select(models.Patient.id))
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = Actor(username="ana", role="patient", patient_id=patient_id)
    at.session_state["mrn"] = "RT-0001"
    at.run()
    for page in MY_PAGES:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)


@pytest.mark.parametrize("page", MY_PAGES)
def test_page_run_directly_refuses_a_patient_account(clinic, page):
    """Streamlit can run a page script without the menu: the page's own guard refuses it."""
    register()
    with transaction(clinic) as session:
        patient_id = session.scalar(select(models.Patient.id))
    at = AppTest.from_file(str(Path(APP).parent / page), default_timeout=30)
    at.session_state["actor"] = Actor(username="ana", role="patient", patient_id=patient_id)
    at.session_state["mrn"] = "RT-0001"
    at.run()
    assert not at.exception
    assert texts(at.error) == ["This page is not available to your account."]
    assert not at.title and not at.dataframe and "Ana Souza" not in shown(at)


def test_signed_out_sees_only_sign_in(clinic):
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    for page in MY_PAGES:
        with pytest.raises(ValueError):
            at.switch_page(page)


# --- Patients -----------------------------------------------------------------------------------------

def test_patient_list_search_filter_and_open(clinic):
    register("RT-0001", "Ana Souza")
    register("RT-0002", "Bruno Late", sex="male", baseline_scale="norwood", baseline_stage="III")
    # Five months after day 0 the 2–3-month window has closed without a visit: overdue.
    add_course(clinic, "RT-0002", day0=add_months(TODAY, -5), visits=[(add_months(TODAY, -5), 150)])
    at = open_page("pages/patients.py")
    table = at.dataframe[0].value
    assert list(table.columns) == ["MRN", "Name", "Age", "Condition", "Day 0", "Next milestone", "Window opens",
                                   "Window closes", "Target date", "Status", "Last visit", "Latest change"]
    assert list(table["MRN"]) == ["RT-0001", "RT-0002"]
    assert list(table["Status"]) == ["no treatment session yet", table["Status"][1]]
    assert table["Status"][1].startswith("overdue")
    assert table["Next milestone"][1] == "Noticeable growth (about 6 months)"
    assert table["Last visit"][1] == add_months(TODAY, -5)
    assert list(table["Latest change"]) == ["Nothing measured yet", "Not judged yet: no milestone visit"]

    assert at.radio(key="patients_filter").options == [
        "All", "Window open now", "Target date within 7 days", "Overdue", "Behind expected"]
    at.text_input(key="patients_query").input("souza").run()
    assert list(at.dataframe[0].value["MRN"]) == ["RT-0001"]
    at.text_input(key="patients_query").input("").run()
    at.radio(key="patients_filter").set_value("overdue").run()
    assert list(at.dataframe[0].value["MRN"]) == ["RT-0002"]
    assert "Most urgent first" in shown(at)
    at.radio(key="patients_filter").set_value("behind").run()
    assert "No patient matches." in shown(at)

    at.radio(key="patients_filter").set_value(None).run()
    at.selectbox(key="patients_choice").set_value("RT-0002").run()
    assert at.session_state["mrn"] == "RT-0002"
    at.button(key="patients_open").click().run()
    assert not at.exception
    assert texts(at.title) == ["Bruno Late"]


def test_a_click_on_a_row_of_the_patient_list_opens_the_record(clinic):
    register("RT-0001", "Ana Souza")
    register("RT-0002", "Bruno Late", sex="male", baseline_scale="norwood", baseline_stage="III")
    at = open_page("pages/patients.py")
    at.session_state["patients_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.session_state["mrn"] == "RT-0002"
    assert texts(at.title) == ["Bruno Late"]


def test_the_patient_list_is_shown_fifty_rows_a_page(clinic):
    """60 patients: page 1 shows the first 50 by name, the chooser goes to page 2 with the other 10; a search
    starts again at page 1."""
    with transaction(clinic) as session:
        for n in range(60):
            session.add(models.Patient(mrn=f"RT-{n:04d}", full_name=f"Name {n:02d}", sex="female",
                                       birth_date=date(1980, 1, 1), condition="androgenetic_alopecia"))
    at = open_page("pages/patients.py")
    assert list(at.dataframe[0].value["MRN"]) == [f"RT-{n:04d}" for n in range(50)]
    assert "Showing 1–50 of 60" in shown(at)
    chooser = at.number_input(key="patients_page:None:")
    assert (chooser.label, chooser.max) == ("Page (of 2)", 2)
    chooser.set_value(2).run()
    assert list(at.dataframe[0].value["MRN"]) == [f"RT-{n:04d}" for n in range(50, 60)]
    assert "Showing 51–60 of 60" in shown(at)
    at.text_input(key="patients_query").input("rt-005").run()
    assert list(at.dataframe[0].value["MRN"]) == [f"RT-{n:04d}" for n in range(50, 60)]
    assert "Showing 1–10 of 10" in shown(at) and not at.number_input


def test_empty_clinic_points_to_new_patient(clinic):
    at = open_page("pages/patients.py")
    assert "No patients yet" in shown(at)


# --- New patient --------------------------------------------------------------------------------------

def fill_identity(at: AppTest, *, mrn="RT-0100", name="Carla Nova", birth=date(1985, 3, 2)) -> None:
    at.text_input(key="np_mrn").input(mrn)
    at.text_input(key="np_name").input(name)
    if birth:
        at.text_input(key="np_birth").input(show_date(birth))


def test_stage_list_follows_condition_and_sex(clinic):
    at = open_page("pages/new_patient.py")
    at.selectbox(key="np_sex").set_value("male")
    at.selectbox(key="np_condition").set_value("androgenetic_alopecia").run()
    assert at.selectbox(key="np_scale").options == ["Norwood–Hamilton"]
    assert at.selectbox(key="np_scale").value == "norwood"
    assert "VII" in at.selectbox(key="np_stage").options
    at.selectbox(key="np_sex").set_value("female").run()
    assert at.selectbox(key="np_scale").options == ["Ludwig", "Sinclair"]
    at.selectbox(key="np_scale").set_value("sinclair").run()
    assert at.selectbox(key="np_stage").options == ["1", "2", "3", "4", "5"]
    at.selectbox(key="np_condition").set_value("alopecia_areata").run()
    assert at.text_input(key="np_salt").value == ""
    at.selectbox(key="np_condition").set_value("telogen_effluvium").run()
    assert at.selectbox(key="np_scale").disabled
    assert not at.exception


def test_alopecia_areata_is_proposed_the_salt_protocol_and_another_can_be_chosen(clinic):
    at = open_page("pages/new_patient.py")
    assert at.selectbox(key="np_protocol").value == DEFAULT_PROTOCOL_NAME
    at.selectbox(key="np_sex").set_value("female")
    at.selectbox(key="np_condition").set_value("alopecia_areata").run()
    assert at.selectbox(key="np_protocol").value == "Alopecia areata (SALT)"
    fill_identity(at)
    at.text_input(key="np_salt").input("40,0")  # a decimal comma, as typed on a European keyboard
    at.multiselect(key="np_areas").set_value(["vertex"])
    at.button(key="np_submit").click().run()
    assert not at.exception and texts(at.success) == ["Patient RT-0100 registered."]
    with transaction(clinic) as session:
        patient = session.scalar(select(models.Patient).where(models.Patient.mrn == "RT-0100"))
        assert patient is not None and patient.protocol is not None
        assert (patient.protocol.name, patient.baseline_stage) == ("Alopecia areata (SALT)", "40")
    # The proposal follows the condition, and the clinician can still choose another protocol.
    at.selectbox(key="np_sex").set_value("male")
    at.selectbox(key="np_condition").set_value("androgenetic_alopecia").run()
    assert at.selectbox(key="np_protocol").value == DEFAULT_PROTOCOL_NAME
    at.selectbox(key="np_condition").set_value("alopecia_areata").run()
    assert at.selectbox(key="np_protocol").value == "Alopecia areata (SALT)"
    fill_identity(at, mrn="RT-0101", name="Bruno Costa")
    at.text_input(key="np_salt").input("25")
    at.multiselect(key="np_areas").set_value(["vertex"])
    at.selectbox(key="np_protocol").set_value(DEFAULT_PROTOCOL_NAME)
    at.button(key="np_submit").click().run()
    assert not at.exception and texts(at.success) == ["Patient RT-0101 registered."]
    with transaction(clinic) as session:
        chosen = session.scalar(select(models.Patient).where(models.Patient.mrn == "RT-0101"))
        assert chosen is not None and chosen.protocol is not None and chosen.protocol.name == DEFAULT_PROTOCOL_NAME


def test_new_patient_errors_keep_what_was_typed(clinic):
    at = open_page("pages/new_patient.py")
    at.selectbox(key="np_sex").set_value("female")
    at.selectbox(key="np_condition").set_value("androgenetic_alopecia").run()
    fill_identity(at, mrn="RT 0100", name="Carla Nova", birth=None)
    at.text_input(key="np_other_areas").input("crown area")
    at.text_area(key="np_notes").input("referred by Dr. *Reis*")
    at.button(key="np_submit").click().run()
    assert not at.exception
    message = errors(at)
    for expected in ("MRN 'RT 0100' may contain only letters", "birth date is required",
                     "baseline scale is required", "target area 'crown area' may contain only letters"):
        assert expected in message
    assert at.text_input(key="np_mrn").value == "RT 0100"
    assert at.text_input(key="np_name").value == "Carla Nova"
    assert at.text_area(key="np_notes").value == "referred by Dr. *Reis*"
    assert at.selectbox(key="np_condition").value == "androgenetic_alopecia"
    assert list_patients(DR).rows == ()


def test_duplicate_mrn_is_refused_plainly(clinic):
    register("RT-0100", "Someone First")
    at = open_page("pages/new_patient.py")
    at.selectbox(key="np_sex").set_value("male")
    at.selectbox(key="np_condition").set_value("androgenetic_alopecia").run()
    fill_identity(at, mrn="rt-0100")
    at.selectbox(key="np_stage").set_value("IV")
    at.multiselect(key="np_areas").set_value(["vertex"])
    at.button(key="np_submit").click().run()
    assert "MRN rt-0100 is already used by another patient" in errors(at)
    assert at.text_input(key="np_name").value == "Carla Nova"
    assert [p.mrn for p in list_patients(DR)] == ["RT-0100"]


def test_new_patient_is_saved(clinic):
    at = open_page("pages/new_patient.py")
    at.selectbox(key="np_sex").set_value("female")
    at.selectbox(key="np_condition").set_value("androgenetic_alopecia").run()
    at.selectbox(key="np_scale").set_value("ludwig").run()
    fill_identity(at)
    at.selectbox(key="np_stage").set_value("II")
    at.multiselect(key="np_areas").set_value(["vertex", "frontal"])
    at.text_input(key="np_other_areas").input("left_parietal")
    at.button(key="np_submit").click().run()
    assert not at.exception
    assert texts(at.success) == ["Patient RT-0100 registered."]
    assert at.session_state["mrn"] == "RT-0100"
    assert at.text_input(key="np_mrn").value == ""  # the form is ready for the next patient
    details = patient_record(DR, "RT-0100").details
    assert (details.full_name, details.birth_date, details.baseline_scale, details.baseline_stage) == (
        "Carla Nova", date(1985, 3, 2), "ludwig", "II")
    assert details.target_areas == ("vertex", "frontal", "left_parietal")
    at.button(key="np_open").click().run()
    assert texts(at.title) == ["Carla Nova"]


# --- Patient record -----------------------------------------------------------------------------------

def test_record_without_a_chosen_patient(clinic):
    at = open_page("pages/patient_record.py")
    assert "Choose a patient on the Patients page first." in shown(at)


def test_record_of_an_unknown_mrn(clinic):
    at = open_page("pages/patient_record.py", mrn="NO-SUCH")
    assert texts(at.error) == ["No patient with MRN 'NO-SUCH'."]


def test_record_shows_header_strip_timeline_and_user_text_plainly(clinic):
    register("RT-0001", "Ana *bold* [link](http://evil.example) <script>")
    day0 = add_months(TODAY, -4)
    add_course(clinic, "RT-0001", day0=day0, visits=[(day0 - timedelta(days=1), 150), (add_months(day0, 3), 172)])
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    title = texts(at.title)[0]
    assert "\\*bold\\*" in title and "\\[link\\]" in title and "\\<script\\>" in title
    header = shown(at)
    assert f"day 0: {day0.isoformat()}" in header
    assert "**Early response (2–3 months)**" in texts(at.markdown)
    assert "**Noticeable growth (about 6 months)**" in texts(at.markdown)
    timeline = at.dataframe[0].value
    assert list(timeline["Entry"]) == ["Visit", "Exosome session", "Visit"]
    assert list(timeline["Density (hairs/cm²)"]) == ["Vertex 150", "", "Vertex 172"]
    assert timeline["Lot"][1] == "LOT-42"


def test_record_strip_says_the_cards_judgement_and_only_behind_is_red(clinic):
    # Issue #11: red appears only for behind. Vertex baseline 150 (noise 15): 120 at 3 months is a change of
    # −30, below the band's low edge (about +4) minus the noise, so behind; the 6-month window closed with no
    # visit (missed), a warning.
    register("RT-0001")
    day0 = add_months(TODAY, -8)
    add_course(clinic, "RT-0001", day0=day0, visits=[(day0 - timedelta(days=1), 150), (add_months(day0, 3), 120)])
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    assert texts(at.error) == ["below the expected range"]
    assert "missed: no visit in the window" in texts(at.warning)
    note = next(c for c in texts(at.caption) if c.startswith("Vertex on "))
    assert "−30 hairs/cm² (−20%)" in note
    assert "below it by more than the measurement noise (±15), so this is behind the expected course" in note


def test_record_shows_every_milestone_of_a_protocol_with_more_than_three(clinic):
    # The strip used to zip three columns with the milestones, silently dropping a fourth window.
    windows = [{"name": f"window_{n}", "start_month": 3 * n - 1, "end_month": 3 * n + 1, "target_month": 3 * n}
               for n in (1, 2, 3, 4)]
    band = [{"month": 0, "low": -10, "high": 5}, {"month": 12, "low": 10, "high": 40}]
    save_protocol(ADMIN, DEFAULT_PROTOCOL_NAME, band, windows, "four windows", expected_version=1, url=clinic)
    register("RT-0001")
    day0 = add_months(TODAY, -4)
    add_course(clinic, "RT-0001", day0=day0, visits=[(day0 - timedelta(days=1), 150)])
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    # A clinic's own milestone name (window_1) shows in words.
    assert [f"**Window {n}**" in texts(at.markdown) for n in (1, 2, 3, 4)] == [True] * 4


def test_correction_needs_a_reason_and_keeps_what_was_typed(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.text_input(key="edit_name").input("Ana Souza Lima")
    at.button(key="edit_submit").click().run()
    assert "A reason is required" in errors(at)
    assert at.text_input(key="edit_name").value == "Ana Souza Lima"
    assert patient_record(DR, "RT-0001").details.full_name == "Ana Souza"


def test_correction_is_saved_with_its_history(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.text_input(key="edit_name").input("Ana Souza Lima")
    at.text_input(key="edit_birth").input(show_date(date(1980, 5, 18)))
    at.text_input(key="edit_reason").input("typo at intake")
    at.button(key="edit_submit").click().run()
    assert not at.exception
    assert "Corrections saved" in texts(at.success)[0]
    record = patient_record(DR, "RT-0001")
    assert (record.details.full_name, record.details.birth_date, record.details.version) == (
        "Ana Souza Lima", date(1980, 5, 18), 2)
    history = at.dataframe[-1].value
    assert set(history["Previous value"]) == {"Ana Souza", "1980-05-17"}
    assert set(history["Field"]) == {"Full name", "Birth date"}  # the field's label, not its column name
    assert set(history["Reason"]) == {"typo at intake"}
    assert at.text_input(key="edit_reason").value == ""
    # A second correction from the same screen starts from the new version.
    at.selectbox(key="edit_stage_ludwig").set_value("III")
    at.text_input(key="edit_reason").input("restaged")
    at.button(key="edit_submit").click().run()
    assert patient_record(DR, "RT-0001").details.baseline_stage == "III"


def test_a_concurrent_change_is_a_conflict(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    update_patient(ADMIN, "RT-0001", {"notes": "allergic to lidocaine"}, reason="intake call", expected_version=1)
    at.text_input(key="edit_name").input("Ana Souza Lima")
    at.text_input(key="edit_reason").input("typo")
    at.button(key="edit_submit").click().run()
    assert "someone else changed this record since you opened it; reload and re-apply" in errors(at).lower()
    assert at.text_input(key="edit_name").value == "Ana Souza Lima"
    assert patient_record(DR, "RT-0001").details.full_name == "Ana Souza"
    at.button(key="edit_reload").click().run()
    assert at.text_area(key="edit_notes").value == "allergic to lidocaine"
    assert at.text_input(key="edit_name").value == "Ana Souza"


def test_mrn_correction_follows_the_patient(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.text_input(key="edit_mrn").input("RT-0009")
    at.text_input(key="edit_reason").input("wrong label printed")
    at.button(key="edit_submit").click().run()
    assert not at.exception and not at.error
    assert at.session_state["mrn"] == "RT-0009"
    assert at.text_input(key="edit_mrn").value == "RT-0009"


def test_therapy_errors_keep_values_and_a_saved_therapy_shows(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.selectbox(key="therapy_name").set_value("finasteride")
    at.text_input(key="therapy_dose").input("1 mg daily")
    at.text_input(key="therapy_start").input(show_date(TODAY - timedelta(days=30)))
    at.text_input(key="therapy_stop").input(show_date(TODAY - timedelta(days=60)))
    at.button(key="therapy_submit").click().run()
    assert "is before the start date" in errors(at)
    assert at.text_input(key="therapy_dose").value == "1 mg daily"
    assert patient_record(DR, "RT-0001").therapies == ()

    at.text_input(key="therapy_stop").input("")
    at.button(key="therapy_submit").click().run()
    assert not at.error
    assert "Therapy added." in texts(at.success)
    therapies = patient_record(DR, "RT-0001").therapies
    assert [(t.name, t.dose, t.stop) for t in therapies] == [("finasteride", "1 mg daily", None)]
    assert at.text_input(key="therapy_dose").value == ""

    at.selectbox(key="stop_choice").set_value(therapies[0].id)
    at.text_input(key="stop_date").input(show_date(TODAY - timedelta(days=2)))
    at.button(key="stop_submit").click().run()
    assert "A reason is required" in errors(at)
    at.text_input(key="stop_reason").input("side effects")
    at.button(key="stop_submit").click().run()
    assert patient_record(DR, "RT-0001").therapies[0].stop == TODAY - timedelta(days=2)


def test_other_therapy_needs_its_name(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.selectbox(key="therapy_name").set_value("other (type the name)")
    at.text_input(key="therapy_start").input(show_date(TODAY - timedelta(days=3)))
    at.button(key="therapy_submit").click().run()
    assert "therapy name is required" in errors(at)
    at.text_input(key="therapy_other").input("ketoconazole shampoo")
    at.button(key="therapy_submit").click().run()
    assert [t.name for t in patient_record(DR, "RT-0001").therapies] == ["ketoconazole shampoo"]


def test_removing_a_visit_needs_a_reason_and_lands_in_history(clinic):
    register()
    day0 = add_months(TODAY, -4)
    add_course(clinic, "RT-0001", day0=day0, visits=[(day0, 150)])
    visit_id = patient_record(DR, "RT-0001").timeline[0].row_id
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.selectbox(key="remove_choice").set_value(f"visit:{visit_id}")
    at.button(key="remove_submit").click().run()
    assert "A reason is required" in errors(at)
    assert len(patient_record(DR, "RT-0001").timeline) == 2
    at.text_input(key="remove_reason").input("recorded on the wrong patient")
    at.button(key="remove_submit").click().run()
    assert not at.exception and not at.error
    record = patient_record(DR, "RT-0001")
    assert [e.kind for e in record.timeline] == ["session"]
    assert record.history[0].reason == "recorded on the wrong patient"
    history = at.dataframe[-1].value
    assert "recorded on the wrong patient" in list(history["Reason"])


def test_therapy_added_elsewhere_can_be_removed(clinic):
    register()
    therapy_id = add_therapy(DR, "RT-0001", "Viviscal", "2 tablets", TODAY - timedelta(days=10))
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.selectbox(key="remove_choice").set_value(f"therapy:{therapy_id}")
    at.text_input(key="remove_reason").input("never started")
    at.button(key="remove_submit").click().run()
    assert patient_record(DR, "RT-0001").therapies == ()


def test_the_patients_page_writes_one_audit_entry_per_run_even_past_the_last_page(clinic):
    """The service shows the last page for a page past it: the page asks once, and one view is recorded."""
    with transaction(clinic) as session:
        for n in range(3):
            session.add(models.Patient(mrn=f"RT-{n:04d}", full_name=f"Name {n:02d}", sex="female",
                                       birth_date=date(1980, 1, 1), condition="androgenetic_alopecia"))

    def views() -> int:
        with transaction(clinic) as session:
            return len(session.scalars(select(models.AuditEntry.id).where(
                models.AuditEntry.action == "view", models.AuditEntry.detail.startswith("patient list"))).all())

    at = open_page("pages/patients.py")
    before = views()
    at.session_state["patients_page:None:"] = 7  # a page past the last (the list got shorter)
    at.run()
    assert not at.exception, at.exception
    assert views() == before + 1
    assert "Showing 1–3 of 3" in shown(at)
