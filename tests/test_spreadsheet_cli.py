"""``python -m tracker import`` in a subprocess, as a clinic runs it, with the files clinics really produce: a
LibreOffice .ods, a Windows-1252 CSV, Excel's semicolon CSV with its hidden ``sep=`` line and decimal commas, a
SALT column; and the refusals a clinician reads on the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

from sqlalchemy import select

from db import models
from tests.conftest import ROOT
from tests.import_samples import SESSIONS, measurements
from tests.spreadsheet_samples import ENCRYPTED_XLSX, date_cell, number_cell, ods, text_cell
from tracker.database import transaction


def _import(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", "import", *map(str, paths)], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def test_the_command_line_imports_clinic_files(clinic, tmp_path):
    ods(tmp_path / "patients.ods", [
        [text_cell(column) for column in ("MRN", "Full Name", "Sex", "Birth date", "Condition")],
        [number_cell(123, "00123"), text_cell("Zoë Durand"), text_cell("F"), date_cell("1980-05-01", "01/05/80"),
         text_cell("alopecia areata")],
    ])
    (tmp_path / "sessions.csv").write_bytes(b"mrn,date,treatment,product,lot_number\r\n"
                                            b"00123,2025-01-10,exosome,Exo Cr\xe8me,0457\r\n")
    (tmp_path / "visits.csv").write_text("sep=;\nmrn;date;density_per_cm2;site;salt\n"
                                         "00123;2025-01-10;58,3;vertex;62,5\n", encoding="utf-8")
    result = _import(tmp_path / "patients.ods", tmp_path / "sessions.csv", tmp_path / "visits.csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Import complete.",
        "  patients: 1 added, 0 already present",
        "  treatment sessions: 1 added, 0 already present",
        "  visits: 1 added, 0 already present",
        "  density measurements: 1 added, 0 already present",
        "  SALT scores: 1 added, 0 already present",
        "Note: sessions.csv was read as Windows-1252 text, not UTF-8: check that accented letters look right "
        "(for example 'Crème'), or save the file as 'CSV UTF-8'",
    ]
    with transaction(clinic) as session:
        patient = session.scalars(select(models.Patient)).one()
        lot = session.scalar(select(models.TreatmentSession.product + " " + models.TreatmentSession.lot_number))
        salt = session.scalar(select(models.ScaleScore.salt_score).where(models.ScaleScore.scale == "salt"))
    assert (patient.mrn, patient.full_name, patient.sex, patient.birth_date, patient.condition) == (
        "00123", "Zoë Durand", "female", date(1980, 5, 1), "alopecia_areata")
    assert (lot, salt) == ("Exo Crème 0457", 62.5)
    assert [(mrn, site, density) for mrn, _, site, density, _ in measurements(clinic)] == [("00123", "vertex", 58.3)]


def test_the_command_line_names_every_problem_and_imports_nothing(clinic, tmp_path):
    (tmp_path / "patients.xlsx").write_bytes(ENCRYPTED_XLSX)
    (tmp_path / "sessions.csv").write_text(
        "\n".join(",".join(row) for row in [*SESSIONS[:1], ["RT-001", "2025-01-10", "exosome", "ExoGen", "2.4E+08"]]),
        encoding="utf-8")
    (tmp_path / "visits.csv").write_text("mrn,date,density_per_cm2\nRT-001,45667,120\n", encoding="utf-8")
    result = _import(tmp_path / "patients.xlsx", tmp_path / "sessions.csv", tmp_path / "visits.csv")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: 3 problems found in the spreadsheets; nothing was imported",
        "  - patients.xlsx: the workbook is password-protected, so it cannot be read; open it in Excel, remove the "
        "password (File → Info → Protect Workbook → Encrypt with Password, empty) and save it from Excel or "
        "LibreOffice as .xlsx or as 'CSV UTF-8'",
        "  - sessions.csv, row 2: lot_number '2.4E+08' is a number in scientific notation: an office suite changed "
        "the identifier (lot 24E07 becomes 2.4E+08); format the column as Text and type the values again",
        "  - visits.csv, row 2: date 45667 looks like an Excel day number (45667 is 2025-01-10): the column lost its "
        "date format; format the column as a date (YYYY-MM-DD) and type or save the dates again",
    ]
    assert measurements(clinic) == []
