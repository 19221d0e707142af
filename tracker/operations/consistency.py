"""Do the stores agree with the database? The check behind ``python -m tracker check``.

Two stores are checked, each against its own rows:

- the photo store (``tracker.photos.store``): every ``Photo`` row (soft-deleted ones included: a removal
  keeps the record, so it keeps its files) must find its original, display copy and thumbnail, and the
  original must still hash to the recorded SHA-256;
- the document store (``tracker.records.batch_documents.document_store()``): every ``BatchDocument`` row
  (soft-deleted ones included) must find its file under ``document_key(sha256, media_type)``, and the
  file must still hash to the recorded SHA-256.

In either store every file must belong to a row, or be explained by the marker of an upload that has not
settled. Both stores add their files through the one crash-safe ingest (``tracker.storage.ingest``:
``pending/<sha256>.<token>.json`` before any file, removed after the commit), so one set of rules reads
and repairs both.

A marker younger than ``grace`` (default ``tracker.storage.ingest.GRACE``) is an upload in progress right
now and is left alone; an older one is an *interrupted upload* (the process stopped between the marker and
its settlement): its files have no row and are safe to remove with ``repair_interrupted``. Nothing else is
ever removed automatically: a missing file, an orphan or a hash mismatch needs a person to look at backups.

The findings and their words are in ``tracker.operations.consistency_report``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.config import settings
from tracker.database import database_url, transaction
from tracker.operations.consistency_report import (
    RESTORE_MARKER,
    ConsistencyReport,
    DocumentMismatch,
    DocumentReport,
    HashMismatch,
    MissingDocument,
    MissingFile,
    UnfinishedRestore,
    is_restore,
)
from tracker.photos.store import PhotoStore, photo_store
from tracker.records.batch_documents import document_key, document_store
from tracker.storage.blob_store import BlobStore
from tracker.storage.ingest import GRACE, InterruptedIngest, is_marker, markers, remove_leftovers, unsettled

# What ``repair_interrupted`` puts before the document store's keys in its answer (the store's folder
# under the data directory): both stores have ``originals/…`` and ``pending/…`` keys.
DOCUMENT_STORE_PREFIX = "documents/"


@dataclass(frozen=True)
class _Expected:
    """One row's files as (role, key) pairs, and the key whose bytes must hash to ``sha256``.

    A key of None is a file the row needs but no key can name (reported missing).
    """

    record_id: int
    sha256: str
    files: tuple[tuple[str, str | None], ...]
    hashed: str | None


@dataclass(frozen=True)
class _Comparison:
    rows: int
    files: int
    missing: list[tuple[int, str, str | None]]
    mismatches: list[tuple[int, str, str, str]]
    orphans: tuple[str, ...]
    interrupted: tuple[InterruptedIngest, ...]
    in_progress: tuple[InterruptedIngest, ...]
    stale: tuple[str, ...]


def check_store(
    session: Session,
    store: PhotoStore,
    *,
    verify_hashes: bool = True,
    grace: timedelta = GRACE,
    now: datetime | None = None,
) -> ConsistencyReport:
    """Compare the photo rows with the photo store's files; ``verify_hashes=False`` skips re-reading every
    original. The document store is left out (``check_documents``; ``run_check`` does both)."""
    return _photo_report(_compare(store.blobs, lambda: _photo_rows(session), verify_hashes, grace, now))


def check_documents(
    session: Session,
    blobs: BlobStore | None = None,
    *,
    verify_hashes: bool = True,
    grace: timedelta = GRACE,
    now: datetime | None = None,
) -> DocumentReport:
    """Compare the batch document rows with the document store's files (default: the configured one)."""
    sessions: dict[int, int] = {}
    comparison = _compare(blobs or document_store(), lambda: _document_rows(session, sessions), verify_hashes,
                          grace, now)
    return _document_report(comparison, sessions)


def run_check(url: str | None = None, *, verify_hashes: bool = True, grace: timedelta = GRACE) -> ConsistencyReport:
    """Check both configured stores against the database at ``url`` (default: the configured one); an
    upload's leftovers younger than ``grace`` are an upload in progress.

    Each store's rows are read in a transaction of their own that ends before its files are hashed: on
    SQLite every transaction holds the write lock, and hashing a large store takes minutes.
    """

    def photo_rows() -> list[_Expected]:
        with transaction(url) as session:
            return _photo_rows(session)

    sessions: dict[int, int] = {}

    def document_rows() -> list[_Expected]:
        with transaction(url) as session:
            return _document_rows(session, sessions)

    restore = unfinished_restore(url)
    photos = _photo_report(_compare(photo_store().blobs, photo_rows, verify_hashes, grace, None))
    documents = _document_report(_compare(document_store(), document_rows, verify_hashes, grace, None), sessions)
    if restore is None or not restore.running:
        # No restore runs (it holds the data dir's lock while it does): its markers, however young, are
        # leftovers of one that was interrupted, not work in progress.
        photos, documents = _restore_markers_interrupted(photos), _restore_markers_interrupted(documents)
    return replace(photos, documents=documents, restore=restore)


def _restore_markers_interrupted(report: _Report) -> _Report:
    """``report`` with the restore's markers counted as interrupted rather than in progress."""
    moved = tuple(item for item in report.in_progress if is_restore(item))
    if not moved:
        return report
    return replace(report, interrupted=report.interrupted + moved,
                   in_progress=tuple(item for item in report.in_progress if not is_restore(item)))


_Report = TypeVar("_Report", ConsistencyReport, DocumentReport)


def unfinished_restore(url: str | None = None) -> UnfinishedRestore | None:
    """The restore the data dir's journal names, or None when there is no journal."""
    from tracker.operations.restore_journal import installation_state, read_journal, restore_committed, restore_running

    data_dir = settings().data_dir
    journal = read_journal(data_dir)
    if journal is None:
        return None
    digest = str(journal.get("backup") or "")
    running = restore_running(data_dir)
    committed = bool(digest) and not running and restore_committed(installation_state(url or database_url())[1],
                                                                    digest)
    return UnfinishedRestore(str(journal.get("folder") or "(unreadable journal)"), digest,
                             str(journal.get("started_at") or ""), running, committed)


def _photo_rows(session: Session) -> list[_Expected]:
    rows = session.execute(
        select(models.Photo.id, models.Photo.sha256, models.Photo.original_key,
               models.Photo.display_key, models.Photo.thumbnail_key).order_by(models.Photo.id)
    ).all()
    return [
        _Expected(row.id, row.sha256, (("original", row.original_key), ("display copy", row.display_key),
                                       ("thumbnail", row.thumbnail_key)), row.original_key)
        for row in rows
    ]


def _document_rows(session: Session, sessions: dict[int, int]) -> list[_Expected]:
    """The batch document rows as expected files; ``sessions`` learns each document's treatment session."""
    rows = session.execute(
        select(models.BatchDocument.id, models.BatchDocument.session_id, models.BatchDocument.sha256,
               models.BatchDocument.media_type).order_by(models.BatchDocument.id)
    ).all()
    expected = []
    for row in rows:
        sessions[row.id] = row.session_id
        try:
            key: str | None = document_key(row.sha256, row.media_type)
        except KeyError:
            key = None
        expected.append(_Expected(row.id, row.sha256, (("file", key),), key))
    return expected


def _photo_report(found: _Comparison) -> ConsistencyReport:
    return ConsistencyReport(
        photos_checked=found.rows,
        files_checked=found.files,
        missing=tuple(MissingFile(record, role, key or "") for record, role, key in found.missing),
        orphans=found.orphans,
        interrupted=found.interrupted,
        in_progress=found.in_progress,
        stale_temporaries=found.stale,
        hash_mismatches=tuple(HashMismatch(*item) for item in found.mismatches),
    )


def _document_report(found: _Comparison, sessions: dict[int, int]) -> DocumentReport:
    return DocumentReport(
        documents_checked=found.rows,
        files_checked=found.files,
        missing=tuple(MissingDocument(record, sessions[record], key) for record, _role, key in found.missing),
        orphans=found.orphans,
        interrupted=found.interrupted,
        in_progress=found.in_progress,
        stale_temporaries=found.stale,
        hash_mismatches=tuple(DocumentMismatch(*item) for item in found.mismatches),
    )


def _compare(blobs: BlobStore, load_rows: Callable[[], list[_Expected]], verify_hashes: bool, grace: timedelta,
             now: datetime | None) -> _Comparison:
    now = now or datetime.now(UTC)
    # Files first, then markers, then rows: a file is written after its marker and a marker is removed
    # after its row commits, so in this order an upload running concurrently is never taken for an orphan.
    files = {key for key in blobs.keys() if not is_marker(key)}  # noqa: SIM118 a BlobStore, not a dict: no `in`
    partials = list(blobs.partial_writes())
    found = markers(blobs)
    rows = load_rows()

    referenced: set[str] = set()
    missing: list[tuple[int, str, str | None]] = []
    mismatches: list[tuple[int, str, str, str]] = []
    hashed: dict[str, str] = {}
    for row in rows:
        for role, key in row.files:
            if key is not None:
                referenced.add(key)
            if key is None or (key not in files and not blobs.exists(key)):  # re-asked: it may be new
                missing.append((row.record_id, role, key))
        if verify_hashes and row.hashed is not None and (row.hashed in files or blobs.exists(row.hashed)):
            if row.hashed not in hashed:
                hashed[row.hashed] = _sha256(blobs, row.hashed)
            actual = hashed[row.hashed]
            if actual and actual != row.sha256:
                mismatches.append((row.record_id, row.hashed, row.sha256, actual))

    unreferenced = files - referenced
    interrupted, in_progress, explained = unsettled(found, unreferenced, partials, now, grace)
    orphans = sorted(key for key in unreferenced - explained if blobs.exists(key))
    stale = sorted(
        partial.name for partial in partials
        if partial.name not in explained and now - partial.started_at >= grace
    )
    return _Comparison(len(rows), len(files), missing, mismatches, tuple(orphans), tuple(interrupted),
                       tuple(in_progress), tuple(stale))


def repair_interrupted(
    report: ConsistencyReport | None = None,
    store: PhotoStore | None = None,
    *,
    documents: BlobStore | None = None,
    session: Session | None = None,
    url: str | None = None,
    grace: timedelta = GRACE,
    now: datetime | None = None,
) -> list[str]:
    """Remove the leftovers of the interrupted uploads in ``report`` (files, partial writes, then the
    marker) and its stale temporary files (writes that never completed, so never a whole file), and
    nothing else; returns what was removed: photo store keys as they are, document store keys after
    ``DOCUMENT_STORE_PREFIX``.

    The document store (``documents``, default: the configured one) is repaired when the report covers it
    (``run_check``'s does; ``check_store``'s does not). Without a ``report`` a fresh check of both stores
    is made. Without a ``session`` one of its own is opened on ``url`` (default: the configured database).
    Just before removing anything, each upload's content is asked again whether a row uses it or a new
    upload of it has started since the report; then its files stay.
    """
    store = store or photo_store()
    if session is None:
        with transaction(url) as own:
            return repair_interrupted(report, store, documents=documents, session=own, grace=grace, now=now)
    if report is None:
        report = replace(
            check_store(session, store, verify_hashes=False, grace=grace, now=now),
            documents=check_documents(session, documents, verify_hashes=False, grace=grace, now=now),
        )

    def photo_in_use(sha256: str) -> bool:
        return session.scalar(select(models.Photo.id).where(models.Photo.sha256 == sha256).limit(1)) is not None

    def document_in_use(sha256: str) -> bool:
        query = select(models.BatchDocument.id).where(models.BatchDocument.sha256 == sha256).limit(1)
        return session.scalar(query) is not None

    removed = remove_leftovers(store.blobs, report.interrupted, report.stale_temporaries, photo_in_use)
    if report.documents is not None:
        removed += [
            DOCUMENT_STORE_PREFIX + key
            for key in remove_leftovers(documents or document_store(), report.documents.interrupted,
                                         report.documents.stale_temporaries, document_in_use)
        ]
    restore = report.restore
    if restore is not None and not restore.running and not restore.committed:
        # The journal goes with the restore's markers, once none is left (a restore that committed is
        # finished by running it again, not undone here).
        left = [key for blobs in (store.blobs, documents or document_store())
                for key in blobs.keys()  # noqa: SIM118 a BlobStore, not a dict: it has no iteration of its own
                if is_marker(key) and RESTORE_MARKER in key]
        if not left:
            from tracker.operations.restore_journal import JOURNAL

            (settings().data_dir / JOURNAL).unlink(missing_ok=True)
            removed.append(JOURNAL)
    return removed


def _sha256(blobs: BlobStore, key: str) -> str:
    try:
        return hashlib.sha256(blobs.get(key)).hexdigest()
    except KeyError:
        return ""  # removed since the listing; reported as missing on the next run
