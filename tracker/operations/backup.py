"""Writing a backup that proves its own integrity (the folder's layout: ``tracker.operations.backup_format``).

Taking a backup never holds the database's write lock: SQLite is copied with its online backup API into a
private file in the backup folder (one read snapshot; under WAL writers carry on) and the tables are read
from that copy; PostgreSQL is read in one REPEATABLE READ, READ ONLY transaction. Files are copied after
that: the stores never change or delete a file a committed row references (files are written before their
row, content-addressed; removals are soft), so every file the snapshot needs is there. Each backup ends by
anchoring the audit trail's head (``tracker.access.audit_anchor``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, select, text

from db import models
from db.engine import PRIVATE_FILE_MODE, PRIVATE_FOLDER_MODE, engine_for, make_private_folders
from tracker.access import audit, audit_anchor
from tracker.access.actors import ADMIN, Actor, require_role
from tracker.access.signing import SigningKey, signing_key
from tracker.config import settings
from tracker.database import database_url, transaction
from tracker.errors import ValidationError
from tracker.operations.backup_format import (
    FORMAT,
    MANIFEST,
    SIGNATURE_ALGORITHM,
    BackupResult,
    _canonical,
    _files_of,
    _HashingWriter,
    _sqlite_path,
    _stores,
)
from tracker.storage.blob_store import BlobStore, LocalDirectoryStore
from tracker.validation import shown_path


def _encode(value: object) -> str:
    """JSON for what the json module cannot write itself (``default=``): dates and times, ISO 8601."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written to a backup")


_ROW = json.JSONEncoder(ensure_ascii=False, default=_encode)
# Files fetched at once from an object store: each GET takes tens of milliseconds, mostly waiting, and eight in
# flight halve a backup's fetching even from a Swift on the same busy machine (bench_s3_store.py: 100 display
# copies in 2.7 s instead of 5.0 s). From a folder the threads only cost (0.12 s instead of 0.02 s), so files
# are read one by one there. At most this many files are held in memory: 8 × 25 MB, the largest upload, is 200 MB.
_FETCHES_AT_ONCE = 8


def _dump_tables(
    connection: Connection, folder: Path,
) -> tuple[dict[str, int], dict[str, dict[str, Any]], set[tuple[str, str]]]:
    rows: dict[str, int] = {}
    entries: dict[str, dict[str, Any]] = {}
    keys: set[tuple[str, str]] = set()
    for table in models.Base.metadata.sorted_tables:
        path = f"tables/{table.name}.jsonl"
        out = _HashingWriter(folder / path)
        result = connection.execution_options(yield_per=5000).execute(
            select(table).order_by(*table.primary_key.columns))
        names = list(result.keys())
        count = 0
        for partition in result.partitions():
            records = [dict(zip(names, row, strict=True)) for row in partition]
            out.write("".join(_ROW.encode(record) + "\n" for record in records).encode())
            for record in records:
                keys.update(_files_of(table.name, record))
            count += len(records)
        entries[path] = out.close()
        rows[table.name] = count
    return rows, entries, keys


def _snapshot(
    url: str, folder: Path,
) -> tuple[str | None, dict[str, int], dict[str, dict[str, Any]], set[tuple[str, str]]]:
    """The schema revision (None when ``alembic_version`` is empty) and every table, from one consistent read
    that never takes the write lock."""
    if url.startswith("sqlite"):
        copy = folder / ".snapshot.sqlite"
        os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
        os.chmod(copy, PRIVATE_FILE_MODE)
        try:
            source = sqlite3.connect(_sqlite_path(url), timeout=15)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)  # all pages in one step: one read snapshot, writers carry on under WAL
                target.execute("PRAGMA journal_mode=DELETE")  # the copy is read once, by this process only
            finally:
                target.close()
                source.close()
            engine = create_engine(f"sqlite:///{copy}")
            try:
                with engine.connect() as connection:
                    revision = connection.execute(text("select version_num from alembic_version")).scalar()
                    return (revision, *_dump_tables(connection, folder))
            finally:
                engine.dispose()
        finally:
            for leftover in folder.glob(".snapshot.sqlite*"):
                leftover.unlink()
    with engine_for(url).connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            connection.execute(text("SET TRANSACTION READ ONLY"))
            revision = connection.execute(text("select version_num from alembic_version")).scalar()
            return (revision, *_dump_tables(connection, folder))


def _destination(destination: str | Path) -> Path:
    """The backup folder, checked: new or empty, a folder, outside the data dir (symbolic links resolved)."""
    folder = Path(destination).resolve()
    data_dir = settings().data_dir.resolve()
    if folder == data_dir or folder.is_relative_to(data_dir):
        raise ValidationError(f"{shown_path(folder)} is inside the data dir ({shown_path(data_dir)}): a backup there "
                              "would be lost with the installation it protects; choose a folder outside it.")
    try:
        if folder.exists() and not folder.is_dir():
            raise ValidationError(f"{shown_path(folder)} is a file, not a folder: choose a new folder for the backup.")
        if folder.exists() and any(folder.iterdir()):
            raise ValidationError(f"{shown_path(folder)} is not empty: choose a new folder for the backup.")
        make_private_folders(folder)
        os.chmod(folder, PRIVATE_FOLDER_MODE)  # also when it existed, empty
    except OSError as error:
        raise ValidationError(f"The backup folder {shown_path(folder)} cannot be made: "
                              f"{error.strerror or error}.") from None
    return folder


def backup(destination: str | Path, actor: Actor, url: str | None = None) -> BackupResult:
    """Write a signed backup into ``destination`` (a new or empty folder outside the data dir) while the app
    runs. Audited; the audit entry is written even when the anchor that follows cannot be
    (``BackupResult.anchor_problem``)."""
    require_role(actor, ADMIN)
    url = url or database_url()
    key = signing_key()
    make_private_folders(settings().data_dir, tighten=True)
    folder = _destination(destination)
    try:
        revision, rows, total, keys = _write_backup(folder, url, key)
    except OSError as error:
        where = f" ({shown_path(error.filename)})" if error.filename else ""
        raise ValidationError(f"The backup to {shown_path(folder)} failed: {error.strerror or error}{where}. The "
                              "folder holds no complete backup (no manifest.json).") from None
    with transaction(url) as session:
        audit.record(session, actor, "export",
                     detail=f"backup to {shown_path(folder.name)}: {sum(rows.values())} rows, {len(keys)} files")
    problem = None
    try:
        audit_anchor.write_anchor(url, reason="backup")
    except (ValidationError, OSError) as error:
        problem = str(error) if isinstance(error, ValidationError) else f"{error.strerror or error}"
    return BackupResult(folder, rows, len(keys), total, key.advice() if key.created else None, problem)


def _fetched(stores: dict[str, BlobStore], keys: list[tuple[str, str]]) -> Iterator[tuple[tuple[str, str], bytes]]:
    """Each (store, key) of ``keys`` with its bytes, in that order; ``_FETCHES_AT_ONCE`` at a time from an object store.
    Raises ValidationError for a file the store lacks."""

    def get(item: tuple[str, str]) -> bytes:
        try:
            return stores[item[0]].get(item[1])
        except KeyError:
            raise ValidationError(f"The {item[0]} store lacks {item[1]}: run `python -m tracker check` "
                                  "first.") from None

    if all(isinstance(store, LocalDirectoryStore) for store in stores.values()):
        yield from ((item, get(item)) for item in keys)
        return
    with ThreadPoolExecutor(max_workers=_FETCHES_AT_ONCE, thread_name_prefix="backup-fetch") as pool:
        for start in range(0, len(keys), _FETCHES_AT_ONCE):
            window = keys[start:start + _FETCHES_AT_ONCE]
            yield from zip(window, pool.map(get, window), strict=True)


def _write_backup(
    folder: Path, url: str, key: SigningKey,
) -> tuple[str | None, dict[str, int], int, set[tuple[str, str]]]:
    taken_at = datetime.now(UTC)
    revision, rows, entries, keys = _snapshot(url, folder)
    total = 0
    for (store_name, file_key), data in _fetched(_stores(), sorted(keys)):
        path = f"files/{store_name}/{file_key}"
        out = _HashingWriter(folder / path)
        out.write(data)
        entries[path] = out.close()
        total += len(data)
    manifest: dict[str, Any] = {
        "format": FORMAT, "taken_at": taken_at.isoformat(), "schema_revision": revision, "rows": rows,
        "files": [{"path": path, **entry} for path, entry in sorted(entries.items())],
    }
    manifest["signature"] = {"algorithm": SIGNATURE_ALGORITHM, "value": key.sign(_canonical(manifest))}
    partial = _HashingWriter(folder / f"{MANIFEST}.partial")
    partial.write(json.dumps(manifest, indent=1).encode())
    partial.close()
    os.replace(folder / f"{MANIFEST}.partial", folder / MANIFEST)
    return revision, rows, total, keys
