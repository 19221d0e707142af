"""The photo store: where a visit's scalp photos are kept, and how a photo is added crash-safely.

Layout (content-addressed, so the same photo uploaded twice shares its files)::

    originals/ab/abcd….jpg   the upload, byte for byte (never served; part of the medical record)
    display/ab/abcd….jpg     upright, ≤ 2048 px, metadata stripped: what pages show
    thumbs/ab/abcd….jpg      ≤ 320 px, for lists and timelines
    pending/abcd….<token>.json   an ingest in progress (its "intent")

The files are written by the shared crash-safe ingest (``tracker.storage.ingest``: marker first, then
each file atomically; the marker goes after the commit, the files after a rollback), the same one batch
documents use; ``tracker.operations.consistency`` reports and repairs what a crash leaves behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import models
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.vocabulary import view_words
from tracker.errors import NotFound, ValidationError
from tracker.photos.intake import prepare_photo
from tracker.storage import ingest
from tracker.storage.blob_store import BlobStore
from tracker.storage.configured import blob_store
from tracker.storage.ingest import HashedFile, IngestMarker
from tracker.validation import clean_file_name

ORIGINALS = "originals"
DISPLAY = "display"
THUMBNAILS = "thumbs"


@dataclass(frozen=True)
class PhotoKeys:
    """The three store keys of one photo, all derived from the original's SHA-256."""

    original: str
    display: str
    thumbnail: str

    @classmethod
    def for_photo(cls, sha256: str, extension: str) -> PhotoKeys:
        """
        >>> PhotoKeys.for_photo("ab" + "0" * 62, "heic").original
        'originals/ab/ab00000000000000000000000000000000000000000000000000000000000000.heic'
        """
        folder = sha256[:2]
        return cls(
            original=f"{ORIGINALS}/{folder}/{sha256}.{extension}",
            display=f"{DISPLAY}/{folder}/{sha256}.jpg",
            thumbnail=f"{THUMBNAILS}/{folder}/{sha256}.jpg",
        )

    def __iter__(self) -> Iterator[str]:
        return iter((self.original, self.display, self.thumbnail))


@dataclass(frozen=True)
class PhotoStore:
    """Photo files behind one ``BlobStore``; the only object that knows the layout above."""

    blobs: BlobStore

    def read(self, key: str) -> bytes:
        return self.blobs.get(key)

    def begin_ingest(self, sha256: str, keys: PhotoKeys, note: dict[str, object]) -> str:
        """Write an ingest's intent marker (before any file) and return its key."""
        return ingest.write_marker(self.blobs, sha256, keys, note)

    def markers(self, sha256: str | None = None) -> list[IngestMarker]:
        """The ingests not settled yet (all, or those of one photo)."""
        return ingest.markers(self.blobs, sha256)


def photo_store() -> PhotoStore:
    """The clinic's photo store as configured (``tracker.storage.configured``: the data dir's ``photos`` folder, or
    an object store)."""
    return PhotoStore(blob_store("photos"))


def read_display(photo: models.Photo, store: PhotoStore | None = None) -> bytes:
    """The display copy's JPEG bytes (upright, ≤ 2048 px, no EXIF/GPS): what pages show."""
    return (store or photo_store()).read(photo.display_key)


def read_thumbnail(photo: models.Photo, store: PhotoStore | None = None) -> bytes:
    """The thumbnail's JPEG bytes (≤ 320 px)."""
    return (store or photo_store()).read(photo.thumbnail_key)


def read_original(photo: models.Photo, store: PhotoStore | None = None) -> bytes:
    """The unaltered upload, for export and audit only: it still carries EXIF, GPS and device data."""
    return (store or photo_store()).read(photo.original_key)


def store_photo(
    session: Session,
    *,
    visit_id: int,
    view: str,
    data: bytes | HashedFile,
    file_name: str | None,
    actor: str | None,
    store: PhotoStore | None = None,
    quality: Mapping[str, Any] | None = None,
) -> models.Photo:
    """Check an upload, write its files crash-safely, and add its ``Photo`` row to ``session``.

    ``quality``: what the capture checks found (``tracker.photos.quality.PhotoQuality.record``), stored as it is in
    ``photo.quality``; None for a photo not checked.

    ``data`` is the upload's bytes, or a ``HashedFile`` when the caller has hashed them already (the photo
    is then not hashed again). The caller commits (one use case, one transaction). After the commit the
    ingest's marker is removed; after a rollback its files are removed again. Raises ValidationError for
    an unknown view, a refused file or a duplicate in the same visit and view; NotFound for a missing visit.
    """
    if view not in SCALP_VIEWS:
        raise ValidationError(f"Unknown photo view {view!r}. Choose one of: {', '.join(SCALP_VIEWS)}.")
    # The image work and the file writes come before the first query: on SQLite a transaction holds the
    # database's write lock from its first statement, and other users should not wait for Pillow.
    prepared = prepare_photo(data, file_name)
    store = store or photo_store()
    keys = PhotoKeys.for_photo(prepared.sha256, prepared.extension)
    files = ((keys.original, prepared.original), (keys.display, prepared.display_jpeg),
             (keys.thumbnail, prepared.thumbnail_jpeg))
    started = ingest.begin(session, store.blobs, prepared.sha256, files, models.Photo,
                           {"visit_id": visit_id, "view": view})
    try:
        visit = session.get(models.Visit, visit_id)
        if visit is None or visit.deleted_at is not None:
            raise NotFound(f"Visit {visit_id} does not exist.")
        _refuse_duplicate(session, visit_id, view, prepared.sha256)
    except BaseException:
        # No row refers to these files; remove them now rather than trusting the caller to roll back.
        ingest.discard(started, session)
        raise

    ingest.track(session, started)
    photo = models.Photo(
        visit_id=visit_id,
        view=view,
        sha256=prepared.sha256,
        original_key=keys.original,
        display_key=keys.display,
        thumbnail_key=keys.thumbnail,
        media_type=prepared.media_type,
        width=prepared.width,
        height=prepared.height,
        captured_at=prepared.captured_at,
        original_file_name=clean_file_name(file_name) or None,
        created_by=actor,
        quality=dict(quality) if quality is not None else None,
    )
    session.add(photo)
    try:
        session.flush()
    except IntegrityError as exc:
        # Another upload of the same photo to the same visit and view committed in the meantime; the
        # caller's rollback removes this ingest's files.
        raise ValidationError(_duplicate_message(view, deleted=False)) from exc
    return photo


def _refuse_duplicate(session: Session, visit_id: int, view: str, sha256: str) -> None:
    existing = session.execute(
        select(models.Photo.id, models.Photo.deleted_at).where(
            models.Photo.visit_id == visit_id, models.Photo.view == view, models.Photo.sha256 == sha256
        )
    ).first()
    if existing is not None:
        raise ValidationError(_duplicate_message(view, deleted=existing.deleted_at is not None))


def _duplicate_message(view: str, *, deleted: bool) -> str:
    label = view_words(view)
    if deleted:
        return (
            f"This photo was attached to this visit as the {label} view before and then removed; "
            "the same file cannot be attached to the same view twice."
        )
    return f"This photo is already attached to this visit as the {label} view."
