"""What a backup folder is, shared by writing, checking and restoring one.

Layout of a backup folder (readable without the app; folders 0700, files 0600 whatever the umask)::

    manifest.json        format, time, schema revision, each table's row count, and every other file's
                         path, size and SHA-256, signed with HMAC-SHA256 (``tracker.access.signing``). Written last:
                         a folder without it is an unfinished backup.
    tables/NAME.jsonl    one JSON object per row, every table of the schema, in foreign-key order
    files/photos/KEY     the photo store's files (originals, display copies, thumbnails)
    files/documents/KEY  batch documents (screening certificates) of treatment sessions

The manifest's signed bytes are ``_canonical``; writing a backup is ``tracker.operations.backup``, checking one
``tracker.operations.backup_verify``, restoring one ``tracker.operations.restore``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import make_url

from db.engine import PRIVATE_FILE_MODE, make_private_folders
from tracker.photos.store import photo_store
from tracker.records.batch_documents import document_key, document_store
from tracker.storage.blob_store import BlobStore
from tracker.validation import shown_path

FORMAT = "regrowth-tracker-backup/2"
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 64 * 1_048_576  # a manifest lists every file in ~150 bytes: 64 MB is ~400 000 files
SIGNATURE_ALGORITHM = "HMAC-SHA256"
SIGNED_AS = b"regrowth-tracker-backup-manifest/2\n"


def _stores() -> dict[str, BlobStore]:
    return {"photos": photo_store().blobs, "documents": document_store()}


def _files_of(table_name: str, row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(store, key) of every file a row references."""
    if table_name == "photo":
        return [("photos", row[column]) for column in ("original_key", "display_key", "thumbnail_key")]
    if table_name == "batch_document":
        return [("documents", document_key(row["sha256"], row["media_type"]))]
    return []




@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote or a restore brought back; ``key_advice`` is set when the backup created the key,
    ``anchor_problem`` when the backup is complete and audited but its audit anchor could not be written."""

    folder: Path
    rows: dict[str, int]
    files: int
    bytes: int
    key_advice: str | None = None
    anchor_problem: str | None = None

    def summary(self) -> str:
        total = sum(self.rows.values())
        return (f"Backup written to {shown_path(self.folder)}: {total} rows in {len(self.rows)} tables, "
                f"{self.files} files ({self.bytes / 1_048_576:.1f} MB).")


class _HashingWriter:
    """A new 0600 file that counts and hashes what is written to it."""

    def __init__(self, path: Path):
        make_private_folders(path.parent)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        os.fchmod(descriptor, PRIVATE_FILE_MODE)  # os.open's mode passes through the umask
        self.handle: IO[bytes] = os.fdopen(descriptor, "wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)

    def close(self) -> dict[str, Any]:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        return {"size": self.size, "sha256": self.digest.hexdigest()}


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    """The signed bytes: the domain, then the manifest without its signature, keys sorted, no spaces (the
    domain keeps an audit anchor's signature, made with the same key, from passing for a manifest's)."""
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return SIGNED_AS + json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
