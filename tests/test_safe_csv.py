"""Every CSV export opens safely in a spreadsheet, whatever its list separator.

A spreadsheet in a ``;`` locale splits ``x;=cmd`` into ``x`` and the formula ``=cmd``; one that splits on ``,``
or tabs does the same with those, and a line break starts a row. Each hostile cell below goes through every
export (the lots CSV, the audit trail CSV; ``tracker.safe_csv.csv_chunks`` has no other user) and the file is then
read the way such a spreadsheet would: split on each separator without regard to quoting. No cell may
start with a formula character, and the text must still be there (only ``'`` added).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest

from db import models
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.records.lots import export_lot_csv
from tracker.safe_csv import spreadsheet_safe, to_csv

CLINICIAN = Actor("dr.csv", "clinician")
ADMIN = Actor("admin.csv", "admin")
FORMULA_START = "=+-@"
SEPARATORS = (";", ",", "\t")
LOT = "CSV-LOT-1"

# Formulas at the start of a cell and after each separator, with and without spaces in between.
HOSTILE_CELLS = (
    '=HYPERLINK("http://example.org","x")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1)",
    'Souza;=HYPERLINK("http://example.org";"x")',
    "Lee,=1+1",
    "Kit\t=cmd|' /C calc'!A0",
    "Ana; +SUM(1)",
    "Bo ,  -2+3",
    "Serum;@SUM(A1)",
    "a;b;=c,=d\t=e",
    "line one\n=cmd",
    "line one\r\n+cmd",
    "x;\t=cmd",
)
HARMLESS_CELLS = ("Serum 2 ml; rinse after 4 h", "Ana Souza", "AB-12", "2.5 ml, twice", "e-mail a@b.org")


def spreadsheet_cells(text: str) -> list[str]:
    """Every cell a careless spreadsheet could make of the file: lines split on any separator, quoting
    ignored, leading spaces and quotes dropped (those do not stop a formula)."""
    cells: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text.lstrip("\ufeff")):
        for separator in SEPARATORS:
            cells.extend(field.lstrip(' "') for field in line.split(separator))
    return cells


def assert_no_formula(text: str) -> None:
    formulas = [cell for cell in spreadsheet_cells(text) if cell and cell[0] in FORMULA_START]
    assert formulas == [], formulas


@pytest.mark.parametrize("cell", HOSTILE_CELLS + HARMLESS_CELLS)
def test_every_cell_is_neutralised_for_every_separator(cell):
    safe = spreadsheet_safe(cell)
    assert_no_formula(safe)
    assert safe.replace("'", "") == cell.replace("'", "")  # nothing but the quote mark added
    if cell in HARMLESS_CELLS:
        assert safe == cell
    assert_no_formula(to_csv(["c"], [[cell]]).decode("utf-8"))


def _seed_hostile_sessions(url: str) -> None:
    """One patient per hostile cell, its name, product and lot number all hostile (written directly, so that
    even text the forms refuse, tabs and line breaks, reaches the exports)."""
    with transaction(url) as session:
        for index, cell in enumerate(HOSTILE_CELLS):
            patient = models.Patient(mrn=f"CSV-{index:02d}", full_name=cell, sex="female",
                                     birth_date=date(1980, 1, 1), condition="androgenetic_alopecia",
                                     created_by="test")
            session.add(patient)
            session.flush()
            for lot in (LOT, f"{LOT} {cell}"):
                session.add(models.TreatmentSession(patient_id=patient.id, date=date(2025, 3, 1),
                                                    treatment="exosome", product=cell, lot_number=lot,
                                                    created_by="test"))


def test_lot_csv_is_safe_in_every_locale(clinic, figure, db_url):
    _seed_hostile_sessions(clinic)
    export = export_lot_csv(CLINICIAN, LOT, partial=True, url=clinic)
    text = b"".join(export.chunks).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert export.rows == len(rows) == 2 * len(HOSTILE_CELLS)
    assert {r["Name"] for r in rows} == {spreadsheet_safe(c) for c in HOSTILE_CELLS}
    assert {r["Product"] for r in rows} == {spreadsheet_safe(c) for c in HOSTILE_CELLS}
    assert_no_formula(text)
    figure(f"CSV guard ({db_url.split(':')[0]}): lots CSV, {len(HOSTILE_CELLS)} hostile cells × 3 columns "
           f"(name, product, lot), split on {len(SEPARATORS)} separators and line breaks: 0 formula cells")


def test_audit_csv_is_safe_in_every_locale(clinic, figure, db_url):
    with transaction(clinic) as session:
        for cell in HOSTILE_CELLS:
            audit.record(session, CLINICIAN, "view", detail=cell)
    _seed_hostile_sessions(clinic)
    export_lot_csv(CLINICIAN, f"{LOT} {HOSTILE_CELLS[4]}", url=clinic)  # the lot searched, quoted in the trail
    text = b"".join(audit.export_csv(ADMIN, url=clinic).chunks).decode("utf-8-sig")
    details = [r["detail"] for r in csv.DictReader(io.StringIO(text))]
    assert {spreadsheet_safe(c) for c in HOSTILE_CELLS} <= set(details)
    assert any(HOSTILE_CELLS[4].split(";")[0] in d and "lot CSV export" in d for d in details)
    assert_no_formula(text)
    figure(f"CSV guard ({db_url.split(':')[0]}): audit CSV, {len(HOSTILE_CELLS) + 1} hostile details: 0 formula cells")


def test_every_to_csv_user_is_covered():
    """If another export starts using ``csv_chunks`` (or ``to_csv``), it belongs in this file too."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    users = sorted(p.relative_to(root).as_posix() for p in (root / "tracker").rglob("*.py")
                   if re.search(r"\b(to_csv|csv_chunks)\(", p.read_text()) and p.name != "safe_csv.py")
    # safe_workbook.py: the patient and clinic exports; every cell of both formats is checked in test_exports.py.
    assert users == ["tracker/access/audit.py", "tracker/exchange/safe_workbook.py", "tracker/records/lots.py"]


def test_dates_and_numbers_pass_unchanged():
    day = datetime(2025, 1, 2, tzinfo=UTC)
    assert spreadsheet_safe(-5) == -5 and spreadsheet_safe(2.5) == 2.5 and spreadsheet_safe(day) is day
