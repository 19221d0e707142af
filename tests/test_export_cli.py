"""``python -m tracker export clinic --out FILE.xlsx`` in a subprocess, as an admin runs it on the server."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import date, datetime

import openpyxl
from sqlalchemy import select

from db import models
from tests.conftest import ROOT
from tests.export_samples import HOSTILE, hostile_patient
from tests.patient_samples import seed
from tracker.access.actors import os_user
from tracker.database import transaction


def _export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", "export", "clinic", *args], cwd=ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)


def test_the_command_line_writes_the_clinic_workbook(clinic, tmp_path):
    hostile_patient(clinic)
    seed(clinic, "RT-A2", "Bea Second", visits=[(date(2025, 2, 1), {"vertex": 99.0})])
    out = tmp_path / "clinic.xlsx"
    result = _export("--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"Clinic data written to {out}: 2 patients; Patient 2 rows, Visits 2 rows, Density measurements 3 rows, "
        "Scale scores 2 rows, Treatment sessions 1 row, Concurrent therapies 1 row, Photos 1 row, "
        "Corrections 1 row, Removals 1 row. ")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # patient data: readable by the exporting user only
    assert not list(tmp_path.glob(".*.partial"))
    book = openpyxl.load_workbook(out)
    patients = [[cell.value for cell in row] for row in book["Patient"].iter_rows()]
    assert [row[:2] for row in patients] == [["MRN", "Full name"], ["RT-A2", "Bea Second"],
                                             ["RT-EX1", "'" + HOSTILE["full_name"]]]
    assert [[cell.value for cell in row] for row in book["Visits"].iter_rows(min_row=2)] == [
        ["RT-A2", datetime(2025, 2, 1), None, None, None, None],
        ["RT-EX1", datetime(2025, 1, 10), -1, 7, '{"lighting": "=1+1"}', "'+1"]]
    for sheet in book:
        for row in sheet.iter_rows():
            assert all(cell.data_type not in ("f", "e") for cell in row), sheet.title
    with transaction(clinic) as session:
        (entry,) = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "export")).all()
        assert entry.username == f"cli:export clinic ({os_user()})" and entry.patient_count == 2


def test_the_command_line_never_replaces_a_file_and_says_why_in_one_line(clinic, tmp_path):
    out = tmp_path / "clinic.xlsx"
    out.write_bytes(b"the clinic's earlier export")
    again = _export("--out", str(out))
    assert again.returncode == 1 and out.read_bytes() == b"the clinic's earlier export"
    assert again.stderr == f"error: {out} already exists: an export never replaces a file; choose another name.\n"
    wrong = _export("--out", str(tmp_path / "clinic.csv"))
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1 and "XLSX" in wrong.stderr
    nowhere = _export("--out", str(tmp_path / "no-such-folder" / "clinic.xlsx"))
    assert nowhere.returncode == 1 and nowhere.stderr.count("\n") == 1 and "not a folder" in nowhere.stderr
    # A file waiting at the partial name (a world-writable one planted there: written into and renamed, the
    # export once ended up 0666 and owned by someone else) is neither written into nor removed.
    planted = tmp_path / ".planted.xlsx.partial"
    planted.write_bytes(b"planted")
    planted.chmod(0o666)
    trap = _export("--out", str(tmp_path / "planted.xlsx"))
    assert trap.returncode == 1 and trap.stderr == (
        f"error: {planted} already exists (an interrupted export, or another user's file): remove it, or choose "
        "another name.\n")
    assert planted.read_bytes() == b"planted" and not (tmp_path / "planted.xlsx").exists()
    missing = subprocess.run([sys.executable, "-m", "tracker", "export", "clinic"], cwd=ROOT, env=dict(os.environ),
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "--out" in missing.stderr
    with transaction(clinic) as session:  # nothing was exported, so nothing was recorded as exported
        assert session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "export")).all() == []
