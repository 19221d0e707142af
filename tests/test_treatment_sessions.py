"""Logging a treatment session: the row, its batch documents, the dates the patient needs, and refusals.

Runs on SQLite and PostgreSQL (the ``clinic`` fixture). Dates are worked by hand: NSAIDs are avoided
from 3 days before to 21 days after a session; the next session is due 3–6 calendar months after the
latest one (DESIGN.md §1).
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import func, select

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied, ValidationError
from tracker.records.batch_documents import DocumentUpload, document_key, document_store
from tracker.records.treatment_sessions import SessionEntry, log_session, session_form_defaults

CLINICIAN = Actor(username="dr.lee", role="clinician")
TODAY = date(2025, 6, 1)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ALL_TICKED = {"hydrated": True, "breakfast": True, "no_nsaids": True}


def add_patient(url, mrn="RT-0001", *, birth_date=date(1980, 5, 1), target_areas="vertex, frontal") -> int:
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name="Ana Souza", sex="female", birth_date=birth_date,
                                 condition="androgenetic_alopecia", target_areas=target_areas, created_by="test")
        session.add(patient)
        session.flush()
        return patient.id


def png(width=40, height=30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 200, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def exosome(on=date(2025, 5, 20), **changes) -> SessionEntry:
    values = dict(date=on, treatment="exosome", product="ExoVial 5", lot_number="LOT-2025-17", volume_ml=4.0,
                  areas="vertex, frontal", checklist=ALL_TICKED)
    values.update(changes)
    return SessionEntry(**values)


def counts(url) -> dict[str, int]:
    with transaction(url) as session:
        return {
            model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (models.TreatmentSession, models.BatchDocument, models.AuditEntry)
        }


def stored_files() -> list[str]:
    store = document_store()
    return list(store.keys()) + [p.name for p in store.partial_writes()]


def test_session_with_documents_is_saved_whole(clinic):
    patient_id = add_patient(clinic)
    entry = exosome(adverse_events="mild tenderness", notes="went well",
                    checklist={"hydrated": True, "breakfast": False, "no_nsaids": True})
    documents = [DocumentUpload("certificate.pdf", PDF), DocumentUpload("batch record.png", png()),
                 DocumentUpload("certificate (1).pdf", PDF)]  # the same file twice is kept once
    saved = log_session(CLINICIAN, "RT-0001", entry, documents, today=TODAY)

    assert (saved.treatment, saved.lot_number, saved.volume_ml) == ("exosome", "LOT-2025-17", 4.0)
    assert saved.warnings == ("Not confirmed: Ate breakfast this morning",)
    assert [d.file_name for d in saved.documents] == ["certificate.pdf", "batch record.png"]
    with transaction(clinic) as session:
        row = session.get(models.TreatmentSession, saved.session_id)
        assert (row.patient_id, row.date, row.product, row.areas, row.adverse_events, row.notes,
                row.created_by) == (patient_id, date(2025, 5, 20), "ExoVial 5", "vertex, frontal",
                                    "mild tenderness", "went well", "dr.lee")
        assert row.checklist == {"hydrated": True, "breakfast": False, "no_nsaids": True}
        rows = session.scalars(select(models.BatchDocument).order_by(models.BatchDocument.id)).all()
        assert [(d.file_name, d.media_type, d.size_bytes, d.created_by) for d in rows] == [
            ("certificate.pdf", "application/pdf", len(PDF), "dr.lee"),
            ("batch record.png", "image/png", len(png()), "dr.lee"),
        ]
        audit = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "create")).one()
        assert audit.patient_id == patient_id and "lot LOT-2025-17" in audit.detail
        # The treatment in words, as a person reads the audit log.
        assert audit.detail.startswith(f"treatment session {saved.session_id} on 2025-05-20: Exosome, lot ")
    store = document_store()
    for document in rows:
        key = document_key(document.sha256, document.media_type)
        assert store.get(key) == (PDF if document.media_type == "application/pdf" else png())
    assert sorted(stored_files()) == sorted(document_key(d.sha256, d.media_type) for d in rows)  # no markers


def test_nsaid_span_and_next_session_window_are_worked_from_the_session_date(clinic):
    add_patient(clinic)
    saved = log_session(CLINICIAN, "RT-0001", exosome(date(2025, 1, 31)), today=TODAY)
    # 3 days before 31 Jan is 28 Jan; 21 days after is 21 Feb.
    assert (saved.nsaid_free.start, saved.nsaid_free.end) == (date(2025, 1, 28), date(2025, 2, 21))
    # 3 and 6 calendar months after 31 Jan, clamped to the month's end: 30 Apr and 31 Jul.
    assert (saved.next_session_window.start, saved.next_session_window.end) == (date(2025, 4, 30), date(2025, 7, 31))
    assert saved.day0 == date(2025, 1, 31)

    # A second session moves the window to follow the latest session; day 0 stays the first.
    saved = log_session(CLINICIAN, "RT-0001", exosome(date(2025, 5, 5), lot_number="LOT-B"), today=TODAY)
    assert (saved.next_session_window.start, saved.next_session_window.end) == (date(2025, 8, 5), date(2025, 11, 5))
    assert saved.day0 == date(2025, 1, 31)


def test_prp_needs_no_lot_and_unticked_checklist_only_warns(clinic):
    add_patient(clinic)
    saved = log_session(CLINICIAN, "RT-0001", SessionEntry(date=date(2025, 5, 1), treatment="prp"), today=TODAY)
    assert saved.lot_number == "" and saved.volume_ml is None
    assert len(saved.warnings) == 3
    assert any("NSAIDs" in w for w in saved.warnings)


def test_every_problem_is_listed_and_nothing_is_written(clinic, monkeypatch):
    add_patient(clinic)
    monkeypatch.setenv("TRACKER_MAX_UPLOAD_MB", "0.001")  # about 1 KB
    before = counts(clinic)
    entry = exosome(date(2025, 6, 2), lot_number="  ", volume_ml=-2, areas="x" * 201)
    documents = [
        DocumentUpload("consent.docx", b"PK\x03\x04 word document"),
        DocumentUpload("cut.pdf", b"%PDF-1.7\n1 0 obj"),
        DocumentUpload("huge.pdf", b"%PDF-1.7\n" + b"0" * 2000 + b"\n%%EOF"),
        DocumentUpload("empty.png", b""),
        DocumentUpload("ok.pdf", PDF),
    ]
    with pytest.raises(ValidationError) as error:
        log_session(CLINICIAN, "RT-0001", entry, documents, today=TODAY)
    text = "\n".join(error.value.problems)
    assert "session date 2025-06-02 is in the future" in text
    assert "lot number is required for exosome sessions" in text
    assert "volume -2 ml is out of range" in text
    assert "areas treated is too long" in text
    assert 'The file "consent.docx" is not a PDF or an image we can read' in text
    assert 'The file "cut.pdf" starts like a PDF but is incomplete' in text
    assert 'The file "huge.pdf" is 2.0 KB; the limit is 1.0 KB' in text
    assert 'The file "empty.png" is empty' in text
    assert "ok.pdf" not in text
    assert len(error.value.problems) == 8
    assert counts(clinic) == before
    assert stored_files() == []


def test_session_before_birth_and_unknown_treatment(clinic):
    add_patient(clinic, birth_date=date(1990, 1, 1))
    with pytest.raises(ValidationError) as error:
        log_session(CLINICIAN, "RT-0001", exosome(date(1989, 1, 1), treatment="laser"), today=TODAY)
    problems = error.value.problems
    assert "before the patient's birth date" in problems[0]
    assert any("treatment 'laser' is not one of exosome, prp, other" in p for p in problems)


def test_a_failure_after_the_documents_were_written_removes_them(clinic, monkeypatch):
    add_patient(clinic)
    before = counts(clinic)

    def broken_audit(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("tracker.records.treatment_sessions.audit.record", broken_audit)
    with pytest.raises(RuntimeError):
        log_session(CLINICIAN, "RT-0001", exosome(), [DocumentUpload("c.pdf", PDF), DocumentUpload("s.png", png())],
                    today=TODAY)
    monkeypatch.undo()
    assert counts(clinic) == before
    assert stored_files() == []


def test_a_failed_save_keeps_a_document_that_an_earlier_session_uses(clinic, monkeypatch):
    add_patient(clinic)
    first = log_session(CLINICIAN, "RT-0001", exosome(date(2025, 1, 10)), [DocumentUpload("c.pdf", PDF)],
                        today=TODAY)
    kept = document_key(first.documents[0].sha256, "application/pdf")

    def broken_audit(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("tracker.records.treatment_sessions.audit.record", broken_audit)
    with pytest.raises(RuntimeError):
        log_session(CLINICIAN, "RT-0001", exosome(), [DocumentUpload("same lot.pdf", PDF)], today=TODAY)
    assert stored_files() == [kept]
    assert document_store().get(kept) == PDF


def test_form_defaults(clinic):
    add_patient(clinic, target_areas="vertex, left_temporal")
    defaults = session_form_defaults(CLINICIAN, "RT-0001")
    # The stored site codes prefill "Areas treated" in words: the report prints what was typed.
    assert (defaults.full_name, defaults.areas, defaults.last_session_date, defaults.last_product) == (
        "Ana Souza", "Vertex, Left temporal", None, "")
    log_session(CLINICIAN, "RT-0001", exosome(date(2025, 2, 1)), today=TODAY)
    defaults = session_form_defaults(CLINICIAN, "RT-0001")
    assert (defaults.last_session_date, defaults.last_treatment, defaults.last_product) == (
        date(2025, 2, 1), "exosome", "ExoVial 5")


def test_the_same_session_twice_is_refused_in_words(clinic):
    add_patient(clinic)
    log_session(CLINICIAN, "RT-0001", exosome(date(2025, 2, 1)), today=TODAY)
    with pytest.raises(ValidationError) as refusal:
        log_session(CLINICIAN, "RT-0001", exosome(date(2025, 2, 1)), today=TODAY)
    assert str(refusal.value).startswith("This session is already recorded (Exosome on 2025-02-01, lot ")


@pytest.mark.parametrize("actor", [Actor(username="ana", role="patient", patient_id=1), None])
def test_only_staff_may_log_sessions(clinic, actor):
    add_patient(clinic)
    before = counts(clinic)
    with pytest.raises(PermissionDenied):
        log_session(actor, "RT-0001", exosome(), [DocumentUpload("c.pdf", PDF)], today=TODAY)
    with pytest.raises(PermissionDenied):
        session_form_defaults(actor, "RT-0001")
    assert counts(clinic) == before
    assert stored_files() == []


def test_unknown_patient(clinic):
    with pytest.raises(NotFound):
        log_session(CLINICIAN, "NOPE", exosome(), today=TODAY)


def test_a_session_far_from_every_visit_is_asked_about_and_saved_once_acknowledged(clinic):
    from tracker.errors import NeedsConfirmation
    from tracker.records.visit_form import SiteEntry, VisitEntry
    from tracker.records.visits import log_visit

    add_patient(clinic)
    # No visit yet: nothing to measure the date against, so nothing is asked.
    log_session(CLINICIAN, "RT-0001", exosome(date(2024, 1, 5)), today=TODAY)
    log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 1, 10), sites=(SiteEntry("vertex", 150.0),)),
              today=TODAY)
    # 2025-05-10 is 120 days after 2025-01-10 (21+28+31+30+10): near enough; 2025-05-11 is not.
    log_session(CLINICIAN, "RT-0001", exosome(date(2025, 5, 10), lot_number="LOT-N"), today=TODAY)
    with pytest.raises(NeedsConfirmation) as asked:
        log_session(CLINICIAN, "RT-0001", exosome(date(2025, 5, 11), lot_number="LOT-F"), today=TODAY)
    assert asked.value.warnings == ("Session date 2025-05-11 is 121 days from the nearest visit (2025-01-10); "
                                    "no visit is within 120 days of it: check the date",)
    saved = log_session(CLINICIAN, "RT-0001", exosome(date(2025, 5, 11), lot_number="LOT-F"), today=TODAY,
                        acknowledged=asked.value.warnings)
    assert saved.date == date(2025, 5, 11)
