"""The photo store: where a visit's scalp photos are kept, and how a photo is added crash-safely.

Layout (content-addressed, so the same photo uploaded twice shares its files)::

    originals/ab/abcd….jpg   the upload, byte for byte (never served; part of the medical record)
    display/ab/abcd….jpg     upright, ≤ 2048 px, metadata stripped: what pages show
    thumbs/ab/abcd….jpg      ≤ 320 px, for lists and timelines
    pending/abcd….<token>.json   an ingest in progress (its "intent")

Why a crash can never leave a photo row without its files, nor an unexplained file:

1. the intent marker is written first, then each file atomically (``BlobStore.put``);
2. the ``Photo`` row is added to the caller's session and flushed, so it commits only after the files are
   durable;
3. after the commit the marker is removed; after a rollback the files are removed (unless a committed
   row or another ingest in progress uses the same photo) and then the marker.

A crash between any two steps leaves a marker that explains every file without a row;
``tracker.operations.consistency`` reports those as interrupted ingests and removes them on request.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from db import models
from tracker.course.clinical import SCALP_VIEWS
from tracker.errors import NotFound, ValidationError
from tracker.operations.config import settings
from tracker.photos.intake import PreparedPhoto, prepare_photo
from tracker.records.validation import clean_file_name
from tracker.storage.blob_store import BlobStore, LocalDirectoryStore

log = logging.getLogger(__name__)

ORIGINALS = "originals"
DISPLAY = "display"
THUMBNAILS = "thumbs"
PENDING = "pending"

_PENDING_INGESTS = "tracker.photos.store.pending_ingests"
_WATCHED = "tracker.photos.store.watched"


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


def sha256_of_key(key: str) -> str | None:
    """The photo hash a store key or partial-write name belongs to, or None for anything else.

    >>> sha256_of_key("display/ab/" + "ab" * 32 + ".jpg") == "ab" * 32
    True
    """
    name = key.rsplit("/", 1)[-1].lstrip(".")
    candidate = name.split(".", 1)[0]
    if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
        return candidate
    return None


@dataclass(frozen=True)
class IngestMarker:
    """The intent of an ingest that has not settled yet: which files it writes and when it started.

    ``started_at`` is None when the marker cannot be read (it is then treated as old).
    """

    key: str
    sha256: str
    started_at: datetime | None
    keys: tuple[str, ...]


@dataclass(frozen=True)
class PhotoStore:
    """Photo files behind one ``BlobStore``; the only object that knows the layout above."""

    blobs: BlobStore

    def read(self, key: str) -> bytes:
        return self.blobs.get(key)

    def begin_ingest(self, sha256: str, keys: PhotoKeys, note: dict[str, object]) -> str:
        """Write the intent marker (before any file) and return its key."""
        marker_key = f"{PENDING}/{sha256}.{secrets.token_hex(6)}.json"
        body = {
            "sha256": sha256,
            "started_at": datetime.now(UTC).isoformat(),
            "keys": list(keys),
            **note,
        }
        self.blobs.put(marker_key, json.dumps(body, indent=1).encode())
        return marker_key

    def markers(self, sha256: str | None = None) -> list[IngestMarker]:
        """The ingests not settled yet (all, or those of one photo)."""
        prefix = f"{PENDING}/{sha256}." if sha256 else f"{PENDING}/"
        found = []
        for key in self.blobs.keys(prefix):
            sha = sha256_of_key(key)
            if sha is None:
                continue
            try:
                content = self.blobs.get(key)
            except KeyError:
                continue  # settled since the listing
            try:
                body = json.loads(content)
                started_at = datetime.fromisoformat(body["started_at"])
                keys = tuple(body.get("keys", ()))
            except (KeyError, ValueError, TypeError):
                started_at, keys = None, ()
            found.append(IngestMarker(key, sha, started_at, keys))
        return found


def photo_store() -> PhotoStore:
    """The clinic's photo store as configured (a local folder under the data directory for now)."""
    return PhotoStore(LocalDirectoryStore(settings().photo_dir))


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
    data: bytes,
    file_name: str | None,
    actor: str | None,
    store: PhotoStore | None = None,
) -> models.Photo:
    """Check an upload, write its files crash-safely, and add its ``Photo`` row to ``session``.

    The caller commits (one use case, one transaction). After the commit the ingest's marker is removed;
    after a rollback its files are removed again. Raises ValidationError for an unknown view, a refused
    file or a duplicate in the same visit and view; NotFound for a missing visit.
    """
    if view not in SCALP_VIEWS:
        raise ValidationError(f"Unknown photo view {view!r}. Choose one of: {', '.join(SCALP_VIEWS)}.")
    # The image work and the file writes come before the first query: on SQLite a transaction holds the
    # database's write lock from its first statement, and other users should not wait for Pillow.
    prepared = prepare_photo(data, file_name)
    store = store or photo_store()
    keys = PhotoKeys.for_photo(prepared.sha256, prepared.extension)
    marker_key = store.begin_ingest(prepared.sha256, keys, {"visit_id": visit_id, "view": view})
    ingest = _Ingest(store, prepared, keys, marker_key, None)
    try:
        for key, content in ingest.files():
            store.blobs.put(key, content)
        visit = session.get(models.Visit, visit_id)
        if visit is None or visit.deleted_at is not None:
            raise NotFound(f"Visit {visit_id} does not exist.")
        _refuse_duplicate(session, visit_id, view, prepared.sha256)
    except BaseException:
        # No row refers to these files; remove them now rather than trusting the caller to roll back.
        _discard(ingest, session)
        raise

    _watch(session)
    ingest.transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING_INGESTS, []).append(ingest)
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
    label = view.replace("_", " ")
    if deleted:
        return (
            f"This photo was attached to this visit as the {label} view before and then removed; "
            "the same file cannot be attached to the same view twice."
        )
    return f"This photo is already attached to this visit as the {label} view."


@dataclass
class _Ingest:
    """One ingest between its marker and its settlement; keeps the bytes to restore files after commit."""

    store: PhotoStore
    prepared: PreparedPhoto
    keys: PhotoKeys
    marker_key: str
    transaction: SessionTransaction | None

    def files(self) -> list[tuple[str, bytes]]:
        return [
            (self.keys.original, self.prepared.original),
            (self.keys.display, self.prepared.display_jpeg),
            (self.keys.thumbnail, self.prepared.thumbnail_jpeg),
        ]

    def within(self, transaction: SessionTransaction) -> bool:
        current = self.transaction
        while current is not None:
            if current is transaction:
                return True
            current = current.parent
        return False


def _watch(session: Session) -> None:
    """Hook the session's transaction ends once (listeners on the instance, not on every Session)."""
    if session.info.get(_WATCHED):
        return
    session.info[_WATCHED] = True
    event.listen(session, "after_commit", _after_commit)
    event.listen(session, "after_soft_rollback", _after_soft_rollback)
    event.listen(session, "after_transaction_end", _after_transaction_end)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the outer transaction may still roll back
    for ingest in session.info.pop(_PENDING_INGESTS, []):
        _settle(ingest)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back: ingests made inside it lost their rows, even if the outer one commits."""
    pending = session.info.get(_PENDING_INGESTS, [])
    discarded = [ingest for ingest in pending if ingest.within(previous)]
    for ingest in discarded:
        pending.remove(ingest)
        _discard(ingest, session, ask_session=session.is_active)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended without a commit (rolled back, or the session closed)."""
    if transaction.parent is not None:
        return
    for ingest in session.info.pop(_PENDING_INGESTS, []):
        _discard(ingest, session, ask_session=False)


def _settle(ingest: _Ingest) -> None:
    """After the commit: make sure every file is there, then drop the marker.

    A file can be missing here only if a concurrent, rolled-back upload of the same photo removed it
    while this one was in flight; the bytes are still at hand, so it is written again.
    """
    blobs = ingest.store.blobs
    try:
        for key, content in ingest.files():
            if not blobs.exists(key):
                blobs.put(key, content)
        blobs.delete(ingest.marker_key)
    except Exception:
        # The row is committed; a failure here must not look like a failed upload. The marker stays and
        # the consistency check reports it.
        log.exception("could not settle photo ingest %s", ingest.marker_key)


def _discard(ingest: _Ingest, session: Session, *, ask_session: bool | None = None) -> None:
    """Without a committed row: remove the files no one else uses, then the marker (in that order, so a
    crash in between still leaves the marker explaining what remains)."""
    blobs = ingest.store.blobs
    sha256 = ingest.prepared.sha256
    try:
        others = [m for m in ingest.store.markers(sha256) if m.key != ingest.marker_key]
        if ask_session is None:
            ask_session = session.in_transaction()
        if not others and not _rows_use(session, sha256, ask_session):
            for key in ingest.keys:
                blobs.delete(key)
        blobs.delete(ingest.marker_key)
    except Exception:
        log.exception("could not clean up photo ingest %s; the consistency check will report it", ingest.marker_key)


def _rows_use(session: Session, sha256: str, ask_session: bool) -> bool:
    """Whether any photo row (deleted or not) uses this photo.

    While the caller's transaction is still open the question goes through it: it sees that
    transaction's own rows, and on SQLite a second connection would wait for the write lock this one
    holds. Once the transaction is over, a connection of its own asks: an ambiguous commit failure (the
    connection dropped during COMMIT) may in fact have committed the row, and then the files must stay.
    """
    query = select(models.Photo.id).where(models.Photo.sha256 == sha256).limit(1)
    if ask_session:
        with session.no_autoflush:
            return session.scalar(query) is not None
    bind = session.get_bind(mapper=models.Photo)
    engine = getattr(bind, "engine", bind)
    with engine.connect() as connection:
        return connection.scalar(query) is not None
