"""Does the photo store agree with the database? The check behind ``python -m tracker check``.

Every ``Photo`` row (soft-deleted ones included: a removal keeps the record, so it keeps its files) must
find its original, display copy and thumbnail, and the original must still hash to the recorded SHA-256.
Every file must belong to a row, or be explained by the marker of an ingest that has not settled.

An ingest marker younger than ``grace`` is an upload in progress right now and is left alone; an older one
is an *interrupted ingest* (the process stopped between the marker and its settlement): its files have no
row and are safe to remove with ``repair_interrupted``. Nothing else is ever removed automatically: a
missing file, an orphan or a hash mismatch needs a person to look at backups.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from db import models
from tracker.blob_store import PartialWrite
from tracker.database import transaction
from tracker.photo_store import PENDING, IngestMarker, PhotoStore, photo_store, sha256_of_key

# An ingest takes seconds; ten minutes leaves room for a slow disk and a long transaction around it
# while still reporting a crashed upload the same day.
DEFAULT_GRACE = timedelta(minutes=10)
_ROLES = ("original", "display copy", "thumbnail")


@dataclass(frozen=True)
class MissingFile:
    photo_id: int
    role: str
    key: str


@dataclass(frozen=True)
class HashMismatch:
    photo_id: int
    key: str
    expected: str
    actual: str


@dataclass(frozen=True)
class InterruptedIngest:
    """An unsettled ingest: its marker, and the files and partial writes it explains (no row uses them).

    ``marker_key`` is None when the process stopped while writing the marker itself.
    """

    marker_key: str | None
    sha256: str
    started_at: datetime | None
    files: tuple[str, ...] = ()
    partial_writes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsistencyReport:
    photos_checked: int
    files_checked: int
    missing: tuple[MissingFile, ...] = ()
    orphans: tuple[str, ...] = ()
    interrupted: tuple[InterruptedIngest, ...] = ()
    in_progress: tuple[InterruptedIngest, ...] = ()
    stale_temporaries: tuple[str, ...] = ()
    hash_mismatches: tuple[HashMismatch, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing needs doing; uploads in progress do not count against it."""
        return not (self.missing or self.orphans or self.interrupted or self.stale_temporaries
                    or self.hash_mismatches)

    def lines(self) -> list[str]:
        """The report in plain words, one finding per line, for the command line and the admin page."""
        out = [f"Checked {self.photos_checked} photo record(s) and {self.files_checked} stored file(s)."]
        for item in self.missing:
            out.append(f"MISSING: photo {item.photo_id} has no {item.role} ({item.key}); restore it from backup.")
        for item in self.hash_mismatches:
            out.append(
                f"ALTERED: the original of photo {item.photo_id} ({item.key}) no longer matches its recorded "
                f"SHA-256 (expected {item.expected[:12]}…, found {item.actual[:12]}…); restore it from backup."
            )
        for key in self.orphans:
            out.append(f"ORPHAN: {key} belongs to no photo record and no upload explains it; check before removing.")
        for item in self.interrupted:
            leftovers = len(item.files) + len(item.partial_writes)
            what = (f"left {leftovers} file(s) no record uses" if leftovers
                    else "left only its marker behind")
            out.append(
                f"INTERRUPTED: an upload started {_when(item.started_at)} stopped before it was settled and "
                f"{what} ({item.marker_key or 'marker not written'}); safe to remove (python -m tracker check "
                "--repair)."
            )
        for name in self.stale_temporaries:
            out.append(f"STALE TEMPORARY: {name} is an unfinished write; safe to remove (--repair).")
        for item in self.in_progress:
            out.append(f"IN PROGRESS: an upload started {_when(item.started_at)} is still running.")
        out.append("OK: the photo store and the database agree." if self.ok else "PROBLEMS FOUND (see above).")
        return out


def check_store(
    session: Session,
    store: PhotoStore,
    *,
    verify_hashes: bool = True,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
) -> ConsistencyReport:
    """Compare the photo rows with the files; ``verify_hashes=False`` skips re-reading every original."""
    return _check(lambda: _photo_rows(session), store, verify_hashes=verify_hashes, grace=grace, now=now)


def _photo_rows(session: Session) -> list[Row]:
    return list(
        session.execute(
            select(models.Photo.id, models.Photo.sha256, models.Photo.original_key,
                   models.Photo.display_key, models.Photo.thumbnail_key).order_by(models.Photo.id)
        ).all()
    )


def _check(load_rows: Callable[[], list[Row]], store: PhotoStore, *, verify_hashes: bool, grace: timedelta,
           now: datetime | None) -> ConsistencyReport:
    now = now or datetime.now(timezone.utc)
    # Files first, then markers, then rows: a file is written after its marker and a marker is removed
    # after its row commits, so in this order an upload running concurrently is never taken for an orphan.
    files = {key for key in store.blobs.keys() if not _is_marker(key)}
    partials = list(store.blobs.partial_writes())
    markers = store.markers()
    rows = load_rows()

    referenced: set[str] = set()
    missing: list[MissingFile] = []
    mismatches: list[HashMismatch] = []
    hashed: dict[str, str] = {}
    for row in rows:
        for role, key in zip(_ROLES, (row.original_key, row.display_key, row.thumbnail_key)):
            referenced.add(key)
            if key not in files and not store.blobs.exists(key):  # re-asked: it may have just been written
                missing.append(MissingFile(row.id, role, key))
        if verify_hashes and (row.original_key in files or store.blobs.exists(row.original_key)):
            if row.original_key not in hashed:
                hashed[row.original_key] = _sha256(store, row.original_key)
            actual = hashed[row.original_key]
            if actual and actual != row.sha256:
                mismatches.append(HashMismatch(row.id, row.original_key, row.sha256, actual))

    unreferenced = files - referenced
    interrupted, in_progress, explained = _unsettled(markers, unreferenced, partials, now, grace)
    orphans = sorted(key for key in unreferenced - explained if store.blobs.exists(key))
    stale = sorted(
        partial.name for partial in partials
        if partial.name not in explained and now - partial.started_at >= grace
    )
    return ConsistencyReport(
        photos_checked=len(rows),
        files_checked=len(files),
        missing=tuple(missing),
        orphans=tuple(orphans),
        interrupted=tuple(interrupted),
        in_progress=tuple(in_progress),
        stale_temporaries=tuple(stale),
        hash_mismatches=tuple(mismatches),
    )


def _unsettled(markers: list[IngestMarker], unreferenced: set[str], partials: list[PartialWrite],
               now: datetime, grace: timedelta) -> tuple[list[InterruptedIngest], list[InterruptedIngest], set[str]]:
    """Group leftovers by ingest. Files and partial writes are matched to markers by the photo hash in
    their names; a partial write in ``pending/`` is a marker that was being written when the process
    stopped (the marker comes first, so that ingest wrote nothing else)."""
    interrupted: list[InterruptedIngest] = []
    in_progress: list[InterruptedIngest] = []
    explained: set[str] = set()
    by_sha: dict[str, list[IngestMarker]] = {}
    for marker in markers:
        by_sha.setdefault(marker.sha256, []).append(marker)
    for sha, group in sorted(by_sha.items()):
        files = tuple(sorted(key for key in unreferenced if sha256_of_key(key) == sha))
        writes = tuple(sorted(p.name for p in partials if sha256_of_key(p.name) == sha))
        explained.update(files, writes)
        # The files belong to whichever ingest of this photo is still running; only when all are old are
        # they leftovers. Each marker is listed, the files once, with the oldest.
        group.sort(key=lambda m: m.started_at or datetime.min.replace(tzinfo=timezone.utc))
        running = any(m.started_at is not None and now - m.started_at < grace for m in group)
        for index, marker in enumerate(group):
            item = InterruptedIngest(marker.key, sha, marker.started_at,
                                     files if index == 0 else (), writes if index == 0 else ())
            (in_progress if running else interrupted).append(item)
    for partial in partials:
        sha = sha256_of_key(partial.name)
        if partial.name.startswith(f"{PENDING}/") and sha and partial.name not in explained:
            explained.add(partial.name)
            item = InterruptedIngest(None, sha, partial.started_at, (), (partial.name,))
            (in_progress if now - partial.started_at < grace else interrupted).append(item)
    return interrupted, in_progress, explained


def repair_interrupted(
    report: ConsistencyReport | None = None,
    store: PhotoStore | None = None,
    *,
    session: Session | None = None,
    url: str | None = None,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
) -> list[str]:
    """Remove the leftovers of the interrupted ingests in ``report`` (files, partial writes, then the
    marker) and its stale temporary files (writes that never completed, so never a whole file), and
    nothing else; returns what was removed.

    Without a ``report`` a fresh check is made. Without a ``session`` one of its own is opened on ``url``
    (default: the configured database). Just before removing anything, each photo is asked again
    whether a row uses it or a new upload of it has started since the report; then its files stay.
    """
    store = store or photo_store()
    if session is None:
        with transaction(url) as own:
            return repair_interrupted(report, store, session=own, grace=grace, now=now)
    if report is None:
        report = check_store(session, store, verify_hashes=False, grace=grace, now=now)
    reported = {item.marker_key for item in report.interrupted}
    removed: list[str] = []
    for item in report.interrupted:
        newer = [m for m in store.markers(item.sha256) if m.key not in reported]
        in_use = session.scalar(select(models.Photo.id).where(models.Photo.sha256 == item.sha256).limit(1))
        if not newer and in_use is None:
            for key in item.files:
                store.blobs.delete(key)
                removed.append(key)
        for name in item.partial_writes:
            store.blobs.discard_partial(name)
            removed.append(name)
        if item.marker_key:
            store.blobs.delete(item.marker_key)
            removed.append(item.marker_key)
    for name in report.stale_temporaries:
        store.blobs.discard_partial(name)
        removed.append(name)
    return removed


def run_check(url: str | None = None, *, verify_hashes: bool = True) -> ConsistencyReport:
    """Check the configured store against the database at ``url`` (default: the configured one).

    The rows are read in a transaction of their own that ends before the originals are hashed: on
    SQLite every transaction holds the write lock, and hashing a large store takes minutes.
    """

    def load_rows() -> list[Row]:
        with transaction(url) as session:
            return _photo_rows(session)

    return _check(load_rows, photo_store(), verify_hashes=verify_hashes, grace=DEFAULT_GRACE, now=None)


def _is_marker(key: str) -> bool:
    return key.startswith(f"{PENDING}/") and key.endswith(".json") and sha256_of_key(key) is not None


def _sha256(store: PhotoStore, key: str) -> str:
    try:
        return hashlib.sha256(store.read(key)).hexdigest()
    except KeyError:
        return ""  # removed since the listing; reported as missing on the next run


def _when(moment: datetime | None) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else "at an unknown time"
