"""The one crash-safe way to add files to a ``BlobStore`` together with the database rows that use them.

Photos (``tracker.photos.store``) and batch documents (``tracker.records.batch_documents``) both go
through ``begin``/``track``; the consistency check (``tracker.operations.consistency``) reads the markers
and repairs with ``unsettled`` and ``remove_leftovers``. Files are content-addressed: each key carries the
SHA-256 of the upload it comes from (``originals/ab/abcd….jpg``), so a file explains itself.

Why a crash can never leave a row without its files, nor a file nobody can explain:

1. the intent marker ``pending/<sha256>.<token>.json`` is written first (``BlobStore.put``, durable), then
   each file atomically;
2. the caller adds its row to the session; it commits only after the files are durable;
3. after the commit the marker is removed (``settle``); without a commit the files are removed unless a
   committed row or another ingest in progress uses the same content, and then the marker (``discard``).

A crash between any two steps leaves a marker that explains every file without a row. A marker younger
than ``GRACE`` is an upload in progress; an older one is an interrupted upload whose files
``remove_leftovers`` may remove. Everything here speaks ``BlobStore`` only, so an object store can stand
behind it as well as a local folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Protocol

from sqlalchemy import event, select
from sqlalchemy.orm import Mapped, Session, SessionTransaction

from tracker.storage.blob_store import BlobStore, PartialWrite

log = logging.getLogger(__name__)

PENDING = "pending"
# An ingest takes seconds; ten minutes leaves room for a slow disk and a long transaction around it while
# still reporting a crashed upload the same day.
GRACE = timedelta(minutes=10)

_PENDING_INGESTS = "tracker.storage.ingest.pending"
_WATCHED = "tracker.storage.ingest.watched"


@dataclass(frozen=True)
class HashedFile:
    """An uploaded file's bytes and their SHA-256 (64 lowercase hex digits), computed once per save.

    >>> HashedFile.of(b"abc").sha256[:12]
    'ba7816bf8f01'
    """

    data: bytes = field(repr=False)
    sha256: str

    @classmethod
    def of(cls, data: bytes | HashedFile) -> HashedFile:
        """``data`` with its digest; a ``HashedFile`` is passed through without hashing it again."""
        if isinstance(data, HashedFile):
            return data
        return cls(data, hashlib.sha256(data).hexdigest())


class RowsWithContent(Protocol):
    """A mapped class whose rows record the SHA-256 of the content they use (``Photo``, ``BatchDocument``)."""

    # Class variables: the ingest reads the mapped columns from the class itself (``rows.sha256 == ...``);
    # an instance's ``id`` is a plain int, which a protocol of instance attributes would not match.
    id: ClassVar[Mapped[int]]
    sha256: ClassVar[Mapped[str]]


def sha256_of_key(key: str) -> str | None:
    """The content hash a store key, marker key or partial-write name belongs to, or None for anything else.

    >>> sha256_of_key("display/ab/" + "ab" * 32 + ".jpg") == "ab" * 32
    True
    >>> sha256_of_key("restore-journal.json") is None
    True
    """
    name = key.rsplit("/", 1)[-1].lstrip(".")
    candidate = name.split(".", 1)[0]
    if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
        return candidate
    return None


def is_marker(key: str) -> bool:
    """Whether ``key`` is an intent marker (of an upload, or of a restore: ``tracker.operations.backup``)."""
    return key.startswith(f"{PENDING}/") and key.endswith(".json") and sha256_of_key(key) is not None


@dataclass(frozen=True)
class IngestMarker:
    """The intent of an ingest that has not settled yet: which files it writes and when it started.

    ``started_at`` is None when the marker cannot be read (it is then treated as old).
    """

    key: str
    sha256: str
    started_at: datetime | None
    keys: tuple[str, ...]


def write_marker(blobs: BlobStore, sha256: str, keys: Iterable[str], note: dict[str, object]) -> str:
    """Write the intent marker (before any file) and return its key; ``note`` says what the upload was for."""
    marker_key = f"{PENDING}/{sha256}.{secrets.token_hex(6)}.json"
    body = {"sha256": sha256, "started_at": datetime.now(UTC).isoformat(), "keys": list(keys), **note}
    blobs.put(marker_key, json.dumps(body, indent=1).encode())
    return marker_key


def markers(blobs: BlobStore, sha256: str | None = None) -> list[IngestMarker]:
    """The ingests not settled yet (all, or those of one content hash), in key order."""
    prefix = f"{PENDING}/{sha256}." if sha256 else f"{PENDING}/"
    found = []
    for key in blobs.keys(prefix):
        sha = sha256_of_key(key)
        if sha is None:
            continue
        try:
            content = blobs.get(key)
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


@dataclass
class Ingest:
    """One ingest between its marker and its settlement; keeps the bytes to restore files after the commit.

    ``rows`` is the mapped class whose rows use the files: a row of it with this ``sha256`` (deleted or
    not) keeps the files when an ingest of the same content does not commit.
    """

    blobs: BlobStore
    sha256: str
    files: tuple[tuple[str, bytes], ...]
    rows: type[RowsWithContent]
    marker_key: str
    transaction: SessionTransaction | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _content in self.files)

    def within(self, transaction: SessionTransaction) -> bool:
        current = self.transaction
        while current is not None:
            if current is transaction:
                return True
            current = current.parent
        return False


def begin(
    session: Session,
    blobs: BlobStore,
    sha256: str,
    files: Iterable[tuple[str, bytes]],
    rows: type[RowsWithContent],
    note: dict[str, object],
) -> Ingest:
    """Write the marker, then every file (``(key, bytes)`` pairs), and return the ingest, not yet tracked.

    Every file is written even when it exists already: the write is atomic, and the existing copy may be
    removed at any moment by a concurrent upload of the same content that does not commit. If a write
    fails the ingest is discarded before the error propagates. Call ``track`` once the row is certain to
    be added, or ``discard`` when the caller refuses the upload after all.
    """
    ingest = Ingest(blobs, sha256, tuple(files), rows, "")
    ingest.marker_key = write_marker(blobs, sha256, ingest.keys, note)
    try:
        for key, content in ingest.files:
            blobs.put(key, content)
    except BaseException:
        discard(ingest, session)
        raise
    return ingest


def track(session: Session, ingest: Ingest) -> None:
    """Tie ``ingest`` to ``session``'s current transaction: ``settle`` after its commit, ``discard`` when it
    (or the savepoint it was begun in) rolls back or the session closes without committing."""
    _watch(session)
    ingest.transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING_INGESTS, []).append(ingest)


def settle(ingest: Ingest) -> None:
    """After the commit: make sure every file is there, then drop the marker.

    A file can be missing here only if a concurrent, rolled-back upload of the same content removed it
    while this one was in flight; the bytes are still at hand, so it is written again. Never raises.
    """
    blobs = ingest.blobs
    try:
        for key, content in ingest.files:
            if not blobs.exists(key):
                blobs.put(key, content)
        blobs.delete(ingest.marker_key)
    except Exception:
        # The row is committed; a failure here must not look like a failed upload. The marker stays and
        # the consistency check reports it.
        log.exception("could not settle ingest %s", ingest.marker_key)


def discard(ingest: Ingest, session: Session, *, ask_session: bool | None = None) -> None:
    """Without a committed row: remove the files no one else uses, then the marker (in that order, so a
    crash in between still leaves the marker explaining what remains). Never raises."""
    blobs = ingest.blobs
    try:
        others = [m for m in markers(blobs, ingest.sha256) if m.key != ingest.marker_key]
        if ask_session is None:
            ask_session = session.in_transaction()
        if not others and not _rows_use(session, ingest, ask_session):
            for key in ingest.keys:
                blobs.delete(key)
        blobs.delete(ingest.marker_key)
    except Exception:
        log.exception("could not clean up ingest %s; the consistency check will report it", ingest.marker_key)


def _rows_use(session: Session, ingest: Ingest, ask_session: bool) -> bool:
    """Whether any row (deleted or not) uses the ingest's content.

    While the caller's transaction is still open the question goes through it: it sees that
    transaction's own rows, and on SQLite a second connection would wait for the write lock this one
    holds. Once the transaction is over, a connection of its own asks: an ambiguous commit failure (the
    connection dropped during COMMIT) may in fact have committed the row, and then the files must stay.
    """
    query = select(ingest.rows.id).where(ingest.rows.sha256 == ingest.sha256).limit(1)
    if ask_session:
        with session.no_autoflush:
            return session.scalar(query) is not None
    engine = session.get_bind(mapper=ingest.rows).engine  # an Engine's .engine is itself
    with engine.connect() as connection:
        return connection.scalar(query) is not None


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
        settle(ingest)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back: ingests begun inside it lost their rows, even if the outer one commits."""
    pending = session.info.get(_PENDING_INGESTS, [])
    discarded = [ingest for ingest in pending if ingest.within(previous)]
    for ingest in discarded:
        pending.remove(ingest)
        discard(ingest, session, ask_session=session.is_active)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended without a commit (rolled back, or the session closed)."""
    if transaction.parent is not None:
        return
    for ingest in session.info.pop(_PENDING_INGESTS, []):
        discard(ingest, session, ask_session=False)


# --- after a crash: what the consistency check reports and repairs ------------------------------------------


@dataclass(frozen=True)
class InterruptedIngest:
    """An unsettled upload: its marker, and the files and partial writes it explains (no row uses them).

    ``marker_key`` is None when the process stopped while writing the marker itself.
    """

    marker_key: str | None
    sha256: str
    started_at: datetime | None
    files: tuple[str, ...] = ()
    partial_writes: tuple[str, ...] = ()


def unsettled(
    found: list[IngestMarker], unreferenced: set[str], partials: list[PartialWrite], now: datetime,
    grace: timedelta = GRACE,
) -> tuple[list[InterruptedIngest], list[InterruptedIngest], set[str]]:
    """Group a store's leftovers by upload: (interrupted, in progress, every key and partial write explained).

    Files and partial writes are matched to markers by the content hash in their names; a partial write in
    ``pending/`` is a marker that was being written when the process stopped (the marker comes first, so
    that upload wrote nothing else). Uploads whose newest marker is younger than ``grace`` are in progress.
    """
    interrupted: list[InterruptedIngest] = []
    in_progress: list[InterruptedIngest] = []
    explained: set[str] = set()
    by_sha: dict[str, list[IngestMarker]] = {}
    for marker in found:
        by_sha.setdefault(marker.sha256, []).append(marker)
    for sha, group in sorted(by_sha.items()):
        files = tuple(sorted(key for key in unreferenced if sha256_of_key(key) == sha))
        writes = tuple(sorted(p.name for p in partials if sha256_of_key(p.name) == sha))
        explained.update(files, writes)
        # The files belong to whichever upload of this content is still running; only when all are old
        # are they leftovers. Each marker is listed, the files once, with the oldest.
        group.sort(key=lambda m: m.started_at or datetime.min.replace(tzinfo=UTC))
        running = any(m.started_at is not None and now - m.started_at < grace for m in group)
        for index, marker in enumerate(group):
            item = InterruptedIngest(marker.key, sha, marker.started_at,
                                     files if index == 0 else (), writes if index == 0 else ())
            (in_progress if running else interrupted).append(item)
    for partial in partials:
        partial_sha = sha256_of_key(partial.name)
        if partial.name.startswith(f"{PENDING}/") and partial_sha and partial.name not in explained:
            explained.add(partial.name)
            item = InterruptedIngest(None, partial_sha, partial.started_at, (), (partial.name,))
            (in_progress if now - partial.started_at < grace else interrupted).append(item)
    return interrupted, in_progress, explained


def remove_leftovers(blobs: BlobStore, interrupted: Iterable[InterruptedIngest], stale: Iterable[str],
                     in_use: Callable[[str], bool]) -> list[str]:
    """The repair: remove each interrupted upload's files, partial writes and then its marker, and the stale
    temporary files; returns the keys and partial-write names removed, in that order.

    An upload's files stay when ``in_use(sha256)`` says a row uses its content, or when a marker of the same
    content that is not among ``interrupted`` exists (a new upload started since the report).
    """
    interrupted = tuple(interrupted)
    reported = {item.marker_key for item in interrupted}
    removed: list[str] = []
    for item in interrupted:
        newer = [m for m in markers(blobs, item.sha256) if m.key not in reported]
        if not newer and not in_use(item.sha256):
            for key in item.files:
                blobs.delete(key)
                removed.append(key)
        for name in item.partial_writes:
            blobs.discard_partial(name)
            removed.append(name)
        if item.marker_key:
            blobs.delete(item.marker_key)
            removed.append(item.marker_key)
    for name in stale:
        blobs.discard_partial(name)
        removed.append(name)
    return removed
