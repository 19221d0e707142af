"""The clinic's date format (issue #12): every date typed is read in ``TRACKER_DATE_FORMAT`` and never
reinterpreted, and every date a person reads (record, progress cards, schedule, audit page, charts, PDF) is shown
in it. The examples of the issue, through the pages a clinician uses (AppTest) and the PDF as ``pdftotext`` reads
it. The browser test of the same is in tests/test_browser_dates.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tests.conftest import ROOT
from tests.test_progress_view import AS_OF, CLINICIAN, make_patient, progress_view
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.clinic_dates import FORMAT_SETTING
from tracker.course.calendar_months import add_months
from tracker.database import transaction
from tracker.exchange.progress_report import progress_report_pdf
from tracker.records.patient_intake import NewPatient, create_patient
from tracker.records.patient_record import patient_record
from ui.charts import density_figure, secondary_figure

DR = Actor(username="dr.lee", role="clinician")
ADMIN = Actor(username="admin.kim", role="admin")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
DD_MM = "DD/MM/YYYY"
LAST_YEAR = date.today().year - 1


@pytest.fixture
def day_first(monkeypatch):
    """A clinic that writes dates DD/MM/YYYY."""
    monkeypatch.setenv(FORMAT_SETTING, DD_MM)


def open_page(page: str, actor: Actor = DR, mrn: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = actor
    if mrn:
        at.session_state["mrn"] = mrn
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def visible_text(at: AppTest) -> str:
    """What the page says outside its tables: titles, headers, messages, captions, markdown, labels of choices."""
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning",
                                  "error") for e in getattr(at, kind)]
    parts += [str(option) for box in at.selectbox for option in box.options]
    return "\n".join(str(p) for p in parts)


def date_formats(table) -> dict[str, str]:
    """The display format Streamlit is told for each date column of a rendered table (its column config)."""
    config = json.loads(table.proto.columns or "{}")
    return {name: column["type_config"]["format"] for name, column in config.items()
            if column.get("type_config", {}).get("type") == "date"}


def register(mrn: str = "RT-0001") -> None:
    create_patient(DR, NewPatient(mrn=mrn, full_name="Ana Souza", sex="female", birth_date=date(1980, 5, 17),
                                  condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="II",
                                  target_areas="vertex"))


# --- Typed dates ----------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("day_first")
def test_a_birth_date_typed_day_first_is_saved_as_that_day(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    birth = at.text_input(key="edit_birth")
    assert birth.value == "17/05/1980"  # the recorded birth date, written as the clinic writes dates
    assert birth.label == "Birth date (DD/MM/YYYY)"
    birth.input("14/03/1985")
    at.text_input(key="edit_reason").input("birth date mistyped at intake")
    at.button(key="edit_submit").click().run()
    assert not at.exception and not at.error
    record = patient_record(DR, "RT-0001")
    assert (record.details.birth_date, record.details.version) == (date(1985, 3, 14), 2)  # not 1403-09-05
    history = at.dataframe[-1].value
    row = history[history["Field"] == "Birth date"].iloc[0]
    assert (row["Previous value"], row["New value"]) == ("17/05/1980", "14/03/1985")
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2} UTC", history["When"].iloc[0])


def test_a_day_first_birth_date_is_refused_in_an_iso_clinic_and_nothing_is_saved(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    assert at.text_input(key="edit_birth").value == "1980-05-17"
    at.text_input(key="edit_birth").input("14/03/1985")
    at.text_input(key="edit_reason").input("birth date mistyped at intake")
    at.button(key="edit_submit").click().run()
    assert not at.exception
    errors = "\n".join(e.value for e in at.error)
    assert "birth date '14/03/1985' is not written YYYY-MM-DD; type it as YYYY-MM-DD, for example 2026-08-20" in errors
    assert at.text_input(key="edit_birth").value == "14/03/1985"  # kept to correct
    record = patient_record(DR, "RT-0001")
    assert (record.details.birth_date, record.details.version, record.history) == (date(1980, 5, 17), 1, ())


@pytest.mark.usefixtures("day_first")
def test_a_therapy_start_typed_day_first_is_saved_as_that_day(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.selectbox(key="therapy_name").set_value("minoxidil")
    at.text_input(key="therapy_start").input(f"20/08/{LAST_YEAR}")
    at.text_input(key="therapy_stop").input(f"3/9/{LAST_YEAR}")
    at.button(key="therapy_submit").click().run()
    assert not at.exception and not at.error
    [therapy] = patient_record(DR, "RT-0001").therapies
    assert (therapy.start, therapy.stop) == (date(LAST_YEAR, 8, 20), date(LAST_YEAR, 9, 3))
    assert "Therapy added." in [s.value for s in at.success]
    table = at.dataframe[0]
    assert list(table.value["Start"]) == [date(LAST_YEAR, 8, 20)]  # a date, so the column sorts by date
    assert date_formats(table) == {"Start": DD_MM, "Stop": DD_MM}
    # A stop before the start is refused in the clinic's words.
    at.selectbox(key="stop_choice").set_value(therapy.id)
    at.text_input(key="stop_date").input(f"19/08/{LAST_YEAR}")
    at.text_input(key="stop_reason").input("stopped earlier than noted")
    at.button(key="stop_submit").click().run()
    assert (f"stop date 19/08/{LAST_YEAR} is before the start date 20/08/{LAST_YEAR}"
            in "\n".join(e.value for e in at.error))


def test_a_day_first_therapy_start_is_refused_in_an_iso_clinic(clinic):
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    at.selectbox(key="therapy_name").set_value("minoxidil")
    at.text_input(key="therapy_start").input(f"20/08/{LAST_YEAR}")
    at.button(key="therapy_submit").click().run()
    assert not at.exception
    assert (f"start date '20/08/{LAST_YEAR}' is not written YYYY-MM-DD; type it as YYYY-MM-DD"
            in "\n".join(e.value for e in at.error))
    assert patient_record(DR, "RT-0001").therapies == ()


def test_a_baseline_salt_score_with_a_decimal_comma_is_read_as_a_decimal(clinic):
    create_patient(DR, NewPatient(mrn="AA-1", full_name="Bo Lind", sex="male", birth_date=date(1990, 1, 2),
                                  condition="alopecia_areata", baseline_scale="salt", baseline_stage="40",
                                  target_areas="vertex"))
    at = open_page("pages/patient_record.py", mrn="AA-1")
    assert at.text_input(key="edit_salt").value == "40"
    at.text_input(key="edit_salt").input("42,5")
    at.text_input(key="edit_reason").input("re-scored")
    at.button(key="edit_submit").click().run()
    assert not at.exception and not at.error
    assert patient_record(DR, "AA-1").details.baseline_stage == "42.5"


def test_the_measurement_noise_is_typed_with_a_decimal_comma(clinic):
    at = open_page("pages/protocols.py", ADMIN)
    [noise] = [box for box in at.text_input if box.key.startswith("protocol_noise::")]
    noise.input("7,5")
    at.button(key="protocols_save").click().run()
    assert not at.exception and not at.error
    with transaction(clinic) as session:
        assert 7.5 in session.scalars(select(models.Protocol.noise_pct)).all()
    [noise] = [box for box in at.text_input if box.key.startswith("protocol_noise::")]
    assert noise.value == "7.5"
    noise.input("seven")
    at.button(key="protocols_save").click().run()
    assert "The measurement noise must be a number ('seven' is not)." in "\n".join(e.value for e in at.error)


def test_the_band_editor_reads_a_decimal_comma_and_refuses_a_fraction_of_a_month_window(clinic):
    """A number cell in the browser drops the comma ("7,5" became 75): the band's cells are text, read by the
    service."""
    at = open_page("pages/protocols.py", ADMIN)
    [band, windows] = at.data_editor
    assert list(band.value["low"]) == ["-10", "-10", "5", "10", "15"]  # the stored band, as text to correct
    at.session_state[band.key] = {"edited_rows": {1: {"month": "2,5", "low": "-7,5"}}, "added_rows": [],
                                  "deleted_rows": []}
    at.session_state[windows.key] = {"edited_rows": {0: {"end_month": "3,5"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="protocols_save").click().run()
    errors = "\n".join(e.value for e in at.error)
    assert "Window row 1: the end month must be a whole number of months (3.5 is not)." in errors
    at.session_state[windows.key] = {"edited_rows": {}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="protocols_save").click().run()
    assert not at.exception and not at.error
    with transaction(clinic) as session:
        stored = session.scalar(select(models.Protocol.band).where(models.Protocol.version == 2))
    assert {"month": 2.5, "low": -7.5, "high": 5} in stored


# --- Dates shown ----------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("day_first")
def test_the_record_shows_every_date_day_first(clinic):
    make_patient(clinic, "P-1", "Ada Example")
    at = open_page("pages/patient_record.py", mrn="P-1")
    text = visible_text(at)
    assert "day 0: 15/01/2025" in text
    assert "Visit 14/04/2025" in text  # the removal choices name entries by their date
    assert not ISO_DATE.findall(text)
    timeline, therapies = at.dataframe[0], at.dataframe[1]
    assert date_formats(timeline) == {"Date": DD_MM}
    assert date_formats(therapies) == {"Start": DD_MM, "Stop": DD_MM}
    assert timeline.value["Date"].iloc[0] == date(2025, 1, 15)


@pytest.mark.usefixtures("day_first")
def test_the_progress_cards_and_charts_show_dates_day_first(clinic):
    make_patient(clinic, "P-1", "Ada Example")
    at = open_page("pages/progress.py", mrn="P-1")
    text = visible_text(at)
    assert "first session 15/01/2025" in text
    assert not ISO_DATE.findall(text), ISO_DATE.findall(text)
    view = progress_view(CLINICIAN, "P-1", AS_OF, clinic)
    figure = density_figure(view.chart, view.chart.sites[0])
    hover_dates = [row[0] for trace in figure.data if trace.customdata is not None for row in trace.customdata]
    assert "14/04/2025" in hover_dates and not ISO_DATE.findall(" ".join(map(str, hover_dates)))
    secondary = secondary_figure(view.secondary[0], today=AS_OF)
    assert secondary.layout.xaxis.tickformat == "%d/%m/%Y"
    assert secondary.data[0].hovertemplate.startswith("%{x|%d/%m/%Y}: ")


@pytest.mark.usefixtures("day_first")
def test_the_schedule_and_the_patient_list_show_dates_day_first(clinic):
    day0 = add_months(date.today(), -3)  # the 3-month visit is due and the repeat-session window is open
    with transaction(clinic) as session:
        patient = models.Patient(mrn="P-1", full_name="Ada Example", sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=day0, treatment="exosome"))
        visit = models.Visit(patient_id=patient.id, date=day0)
        session.add(visit)
        session.flush()
        session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=150.0))
    at = open_page("pages/schedule.py")
    text = visible_text(at)
    assert f"As of {date.today():%d/%m/%Y}." in text
    assert not ISO_DATE.findall(text)
    assert len(at.dataframe) == 2, "the patient is on the follow-up list and in a repeat-session window"
    for table in at.dataframe:
        shown = date_formats(table)
        assert shown and set(shown.values()) == {DD_MM}
    at = open_page("pages/patients.py")
    assert not ISO_DATE.findall(visible_text(at))
    [table] = at.dataframe
    assert date_formats(table)["Day 0"] == DD_MM
    assert table.value["Day 0"].iloc[0] == day0


@pytest.mark.usefixtures("day_first")
def test_the_audit_page_shows_moments_day_first(clinic):
    with transaction() as session:
        audit.record(session, DR, "view", detail="progress")
    at = open_page("pages/audit_trail.py", ADMIN)
    moments = list(at.dataframe[0].value["at (UTC)"])
    assert moments and all(re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", m) for m in moments)
    assert at.text_input(key="audit_since").label == "From (DD/MM/YYYY)"
    assert not ISO_DATE.findall(visible_text(at))


@pytest.mark.usefixtures("day_first")
def test_the_pdf_report_prints_dates_day_first(clinic, tmp_path):
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    make_patient(clinic, "P-1", "Ada Example")
    name, data = progress_report_pdf(CLINICIAN, "P-1", AS_OF, clinic)
    assert name == "progress-P-1-2026-02-01.pdf"  # a file name: the machine format, sorting by date
    pdf = Path(tmp_path / name)
    pdf.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    for shown in ("As of 01/02/2026", "01/05/1980", "15/01/2025", "14/04/2025", "01/12/2024"):
        assert shown in text, shown
    assert not ISO_DATE.findall(text), ISO_DATE.findall(text)
    assert not re.search(r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)", text)


def test_month_first_clinics_read_and_show_month_first(clinic, monkeypatch):
    monkeypatch.setenv(FORMAT_SETTING, "MM/DD/YYYY")
    register()
    at = open_page("pages/patient_record.py", mrn="RT-0001")
    assert at.text_input(key="edit_birth").value == "05/17/1980"
    at.selectbox(key="therapy_name").set_value("finasteride")
    day = date.today() - timedelta(days=40)
    at.text_input(key="therapy_start").input(f"{day.month}/{day.day}/{day.year}")
    at.button(key="therapy_submit").click().run()
    assert not at.error
    assert [t.start for t in patient_record(DR, "RT-0001").therapies] == [day]


# --- A date format the product does not know stops the app and the commands with one message ------------------

UNKNOWN_FORMAT = "TRACKER_DATE_FORMAT 'DD.MM.YYYY' is not a date format this product knows"


def test_an_unknown_date_format_stops_the_app_with_one_message(clinic, monkeypatch, caplog):
    """Before: six pages ended in a traceback (the visit form, new patient, audit trail …) while others worked."""
    import streamlit as st

    st.cache_resource.clear()  # the app checks its set-up once per server; this test is a new server
    monkeypatch.setenv(FORMAT_SETTING, "DD.MM.YYYY")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.session_state["actor"] = DR
    at.run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [  # shown as plain text: markdown escaped
        f"{UNKNOWN_FORMAT}: set it to YYYY-MM-DD, DD/MM/YYYY, MM/DD/YYYY (the default is YYYY-MM-DD)"]
    assert not at.dataframe  # no page was drawn
    assert not [r for r in caplog.records if r.exc_info]
    st.cache_resource.clear()


def test_an_unknown_date_format_stops_every_command_with_one_message(clinic, monkeypatch):
    for args in (["progress", "RT-0001"], ["import", "p.csv", "s.csv", "v.csv"], ["init"]):
        done = subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, FORMAT_SETTING: "DD.MM.YYYY"}, timeout=120)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr.startswith(f"error: {UNKNOWN_FORMAT}"), (args, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == ""
