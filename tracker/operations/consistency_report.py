"""What the consistency check (``tracker.operations.consistency``) found, as plain data and in plain words.

``ConsistencyReport`` holds the photo store's findings and ``DocumentReport`` the document store's: missing
and altered files (``MissingFile``, ``HashMismatch``, ``MissingDocument``, ``DocumentMismatch``), orphans,
interrupted uploads, uploads in progress and stale temporary files; an ``UnfinishedRestore`` names a restore
that did not finish. Their ``lines()`` put each finding in plain words, with what a person should do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tracker.storage.ingest import InterruptedIngest


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
class MissingDocument:
    """A batch document row whose file is not in the document store.

    ``key`` is None when the recorded media type is not one the store has a file name for.
    """

    document_id: int
    session_id: int
    key: str | None


@dataclass(frozen=True)
class DocumentMismatch:
    document_id: int
    key: str
    expected: str
    actual: str


@dataclass(frozen=True)
class HashCoverage:
    """Which records' files a check re-hashed (the expensive part: listings and sizes are checked every time).

    ``full``: every record (``check --full``); otherwise the ``new`` records added since the last check,
    ``sampled`` of the ``older`` ones (the rotating sample) and ``rechecked`` records found altered before, which
    every check hashes again until they match. ``mismatches``: records whose file did not match.
    """

    full: bool
    new: int
    sampled: int
    older: int
    rechecked: int
    mismatches: int

    def line(self) -> str:
        """The coverage in words.

        >>> HashCoverage(False, 37, 50, 12345, 0, 0).line()
        'hashes checked: 37 new, 50 of 12,345 older (sample), 0 mismatches; run with --full to check all.'
        >>> HashCoverage(True, 0, 0, 12382, 0, 1).line()
        'hashes checked: all 12,382 (--full), 1 mismatch.'
        """
        found = f"{self.mismatches:,} mismatch{'' if self.mismatches == 1 else 'es'}"
        if self.full:
            return f"hashes checked: all {self.older:,} (--full), {found}."
        again = f", {self.rechecked:,} found altered before" if self.rechecked else ""
        return (f"hashes checked: {self.new:,} new, {self.sampled:,} of {self.older:,} older (sample){again}, "
                f"{found}; run with --full to check all.")


RESTORE_MARKER = ".restore-"  # in the name of a restore's intent markers (tracker.operations.restore._marker_key)


@dataclass(frozen=True)
class UnfinishedRestore:
    """A restore journal in the data dir: a restore of ``folder`` (backup ``digest``) started at
    ``started_at`` is ``running`` now, or was interrupted (before its database commit, or after it:
    ``committed``)."""

    folder: str
    digest: str
    started_at: str
    running: bool
    committed: bool

    def line(self) -> str:
        what = f"a restore of backup {self.folder} (started {self.started_at or 'at an unknown time'})"
        if self.running:
            return f"IN PROGRESS: {what} is running; check again when it has ended."
        again = f"run `python -m tracker restore {self.folder}` again to finish it"
        if self.committed:
            return (f"UNFINISHED RESTORE: {what} was interrupted after the database was replaced: {again} "
                    "(restore-journal.json).")
        return (f"UNFINISHED RESTORE: {what} was interrupted before it changed the database: {again}, or keep this "
                "installation as it is and remove the restore's leftovers (python -m tracker check --repair) "
                "(restore-journal.json).")


@dataclass(frozen=True)
class DocumentReport:
    """The document store against the ``BatchDocument`` rows: the same kinds of finding as for photos."""

    documents_checked: int
    files_checked: int
    missing: tuple[MissingDocument, ...] = ()
    orphans: tuple[str, ...] = ()
    interrupted: tuple[InterruptedIngest, ...] = ()
    in_progress: tuple[InterruptedIngest, ...] = ()
    stale_temporaries: tuple[str, ...] = ()
    hash_mismatches: tuple[DocumentMismatch, ...] = ()
    hashes: HashCoverage | None = None  # None: no file was hashed

    @property
    def ok(self) -> bool:
        """True when nothing needs doing; uploads in progress do not count against it."""
        return not (self.missing or self.orphans or self.interrupted or self.stale_temporaries
                    or self.hash_mismatches)

    def lines(self) -> list[str]:
        """The document store's part of the report, one finding per line, ending with its verdict.

        >>> print("\\n".join(DocumentReport(1, 0, missing=(MissingDocument(4, 12, "originals/ab/ab.pdf"),)).lines()))
        Document store: checked 1 batch document record(s) and 0 stored file(s).
        MISSING: batch document 4 (treatment session 12) has no file (originals/ab/ab.pdf); restore it from backup.
        PROBLEMS FOUND in the document store (see above).
        """
        out = [
            f"Document store: checked {self.documents_checked} batch document record(s) and {self.files_checked} "
            "stored file(s)."
        ]
        if self.hashes is not None:
            out.append(f"Document store: {self.hashes.line()}")
        for item in self.missing:
            where = (f"has no file ({item.key}); restore it from backup" if item.key else
                     "records a media type no stored file can have; check the record")
            out.append(f"MISSING: batch document {item.document_id} (treatment session {item.session_id}) {where}.")
        for altered in self.hash_mismatches:
            out.append(
                f"ALTERED: batch document {altered.document_id} ({altered.key}) no longer matches its recorded "
                f"SHA-256 (expected {altered.expected[:12]}…, found {altered.actual[:12]}…); restore it from backup."
            )
        out += _leftover_lines("batch document", "document store", self.orphans, self.interrupted,
                               self.stale_temporaries, self.in_progress)
        out.append("OK: the document store and the database agree." if self.ok
                   else "PROBLEMS FOUND in the document store (see above).")
        return out


@dataclass(frozen=True)
class ConsistencyReport:
    """The photo store's findings, and the document store's in ``documents``.

    ``documents`` is None for a photo-only check (``check_store``); ``run_check`` fills it.
    """

    photos_checked: int
    files_checked: int
    missing: tuple[MissingFile, ...] = ()
    orphans: tuple[str, ...] = ()
    interrupted: tuple[InterruptedIngest, ...] = ()
    in_progress: tuple[InterruptedIngest, ...] = ()
    stale_temporaries: tuple[str, ...] = ()
    hash_mismatches: tuple[HashMismatch, ...] = ()
    hashes: HashCoverage | None = None  # None: no file was hashed
    documents: DocumentReport | None = None
    restore: UnfinishedRestore | None = None
    aligned_removed: int = 0  # aligned before/after copies no photo on record can use, removed (derived data)
    aligned_problem: str | None = None  # why they could not be looked at (derived data: not a finding)
    lists_fixed: str | None = None  # what the whole-clinic lists' kept data needed again (derived data)

    @property
    def photos_ok(self) -> bool:
        return not (self.missing or self.orphans or self.interrupted or self.stale_temporaries
                    or self.hash_mismatches)

    @property
    def ok(self) -> bool:
        """True when nothing needs doing in any store checked; uploads in progress (and a restore running)
        do not count against it, an interrupted restore does."""
        return (self.photos_ok and (self.documents is None or self.documents.ok)
                and (self.restore is None or self.restore.running))

    def lines(self) -> list[str]:
        """The report in plain words, one finding per line, for the command line and the admin page.

        One section per store, each ending with its verdict: the document store's first (when checked),
        then the photo store's.
        """
        out = [self.restore.line()] if self.restore is not None else []
        out += self.documents.lines() if self.documents is not None else []
        out.append(f"Photo store: checked {self.photos_checked} photo record(s) and {self.files_checked} stored "
                   "file(s).")
        if self.hashes is not None:
            out.append(f"Photo store: {self.hashes.line()}")
        for item in self.missing:
            out.append(f"MISSING: photo {item.photo_id} has no {item.role} ({item.key}); restore it from backup.")
        for altered in self.hash_mismatches:
            out.append(
                f"ALTERED: the original of photo {altered.photo_id} ({altered.key}) no longer matches its recorded "
                f"SHA-256 (expected {altered.expected[:12]}…, found {altered.actual[:12]}…); restore it from backup."
            )
        out += _leftover_lines("photo", "photo store", self.orphans, self.interrupted, self.stale_temporaries,
                               self.in_progress)
        if self.aligned_problem:
            out.append(f"Aligned before/after copies were not tidied this time ({self.aligned_problem}); they are "
                       "derived data, nothing is lost.")
        if self.aligned_removed:
            out.append(f"Removed {self.aligned_removed} aligned before/after file(s) of photos no longer on record "
                       "or of an earlier alignment method (derived data, made again when a pair is viewed).")
        if self.lists_fixed:
            out.append(self.lists_fixed)
        out.append("OK: the photo store and the database agree." if self.photos_ok
                   else "PROBLEMS FOUND in the photo store (see above).")
        return out


def is_restore(item: InterruptedIngest) -> bool:
    """Whether ``item`` is a restore's marker (``RESTORE_MARKER`` in its key) rather than an upload's."""
    return bool(item.marker_key and RESTORE_MARKER in item.marker_key)


def _leftover_lines(record: str, store: str, orphans: tuple[str, ...], interrupted: tuple[InterruptedIngest, ...],
                    stale: tuple[str, ...], in_progress: tuple[InterruptedIngest, ...]) -> list[str]:
    out = []
    # A restore marks every file it brings or replaces: its leftovers are one finding, not one per file.
    restoring = [item for item in (*interrupted, *in_progress) if is_restore(item)]
    running = any(is_restore(item) for item in in_progress)
    interrupted = tuple(item for item in interrupted if not is_restore(item))
    in_progress = tuple(item for item in in_progress if not is_restore(item))
    if restoring:
        files = sum(len(item.files) + len(item.partial_writes) for item in restoring)
        if running:
            out.append(f"IN PROGRESS: a restore is writing the {store} ({len(restoring)} marker(s)).")
        else:
            out.append(f"RESTORE LEFTOVERS: {len(restoring)} marker(s) and {files} file(s) no record uses in the "
                       f"{store} were left by a restore that did not finish (not uploads); finish the restore, or "
                       "remove them (python -m tracker check --repair).")
    for key in orphans:
        out.append(f"ORPHAN: {key} in the {store} belongs to no {record} record and no upload explains it; "
                   "check before removing.")
    for item in interrupted:
        leftovers = len(item.files) + len(item.partial_writes)
        what = f"left {leftovers} file(s) no record uses" if leftovers else "left only its marker behind"
        out.append(
            f"INTERRUPTED: a {record} upload started {_when(item.started_at)} stopped before it was settled and "
            f"{what} ({item.marker_key or 'marker not written'}, {store}); safe to remove (python -m tracker "
            "check --repair)."
        )
    for name in stale:
        out.append(f"STALE TEMPORARY: {name} in the {store} is an unfinished write; safe to remove (--repair).")
    for item in in_progress:
        out.append(f"IN PROGRESS: a {record} upload started {_when(item.started_at)} is still running ({store}).")
    return out


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "at an unknown time"
