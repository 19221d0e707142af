"""Lot lookup: a recall in one step, deleted sessions counted not shown, a CSV a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.records.lots import csv_file_name, export_lot_csv, sessions_with_lot
from tracker.safe_csv import spreadsheet_safe

D = date.fromisoformat
CLINICIAN = Actor(username="dr_a", role="clinician")
STAMP = datetime(2025, 6, 1, tzinfo=UTC)


def add_patient(url, mrn, full_name, sessions, deleted=False):
    """``sessions``: (date, lot, product, volume, deleted) tuples."""
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=full_name, sex="male", birth_date=D("1975-05-05"),
                                 condition="androgenetic_alopecia", created_by="test",
                                 deleted_at=STAMP if deleted else None)
        session.add(patient)
        session.flush()
        for day, lot, product, volume, gone in sessions:
            session.add(models.TreatmentSession(
                patient_id=patient.id, date=D(day), treatment="exosome", product=product, lot_number=lot,
                volume_ml=volume, created_by="test", deleted_at=STAMP if gone else None,
            ))


@pytest.fixture
def lots_clinic(clinic):
    add_patient(clinic, "M-1", "Ana Silva", [
        ("2025-01-10", "AB-12", "ExoGen", 2.0, False),
        ("2025-04-10", "AB-12", "ExoGen", 2.5, True),  # deleted
        ("2025-05-10", "CD-9", "ExoGen", 2.0, False),
    ])
    add_patient(clinic, "M-2", "=HYPERLINK(\"http://evil\")", [("2025-03-01", "ab-12 ", "+ExoPlus", None, False)])
    add_patient(clinic, "M-3", "Bo Chen", [("2025-02-01", "AB-123", "ExoGen", 1.5, False)])
    add_patient(clinic, "M-4", "Gone Patient", [("2025-02-15", "AB-12", "ExoGen", 2.0, False)], deleted=True)
    add_patient(clinic, "M-5", "Per Cent", [("2025-02-20", "X%Y_1", "ExoGen", 1.0, False)])
    return clinic


def test_exact_match_ignores_case_and_spaces_and_counts_deleted(lots_clinic):
    found = sessions_with_lot(CLINICIAN, "  ab-12", url=lots_clinic)
    assert [(s.mrn, s.session_date, s.lot_number) for s in found.sessions] == [
        ("M-2", D("2025-03-01"), "ab-12 "),
        ("M-1", D("2025-01-10"), "AB-12"),
    ]
    assert found.patient_count == 2
    # M-1's deleted session and the deleted patient M-4's session.
    assert found.excluded_deleted == 2
    first = found.sessions[1]
    assert (first.full_name, first.product, first.treatment, first.volume_ml) == ("Ana Silva", "ExoGen", "exosome", 2.0)


def test_contains_option_finds_longer_lot_numbers(lots_clinic):
    found = sessions_with_lot(CLINICIAN, "AB-12", partial=True, url=lots_clinic)
    assert [s.mrn for s in found.sessions] == ["M-2", "M-3", "M-1"]


def test_contains_treats_wildcards_as_plain_characters(lots_clinic):
    assert [s.lot_number for s in sessions_with_lot(CLINICIAN, "%", partial=True,
                                                    url=lots_clinic).sessions] == ["X%Y_1"]
    assert [s.lot_number for s in sessions_with_lot(CLINICIAN, "_", partial=True,
                                                    url=lots_clinic).sessions] == ["X%Y_1"]
    assert sessions_with_lot(CLINICIAN, "X_Y", partial=True, url=lots_clinic).sessions == ()


def test_no_match_is_an_empty_result(lots_clinic):
    found = sessions_with_lot(CLINICIAN, "ZZ-0", url=lots_clinic)
    assert (found.sessions, found.excluded_deleted) == ((), 0)


def test_the_search_is_audited_with_the_lot(lots_clinic):
    sessions_with_lot(CLINICIAN, "AB-12", url=lots_clinic)
    with transaction(lots_clinic) as session:
        (entry,) = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "view")).all()
    assert entry.username == "dr_a"
    assert "'AB-12'" in entry.detail and "M-1" in entry.detail and "M-2" in entry.detail
    assert "M-4" not in entry.detail and "2 deleted" in entry.detail


@pytest.mark.parametrize("lot", ["", "   ", "x" * 81])
def test_an_empty_or_overlong_lot_is_refused(lots_clinic, lot):
    with pytest.raises(ValidationError):
        sessions_with_lot(CLINICIAN, lot, url=lots_clinic)


@pytest.mark.parametrize("actor", [Actor(username="pat", role="patient", patient_id=1), None])
def test_refused_for_patients_and_anonymous(lots_clinic, actor):
    with pytest.raises(PermissionDenied):
        sessions_with_lot(actor, "AB-12", url=lots_clinic)
    with pytest.raises(PermissionDenied):
        export_lot_csv(actor, "AB-12", url=lots_clinic)
    with transaction(lots_clinic) as session:
        assert session.scalars(select(models.AuditEntry)).all() == []


def test_csv_export_is_spreadsheet_safe_and_audited(lots_clinic):
    export = export_lot_csv(CLINICIAN, "ab-12", url=lots_clinic)
    assert export.file_name == "lot_ab-12.csv" and export.rows == 2
    assert export.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads accents right
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert rows == [
        ["MRN", "Name", "Session date", "Treatment", "Product", "Lot number", "Volume (mL)"],
        ["M-2", "'=HYPERLINK(\"http://evil\")", "2025-03-01", "Exosome", "'+ExoPlus", "ab-12 ", ""],
        ["M-1", "Ana Silva", "2025-01-10", "Exosome", "ExoGen", "AB-12", "2"],
    ]
    with transaction(lots_clinic) as session:
        (entry,) = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "export")).all()
    assert entry.username == "dr_a" and "'ab-12'" in entry.detail and "M-2" in entry.detail


@pytest.mark.parametrize("text, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("AB-1", "AB-1"),
    (None, None), (12, 12),
])
def test_spreadsheet_safe(text, safe):
    assert spreadsheet_safe(text) == safe


def test_csv_file_name_is_safe_everywhere():
    assert csv_file_name("AB/12 ..\\x") == "lot_AB_12_.._x.csv"
    assert csv_file_name("../..") == "lot_lot.csv"
