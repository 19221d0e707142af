"""Data exports (issue #15): a patient's complete data as XLSX and as a zip of CSVs, the clinic-wide XLSX.

Content is checked cell by cell against the patient of ``export_samples`` (worked out by hand from what it
writes); every cell of every file is opened and checked for formulas; access and audit as for every read.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import func, select

from db import models
from tests.export_samples import HOSTILE, SHA, hostile_patient
from tests.patient_samples import ADMIN, DR, patient_actor, seed
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied, ValidationError
from tracker.exchange.clinic_export import clinic_export_file
from tracker.exchange.patient_export import patient_export
from tracker.exchange.safe_workbook import CELL_MAX

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
TODAY = date(2025, 6, 1)
STAFF_SHEETS = ["Patient", "Visits", "Density measurements", "Scale scores", "Treatment sessions",
                "Concurrent therapies", "Photos", "Corrections", "Removals"]


def g(text: str) -> str:
    """``text`` as the formula guard writes it (a leading ``'``)."""
    return "'" + text


# Every sheet of RT-EX1 for staff, as a spreadsheet reads it back (dates come back as midnight datetimes).
EXPECTED = {
    "Patient": [
        ["MRN", "Full name", "Sex", "Birth date", "Condition", "Baseline scale", "Baseline stage", "Target areas",
         "Protocol", "Notes", "Record created (UTC)"],
        ["RT-EX1", g(HOSTILE["full_name"]), "female", datetime(1980, 5, 17), "Androgenetic alopecia", "Ludwig", "II",
         "Vertex, Frontal", "Exosome (default)", g(HOSTILE["notes"]), datetime(2025, 1, 9, 8, 30)],
    ],
    "Visits": [
        ["MRN", "Visit date", "Global assessment (−3 … +3)", "Satisfaction (0–10)", "Capture conditions", "Notes"],
        # The removed 2025-04-10 visit is not here.
        ["RT-EX1", datetime(2025, 1, 10), -1, 7, '{"lighting": "=1+1"}', g("+1")],
    ],
    "Density measurements": [
        ["MRN", "Visit date", "Site", "Density (hairs/cm²)", "Shaft diameter (µm)", "Terminal hairs (%)",
         "Anagen hairs (%)", "Method (typed/counted)", "Counted on photo (SHA-256 of the original)"],
        # Sites in alphabetical order within a visit; the removed visit's 170 is not here.
        ["RT-EX1", datetime(2025, 1, 10), "Frontal", 120, None, None, None, "typed", None],
        ["RT-EX1", datetime(2025, 1, 10), "Vertex", 150.5, 62.5, 80, 85, "counted", SHA],
    ],
    "Scale scores": [
        ["MRN", "Visit date", "Scale", "Stage", "SALT score (0–100)", "SALT vertex loss (%)",
         "SALT posterior loss (%)", "SALT left side loss (%)", "SALT right side loss (%)"],
        ["RT-EX1", datetime(2025, 1, 10), "SALT (0–100)", None, 35.2, 40, 30, 35, 30],
        ["RT-EX1", datetime(2025, 1, 10), "Ludwig", "#REF!", None, None, None, None, None],
    ],
    "Treatment sessions": [
        ["MRN", "Session date", "Treatment", "Product", "Lot number", "Volume (mL)", "Areas treated",
         "Pre-session checklist", "Adverse events", "Notes"],
        ["RT-EX1", datetime(2025, 1, 10), "Exosome", g(HOSTILE["product"]), g("@LOT-1"), 4.5, g("-2+3"),
         '{"note": "-2+3"}', g("-bleeding"), g("\tTAB")],
    ],
    "Concurrent therapies": [
        ["MRN", "Therapy", "Dose", "Start", "Stop"],
        ["RT-EX1", g("=2+2"), g("+5 mg"), datetime(2025, 2, 1), datetime(2025, 6, 30)],
    ],
    "Photos": [
        ["MRN", "Visit date", "View", "Original file name", "SHA-256 of the original", "Media type", "Width (px)",
         "Height (px)", "Captured (UTC)", "Quality checks"],
        ["RT-EX1", datetime(2025, 1, 10), "Vertex", g("=evil.jpg"), SHA, "image/jpeg", 4032, 3024,
         datetime(2025, 1, 10, 9, 15), '{"problems": ["@bad"]}'],
    ],
    "Corrections": [
        ["MRN", "Changed (UTC)", "Changed by", "Record", "Field", "Previous value", "New value", "Reason"],
        ["RT-EX1", datetime(2025, 3, 1, 12, 0), g("@dr.lee"), "Patient details", "Full name", g("-old"),
         g(HOSTILE["full_name"]), g("=reason")],
    ],
    "Removals": [
        ["MRN", "Record", "Entry date", "Removed (UTC)", "Removed by", "Reason"],
        ["RT-EX1", "Visit", datetime(2025, 4, 10), datetime(2025, 4, 11, 10, 0), g("+remover"), g("=removed")],
    ],
}


def _workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def _values(book: openpyxl.Workbook) -> dict[str, list[list]]:
    return {sheet.title: [[cell.value for cell in row] for row in sheet.iter_rows()] for sheet in book}


def _assert_no_formula(book: openpyxl.Workbook) -> int:
    """Every cell of every sheet: no formula, no error cell, no text a spreadsheet would run. Returns the number
    of text cells checked."""
    texts = 0
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type not in ("f", "e"), (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts += 1
                    assert not cell.value.startswith(FORMULA_STARTS), (sheet.title, cell.coordinate, cell.value)
    return texts


@pytest.fixture
def patient(clinic):
    return clinic, hostile_patient(clinic)


def test_xlsx_holds_every_sheet_cell_by_cell(patient):
    url, _ = patient
    export = patient_export(DR, "rt-ex1", "xlsx", today=TODAY, url=url)  # MRNs match whatever their capitals
    assert export.file_name == "RT-EX1_data_2025-06-01.xlsx"
    assert export.media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = _workbook(export.data)
    assert book.sheetnames == STAFF_SHEETS
    assert _values(book) == EXPECTED
    assert export.rows == tuple((title, len(rows) - 1) for title, rows in EXPECTED.items())


def test_xlsx_types_dates_as_dates_and_numbers_as_numbers(patient):
    url, _ = patient
    book = _workbook(patient_export(DR, "RT-EX1", "xlsx", today=TODAY, url=url).data)
    birth = book["Patient"]["D2"]
    assert birth.is_date and birth.number_format == "yyyy-mm-dd"
    density = book["Density measurements"]["D3"]
    assert density.data_type == "n" and density.value == 150.5
    stage = book["Scale scores"]["D3"]  # "#REF!" is an error code: it must be text, not an error cell
    assert (stage.data_type, stage.value) == ("s", "#REF!")
    assert book["Patient"]["A1"].font.bold


def test_no_cell_of_the_xlsx_is_a_formula(patient):
    url, _ = patient
    book = _workbook(patient_export(DR, "RT-EX1", "xlsx", today=TODAY, url=url).data)
    # Headers plus every hostile text: the check looked at them all.
    assert _assert_no_formula(book) >= sum(len(rows[0]) for rows in EXPECTED.values()) + len(HOSTILE) - 3


def _csvs(data: bytes) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
                for name in archive.namelist()}


def test_csv_zip_has_one_guarded_csv_per_sheet(patient):
    url, _ = patient
    export = patient_export(DR, "RT-EX1", "csv", today=TODAY, url=url)
    assert (export.file_name, export.media_type) == ("RT-EX1_data_2025-06-01.zip", "application/zip")
    files = _csvs(export.data)
    assert list(files) == ["patient.csv", "visits.csv", "density_measurements.csv", "scale_scores.csv",
                           "treatment_sessions.csv", "concurrent_therapies.csv", "photos.csv", "corrections.csv",
                           "removals.csv"]
    for name, rows in files.items():
        for row in rows:
            for value in row:  # a negative number (a global assessment of -1) is a number, not a formula
                assert NUMBER.fullmatch(value) or not value.startswith(FORMULA_STARTS), (name, value)
    assert files["patient.csv"][1][:4] == ["RT-EX1", g(HOSTILE["full_name"]), "female", "1980-05-17"]
    assert files["density_measurements.csv"][2] == ["RT-EX1", "2025-01-10", "Vertex", "150.5", "62.5", "80.0",
                                                    "85.0", "counted", SHA]
    # Dates and times are ISO (YYYY-MM-DD), as in every CSV of the product.
    assert files["removals.csv"][1] == ["RT-EX1", "Visit", "2025-04-10", "2025-04-11 10:00:00", g("+remover"),
                                        g("=removed")]
    assert files["concurrent_therapies.csv"][0] == ["MRN", "Therapy", "Dose", "Start", "Stop"]


def test_a_patient_account_gets_its_own_data_without_the_clinicians_history(patient):
    url, patient_id = patient
    seed(url, "RT-OTHER", "Otto Other")
    own = patient_export(patient_actor(patient_id), None, "xlsx", today=TODAY, url=url)
    book = _workbook(own.data)
    assert book.sheetnames == STAFF_SHEETS[:-2]
    assert _values(book) == {title: EXPECTED[title] for title in STAFF_SHEETS[:-2]}
    assert list(_csvs(patient_export(patient_actor(patient_id), "RT-EX1", "csv", url=url).data))[-1] == "photos.csv"


def _entries(url: str, action: str) -> list[models.AuditEntry]:
    with transaction(url) as session:
        found = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)
                                .order_by(models.AuditEntry.id)).all()
        session.expunge_all()
        return list(found)


def test_refused_for_another_patients_mrn_and_audited(patient):
    url, patient_id = patient
    other_id = seed(url, "RT-OTHER", "Otto Other")
    with pytest.raises(PermissionDenied) as refused:
        patient_export(patient_actor(patient_id), "RT-OTHER", "xlsx", url=url)
    with pytest.raises(PermissionDenied) as unknown:
        patient_export(patient_actor(patient_id), "RT-NOBODY", "csv", url=url)
    assert str(refused.value) == str(unknown.value)  # a refusal does not confirm that an MRN exists
    assert "Otto" not in str(refused.value)
    assert [(e.patient_id, e.detail) for e in _entries(url, "refused")] == [
        (patient_id, "patient data export: asked for MRN 'RT-OTHER'"),
        (patient_id, "patient data export: asked for MRN 'RT-NOBODY'")]
    assert _entries(url, "export") == []
    with pytest.raises(PermissionDenied):
        patient_export(None, "RT-EX1", url=url)
    with pytest.raises(NotFound):
        patient_export(DR, "RT-NOBODY", url=url)
    with pytest.raises(ValidationError, match="XLSX or CSV"):
        patient_export(DR, "RT-EX1", "pdf", url=url)
    assert other_id != patient_id


def test_export_is_audited_with_its_patient_and_counts(patient):
    url, patient_id = patient
    patient_export(DR, "RT-EX1", "csv", url=url)
    (entry,) = _entries(url, "export")
    assert (entry.username, entry.role, entry.patient_id) == ("dr.lee", "clinician", patient_id)
    assert entry.detail == ("patient data export (CSV): Patient 1, Visits 1, Density measurements 2, Scale scores 2, "
                            "Treatment sessions 1, Concurrent therapies 1, Photos 1, Corrections 1, Removals 1")


def test_clinic_export_has_every_live_patient_in_mrn_order(patient):
    url, patient_id = patient
    seed(url, "RT-A2", "Bea Second", sessions=[date(2025, 2, 1)], visits=[(date(2025, 2, 1), {"vertex": 99.0})])
    gone = seed(url, "RT-GONE", "Gone Patient", visits=[(date(2025, 2, 1), {"vertex": 50.0})])
    with transaction(url) as session:
        session.get(models.Patient, gone).deleted_at = models.utcnow()
    book = _workbook(clinic_export_file(ADMIN, url=url))
    values = _values(book)
    assert book.sheetnames == STAFF_SHEETS
    assert [row[0] for row in values["Patient"]] == ["MRN", "RT-A2", "RT-EX1"]
    assert [row[:4] for row in values["Density measurements"][1:]] == [
        ["RT-A2", datetime(2025, 2, 1), "Vertex", 99],
        ["RT-EX1", datetime(2025, 1, 10), "Frontal", 120],
        ["RT-EX1", datetime(2025, 1, 10), "Vertex", 150.5]]
    # RT-EX1's rows are those of its own export.
    for title, rows in EXPECTED.items():
        assert [row for row in values[title] if row[0] == "RT-EX1"] == rows[1:], title
    _assert_no_formula(book)
    (entry,) = _entries(url, "export")
    assert entry.patient_count == 2 and entry.detail.startswith("clinic data export (XLSX); 2 patients")
    with transaction(url) as session:
        assert session.scalar(select(func.count()).select_from(models.AuditPatient)
                              .where(models.AuditPatient.entry_id == entry.id)) == 2
    assert patient_id


@pytest.mark.parametrize("actor", [DR, Actor("pat", "patient", patient_id=1), None])
def test_clinic_export_is_for_admins_only(patient, actor):
    url, _ = patient
    with pytest.raises(PermissionDenied):
        clinic_export_file(actor, url=url)
    assert _entries(url, "export") == []


def test_unwritable_characters_and_overlong_text_do_not_stop_the_export(clinic):
    patient_id = seed(clinic, "RT-ODD", "Bell\x07 Esc\x1bx")  # no NUL: PostgreSQL refuses it in text
    with transaction(clinic) as session:
        session.get(models.Patient, patient_id).notes = "n" * 40_000
    book = _workbook(patient_export(DR, "RT-ODD", "xlsx", url=clinic).data)
    assert book["Patient"]["B2"].value == "Bell\ufffd Esc\ufffdx"
    notes = book["Patient"]["J2"].value
    assert len(notes) == CELL_MAX and notes.endswith("… [cut: 40,000 characters]")
