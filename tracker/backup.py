"""Backups: a consistent snapshot of the database and the stored files, taken while the app runs.

Layout of a backup folder (readable without the app)::

    manifest.json      schema revision, time, row counts, every file's key, size and SHA-256 (written last:
                       a folder without it is an unfinished backup and restore refuses it)
    tables/NAME.jsonl  one JSON object per row, tables in foreign-key order
    files/photos/KEY     the photo store's files (originals, display copies, thumbnails)
    files/documents/KEY  batch documents (screening certificates) of treatment sessions

Consistency: every table is read inside one read transaction (a snapshot on PostgreSQL with REPEATABLE
READ; on SQLite the transaction holds the write lock, so writers wait a moment). Files are copied after
that: the store never changes or deletes a file that a committed row references (files are written
before their row, content-addressed, and removals are soft), so every file the snapshot needs is there.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import Date, DateTime, func, insert, select, text
from sqlalchemy.orm import Session

from db import models
from db.engine import migrate, session_factory
from tracker import audit
from tracker.access import Actor
from tracker.blob_store import BlobStore
from tracker.database import database_url, transaction
from tracker.errors import ValidationError
from tracker.photo_store import photo_store
from tracker.treatment_sessions import document_key, document_store

FORMAT = "regrowth-tracker-backup/1"


def _stores() -> dict[str, BlobStore]:
    return {"photos": photo_store().blobs, "documents": document_store()}


def _files_of(table_name: str, row) -> list[tuple[str, str]]:
    """(store, key) of every file a row references."""
    if table_name == "photo":
        return [("photos", row[column]) for column in ("original_key", "display_key", "thumbnail_key")]
    if table_name == "batch_document":
        return [("documents", document_key(row["sha256"], row["media_type"]))]
    return []


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    rows: dict[str, int]
    files: int
    bytes: int

    def summary(self) -> str:
        total = sum(self.rows.values())
        return (f"Backup written to {self.folder}: {total} rows in {len(self.rows)} tables, "
                f"{self.files} files ({self.bytes / 1_048_576:.1f} MB).")


def _encode(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _snapshot(session: Session, tables_dir: Path) -> tuple[dict[str, int], set[tuple[str, str]]]:
    rows: dict[str, int] = {}
    keys: set[tuple[str, str]] = set()
    for table in models.Base.metadata.sorted_tables:
        count = 0
        with (tables_dir / f"{table.name}.jsonl").open("w", encoding="utf-8") as out:
            for row in session.execute(select(table).order_by(*table.primary_key.columns)).mappings():
                out.write(json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
                count += 1
                keys.update(_files_of(table.name, row))
        rows[table.name] = count
    return rows, keys


def backup(destination: str | Path, actor: Actor, url: str | None = None) -> BackupResult:
    """Write a backup into ``destination`` (a new or empty folder)."""
    from tracker.access import ADMIN, require_role

    require_role(actor, ADMIN)
    url = url or database_url()
    folder = Path(destination).resolve()
    if folder.exists() and any(folder.iterdir()):
        raise ValidationError(f"{folder} is not empty: choose a new folder for the backup.")
    tables_dir = folder / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    taken_at = datetime.now(timezone.utc)
    with session_factory(url)() as session:
        with session.begin():
            if session.bind.dialect.name == "postgresql":
                # One snapshot for every table, as the first statement of the transaction.
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            revision = session.execute(text("select version_num from alembic_version")).scalar()
            rows, keys = _snapshot(session, tables_dir)
    stores = _stores()
    files = []
    total = 0
    for store_name, key in sorted(keys):
        try:
            data = stores[store_name].get(key)
        except KeyError:
            raise ValidationError(f"The {store_name} store lacks {key}: run `python -m tracker check` first.") from None
        target = folder / "files" / store_name / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        files.append({"store": store_name, "key": key, "size": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
        total += len(data)
    manifest = {"format": FORMAT, "taken_at": taken_at.isoformat(), "schema_revision": revision,
                "rows": rows, "files": files}
    partial = folder / "manifest.json.partial"
    partial.write_text(json.dumps(manifest, indent=1))
    os.replace(partial, folder / "manifest.json")
    with transaction(url) as session:
        audit.record(session, actor, "export", detail=f"backup to {folder.name}: {sum(rows.values())} rows, {len(files)} files")
    return BackupResult(folder, rows, len(files), total)


def _decode_row(table, row: dict) -> dict:
    decoded = {}
    for name, value in row.items():
        column = table.columns[name]
        if value is not None and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, Date):
            value = date.fromisoformat(value)
        decoded[name] = value
    return decoded


def restore(source: str | Path, actor: Actor, url: str | None = None, *, batch: int = 2000) -> BackupResult:
    """Bring a backup back into an empty database and photo store (a new installation)."""
    from tracker.access import ADMIN, require_role

    require_role(actor, ADMIN)
    url = url or database_url()
    folder = Path(source).resolve()
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise ValidationError(f"{folder} holds no complete backup (manifest.json is missing).")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValidationError(f"{folder} is not a Regrowth Tracker backup this version can read.")
    problems = []
    for entry in manifest["files"]:
        path = folder / "files" / entry["store"] / entry["key"]
        if not path.exists() or _sha256(path) != entry["sha256"]:
            problems.append(f"file {entry['key']} is missing or damaged in the backup")
    if problems:
        raise ValidationError("The backup is damaged; nothing was restored.", problems)

    migrate(url, manifest["schema_revision"])
    with transaction(url) as session:
        if session.scalar(select(func.count(models.Patient.id))) or session.scalar(select(func.count(models.User.id))):
            raise ValidationError("The target database already holds data: restore into a new, empty installation.")
        for table in models.Base.metadata.sorted_tables:
            path = folder / "tables" / f"{table.name}.jsonl"
            if not path.exists():
                continue
            chunk = []
            with path.open(encoding="utf-8") as lines:
                for line in lines:
                    chunk.append(_decode_row(table, json.loads(line)))
                    if len(chunk) >= batch:
                        session.execute(insert(table), chunk)
                        chunk = []
            if chunk:
                session.execute(insert(table), chunk)
            if session.bind.dialect.name == "postgresql" and "id" in table.columns:
                session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
    stores = _stores()
    total = 0
    for entry in manifest["files"]:
        data = (folder / "files" / entry["store"] / entry["key"]).read_bytes()
        stores[entry["store"]].put(entry["key"], data)
        total += len(data)
    migrate(url)
    with transaction(url) as session:
        audit.record(session, actor, "restore", detail=f"restored backup taken {manifest['taken_at']}")
    return BackupResult(folder, manifest["rows"], len(manifest["files"]), total)
