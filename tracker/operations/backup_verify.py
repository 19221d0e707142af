"""Checking a backup completely before anything is restored from it, writing nothing: the signature (the key of
the installation that wrote the backup is needed: ``TRACKER_BACKUP_KEY`` or ``<data dir>/backup.key``), every
path, every file's size and hash, nothing added, no symbolic link, a schema this version knows.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from db import models
from db.engine import alembic_config
from tracker.access.signing import SigningKey
from tracker.database import database_url
from tracker.errors import ValidationError
from tracker.operations.backup_format import FORMAT, MANIFEST, MAX_MANIFEST_BYTES, SIGNATURE_ALGORITHM, _canonical


@dataclass(frozen=True)
class VerifiedBackup:
    """A backup whose signature, paths, sizes and hashes were all checked; ``digest`` identifies it."""

    folder: Path
    digest: str
    taken_at: str
    revision: str
    rows: dict[str, int]
    files: dict[str, dict[str, Any]]  # path -> {"size", "sha256"}

    def stored(self, store_name: str) -> dict[str, dict[str, Any]]:
        """The backup's files of one store, by store key."""
        prefix = f"files/{store_name}/"
        return {path[len(prefix):]: entry for path, entry in self.files.items() if path.startswith(prefix)}


def _refuse(folder: Path, problems: list[str]) -> ValidationError:
    if len(problems) == 1:
        return ValidationError(f"Backup {folder} refused, nothing was restored: {problems[0]}.")
    return ValidationError(f"Backup {folder} refused, nothing was restored: {len(problems)} problems.", problems)


def _path_problem(path: object) -> str | None:
    """Why a manifest path is not one a backup writes (None when it is)."""
    if not isinstance(path, str) or not path:
        return f"a manifest entry has no valid path ({path!r})"
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or "\x00" in path or any(p in ("", ".", "..") for p in parts):
        return f"the manifest names {path!r}, which leaves the backup folder"
    tables = {f"tables/{table.name}.jsonl" for table in models.Base.metadata.sorted_tables}
    if path not in tables and not (len(parts) > 2 and parts[0] == "files" and parts[1] in ("photos", "documents")):
        return f"the manifest names {path!r}, which is not a file a backup holds"
    return None


def _walk(folder: Path) -> tuple[set[str], list[str]]:
    """Every regular file under ``folder`` (relative paths), and the entries that are not plain files or folders."""
    found: set[str] = set()
    strange: list[str] = []
    for root, folders, names in os.walk(folder):
        for name in sorted(folders + names):
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                strange.append(f"{relative} is a symbolic link (a backup holds none)")
            elif stat.S_ISREG(mode):
                found.add(relative)
            elif not stat.S_ISDIR(mode):
                strange.append(f"{relative} is not a regular file")
    return found, strange


def _measure(path: Path) -> tuple[int, str, int]:
    """Size, SHA-256 and line count of a file."""
    digest = hashlib.sha256()
    size = lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
            lines += block.count(b"\n")
    return size, digest.hexdigest(), lines


def verify_backup(source: str | Path, key: SigningKey, url: str | None = None) -> VerifiedBackup:
    """Check a backup folder completely, writing nothing; raises ValidationError naming every problem."""
    folder = Path(source).resolve()
    present = _present_files(folder)
    manifest, files, rows = _read_manifest(folder)
    entries = _listed_entries(folder, files)
    _check_signature(folder, manifest, key)
    revision = _known_revision(folder, manifest, rows, url)
    problems = _content_problems(folder, present, entries, rows)
    if problems:
        raise _refuse(folder, problems)
    return VerifiedBackup(folder, hashlib.sha256(_canonical(manifest)).hexdigest(), str(manifest.get("taken_at")),
                          revision, rows, entries)


def _present_files(folder: Path) -> set[str]:
    """The files under ``folder``, once it is a folder of plain files that holds a manifest small enough to read."""
    if not folder.is_dir():
        raise ValidationError(f"{folder} is not a folder: give the folder a backup was written to.")
    present, problems = _walk(folder)
    if problems:
        raise _refuse(folder, problems)
    if MANIFEST not in present:
        raise ValidationError(f"{folder} holds no complete backup (manifest.json is missing).")
    size = (folder / MANIFEST).stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise _refuse(folder, [f"manifest.json is {size / 1_048_576:.0f} MB, more than a backup's manifest can be "
                               f"({MAX_MANIFEST_BYTES // 1_048_576} MB); it was not read"])
    return present


def _read_manifest(folder: Path) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    """The manifest of this version's format, with its list of files and its row counts by table."""
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
        files = manifest["files"]
        rows = manifest["rows"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: nested a hundred thousand deep
        raise _refuse(folder, ["manifest.json is not a readable manifest"]) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValidationError(f"{folder} is not a Regrowth Tracker backup this version can read "
                              f"(format {manifest.get('format') if isinstance(manifest, dict) else None!r}).")
    if not isinstance(files, list) or not isinstance(rows, dict):
        raise _refuse(folder, ["manifest.json is not a readable manifest"])
    return manifest, files, rows


def _listed_entries(folder: Path, files: list[Any]) -> dict[str, dict[str, Any]]:
    """The manifest's file entries by path, each with a path a backup writes, a size and a SHA-256."""
    entries: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for entry in files:
        problem = _entry_problem(entry, entries)
        if problem:
            problems.append(problem)
        else:
            entries[entry["path"]] = entry
    if problems:
        raise _refuse(folder, problems)
    return entries


def _entry_problem(entry: Any, entries: dict[str, dict[str, Any]]) -> str | None:
    """Why one manifest entry is not a file a backup lists (None when it is one)."""
    path = entry.get("path") if isinstance(entry, dict) else None
    problem = _path_problem(path)
    if problem is None and path in entries:
        problem = f"the manifest lists {path} twice"
    if problem is None and not (isinstance(entry.get("size"), int) and isinstance(entry.get("sha256"), str)):
        problem = f"the manifest entry of {path} has no size or SHA-256"
    return problem


def _check_signature(folder: Path, manifest: dict[str, Any], key: SigningKey) -> None:
    signature = manifest.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != SIGNATURE_ALGORITHM:
        raise _refuse(folder, ["manifest.json carries no signature, so nothing proves the backup genuine"])
    value = signature.get("value")
    if not isinstance(value, str) or not key.verifies(_canonical(manifest), value):
        raise _refuse(folder, [f"manifest.json's signature does not match the signing key ({key.source}): the "
                               "manifest was changed, or the backup was signed with another installation's key"])


def _known_revision(folder: Path, manifest: dict[str, Any], rows: dict[str, Any], url: str | None) -> str:
    """The backup's schema revision, when this version's migrations know it and every table it counts."""
    known = {table.name for table in models.Base.metadata.sorted_tables}
    revision = manifest.get("schema_revision")
    if not isinstance(revision, str) or not _migrations_know(revision, url) or set(rows) - known:
        raise ValidationError(f"Backup {folder} was written by another version of Regrowth Tracker (schema "
                              f"{manifest.get('schema_revision')!r}): restore it with that version or a newer one.")
    return revision


def _migrations_know(revision: str, url: str | None) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config(url or database_url())).get_revision(revision) is not None
    except (CommandError, RevisionError):  # a revision this version's migrations do not know
        return False


def _content_problems(folder: Path, present: set[str], entries: dict[str, dict[str, Any]],
                      rows: dict[str, Any]) -> list[str]:
    """What differs between the folder and its manifest: files missing, added, truncated, changed, miscounted."""
    problems = [f"the manifest counts rows of {name} but lists no tables/{name}.jsonl"
                for name in rows if f"tables/{name}.jsonl" not in entries]
    for path in sorted(present - set(entries) - {MANIFEST}):
        problems.append(f"{path} was added: the manifest does not list it")
    for path, entry in sorted(entries.items()):
        if path not in present:
            problems.append(f"{path} is missing")
            continue
        size, sha256, lines = _measure(folder / path)
        if size < entry["size"]:
            problems.append(f"{path} is truncated ({size} of {entry['size']} bytes)")
        elif size != entry["size"] or sha256 != entry["sha256"]:
            problems.append(f"{path} was changed (its size or SHA-256 differs from the manifest's)")
        elif path.startswith("tables/") and lines != rows.get(path[len("tables/"):-len(".jsonl")]):
            problems.append(f"{path} holds {lines} rows, the manifest counts another number")
    return problems
