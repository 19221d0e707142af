"""Anchors of the audit trail outside the database: the chain's head, signed, one line in a file of the data dir.

The hash chain (``tracker.access.audit``) shows an entry edited or removed in the middle. It cannot show the newest
entries deleted, the table emptied, or an entry rewritten with every later hash recomputed: what is left is a
valid chain. An anchor records the head (entry count, last id, last hash, time) where a database account
cannot reach it: one JSON line appended to ``<data dir>/audit-anchors.jsonl`` (mode 0600), signed with the
installation's key (``tracker.access.signing``). ``check`` compares the database with every anchor.

Anchors are written when an entry's id crosses a multiple of ``ANCHOR_EVERY`` (``audit.record``, once the
caller's transaction has ended), at the end of each backup (``write_anchor``) and by
``python -m tracker audit anchor``. What stays hidden: entries after the latest anchor, and whatever is
rewritten by someone who holds the key and the data dir as well (README, "Audit trail").
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import Engine

from db import models
from db.engine import engine_for, make_private_folders
from tracker.access.signing import FOR_ANCHORS, SigningKey, signing_key
from tracker.config import settings
from tracker.database import Reads, database_url, read_connection
from tracker.errors import ValidationError

ANCHOR_EVERY = 100  # entries between automatic anchors: at most this many recent entries are unanchored
ANCHOR_FILE_NAME = "audit-anchors.jsonl"
# Signed with the domain in front, so that no other signature of the same key (a backup manifest's) can pass
# for an anchor's.
SIGNED_AS = b"regrowth-tracker-audit-anchor/1\n"

_entry = models.Base.metadata.tables[models.AuditEntry.__tablename__]
_LAST = select(_entry.c.id, _entry.c.entry_hash).order_by(_entry.c.id.desc()).limit(1)
_COUNT = select(func.count()).select_from(_entry)
# The head in one statement, so one snapshot on both databases: count, last id and last hash agree (writers
# of the chain take its lock, so what is committed is always a prefix of the chain). No row: an empty trail.
_HEAD = select(_COUNT.scalar_subquery().label("entries"), _entry.c.id, _entry.c.entry_hash) \
    .order_by(_entry.c.id.desc()).limit(1)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchor:
    """The chain's head at ``at``: ``entries`` entries, the newest ``last_id`` with hash ``last_hash``
    (``None`` and ``""`` for an empty trail). ``reason``: "every 100 entries", "backup", "command", or
    "given" for a line passed to ``audit verify --head``."""

    entries: int
    last_id: int | None
    last_hash: str
    at: datetime
    reason: str

    def line(self) -> str:
        """The head as one line for another system's log, as ``parse_line`` reads it back.

        >>> Anchor(1234, 1234, "ab12", datetime(2026, 1, 5, 9, 30, tzinfo=UTC), "command").line()
        'entries=1234 last_id=1234 last_hash=ab12 at=2026-01-05T09:30:00Z'
        """
        return (f"entries={self.entries} last_id={self.last_id or 0} last_hash={self.last_hash or '-'} "
                f"at={_iso(self.at)}")

    def payload(self) -> bytes:
        fields = {"entries": self.entries, "last_id": self.last_id, "last_hash": self.last_hash,
                  "at": _iso(self.at), "reason": self.reason}
        return SIGNED_AS + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_line(line: str) -> Anchor:
    """An anchor from ``Anchor.line()``'s text, as kept in another system's log (no signature: that copy is
    trusted because it is kept apart).

    >>> parse_line("entries=3 last_id=7 last_hash=ab12 at=2026-01-05T09:30:00Z").last_id
    7
    """
    try:
        fields = dict(part.split("=", 1) for part in line.split())
        entries, last_id = int(fields["entries"]), int(fields["last_id"])
        at = datetime.strptime(fields["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        last_hash = fields["last_hash"]
        if entries < 0 or last_id < 0 or last_id and not entries or not (last_hash == "-" or last_hash.isalnum()):
            raise ValueError("not a head")
    except (KeyError, ValueError):
        raise ValidationError(f"{line!r} is not a head line as `audit anchor` prints it "
                              f"(entries=N last_id=N last_hash=HEX at=YYYY-MM-DDTHH:MM:SSZ).") from None
    return Anchor(entries, last_id or None, "" if last_hash == "-" else last_hash, at, "given")


def anchor_file(data_dir: Path | None = None) -> Path:
    return (data_dir or settings().data_dir) / ANCHOR_FILE_NAME


def unusable_file(path: Path) -> str | None:
    """Why ``path`` cannot be the anchor file (None when it is a regular file or is missing): anchors are read
    and appended only in a regular file of the data dir, never through a symbolic link."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return (f"the anchor file {path} is a symbolic link: anchors are kept only in a regular file of the data "
                f"dir; put the anchors file itself there (or move the link away)")
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        return f"the anchor file {path} is {kind}: anchors are kept only in a regular file; move it away"
    return None


def read_head(engine: Engine, reason: str) -> Anchor:
    """The committed head, read on a connection of its own in one statement.

    A plain DBAPI connection: the engine begins every SQLite transaction IMMEDIATE (db/engine.py), and a read
    that queued for the write lock behind a busy server's page views could wait long; under WAL one statement
    reads a committed snapshot without it, as it does on PostgreSQL.
    """
    sql = str(_HEAD.compile(engine, compile_kwargs={"literal_binds": True}))
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        row = cursor.fetchone()
        cursor.close()
    finally:
        connection.close()  # back to the pool, rolled back
    at = datetime.now(UTC)
    return Anchor(row[0], row[1], row[2], at, reason) if row else Anchor(0, None, "", at, reason)


def write_anchor(url: str | None = None, *, reason: str = "backup", data_dir: Path | None = None) -> Anchor:
    """Append the committed head of the trail at ``url`` (default: the configured database) to the anchor file
    of ``data_dir`` (default: the configured one), signed, and return it. Creates the signing key when there is
    none (``signing_key().advice()`` says what to do with it). Raises ValidationError when the key is unusable."""
    anchor = read_head(engine_for(url or database_url()), reason)
    _append(anchor_file(data_dir), anchor, signing_key(data_dir=data_dir))
    return anchor


def _append(path: Path, anchor: Anchor, key: SigningKey) -> None:
    """One line, one write() on an O_APPEND descriptor under an exclusive lock, fsynced: lines from several
    processes never interleave, and a line written is on disk."""
    record = json.loads(anchor.payload()[len(SIGNED_AS):])
    record["signature"] = key.sign(anchor.payload())
    data = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    make_private_folders(path.parent)
    if problem := unusable_file(path):
        raise ValidationError(f"No anchor written: {problem}.")
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW
    try:
        descriptor, created = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600), True
    except FileExistsError:
        descriptor, created = os.open(path, flags), False
    try:
        if created:
            os.fchmod(descriptor, 0o600)  # os.open's mode passes through the umask
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        while data:
            data = data[os.write(descriptor, data):]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)  # releases the lock
    if created:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the new file's name is durable too
        finally:
            os.close(folder)


# Automatic anchors: audit.record calls ``anchor_when_committed`` inside the caller's transaction. A thread
# waits for that transaction to end, then anchors what is committed (an entry rolled back is never anchored).
# One waiting thread per database and data dir is enough: it reads after the transactions it was asked for.
_waiting: set[tuple[int, Path]] = set()
_threads: list[threading.Thread] = []
_guard = threading.Lock()
_POLL_SECONDS = 0.005


def anchor_when_committed(connection: Connection) -> None:
    """Anchor the head once the transaction on ``connection`` has ended (from audit.record; returns at once)."""
    engine, data_dir = connection.engine, settings().data_dir
    with _guard:
        if (id(engine), data_dir) in _waiting:
            return
        _waiting.add((id(engine), data_dir))
        thread = threading.Thread(target=_anchor_committed, args=(connection, engine, data_dir),
                                  name="audit-anchor", daemon=True)
        _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    thread.start()


def _anchor_committed(connection: Connection, engine: Engine, data_dir: Path) -> None:
    try:
        while connection.in_transaction():  # only reads a flag of the caller's connection
            time.sleep(_POLL_SECONDS)
        with _guard:  # from here on, a later entry needs a thread of its own
            _waiting.discard((id(engine), data_dir))
        key = signing_key(data_dir=data_dir)
        if key.created:
            _log.warning(key.advice())
        _append(anchor_file(data_dir), read_head(engine, f"every {ANCHOR_EVERY} entries"), key)
    except Exception as error:  # a thread has no caller to tell: the log says it, the next crossing tries again
        _log.error("audit anchor not written: %s: %s", type(error).__name__, error)
    finally:
        with _guard:
            _waiting.discard((id(engine), data_dir))


def wait_for_automatic_anchors(timeout: float = 30) -> None:
    """Wait for the automatic anchors being written: at exit (a command ends right after its transaction),
    and in tests. Never call it inside a transaction that recorded an entry: that anchor waits for its end."""
    with _guard:
        threads = list(_threads)
    for thread in threads:
        thread.join(timeout)


atexit.register(wait_for_automatic_anchors)


# Reading the file and checking the database against it.

@dataclass(frozen=True)
class AnchorCheck:
    """The database against the anchor file: ``anchors`` signed lines checked (plus lines given on the
    command line), the ``latest`` of them, and one line per problem."""

    path: Path
    file_exists: bool
    anchors: int
    latest: Anchor | None
    problems: tuple[str, ...]


def read_anchors(path: Path, key: SigningKey) -> tuple[list[Anchor], list[str]]:
    """The genuine anchors of the file, and one problem per line that is unreadable or not signed by ``key``."""
    anchors: list[Anchor] = []
    problems: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)  # no line half-written by an anchor being appended
        lines = handle.readlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            anchor = Anchor(int(fields["entries"]), fields["last_id"], str(fields["last_hash"]),
                            datetime.strptime(fields["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
                            str(fields["reason"]))
            signature = fields["signature"]
        except (ValueError, KeyError, TypeError):
            problems.append(f"anchor line {number} of {path}: unreadable (edited or damaged)")
            continue
        if not key.verifies(anchor.payload(), signature):
            problems.append(f"anchor line {number} of {path}: its signature does not match "
                            f"(a forged or edited anchor, or one signed with another key)")
            continue
        anchors.append(anchor)
    return anchors, problems


def check(reads: Reads, given: list[Anchor] | tuple[Anchor, ...] = (), data_dir: Path | None = None) -> AnchorCheck:
    """The trail in the database against every genuine anchor of the file and every ``given`` one."""
    path = anchor_file(data_dir)
    problems: list[str] = []
    anchors: list[Anchor] = list(given)
    exists = os.path.lexists(path)
    if exists and (problem := unusable_file(path)):
        exists = False
        problems.append(f"the anchors cannot be checked: {problem}")
    if exists:
        try:
            key = signing_key(create=False, data_dir=data_dir, needed_for=FOR_ANCHORS)
        except ValidationError as error:
            key = None
            problems.append(f"the anchors cannot be checked: {error}")
        if key is not None:
            genuine, unreadable = read_anchors(path, key)
            anchors += genuine
            problems += unreadable
    if anchors:
        problems += _compare(read_connection(reads), anchors)
    latest = max(anchors, key=lambda a: (a.last_id or 0, a.entries, a.at)) if anchors else None
    return AnchorCheck(path, exists, len(anchors), latest, tuple(problems))


def _when(anchor: Anchor) -> str:
    return f"the anchor of {anchor.at.strftime('%Y-%m-%d %H:%M:%S')} UTC" + (
        " (given)" if anchor.reason == "given" else "")


def _compare(connection: Connection, anchors: list[Anchor]) -> list[str]:
    entries = connection.execute(_COUNT).scalar_one()
    newest = max(anchors, key=lambda a: (a.last_id or 0, a.entries))
    if entries == 0:
        if newest.entries:
            return [f"audit trail emptied: no entries left, {_when(newest)} recorded {newest.entries} "
                    f"(up to entry {newest.last_id})"]
        return []
    problems: list[str] = []
    last_id = connection.execute(_LAST).one().id  # the trail has entries
    if newest.last_id and last_id < newest.last_id:
        problems.append(f"newest entries deleted: the last entry is {last_id}, {_when(newest)} recorded entries "
                        f"up to {newest.last_id}")
    elif newest.last_id:
        up_to = connection.execute(_COUNT.where(_entry.c.id <= newest.last_id)).scalar_one()
        if up_to != newest.entries:
            problems.append(f"entries deleted or added: {up_to} entries up to entry {newest.last_id}, "
                            f"{_when(newest)} recorded {newest.entries}")
    problems += _rewritten(connection, [a for a in anchors if a.last_id and a.last_id <= last_id])
    return problems


def _rewritten(connection: Connection, anchors: list[Anchor]) -> list[str]:
    """One line naming the earliest anchor whose entry no longer has the anchored hash (each hash covers the
    whole chain before it, so a rewrite shows at every later anchor)."""
    anchored = [(a.last_id, a) for a in anchors if a.last_id is not None]  # an empty trail anchors no entry
    ids = sorted({last_id for last_id, _ in anchored})
    hashes: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = _entry.c.id.in_(ids[start:start + 500])
        hashes.update((row.id, row.entry_hash) for row in connection.execute(_LAST.limit(None).where(chunk)))
    wrong = sorted(((last_id, a) for last_id, a in anchored if hashes.get(last_id) != a.last_hash),
                   key=lambda pair: (pair[0], pair[1].at))
    if not wrong:
        return []
    first_id, first = wrong[0]
    sound_before = [last_id for last_id, _ in anchored if last_id < first_id]  # all sound: first is the earliest
    where = (f"between entries {max(sound_before) + 1} and {first_id}" if sound_before
             else f"at or before entry {first_id}")
    more = f"; {len(wrong) - 1} later anchor(s) disagree too" if len(wrong) > 1 else ""
    if first_id not in hashes:
        return [f"anchored entry removed: entry {first_id} is missing ({_when(first)}; the chain was "
                f"rewritten {where}){more}"]
    return [f"chain rewritten {where}: entry {first_id} does not have the hash {_when(first)} "
            f"recorded{more}"]
