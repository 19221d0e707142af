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

Presence is checked for every file on every run (a listing), but re-hashing every original takes hours on a
real store, so ``run_check`` hashes the files of the records added since the last check, a rotating sample of the
older ones (``SAMPLE_SHARE`` of them, at least ``SAMPLE_MIN``, continuing where the last sample stopped, so that
every file is hashed again over the runs) and the records found altered before (again on every run until they
match); ``full=True`` (``check --full``) hashes everything. Where each store's check left off is kept in
``db.models.MaintenanceState`` (``CHECK_STATE``). A first check, with no state yet, hashes everything as new.

The findings and their words are in ``tracker.operations.consistency_report``.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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
    HashCoverage,
    HashMismatch,
    MissingDocument,
    MissingFile,
    UnfinishedRestore,
    is_restore,
)
from tracker.photos.aligned_pairs import prune_aligned
from tracker.photos.store import PhotoStore, photo_store
from tracker.progress import outlook, outlook_tally
from tracker.records import name_index
from tracker.records.batch_documents import document_key, document_store
from tracker.storage.blob_store import BlobStore
from tracker.storage.ingest import GRACE, InterruptedIngest, is_marker, markers, remove_leftovers, unsettled

# What ``repair_interrupted`` puts before the document store's keys in its answer (the store's folder
# under the data directory): both stores have ``originals/…`` and ``pending/…`` keys.
DOCUMENT_STORE_PREFIX = "documents/"
# The MaintenanceState row of each store's check (``HashPlan``).
CHECK_STATE = {"photos": "check:photo store", "documents": "check:document store"}
# The rotating sample of older records each check re-hashes: 1% of them, at least 50, so that a store of any
# size is hashed whole again within 100 checks (a small one much sooner).
SAMPLE_SHARE = 0.01
SAMPLE_MIN = 50


@dataclass(frozen=True)
class HashPlan:
    """Which records a check re-hashes, from where the last one left off.

    ``full``: all of them. Otherwise records whose id is above ``checked_until`` are new (all hashed); of the
    others the sample continues after record ``sample_after`` (wrapping round to the first); ``recheck`` are
    records found altered before, hashed every time until they match.
    """

    full: bool = False
    checked_until: int = 0
    sample_after: int = 0
    recheck: frozenset[int] = frozenset()

    @classmethod
    def from_state(cls, value: dict[str, Any] | None) -> HashPlan:
        """The plan a stored state (``MaintenanceState.value``) gives; none stored: everything is new."""
        value = value or {}
        return cls(False, int(value.get("checked_until", 0)), int(value.get("sample_after", 0)),
                   frozenset(int(record) for record in value.get("recheck", ())))


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
    hashes: HashCoverage | None = None
    state: dict[str, Any] | None = None  # where the next check continues (``HashPlan.from_state``)


def check_store(
    session: Session,
    store: PhotoStore,
    *,
    verify_hashes: bool = True,
    grace: timedelta = GRACE,
    now: datetime | None = None,
) -> ConsistencyReport:
    """Compare the photo rows with the photo store's files; ``verify_hashes=False`` skips re-reading every
    original. The document store is left out (``check_documents``; ``run_check`` does both, and hashes only
    part of the originals unless asked for all)."""
    plan = HashPlan(full=True) if verify_hashes else None
    return _photo_report(_compare(store.blobs, lambda: _photo_rows(session), plan, grace, now))


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
    plan = HashPlan(full=True) if verify_hashes else None
    comparison = _compare(blobs or document_store(), lambda: _document_rows(session, sessions), plan, grace, now)
    return _document_report(comparison, sessions)


def run_check(url: str | None = None, *, verify_hashes: bool = True, full: bool = False,
              grace: timedelta = GRACE) -> ConsistencyReport:
    """Check both configured stores against the database at ``url`` (default: the configured one); an
    upload's leftovers younger than ``grace`` are an upload in progress. Aligned before/after copies that no
    photo on record can use are removed (``prune_aligned``; not while a restore runs).

    Every file's presence is checked; hashes are verified for new records, a rotating sample of older ones and
    those found altered before, or for all with ``full`` (none with ``verify_hashes=False``), and where this
    check left off is stored for the next one (``CHECK_STATE``). Each store's rows are read in a transaction of
    their own that ends before its files are hashed: on SQLite every transaction holds the write lock, and
    hashing a large store takes minutes.
    """
    plans: dict[str, HashPlan | None] = {"photos": None, "documents": None}
    if verify_hashes:
        with transaction(url) as session:
            for store, name in CHECK_STATE.items():
                stored = session.get(models.MaintenanceState, name)
                plans[store] = HashPlan(full=True, **_position(stored)) if full else HashPlan.from_state(
                    stored.value if stored is not None else None)

    def photo_rows() -> list[_Expected]:
        with transaction(url) as session:
            return _photo_rows(session)

    sessions: dict[int, int] = {}

    def document_rows() -> list[_Expected]:
        with transaction(url) as session:
            return _document_rows(session, sessions)

    restore = unfinished_restore(url)
    photo_comparison = _compare(photo_store().blobs, photo_rows, plans["photos"], grace, None)
    document_comparison = _compare(document_store(), document_rows, plans["documents"], grace, None)
    _save_states(url, {"photos": photo_comparison.state, "documents": document_comparison.state})
    photos = _photo_report(photo_comparison)
    documents = _document_report(document_comparison, sessions)
    if restore is None or not restore.running:
        # No restore runs (it holds the data dir's lock while it does): its markers, however young, are
        # leftovers of one that was interrupted, not work in progress.
        photos, documents = _restore_markers_interrupted(photos), _restore_markers_interrupted(documents)
        removed, problem = _prune_derived(url)
        photos = replace(photos, aligned_removed=removed, aligned_problem=problem, lists_fixed=_keep_lists(url))
    return replace(photos, documents=documents, restore=restore)


def _keep_lists(url: str | None) -> str | None:
    """Give every live patient without a current outlook one (a write that bypassed the refresh: the lists no longer
    look for them on every click, ``outlook.covered``), count the list tally again where it differs from the spans,
    and build the search's name index again where it differs from the outlook (``name_index.repaired``); one line
    saying what was done, None when nothing was needed. Derived data: nothing is lost either way. About 2 s at
    50,000 patients, during which PostgreSQL's writers wait for the tally's lock before they commit."""
    rebuilt = outlook.rebuild(url)
    with transaction(url) as session:
        wrong = outlook_tally.differences(session)
        if wrong:
            outlook_tally.recount(session)
        reindexed = name_index.repaired(session)
    done = [f"{rebuilt} patient(s) missing from them were added"] if rebuilt else []
    done += [f"their counts differed from the patients' outlook on {len(wrong)} day(s) and were counted again "
             f"(first: {wrong[0]})"] if wrong else []
    done += ["the search's index of names and MRNs differed from the outlook and was built again"] if reindexed else []
    return f"Whole-clinic lists: {'; '.join(done)} (derived data, nothing was lost)." if done else None


def _prune_derived(url: str | None) -> tuple[int, str | None]:
    """Remove the aligned copies no photo on record can use (``prune_aligned``): how many files went, and why none
    could, if so. Derived data: a store that cannot be listed there (an object store whose policy covers the photo
    and document areas only) is said in one line and the rest of the report stands. Not while a restore runs (one
    may have started while the stores were hashed): its photos are not on record yet."""
    from tracker.operations.restore_journal import restore_running

    if restore_running(settings().data_dir):
        return 0, "a restore is running"
    try:
        return prune_aligned(url), None
    except Exception as error:  # derived data: the check's findings matter more than its housekeeping
        return 0, f"{type(error).__name__}: {error}".splitlines()[0][:300]


def _position(stored: models.MaintenanceState | None) -> dict[str, Any]:
    """A full check keeps the rotating sample where it was (it continues there on the next run)."""
    plan = HashPlan.from_state(stored.value if stored is not None else None)
    return {"sample_after": plan.sample_after}


def _save_states(url: str | None, states: dict[str, dict[str, Any] | None]) -> None:
    """Stores where each store's check left off (a short write transaction of its own)."""
    if not any(state is not None for state in states.values()):
        return
    with transaction(url) as session:
        for store, state in states.items():
            if state is None:
                continue
            session.merge(models.MaintenanceState(name=CHECK_STATE[store], value=state, updated_at=datetime.now(UTC)))


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
        hashes=found.hashes,
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
        hashes=found.hashes,
    )


def _compare(blobs: BlobStore, load_rows: Callable[[], list[_Expected]], plan: HashPlan | None, grace: timedelta,
             now: datetime | None) -> _Comparison:
    """The store's files against the rows ``load_rows`` gives (in increasing id order); the originals of the
    records ``plan`` selects are hashed (none without a plan)."""
    now = now or datetime.now(UTC)
    # Files first, then markers, then rows: a file is written after its marker and a marker is removed
    # after its row commits, so in this order an upload running concurrently is never taken for an orphan.
    files = {key for key in blobs.keys() if not is_marker(key)}  # noqa: SIM118 a BlobStore, not a dict: no `in`
    partials = list(blobs.partial_writes())
    found = markers(blobs)
    rows = load_rows()

    referenced: set[str] = set()
    missing: list[tuple[int, str, str | None]] = []
    selected, coverage, state = _hash_selection(rows, plan)
    for row in rows:
        for role, key in row.files:
            if key is not None:
                referenced.add(key)
            if key is None or (key not in files and not blobs.exists(key)):  # re-asked: it may be new
                missing.append((row.record_id, role, key))
    mismatches, hashed = _mismatches(blobs, [row for row in rows if row.record_id in selected], files)

    unreferenced = files - referenced
    interrupted, in_progress, explained = unsettled(found, unreferenced, partials, now, grace)
    orphans = sorted(key for key in unreferenced - explained if blobs.exists(key))
    stale = sorted(
        partial.name for partial in partials
        if partial.name not in explained and now - partial.started_at >= grace
    )
    if plan is not None and coverage is not None and state is not None:
        coverage = replace(coverage, mismatches=len(mismatches))
        # Altered records are hashed again next time; so are those found altered before whose file is missing now.
        altered = {record for record, *_ in mismatches} | (plan.recheck & selected) - hashed
        state = {**state, "recheck": sorted(altered)}
    return _Comparison(len(rows), len(files), missing, mismatches, tuple(orphans), tuple(interrupted),
                       tuple(in_progress), tuple(stale), coverage, state)


def _mismatches(blobs: BlobStore, rows: list[_Expected], files: set[str]
                ) -> tuple[list[tuple[int, str, str, str]], set[int]]:
    """The rows whose original no longer hashes to their SHA-256 (record, key, expected, actual), and the rows
    whose original was hashed (it exists); each file is read once however many rows share it."""
    mismatches: list[tuple[int, str, str, str]] = []
    checked: set[int] = set()
    hashed: dict[str, str] = {}
    for row in rows:
        if row.hashed is None or (row.hashed not in files and not blobs.exists(row.hashed)):
            continue
        if row.hashed not in hashed:
            hashed[row.hashed] = _sha256(blobs, row.hashed)
        actual = hashed[row.hashed]
        if actual:
            checked.add(row.record_id)
        if actual and actual != row.sha256:
            mismatches.append((row.record_id, row.hashed, row.sha256, actual))
    return mismatches, checked


def _hash_selection(rows: list[_Expected], plan: HashPlan | None
                    ) -> tuple[set[int], HashCoverage | None, dict[str, Any] | None]:
    """The records whose original ``plan`` hashes, the coverage in figures (mismatches not yet counted), and
    where the next check continues (its ``recheck`` not yet known)."""
    if plan is None:
        return set(), None, None
    ids = [row.record_id for row in rows]
    last = ids[-1] if ids else plan.checked_until
    if plan.full:
        state = {"checked_until": max(last, plan.checked_until), "sample_after": plan.sample_after}
        return set(ids), HashCoverage(True, 0, 0, len(ids), 0, 0), state
    older = ids[:bisect.bisect_right(ids, plan.checked_until)]
    new = ids[len(older):]
    size = min(len(older), max(SAMPLE_MIN, math.ceil(len(older) * SAMPLE_SHARE)))
    start = bisect.bisect_right(older, plan.sample_after)
    sample = [older[(start + step) % len(older)] for step in range(size)]
    rechecked = plan.recheck & set(ids)
    state = {"checked_until": max(last, plan.checked_until),
             "sample_after": sample[-1] if sample else plan.sample_after}
    coverage = HashCoverage(False, len(new), len(sample), len(older), len(rechecked - set(sample)), 0)
    return set(new) | set(sample) | rechecked, coverage, state


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
