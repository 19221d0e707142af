"""Batch documents: the content check, the store key, and the crash-safe write through the shared ingest.

The use case around them (a treatment session saved whole or not at all) is in test_treatment_sessions.py;
kills in the middle of a save are in test_crash_safety.py.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date

import pytest
from PIL import Image

from db import models
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.records.batch_documents import check_document, document_key, document_store, store_document

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png(width=40, height=30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 200, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_check_document_reads_images_by_content_not_by_name():
    assert check_document(png(), "certificate.pdf").media_type == "image/png"  # a PNG named .pdf
    with pytest.raises(ValidationError, match="not a PDF or an image"):
        check_document(png()[:60], "cut.png")  # a PNG cut off after its header
    with pytest.raises(ValidationError, match="megapixels"):
        check_document(png(200, 100), "big.png", max_pixels=10_000)


def test_scanned_png_with_xmp_past_pillows_limit_is_accepted_and_refusals_log_the_cause(caplog):
    import photo_samples as samples  # the photo tests' PNG chunk makers

    scan = samples.png_with_chunks(Image.new("RGB", (40, 30), (200, 200, 200)), samples.xmp_itxt(3 * 1024 * 1024))
    checked = check_document(scan, "certificate scan.png")
    assert (checked.media_type, checked.data) == ("image/png", scan)
    with pytest.raises(ValidationError, match="not a PDF or an image"):
        check_document(png()[:60], "cut.png")
    assert "batch document refused as unreadable [OSError: image file is truncated]" in caplog.text


def test_check_document_records_the_hash_and_size_and_refuses_a_cut_pdf():
    checked = check_document(PDF, "folder/certificate.pdf")
    assert (checked.file_name, checked.media_type, checked.size_bytes) == (
        "certificate.pdf", "application/pdf", len(PDF))
    assert checked.sha256 == hashlib.sha256(PDF).hexdigest()
    assert checked.key == f"originals/{checked.sha256[:2]}/{checked.sha256}.pdf"
    with pytest.raises(ValidationError, match="no end marker"):
        check_document(PDF[:-7], "cut.pdf")


def _treatment_session(session) -> int:
    patient = models.Patient(mrn="RT-0001", full_name="Ana Souza", sex="female", birth_date=date(1980, 5, 1),
                             condition="androgenetic_alopecia", created_by="test")
    session.add(patient)
    session.flush()
    row = models.TreatmentSession(patient_id=patient.id, date=date(2025, 5, 20), treatment="prp", product="",
                                  lot_number="", created_by="test")
    session.add(row)
    session.flush()
    return row.id


def test_store_document_writes_marker_then_file_and_settles_on_commit(clinic):
    store = document_store()
    document = check_document(PDF, "certificate.pdf")
    with transaction(clinic) as session:
        session_id = _treatment_session(session)
        store_document(session, store, document, session_id, "dr.lee")
        (marker,) = store.keys("pending/")  # before the commit: the marker explains the file
        body = json.loads(store.get(marker))
        assert body["keys"] == [document.key] and body["treatment_session_id"] == session_id
        assert store.get(document.key) == PDF
    assert list(store.keys()) == [document.key]  # the commit removed the marker and kept the file


def test_store_document_removes_its_file_when_the_transaction_rolls_back(clinic):
    store = document_store()
    document = check_document(png(), "scan.png")
    with pytest.raises(RuntimeError), transaction(clinic) as session:
        store_document(session, store, document, _treatment_session(session), "dr.lee")
        raise RuntimeError("the use case failed after the document was added")
    assert list(store.keys()) == [] and list(store.partial_writes()) == []
    with transaction(clinic) as session:
        assert session.query(models.BatchDocument).count() == 0
    assert document_key(document.sha256, "image/png") == document.key
