"""The shared crash-safe ingest (tracker.storage.ingest), on its own: the order of writes, settlement after a
commit, clean-up after a rollback or a rolled-back savepoint, and the grouping and repair of leftovers.

Photos (test_photo_store.py) and batch documents (test_batch_documents.py) test it through their stores;
real kills in the middle of a save are in test_crash_safety.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from db import models
from tracker.database import transaction
from tracker.storage import ingest
from tracker.storage.blob_store import LocalDirectoryStore, PartialWrite
from tracker.storage.ingest import GRACE, HashedFile, InterruptedIngest

SHA = HashedFile.of(b"a screening certificate").sha256
FILES = ((f"originals/{SHA[:2]}/{SHA}.pdf", b"a screening certificate"), (f"copies/{SHA[:2]}/{SHA}.txt", b"copy"))


class RecordingStore(LocalDirectoryStore):
    """A local store that records every put and delete, in order."""

    def __init__(self, root):
        super().__init__(root)
        self.log: list[tuple[str, str]] = []

    def put(self, key: str, data: bytes) -> None:
        self.log.append(("put", key.split("/", 1)[0]))
        super().put(key, data)

    def delete(self, key: str) -> None:
        self.log.append(("delete", key.split("/", 1)[0]))
        super().delete(key)


def _document_row(session, sha256: str) -> None:
    """A batch document row using ``sha256`` (with the patient and session it needs)."""
    patient = models.Patient(mrn=f"RT-{sha256[:6]}", full_name="Ana Souza", sex="female",
                             birth_date=date(1980, 5, 1), condition="androgenetic_alopecia", created_by="test")
    session.add(patient)
    session.flush()
    treatment = models.TreatmentSession(patient_id=patient.id, date=date(2025, 5, 20), treatment="prp",
                                        product="", lot_number="", created_by="test")
    session.add(treatment)
    session.flush()
    session.add(models.BatchDocument(session_id=treatment.id, file_name="c.pdf", media_type="application/pdf",
                                     sha256=sha256, size_bytes=1, created_by="test"))


def test_hashed_file_hashes_once_and_passes_a_hashed_file_through():
    hashed = HashedFile.of(b"abc")
    assert hashed.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert HashedFile.of(hashed) is hashed
    assert "abc" not in repr(hashed)  # the bytes of a medical record are never logged


def test_marker_first_then_files_and_the_commit_removes_only_the_marker(clinic, tmp_path):
    blobs = RecordingStore(tmp_path / "store")
    with transaction(clinic) as session:
        started = ingest.begin(session, blobs, SHA, FILES, models.BatchDocument, {"treatment_session_id": 7})
        ingest.track(session, started)
        _document_row(session, SHA)
        (marker,) = ingest.markers(blobs)
        assert (marker.key, marker.sha256, marker.keys) == (started.marker_key, SHA, started.keys)
        assert datetime.now(UTC) - marker.started_at < timedelta(minutes=1)
        assert json.loads(blobs.get(marker.key))["treatment_session_id"] == 7
    assert blobs.log == [("put", "pending"), ("put", "originals"), ("put", "copies"), ("delete", "pending")]
    assert sorted(blobs.keys()) == sorted(key for key, _ in FILES)


def test_a_rollback_removes_the_files_then_the_marker(clinic, tmp_path):
    blobs = RecordingStore(tmp_path / "store")
    with pytest.raises(RuntimeError), transaction(clinic) as session:
        ingest.track(session, ingest.begin(session, blobs, SHA, FILES, models.BatchDocument, {}))
        raise RuntimeError("the use case failed")
    assert blobs.log[-3:] == [("delete", "originals"), ("delete", "copies"), ("delete", "pending")]
    assert list(blobs.keys()) == []


def test_a_rollback_keeps_files_a_committed_row_or_another_upload_uses(clinic, tmp_path):
    blobs = LocalDirectoryStore(tmp_path / "store")
    with transaction(clinic) as session:
        _document_row(session, SHA)
    with pytest.raises(RuntimeError), transaction(clinic) as session:
        ingest.track(session, ingest.begin(session, blobs, SHA, FILES, models.BatchDocument, {}))
        raise RuntimeError("the use case failed")
    assert sorted(blobs.keys()) == sorted(key for key, _ in FILES)

    other = HashedFile.of(b"another certificate").sha256
    files = ((f"originals/{other[:2]}/{other}.pdf", b"another certificate"),)
    running = ingest.write_marker(blobs, other, [files[0][0]], {})  # a concurrent upload of the same content
    with pytest.raises(RuntimeError), transaction(clinic) as session:
        ingest.track(session, ingest.begin(session, blobs, other, files, models.BatchDocument, {}))
        raise RuntimeError("the use case failed")
    assert blobs.exists(files[0][0]) and [m.key for m in ingest.markers(blobs, other)] == [running]


def test_a_rolled_back_savepoint_discards_its_ingest_while_the_outer_transaction_commits(clinic, tmp_path):
    blobs = LocalDirectoryStore(tmp_path / "store")
    with transaction(clinic) as session:
        savepoint = session.begin_nested()
        ingest.track(session, ingest.begin(session, blobs, SHA, FILES, models.BatchDocument, {}))
        savepoint.rollback()
        assert list(blobs.keys()) == []
    assert list(blobs.keys()) == []


def test_settle_writes_back_a_file_a_concurrent_rollback_removed(tmp_path):
    blobs = LocalDirectoryStore(tmp_path / "store")
    started = ingest.Ingest(blobs, SHA, FILES, models.BatchDocument, ingest.write_marker(blobs, SHA, [], {}))
    ingest.settle(started)
    assert sorted(blobs.keys()) == sorted(key for key, _ in FILES) and blobs.get(FILES[0][0]) == FILES[0][1]


def test_unsettled_groups_leftovers_by_content_and_grace_and_the_repair_removes_them(clinic, tmp_path):
    blobs = LocalDirectoryStore(tmp_path / "store")
    marker = ingest.write_marker(blobs, SHA, [FILES[0][0]], {})
    blobs.put(*FILES[0])
    stopped = datetime.now(UTC) - timedelta(hours=1)
    cut_marker = PartialWrite(f"pending/.{'cd' * 32}.0123.json.ab12.partial", stopped)
    found = ingest.markers(blobs)

    interrupted, in_progress, explained = ingest.unsettled(found, {FILES[0][0]}, [cut_marker],
                                                           datetime.now(UTC))
    assert [i.marker_key for i in in_progress] == [marker] and in_progress[0].files == (FILES[0][0],)
    assert interrupted == [InterruptedIngest(None, "cd" * 32, stopped, (), (cut_marker.name,))]
    assert explained == {FILES[0][0], cut_marker.name}

    later = datetime.now(UTC) + GRACE
    interrupted, in_progress, _ = ingest.unsettled(found, {FILES[0][0]}, [], later)
    assert in_progress == [] and [i.marker_key for i in interrupted] == [marker]
    assert ingest.remove_leftovers(blobs, interrupted, (), lambda sha: True) == [marker]  # in use: files stay
    assert list(blobs.keys()) == [FILES[0][0]]
    assert ingest.remove_leftovers(blobs, [InterruptedIngest(None, SHA, None, (FILES[0][0],))], (),
                                   lambda sha: False) == [FILES[0][0]]
    assert list(blobs.keys()) == []
