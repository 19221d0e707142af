"""Lot lookup: a recall in one step, deleted sessions counted not shown, a CSV a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.records import lots
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
    assert [s.lot_number for s in sessions_with_lot(CLINICIAN, "%Y", partial=True,
                                                    url=lots_clinic).sessions] == ["X%Y_1"]
    assert [s.lot_number for s in sessions_with_lot(CLINICIAN, "_1", partial=True,
                                                    url=lots_clinic).sessions] == ["X%Y_1"]
    assert sessions_with_lot(CLINICIAN, "X_Y", partial=True, url=lots_clinic).sessions.rows == ()


@pytest.mark.parametrize("text", ["%", " A ", "_"])
def test_a_partial_search_needs_two_characters(lots_clinic, text):
    with pytest.raises(ValidationError, match="at least 2 characters"):
        sessions_with_lot(CLINICIAN, text, partial=True, url=lots_clinic)
    assert sessions_with_lot(CLINICIAN, "CD-9" if text == " A " else "AB-12", url=lots_clinic).sessions.total >= 1


def test_no_match_is_an_empty_result(lots_clinic):
    found = sessions_with_lot(CLINICIAN, "ZZ-0", url=lots_clinic)
    assert (found.sessions.rows, found.excluded_deleted) == ((), 0)


def _patients_of_entry(url, action):
    """The entry of ``action`` and the MRNs of the patients its ``audit_patient`` rows name."""
    with transaction(url) as session:
        (entry,) = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)).all()
        mrns = session.scalars(select(models.Patient.mrn).join(
            models.AuditPatient, models.AuditPatient.patient_id == models.Patient.id)
            .where(models.AuditPatient.entry_id == entry.id).order_by(models.Patient.mrn)).all()
    return entry, mrns


def test_the_search_is_audited_with_the_lot_and_the_patients_shown(lots_clinic):
    sessions_with_lot(CLINICIAN, "AB-12", url=lots_clinic)
    entry, mrns = _patients_of_entry(lots_clinic, "view")
    assert entry.username == "dr_a" and entry.patient_id is None
    assert entry.detail.startswith("lot lookup: lot exactly 'AB-12': 2 sessions, 2 patients; sessions 1–2 shown; "
                                   "2 deleted sessions not shown; 2 patients (sha256 of their sorted ids: ")
    assert mrns == ["M-1", "M-2"]  # the deleted patient M-4 was not shown, so is not named


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
    entry, mrns = _patients_of_entry(lots_clinic, "export")  # recorded before a row is read
    data = b"".join(export.chunks)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads accents right
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["MRN", "Name", "Session date", "Treatment", "Product", "Lot number", "Volume (mL)"],
        ["M-2", "'=HYPERLINK(\"http://evil\")", "2025-03-01", "Exosome", "'+ExoPlus", "ab-12 ", ""],
        ["M-1", "Ana Silva", "2025-01-10", "Exosome", "ExoGen", "AB-12", "2"],
    ]
    assert entry.username == "dr_a" and "'ab-12'" in entry.detail and "2 sessions, 2 patients" in entry.detail
    assert mrns == ["M-1", "M-2"]


@pytest.mark.parametrize("text, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("AB-1", "AB-1"),
    (None, None), (12, 12),
])
def test_spreadsheet_safe(text, safe):
    assert spreadsheet_safe(text) == safe


def test_csv_file_name_is_safe_everywhere():
    assert csv_file_name("AB/12 ..\\x") == "lot_AB_12_.._x.csv"
    assert csv_file_name("../..") == "lot_lot.csv"


def _bulk_sessions(url, patients, sessions_each, lot_of):
    """``patients`` patients with ``sessions_each`` sessions each; session ``n`` of patient ``p`` gets the lot
    ``lot_of(p, n)`` and the date 2025-01-01 + n days (Core inserts: hundreds of rows in one statement)."""
    with transaction(url) as session:
        session.execute(insert(models.Patient), [
            {"mrn": f"B-{p:04d}", "full_name": f"Bulk {p}", "sex": "female", "birth_date": D("1980-01-01"),
             "condition": "androgenetic_alopecia", "created_by": "test"} for p in range(patients)])
        ids = dict(session.execute(select(models.Patient.mrn, models.Patient.id)
                                   .where(models.Patient.mrn.startswith("B-"))).all())
        session.execute(insert(models.TreatmentSession), [
            {"patient_id": ids[f"B-{p:04d}"], "date": D("2025-01-01") + timedelta(days=n), "treatment": "prp",
             "product": "", "lot_number": lot_of(p, n), "created_by": "test"}
            for p in range(patients) for n in range(sessions_each)])


def test_results_are_paged_with_their_totals(clinic):
    # 150 patients x 3 sessions of lot RC-7 (in three spellings), and 150 of another lot.
    _bulk_sessions(clinic, 150, 4, lambda p, n: ("RC-7", " rc-7", "Rc-7 ", "OTHER")[n])
    first = sessions_with_lot(CLINICIAN, "rc-7", url=clinic)
    assert (first.sessions.total, first.patient_count, first.sessions.pages, len(first.sessions)) == (
        450, 150, 3, 200)
    assert first.showing() == "Showing 1–200 of 450 sessions (page 1 of 3), newest first."
    assert first.found() == "450 sessions, 150 patients."
    # Newest first, then by MRN: the page boundaries fall where that order says.
    assert [(s.session_date, s.mrn) for s in first.sessions.rows[:2]] == [(D("2025-01-03"), "B-0000"),
                                                                     (D("2025-01-03"), "B-0001")]
    last = sessions_with_lot(CLINICIAN, "rc-7", page=3, url=clinic)
    assert (last.sessions.number, len(last.sessions), last.sessions.offset) == (3, 50, 400)
    assert [s.mrn for s in last.sessions.rows[-2:]] == ["B-0148", "B-0149"] and last.sessions[-1].lot_number == "RC-7"
    assert sessions_with_lot(CLINICIAN, "rc-7", page=99, url=clinic).sessions.number == 3  # past the last: the last
    partial = sessions_with_lot(CLINICIAN, "C-", partial=True, page=2, url=clinic)
    assert (partial.sessions.total, partial.sessions.number, len(partial.sessions)) == (450, 2, 200)
    export = export_lot_csv(CLINICIAN, "RC-7", url=clinic)
    lines = b"".join(export.chunks).decode("utf-8-sig").splitlines()
    assert export.rows == 450 and len(lines) == 451  # every page, and the header


def test_the_exact_match_uses_the_lot_index(clinic):
    _bulk_sessions(clinic, 200, 20, lambda p, n: f"L-{p}-{n}")
    with transaction(clinic) as session:
        connection = session.connection()
        connection.execute(text("ANALYZE treatment_session" if clinic.startswith("postgresql") else "ANALYZE"))
        statement = lots._live(lots._condition("l-7-3", partial=False))
        sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN " if clinic.startswith("postgresql") else "EXPLAIN QUERY PLAN "
        plan = "\n".join(" ".join(map(str, row)) for row in connection.exec_driver_sql(prefix + sql))
        assert "ix_treatment_session_lot_key" in plan, plan
        assert [row.lot_number for row in connection.execute(statement)] == ["L-7-3"]


def test_the_page_turns_pages_and_refuses_a_short_partial_text(sqlite_clinic):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    _bulk_sessions(sqlite_clinic, 125, 2, lambda p, n: "PG-1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = CLINICIAN
    at.run()
    at.switch_page("pages/lot_lookup.py")
    at.run()
    at.text_input(key="lot_query").input("pg-1")
    at.button[0].click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["250 sessions, 125 patients."]
    assert "Showing 1–200 of 250 sessions (page 1 of 2), newest first." in [c.value for c in at.caption]
    assert len(at.dataframe[0].value) == 200
    at.number_input[0].set_value(2).run()
    assert "Showing 201–250 of 250 sessions (page 2 of 2), newest first." in [c.value for c in at.caption]
    assert list(at.dataframe[0].value["MRN"])[-1] == "B-0124" and len(at.dataframe[0].value) == 50
    with transaction(sqlite_clinic) as session:
        views = session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "view")
                                .where(models.AuditEntry.detail.startswith("lot lookup"))).all()
    assert [v.split("; ")[1] for v in views] == ["sessions 1–200 shown", "sessions 201–250 shown"]
    # A new search starts on page 1.
    at.button[0].click().run()
    assert "Showing 1–200 of 250 sessions (page 1 of 2), newest first." in [c.value for c in at.caption]
    at.text_input(key="lot_query").input("P")
    at.checkbox(key="lot_partial").check()
    at.button[0].click().run()
    assert not at.exception and [e.value for e in at.error] == [
        "To find lot numbers that contain some text, type at least 2 characters of it ('P' would match nearly "
        "every session)."]
