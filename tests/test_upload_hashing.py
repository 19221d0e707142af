"""Each uploaded file is hashed once per save and decoded at most once, through the real use cases.

``hashlib.sha256`` and ``PIL.Image.open`` are replaced by counting wrappers (the real functions still do
the work), and a visit with three photos and a treatment session with three documents are saved as the
pages save them. The counts are per file, keyed by the SHA-256 of the file's bytes: other hashing on the
way (the audit chain, session tokens) hashes other bytes and is not counted against the uploads.

Before the shared ingest, a visit save hashed each photo 3 times (the duplicate check, the resubmission
check, intake) and a refused visit hashed each photo twice and decoded it once.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import date

import photo_samples as samples
import pytest
from PIL import Image

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.records.batch_documents import DocumentUpload
from tracker.records.treatment_sessions import SessionEntry, log_session
from tracker.records.visit_form import PhotoUpload, SiteEntry, VisitEntry
from tracker.records.visits import log_visit

CLINICIAN = Actor(username="dr.lee", role="clinician")
TODAY = date(2025, 6, 1)
_REAL_SHA256 = hashlib.sha256
_REAL_OPEN = Image.open
_REAL_NEW = hashlib.new


class _CountingHash:
    """A SHA-256 object that counts the bytes it digests, however they were fed (at once or in chunks)."""

    name, digest_size, block_size = "sha256", 32, 64

    def __init__(self, counts: Counts, data: bytes = b"") -> None:
        self._counts, self._fed, self._hash = counts, bytearray(data), _REAL_SHA256(data)

    def update(self, data: bytes) -> None:
        self._fed += data
        self._hash.update(data)

    def copy(self) -> _CountingHash:
        twin = _CountingHash(self._counts)
        twin._fed, twin._hash = bytearray(self._fed), self._hash.copy()
        return twin

    def digest(self) -> bytes:
        self._counts.hashed[_REAL_SHA256(bytes(self._fed)).hexdigest()] += 1
        return self._hash.digest()

    def hexdigest(self) -> str:
        return self.digest().hex()


class Counts:
    """How many times the bytes of each file were hashed and opened by Pillow, keyed by their SHA-256."""

    def __init__(self) -> None:
        self.hashed: Counter[str] = Counter()
        self.decoded: Counter[str] = Counter()

    def sha256(self, data: bytes = b"", **_options: object) -> _CountingHash:
        return _CountingHash(self, bytes(data))

    def new(self, name: str, data: bytes = b"", **options: bool):  # hashlib.new("sha256", …) too
        return self.sha256(data) if name.lower().replace("-", "") == "sha256" else _REAL_NEW(name, data, **options)

    def open(self, source, *args, **options):
        if hasattr(source, "read") and hasattr(source, "seek"):  # any file-like object, however wrapped
            start = source.tell()
            self.decoded[_REAL_SHA256(source.read()).hexdigest()] += 1
            source.seek(start)
        return _REAL_OPEN(source, *args, **options)

    def of(self, files: list[bytes]) -> tuple[list[int], list[int]]:
        digests = [_REAL_SHA256(data).hexdigest() for data in files]
        return [self.hashed[d] for d in digests], [self.decoded[d] for d in digests]


@pytest.fixture
def counts(monkeypatch) -> Counts:
    counting = Counts()
    monkeypatch.setattr(hashlib, "sha256", counting.sha256)
    monkeypatch.setattr(hashlib, "new", counting.new)
    monkeypatch.setattr(Image, "open", counting.open)
    return counting


def test_the_counters_see_every_way_of_hashing_and_opening(counts):
    """The wrappers would pass a save that hashed a second time another way; these show they would not."""
    data = samples.jpeg()
    hashlib.sha256(data).hexdigest()
    hashlib.new("sha256", data).digest()
    chunked = hashlib.sha256()
    chunked.update(data[:100])
    chunked.update(data[100:])
    chunked.hexdigest()
    Image.open(io.BufferedReader(io.BytesIO(data))).load()  # type: ignore[arg-type]  # BytesIO is a raw stream here
    Image.open(io.BytesIO(data)).load()
    assert counts.of([data]) == ([3], [2])


def add_patient(url, mrn="RT-0001") -> None:
    with transaction(url) as session:
        session.add(models.Patient(mrn=mrn, full_name="Ana Souza", sex="female", birth_date=date(1980, 5, 1),
                                   condition="androgenetic_alopecia", created_by="test"))


def photos() -> list[PhotoUpload]:
    return [PhotoUpload(view, f"{view}.jpg", samples.jpeg(samples.scene((300 + 10 * n, 200))))
            for n, view in enumerate(("vertex", "frontal", "occipital"))]


def test_a_visit_save_hashes_each_photo_once_and_decodes_it_once(clinic, counts, figure):
    add_patient(clinic)
    uploads = photos()
    saved = log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 5, 1), sites=[SiteEntry("vertex", 120)]),
                      uploads, today=TODAY)
    assert len(saved.photos) == 3
    hashed, decoded = counts.of([u.data for u in uploads])
    figure(f"visit save, 3 photos: hashed {hashed}, decoded {decoded} times per photo")
    assert hashed == [1, 1, 1] and decoded == [1, 1, 1]


def test_a_refused_visit_hashes_each_photo_once_and_decodes_it_at_most_once(clinic, counts):
    add_patient(clinic)
    uploads = photos()
    with pytest.raises(ValidationError):  # a visit in the future: refused, every photo still checked
        log_visit(CLINICIAN, "RT-0001", VisitEntry(date=date(2025, 7, 1), sites=[SiteEntry("vertex", 120)]),
                  uploads, today=TODAY)
    hashed, decoded = counts.of([u.data for u in uploads])
    assert hashed == [1, 1, 1] and decoded == [1, 1, 1]


def test_a_session_save_hashes_each_document_once_and_decodes_an_image_once(clinic, counts, figure):
    add_patient(clinic)
    documents = [
        DocumentUpload("certificate.pdf", b"%PDF-1.4\n% screening certificate\n%%EOF\n"),
        DocumentUpload("batch record.png", samples.encoded(samples.scene((60, 40)), "PNG")),
        DocumentUpload("label.jpg", samples.jpeg(samples.scene((80, 60)))),
    ]
    entry = SessionEntry(date=date(2025, 5, 20), treatment="exosome", product="ExoVial 5", lot_number="LOT-17",
                         volume_ml=4.0, checklist={"hydrated": True, "breakfast": True, "no_nsaids": True})
    saved = log_session(CLINICIAN, "RT-0001", entry, documents, today=TODAY)
    assert len(saved.documents) == 3
    hashed, decoded = counts.of([d.data for d in documents])
    figure(f"session save, PDF + PNG + JPEG: hashed {hashed}, decoded {decoded} times per document")
    assert hashed == [1, 1, 1] and decoded == [0, 1, 1]  # a PDF is checked by its markers, never decoded
