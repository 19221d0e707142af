"""Where photo and document files live: one small interface, and its local-directory implementation.

Everything above this module (the crash-safe ingest in ``tracker.storage.ingest``, the photo and document
stores, pages, the consistency check) speaks ``BlobStore``: keys are relative, slash-separated names such as
``originals/ab/abcd….jpg``. The local implementation maps them onto files under one root directory, so the
store is easy to find and understand without the app; ``tracker.storage.s3_store.S3Store`` keeps them as the
objects of an S3-compatible bucket (partial writes are incomplete multipart uploads). Which one a clinic uses is
chosen in one place, ``tracker.storage.configured`` (``TRACKER_STORE_URL``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from db.engine import make_private_folders

_TEMPORARY_SUFFIX = ".partial"
BLOB_FILE_MODE = 0o640


def checked_key(key: str) -> str:
    """``key`` itself when it is a relative, slash-separated name; a key that could leave the store's root
    ("..", absolute, empty parts, backslashes, NUL) raises ValueError, whichever store it is for.

    >>> checked_key("originals/ab/abcd.jpg")
    'originals/ab/abcd.jpg'
    """
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or "\\" in key or "\x00" in key:
        raise ValueError(f"not a valid store key: {key!r}")
    return key


@dataclass(frozen=True)
class PartialWrite:
    """A write that never completed (the process stopped mid-file); ``name`` identifies it to the store."""

    name: str
    started_at: datetime


class BlobStore(Protocol):
    """Immutable blobs by key. ``put`` is atomic and durable: readers see the old state or the whole blob."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """The blob's bytes; raises KeyError when there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error (deletes are retried after crashes)."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every complete blob whose key starts with ``prefix``, in key order."""
        ...

    def partial_writes(self) -> Iterator[PartialWrite]: ...

    def discard_partial(self, name: str) -> None: ...


class LocalDirectoryStore:
    """Blobs as files under ``root``; each write goes to a temporary file in the same folder, is flushed to
    disk, and is then renamed over its final name (a rename within one folder is atomic on POSIX).

    Files are 0640 and folders 0700 whatever the umask (patients' photos and documents)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalDirectoryStore({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file of ``key``; a key that could leave the root ("..", absolute, empty parts) is refused."""
        return self.root / checked_key(key)

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        created = make_private_folders(target.parent)
        temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}{_TEMPORARY_SUFFIX}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, BLOB_FILE_MODE)
        try:
            os.fchmod(descriptor, BLOB_FILE_MODE)  # os.open's mode passes through the umask
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        # The rename is durable only once its folder is flushed too (and new folders in their parents).
        for folder in [target.parent, *created]:
            _fsync_folder(folder)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        target = self.path(key)
        try:
            target.unlink()
        except FileNotFoundError:
            return
        _fsync_folder(target.parent)

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return
        for folder, folders, files in os.walk(self.root):
            folders.sort()
            relative = Path(folder).relative_to(self.root).as_posix()
            for name in sorted(files):
                if name.startswith("."):
                    continue  # temporary files of writes in progress (or interrupted)
                key = name if relative == "." else f"{relative}/{name}"
                if key.startswith(prefix):
                    yield key

    def partial_writes(self) -> Iterator[PartialWrite]:
        if not self.root.is_dir():
            return
        for folder, _folders, files in os.walk(self.root):
            for name in sorted(files):
                if name.startswith(".") and name.endswith(_TEMPORARY_SUFFIX):
                    path = Path(folder) / name
                    try:
                        modified = path.stat().st_mtime
                    except FileNotFoundError:
                        continue  # the write just finished
                    yield PartialWrite(
                        path.relative_to(self.root).as_posix(),
                        datetime.fromtimestamp(modified, UTC),
                    )

    def discard_partial(self, name: str) -> None:
        path = self.root / name
        if not path.name.endswith(_TEMPORARY_SUFFIX) or ".." in Path(name).parts:
            raise ValueError(f"not a partial write: {name!r}")
        path.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
