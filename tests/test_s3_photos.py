"""Photos and batch documents saved by the services with ``TRACKER_STORE_URL`` on a bucket of a real Swift server:
a committed save leaves its objects and no marker, a rolled-back one leaves nothing, and pages read them back."""

from __future__ import annotations

from datetime import date

import photo_samples as samples
import pytest
from sqlalchemy import select

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.operations.demo import load_demo
from tracker.photos.store import photo_store, read_display, read_original, store_photo
from tracker.records.batch_documents import DocumentUpload, document_key, document_store
from tracker.records.treatment_sessions import SessionEntry, log_session
from tracker.storage.s3_store import S3Store

pytest_plugins = ["tests.swift_server"]  # the swift and s3_environment fixtures

TODAY = date(2026, 3, 1)
PDF = b"%PDF-1.4\n% screening certificate\n%%EOF\n"


@pytest.fixture
def clinic_on_s3(s3_environment, sqlite_clinic):
    """The demo clinic's first patient, without photos, with its files in a new bucket; the first visit's id."""
    load_demo(sqlite_clinic, today=TODAY, limit=1, with_photos=False)
    with transaction(sqlite_clinic) as session:
        return session.scalars(select(models.Visit.id).order_by(models.Visit.id)).first()


def test_a_saved_photo_is_three_objects_read_back_and_no_marker(clinic_on_s3):
    blobs = photo_store().blobs
    assert isinstance(blobs, S3Store)
    upload = samples.jpeg(samples.scene((640, 480)))
    with transaction() as session:
        photo = store_photo(session, visit_id=clinic_on_s3, view="vertex", data=upload, file_name="v.jpg",
                            actor="dr.lee")
        keys = (photo.original_key, photo.display_key, photo.thumbnail_key)
    assert list(blobs.keys()) == sorted(keys)  # no pending/ marker left once committed
    with transaction() as session:
        saved = session.scalars(select(models.Photo)).one()
        assert read_original(saved) == upload
        assert read_display(saved)[:2] == b"\xff\xd8"  # a JPEG


def test_a_photo_whose_transaction_rolls_back_leaves_no_object(clinic_on_s3):
    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction() as session:
        store_photo(session, visit_id=clinic_on_s3, view="vertex", data=samples.jpeg(samples.scene((640, 480))),
                    file_name="v.jpg", actor="dr.lee")
        raise Refused
    assert list(photo_store().blobs.keys()) == []


def test_a_batch_document_is_an_object_of_the_documents_area(clinic_on_s3):
    log_session(Actor("dr.lee", "clinician"), "DEMO-0001",
                SessionEntry(date=date(2026, 2, 20), treatment="exosome", product="Exo", lot_number="EXO-1"),
                [DocumentUpload("certificate.pdf", PDF)], today=TODAY)
    store = document_store()
    assert isinstance(store, S3Store) and store.prefix == "clinic-a/documents/"
    with transaction() as session:
        sha256 = session.scalars(select(models.BatchDocument.sha256)).one()
    assert list(store.keys()) == [document_key(sha256, "application/pdf")]
    assert store.get(document_key(sha256, "application/pdf")) == PDF
