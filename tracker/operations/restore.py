"""A restore that is all or nothing.

Restore checks everything before it writes anything: the signature (the key of the installation that wrote the
backup is needed: ``TRACKER_BACKUP_KEY`` or ``<data dir>/backup.key``), every path, every file's size and hash,
nothing added, no symbolic link (``tracker.operations.backup_verify``). It then replaces the whole installation
the way an upload adds a photo (``tracker.photos.store``): intent markers, then files (atomic puts), then the
database in one transaction (schema and rows), then the leftovers go. Killed at any point, the installation is the
old one or the restored one; what a kill leaves behind is what an interrupted upload leaves (``check`` explains
it, ``check --repair`` removes it, with the journal, when the database was not replaced yet), and running the same
restore again finishes the job (``restore-journal.json`` in the data dir names the backup being restored and the
installation it started from: without ``--force`` it is finished only while the installation is still that one, or
already the backup's). Only the tracker's own tables are dropped (``tracker_tables``). After the commit, and only
then, the replaced audit trail's anchor file is set aside as ``audit-anchors.replaced-<time>.jsonl`` (its anchors
describe a trail that is no longer there) and the restored trail is anchored. A restore holds an exclusive lock on
the data dir while it runs (``check`` tells a running restore from an interrupted one by it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import warnings
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, Date, DateTime, MetaData, Table, insert, inspect, text
from sqlalchemy.exc import SAWarning

from db import models
from db.engine import MIGRATIONS, alembic_config, engine_for, make_private_folders
from tracker.access import audit, audit_anchor
from tracker.access.actors import ADMIN, Actor, require_role
from tracker.access.signing import signing_key
from tracker.config import settings
from tracker.database import database_busy, database_url
from tracker.errors import ValidationError
from tracker.operations.backup_format import BackupResult, _stores
from tracker.operations.backup_verify import VerifiedBackup, _refuse, verify_backup
from tracker.operations.restore_journal import (
    JOURNAL,
    _describe,
    _lock_data_dir,
    _restore_detail,
    _write_private,
    installation_records,
    installation_state,
    read_journal,
    restore_committed,
)
from tracker.photos.aligned_pairs import prune_aligned
from tracker.storage.blob_store import BlobStore
from tracker.storage.ingest import PENDING, sha256_of_key
from tracker.validation import shown_path

# Test hook, nothing else: ``TRACKER_TEST_KILL_AT=name:n`` ends the process with SIGKILL (as a power cut
# would) at the named point of a restore; tests/test_restore_atomic.py walks every point.
KILL_VARIABLE = "TRACKER_TEST_KILL_AT"

log = logging.getLogger(__name__)


def _kill_point(name: str, count: int | None = None) -> None:
    if os.environ.get(KILL_VARIABLE) == (name if count is None else f"{name}:{count}"):
        os.kill(os.getpid(), signal.SIGKILL)


def _marker_key(sha256: str, digest: str) -> str:
    # The ingest's intent-marker format (tracker.storage.ingest), named after the backup so that
    # running the same restore again rewrites the same markers.
    return f"{PENDING}/{sha256}.restore-{digest[:12]}.json"


def _mark(blobs: BlobStore, keys: list[str], digest: str) -> list[str]:
    """One intent marker per photo or document hash among ``keys``: what ``check`` needs to explain files
    that no row references yet (restored, before the commit) or any more (replaced, after it)."""
    by_sha: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        sha = sha256_of_key(key)
        if sha and not key.startswith(f"{PENDING}/"):
            by_sha[sha].append(key)
    started = datetime.now(UTC).isoformat()
    markers = []
    for sha, group in sorted(by_sha.items()):
        marker = _marker_key(sha, digest)
        blobs.put(marker, json.dumps({"sha256": sha, "started_at": started, "keys": sorted(group),
                                      "restore": digest[:12]}, indent=1).encode())
        markers.append(marker)
    return markers


def _decode_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    decoded = {}
    for name, value in row.items():
        column = table.columns[name]
        if value is not None and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
            if column.type.timezone and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)  # SQLite keeps UTC instants without their zone
        elif value is not None and isinstance(column.type, Date):
            value = date.fromisoformat(value)
        decoded[name] = value
    return decoded


def _rows(backup: VerifiedBackup, table_name: str, batch: int) -> Iterator[list[dict[str, Any]]]:
    """The rows of one table file in batches; the file is hashed again as it is read (it was checked before
    writing began, and must not have changed since)."""
    table = models.Base.metadata.tables[table_name]
    path = f"tables/{table_name}.jsonl"
    digest = hashlib.sha256()
    chunk: list[dict[str, Any]] = []
    with (backup.folder / path).open("rb") as lines:
        for line in lines:
            digest.update(line)
            chunk.append(_decode_row(table, json.loads(line)))
            if len(chunk) >= batch:
                yield chunk
                chunk = []
    if digest.hexdigest() != backup.files[path]["sha256"]:
        raise _refuse(backup.folder, [f"{path} changed while it was being restored"])
    if chunk:
        yield chunk


def _migrate_on(connection: Connection, url: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection  # inside the caller's transaction (env.py)
    command.upgrade(config, revision)


def tracker_tables() -> set[str]:
    """The names of the tables this application owns: today's models, Alembic's version table, and every table
    a migration ever created (an older schema's). A restore drops these and nothing else of the schema."""
    names = set(models.Base.metadata.tables) | {"alembic_version"}
    for script in (MIGRATIONS / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        names.update(re.findall(r"create_table\(\s*['\"](\w+)['\"]", source))
        names.update(re.findall(r"CREATE VIRTUAL TABLE (\w+)", source))  # SQLite's text index (0010)
    return names


def _reflected(connection: Connection, names: list[str]) -> MetaData:
    """The tables ``names`` as the database holds them. SQLite cannot read back the lot lookup's expression index
    (``ix_treatment_session_lot_key``); SQLAlchemy's warning of it is left out, since nothing here needs the
    index and a restore's output is for people."""
    found = MetaData()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", SAWarning)
        found.reflect(connection, only=names)
    return found


def _replace_database(backup: VerifiedBackup, url: str, actor: Actor, batch: int) -> None:
    """Schema and rows of the backup in place of the tracker's tables, in one transaction; other tables of the
    schema (another application's) are left alone."""
    with engine_for(url).begin() as connection:
        ours = sorted(set(inspect(connection).get_table_names()) & tracker_tables())
        _reflected(connection, ours).drop_all(connection)
        _migrate_on(connection, url, backup.revision)
        # The rows go in through the tables as they stand at the backup's revision: today's models would add their
        # defaults for columns a later migration made, which do not exist yet (a backup made before an upgrade).
        at_revision = _reflected(connection, [name for name in backup.rows if name in models.Base.metadata.tables])
        for number, table in enumerate(models.Base.metadata.sorted_tables, 1):
            if table.name not in backup.rows:
                continue
            for chunk in _rows(backup, table.name, batch):
                connection.execute(insert(at_revision.tables[table.name]), chunk)
            if connection.dialect.name == "postgresql" and "id" in table.columns:
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
            _kill_point("database", number)
        _migrate_on(connection, url, "head")
        audit.record(connection, actor, "restore", detail=_restore_detail(backup.digest, backup.taken_at))
        _kill_point("commit")


def _busy(error: BaseException) -> ValidationError | None:
    reason = database_busy(error)
    if reason is None:
        return None
    return ValidationError(f"The database is busy ({reason}): another process (the app, a command) is using it. "
                           "Stop the app first, then run the same restore again; the database was not changed.")


def _set_aside(path: Path) -> None:
    """Rename ``path`` (the replaced trail's anchors) to ``<stem>.replaced-<time>[-n]<suffix>``, never over one
    set aside before."""
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    for n in range(1000):
        target = path.with_name(f"{path.stem}.replaced-{stamp}{f'-{n}' if n else ''}{path.suffix}")
        if not os.path.lexists(target):
            os.rename(path, target)  # whatever it is (a file, or a folder or link put in its place)
            return
    raise ValidationError(f"Cannot set {path} aside: too many anchor files set aside this second.")


def restore(source: str | Path, actor: Actor, url: str | None = None, *, force: bool = False,
            batch: int = 2000) -> BackupResult:
    """Replace the installation (database and stored files) with a backup, all or nothing.

    Refused, before anything is written, when the backup fails a check, when there is no signing key, or
    when the installation holds records (anything besides the seeded default protocol) and ``force`` is
    not given. A restore of the same backup that was interrupted is finished without ``force`` only while the
    installation is still the one its journal saw before it started (records and audit head unchanged), or is
    already that backup's (the restore committed, nothing written since). A database busy with another
    writer (the app) is one ValidationError: stop the app first.
    """
    require_role(actor, ADMIN)
    try:
        return _checked_restore(source, actor, url or database_url(), force, batch)
    except Exception as error:
        busy = _busy(error)
        if busy is None:
            raise
        raise busy from None


def _checked_restore(source: str | Path, actor: Actor, url: str, force: bool, batch: int) -> BackupResult:
    data_dir = settings().data_dir
    backup = verify_backup(source, signing_key(create=False, data_dir=data_dir), url)
    if backup.folder.is_relative_to(data_dir.resolve()):
        raise ValidationError(f"{shown_path(backup.folder)} is inside the data dir ({shown_path(data_dir.resolve())}), "
                              "which a restore replaces: move the backup outside it first.")
    journal_path = data_dir / JOURNAL
    journal = read_journal(data_dir) or {}
    fingerprint, newest = installation_state(url)
    same_backup = journal.get("backup") == backup.digest
    resuming = same_backup and (journal.get("installation") == fingerprint
                                or restore_committed(newest, backup.digest))
    records = {} if resuming else installation_records(url)
    if records and not force:
        if same_backup:
            raise ValidationError(
                f"An unfinished restore of this backup (started {journal.get('started_at')}) cannot be finished "
                f"without --force: the installation has changed since it started and holds records "
                f"({_describe(records)}). Add --force to replace it with the backup.")
        raise ValidationError(
            f"This installation already holds records ({_describe(records)}); a restore replaces everything. "
            "Restore into a new installation, or add --force to replace this one with the backup.")
    _kill_point("verified")

    make_private_folders(data_dir, tighten=True)
    lock = _lock_data_dir(data_dir)
    try:
        if url.startswith("sqlite"):  # the write lock free now, or say so before anything is written
            with engine_for(url).begin():
                pass
        return _restore(backup, actor, url, batch, data_dir, journal_path,
                        journal.get("installation") if resuming else fingerprint)
    finally:
        os.close(lock)


def _restore(backup: VerifiedBackup, actor: Actor, url: str, batch: int, data_dir: Path, journal_path: Path,
             fingerprint: dict[str, Any] | None) -> BackupResult:
    """``fingerprint``: the installation as the journal records it before the restore began (None when the
    journal of a restore that committed lacks it)."""
    stores = _stores()
    wanted = {name: backup.stored(name) for name in stores}
    mine = {name: {_marker_key(sha256_of_key(key) or "", backup.digest) for key in wanted[name]} for name in stores}
    surplus = {name: sorted(key for key in blobs.keys()  # noqa: SIM118 a BlobStore, not a dict: no iteration
                            if key not in wanted[name] and key not in mine[name])
               for name, blobs in stores.items()}
    _write_private(journal_path, json.dumps({"backup": backup.digest, "folder": shown_path(backup.folder),
                                             "started_at": datetime.now(UTC).isoformat(),
                                             "installation": fingerprint}).encode())
    _kill_point("journal")
    markers = {name: _mark(blobs, [*wanted[name], *surplus[name]], backup.digest) for name, blobs in stores.items()}
    total = copied = 0
    for name, blobs in stores.items():
        for key, entry in sorted(wanted[name].items()):
            data = (backup.folder / "files" / name / key).read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise _refuse(backup.folder, [f"files/{name}/{key} changed while it was being restored"])
            if not blobs.exists(key) or hashlib.sha256(blobs.get(key)).hexdigest() != entry["sha256"]:
                blobs.put(key, data)
            total += len(data)
            copied += 1
            _kill_point("files", copied)

    _replace_database(backup, url, actor, batch)
    _kill_point("committed")
    # Only now is the old trail gone: its anchors are set aside (kept, no longer the ones to check against),
    # and the restored trail gets an anchor of its own.
    anchors = audit_anchor.anchor_file(data_dir)
    if os.path.lexists(anchors):
        _set_aside(anchors)
    _kill_point("anchors")
    problem = None
    try:
        audit_anchor.write_anchor(url, reason="restore", data_dir=data_dir)
    except (ValidationError, OSError) as error:  # the restore is committed: say so, and what failed after it
        problem = str(error) if isinstance(error, ValidationError) else f"{error.strerror or error}"
    # The accounts it listed were replaced: its passwords are stale, and may be another clinic's.
    (data_dir / "demo-accounts.txt").unlink(missing_ok=True)
    removed = 0
    for name, blobs in stores.items():
        for key in [*surplus[name], *markers[name]]:
            blobs.delete(key)
            removed += 1
            _kill_point("cleanup", removed)
    journal_path.unlink(missing_ok=True)
    # Aligned before/after copies of photos the restored installation does not hold would be their only trace.
    try:
        prune_aligned(url)
    except Exception as error:  # the restore is done; derived copies wait for the next check
        log.warning("aligned copies not pruned after the restore [%s: %s]; `check` removes them",
                    type(error).__name__, error)
    return BackupResult(backup.folder, backup.rows, copied, total, anchor_problem=problem)
