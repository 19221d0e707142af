"""Backups that prove their own integrity, and a restore that is all or nothing.

Layout of a backup folder (readable without the app; folders 0700, files 0600 whatever the umask)::

    manifest.json        format, time, schema revision, each table's row count, and every other file's
                         path, size and SHA-256, signed with HMAC-SHA256 (``tracker.access.signing``). Written last:
                         a folder without it is an unfinished backup.
    tables/NAME.jsonl    one JSON object per row, every table of the schema, in foreign-key order
    files/photos/KEY     the photo store's files (originals, display copies, thumbnails)
    files/documents/KEY  batch documents (screening certificates) of treatment sessions

Taking a backup never holds the database's write lock: SQLite is copied with its online backup API into a
private file in the backup folder (one read snapshot; under WAL writers carry on) and the tables are read
from that copy; PostgreSQL is read in one REPEATABLE READ, READ ONLY transaction. Files are copied after
that: the stores never change or delete a file a committed row references (files are written before their
row, content-addressed; removals are soft), so every file the snapshot needs is there. Each backup ends by
anchoring the audit trail's head (``tracker.access.audit_anchor``).

Restore checks everything before it writes anything: the signature (the key of the installation that wrote
the backup is needed: ``TRACKER_BACKUP_KEY`` or ``<data dir>/backup.key``), every path, every file's size
and hash, nothing added, no symbolic link. It then replaces the whole installation the way an upload adds a
photo (``tracker.photos.store``): intent markers, then files (atomic puts), then the database in one
transaction (schema and rows), then the leftovers go. Killed at any point, the installation is the old one
or the restored one; what a kill leaves behind is what an interrupted upload leaves (``check`` explains it,
``check --repair`` removes it, with the journal, when the database was not replaced yet), and running the same
restore again finishes the job (``restore-journal.json`` in the data dir names the backup being restored and the
installation it started from: without ``--force`` it is finished only while the installation is still that
one, or already the backup's). Only the tracker's own tables are dropped (``tracker_tables``). After the
commit, and only then, the replaced audit trail's anchor file is set aside as
``audit-anchors.replaced-<time>.jsonl`` (its anchors describe a trail that is no longer there) and the restored
trail is anchored. A restore holds an exclusive lock on the data dir while it runs (``check`` tells a running
restore from an interrupted one by it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import sqlite3
import stat
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Iterator

from alembic import command
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Date, DateTime, MetaData, create_engine, func, insert, inspect, make_url, select, text

from db import models
from db.engine import MIGRATIONS, PRIVATE_FILE_MODE, PRIVATE_FOLDER_MODE, alembic_config, engine_for, make_private_folders
from tracker.access import audit
from tracker.access import audit_anchor
from tracker.access.actors import ADMIN, Actor, require_role
from tracker.storage.blob_store import BlobStore
from tracker.operations.config import settings
from tracker.operations.database import database_busy, database_url, transaction
from tracker.errors import ValidationError
from tracker.course.milestones import DEFAULT_PROTOCOL
from tracker.photos.store import photo_store
from tracker.access.signing import SigningKey, signing_key
from tracker.records.batch_documents import document_key, document_store
from tracker.storage.ingest import PENDING, sha256_of_key

FORMAT = "regrowth-tracker-backup/2"
MANIFEST = "manifest.json"
JOURNAL = "restore-journal.json"
MAX_MANIFEST_BYTES = 64 * 1_048_576  # a manifest lists every file in ~150 bytes: 64 MB is ~400 000 files
SIGNATURE_ALGORITHM = "HMAC-SHA256"
SIGNED_AS = b"regrowth-tracker-backup-manifest/2\n"
# Test hook, nothing else: ``TRACKER_TEST_KILL_AT=name:n`` ends the process with SIGKILL (as a power cut
# would) at the named point of a restore; tests/test_backup_atomic.py walks every point.
KILL_VARIABLE = "TRACKER_TEST_KILL_AT"

# What an installation's tables hold, in the words of the refusal message (singular, plural); clinical
# records first. A table missing here is named as it is.
_RECORD_WORDS = {
    "patient": ("patient", "patients"), "visit": ("visit", "visits"),
    "treatment_session": ("treatment session", "treatment sessions"), "photo": ("photo", "photos"),
    "batch_document": ("batch document", "batch documents"),
    "density_measurement": ("density measurement", "density measurements"),
    "scale_score": ("scale score", "scale scores"),
    "concurrent_therapy": ("concurrent therapy", "concurrent therapies"),
    "change_record": ("correction", "corrections"), "user_account": ("account", "accounts"),
    "protocol": ("protocol besides the default one", "protocols besides the default one"),
    "audit_entry": ("audit-trail entry", "audit-trail entries"),
    "sign_in_attempt": ("sign-in attempt", "sign-in attempts"),
}


def _kill_point(name: str, count: int | None = None) -> None:
    if os.environ.get(KILL_VARIABLE) == (name if count is None else f"{name}:{count}"):
        os.kill(os.getpid(), signal.SIGKILL)


def _stores() -> dict[str, BlobStore]:
    return {"photos": photo_store().blobs, "documents": document_store()}


def _files_of(table_name: str, row) -> list[tuple[str, str]]:
    """(store, key) of every file a row references."""
    if table_name == "photo":
        return [("photos", row[column]) for column in ("original_key", "display_key", "thumbnail_key")]
    if table_name == "batch_document":
        return [("documents", document_key(row["sha256"], row["media_type"]))]
    return []


def shown(path: str | Path) -> str:
    """A path as printable text: bytes of a name that are not UTF-8 appear as ``\\xNN`` (a folder name need not
    be UTF-8; the audit trail, the terminal and the database need text).

    >>> shown(Path(b"/tmp/bk-\\xff".decode("utf-8", "surrogateescape")))
    '/tmp/bk-\\\\xff'
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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
        return (f"Backup written to {shown(self.folder)}: {total} rows in {len(self.rows)} tables, "
                f"{self.files} files ({self.bytes / 1_048_576:.1f} MB).")


# --- writing a backup ------------------------------------------------------------------------------------

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

    def close(self) -> dict:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        return {"size": self.size, "sha256": self.digest.hexdigest()}


def _encode(value):
    """JSON for what the json module cannot write itself (``default=``): dates and times, ISO 8601."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be written to a backup")


_ROW = json.JSONEncoder(ensure_ascii=False, default=_encode)


def _dump_tables(connection: Connection, folder: Path) -> tuple[dict[str, int], dict[str, dict], set[tuple[str, str]]]:
    rows: dict[str, int] = {}
    entries: dict[str, dict] = {}
    keys: set[tuple[str, str]] = set()
    for table in models.Base.metadata.sorted_tables:
        path = f"tables/{table.name}.jsonl"
        out = _HashingWriter(folder / path)
        result = connection.execution_options(yield_per=5000).execute(
            select(table).order_by(*table.primary_key.columns))
        names = list(result.keys())
        count = 0
        for partition in result.partitions():
            records = [dict(zip(names, row)) for row in partition]
            out.write("".join(_ROW.encode(record) + "\n" for record in records).encode())
            for record in records:
                keys.update(_files_of(table.name, record))
            count += len(records)
        entries[path] = out.close()
        rows[table.name] = count
    return rows, entries, keys


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _snapshot(url: str, folder: Path) -> tuple[str, dict[str, int], dict[str, dict], set[tuple[str, str]]]:
    """The schema revision and every table, from one consistent read that never takes the write lock."""
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


def _canonical(manifest: dict) -> bytes:
    """The signed bytes: the domain, then the manifest without its signature, keys sorted, no spaces (the
    domain keeps an audit anchor's signature, made with the same key, from passing for a manifest's)."""
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return SIGNED_AS + json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _destination(destination: str | Path) -> Path:
    """The backup folder, checked: new or empty, a folder, outside the data dir (symbolic links resolved)."""
    folder = Path(destination).resolve()
    data_dir = settings().data_dir.resolve()
    if folder == data_dir or folder.is_relative_to(data_dir):
        raise ValidationError(f"{shown(folder)} is inside the data dir ({shown(data_dir)}): a backup there would be "
                              "lost with the installation it protects; choose a folder outside it.")
    try:
        if folder.exists() and not folder.is_dir():
            raise ValidationError(f"{shown(folder)} is a file, not a folder: choose a new folder for the backup.")
        if folder.exists() and any(folder.iterdir()):
            raise ValidationError(f"{shown(folder)} is not empty: choose a new folder for the backup.")
        make_private_folders(folder)
        os.chmod(folder, PRIVATE_FOLDER_MODE)  # also when it existed, empty
    except OSError as error:
        raise ValidationError(f"The backup folder {shown(folder)} cannot be made: "
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
        where = f" ({shown(error.filename)})" if error.filename else ""
        raise ValidationError(f"The backup to {shown(folder)} failed: {error.strerror or error}{where}. The "
                              "folder holds no complete backup (no manifest.json).") from None
    with transaction(url) as session:
        audit.record(session, actor, "export",
                     detail=f"backup to {shown(folder.name)}: {sum(rows.values())} rows, {len(keys)} files")
    problem = None
    try:
        audit_anchor.write_anchor(url, reason="backup")
    except (ValidationError, OSError) as error:
        problem = str(error) if isinstance(error, ValidationError) else f"{error.strerror or error}"
    return BackupResult(folder, rows, len(keys), total, key.advice() if key.created else None, problem)


def _write_backup(folder: Path, url: str, key: SigningKey) -> tuple[str, dict[str, int], int, set]:
    taken_at = datetime.now(timezone.utc)
    revision, rows, entries, keys = _snapshot(url, folder)
    stores = _stores()
    total = 0
    for store_name, file_key in sorted(keys):
        try:
            data = stores[store_name].get(file_key)
        except KeyError:
            raise ValidationError(f"The {store_name} store lacks {file_key}: run `python -m tracker check` "
                                  "first.") from None
        path = f"files/{store_name}/{file_key}"
        out = _HashingWriter(folder / path)
        out.write(data)
        entries[path] = out.close()
        total += len(data)
    manifest = {"format": FORMAT, "taken_at": taken_at.isoformat(), "schema_revision": revision, "rows": rows,
                "files": [{"path": path, **entry} for path, entry in sorted(entries.items())]}
    manifest["signature"] = {"algorithm": SIGNATURE_ALGORITHM, "value": key.sign(_canonical(manifest))}
    partial = _HashingWriter(folder / f"{MANIFEST}.partial")
    partial.write(json.dumps(manifest, indent=1).encode())
    partial.close()
    os.replace(folder / f"{MANIFEST}.partial", folder / MANIFEST)
    return revision, rows, total, keys


# --- checking a backup -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class VerifiedBackup:
    """A backup whose signature, paths, sizes and hashes were all checked; ``digest`` identifies it."""

    folder: Path
    digest: str
    taken_at: str
    revision: str
    rows: dict[str, int]
    files: dict[str, dict]  # path -> {"size", "sha256"}

    def stored(self, store_name: str) -> dict[str, dict]:
        """The backup's files of one store, by store key."""
        prefix = f"files/{store_name}/"
        return {path[len(prefix):]: entry for path, entry in self.files.items() if path.startswith(prefix)}


def _refuse(folder: Path, problems: list[str]) -> ValidationError:
    if len(problems) == 1:
        return ValidationError(f"Backup {folder} refused, nothing was restored: {problems[0]}.")
    return ValidationError(f"Backup {folder} refused, nothing was restored: {len(problems)} problems.", problems)


def _path_problem(path) -> str | None:
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
    entries: dict[str, dict] = {}
    for entry in files:
        path = entry.get("path") if isinstance(entry, dict) else None
        problem = _path_problem(path)
        if problem is None and path in entries:
            problem = f"the manifest lists {path} twice"
        if problem is None and not (isinstance(entry.get("size"), int) and isinstance(entry.get("sha256"), str)):
            problem = f"the manifest entry of {path} has no size or SHA-256"
        if problem:
            problems.append(problem)
        else:
            entries[path] = entry
    if problems:
        raise _refuse(folder, problems)
    signature = manifest.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != SIGNATURE_ALGORITHM:
        raise _refuse(folder, ["manifest.json carries no signature, so nothing proves the backup genuine"])
    if not key.verifies(_canonical(manifest), signature.get("value")):
        raise _refuse(folder, [f"manifest.json's signature does not match the signing key ({key.source}): the "
                               "manifest was changed, or the backup was signed with another installation's key"])
    known = {table.name for table in models.Base.metadata.sorted_tables}
    revision = manifest.get("schema_revision")
    try:
        if ScriptDirectory.from_config(alembic_config(url or database_url())).get_revision(revision) is None:
            revision = None
    except (CommandError, RevisionError):  # a revision this version's migrations do not know
        revision = None
    if revision is None or set(rows) - known:
        raise ValidationError(f"Backup {folder} was written by another version of Regrowth Tracker (schema "
                              f"{manifest.get('schema_revision')!r}): restore it with that version or a newer one.")
    for name in rows:
        if f"tables/{name}.jsonl" not in entries:
            problems.append(f"the manifest counts rows of {name} but lists no tables/{name}.jsonl")
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
    if problems:
        raise _refuse(folder, problems)
    return VerifiedBackup(folder, hashlib.sha256(_canonical(manifest)).hexdigest(), str(manifest.get("taken_at")),
                          revision, rows, entries)


# --- restoring ------------------------------------------------------------------------------------------

def installation_records(url: str) -> dict[str, int]:
    """What an installation holds besides what ``initialize`` seeds (the default protocol), by table."""
    if url.startswith("sqlite") and not _sqlite_path(url).exists():
        return {}
    counts: dict[str, int] = {}
    with engine_for(url).connect() as connection:
        existing = set(inspect(connection).get_table_names())
        for table in models.Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            query = select(func.count()).select_from(table)
            if table.name == "protocol":  # the seeded default protocol is set-up, not the clinic's data
                seeded = ((table.c.name == DEFAULT_PROTOCOL.name) & (table.c.created_by == "system")
                          & (table.c.version == 1))
                query = query.where(~seeded)
            count = connection.execute(query).scalar() or 0
            if count:
                counts[table.name] = count
        connection.rollback()
    return counts


def _describe(records: dict[str, int]) -> str:
    """
    >>> _describe({"audit_entry": 1, "patient": 3, "address_throttle": 1})
    '3 patients, 1 audit-trail entry, 1 row of address_throttle'
    """
    order = list(_RECORD_WORDS)
    named = sorted(records, key=lambda name: (order.index(name) if name in order else len(order), name))
    words = {name: _RECORD_WORDS.get(name, (f"row of {name}", f"rows of {name}")) for name in named}
    return ", ".join(f"{records[name]} {words[name][records[name] != 1]}" for name in named)


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``data``."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    out = _HashingWriter(partial)
    out.write(data)
    out.close()
    os.replace(partial, path)


def _marker_key(sha256: str, digest: str) -> str:
    # The photo store's intent-marker format (PhotoStore.begin_ingest), named after the backup so that
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
    started = datetime.now(timezone.utc).isoformat()
    markers = []
    for sha, group in sorted(by_sha.items()):
        marker = _marker_key(sha, digest)
        blobs.put(marker, json.dumps({"sha256": sha, "started_at": started, "keys": sorted(group),
                                      "restore": digest[:12]}, indent=1).encode())
        markers.append(marker)
    return markers


def _decode_row(table, row: dict) -> dict:
    decoded = {}
    for name, value in row.items():
        column = table.columns[name]
        if value is not None and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
            if column.type.timezone and value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)  # SQLite keeps UTC instants without their zone
        elif value is not None and isinstance(column.type, Date):
            value = date.fromisoformat(value)
        decoded[name] = value
    return decoded


def _rows(backup: VerifiedBackup, table_name: str, batch: int) -> Iterator[list[dict]]:
    """The rows of one table file in batches; the file is hashed again as it is read (it was checked before
    writing began, and must not have changed since)."""
    table = models.Base.metadata.tables[table_name]
    path = f"tables/{table_name}.jsonl"
    digest = hashlib.sha256()
    chunk: list[dict] = []
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
        names.update(re.findall(r"create_table\(\s*['\"](\w+)['\"]", script.read_text(encoding="utf-8")))
    return names


def _replace_database(backup: VerifiedBackup, url: str, actor: Actor, batch: int) -> None:
    """Schema and rows of the backup in place of the tracker's tables, in one transaction; other tables of the
    schema (another application's) are left alone."""
    with engine_for(url).begin() as connection:
        ours = sorted(set(inspect(connection).get_table_names()) & tracker_tables())
        existing = MetaData()
        existing.reflect(connection, only=ours)
        existing.drop_all(connection)
        _migrate_on(connection, url, backup.revision)
        for number, table in enumerate(models.Base.metadata.sorted_tables, 1):
            if table.name not in backup.rows:
                continue
            for chunk in _rows(backup, table.name, batch):
                connection.execute(insert(table), chunk)
            if connection.dialect.name == "postgresql" and "id" in table.columns:
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
            _kill_point("database", number)
        _migrate_on(connection, url, "head")
        audit.record(connection, actor, "restore", detail=_restore_detail(backup.digest, backup.taken_at))
        _kill_point("commit")


def _restore_detail(digest: str, taken_at: str = "") -> str:
    return f"restored backup {digest[:12]} taken {taken_at}"


_audit_table = models.AuditEntry.__table__


def installation_state(url: str) -> tuple[dict, tuple[str, str] | None]:
    """What a restore journal records of the installation before the restore starts (its records by table and
    the audit trail's head), and the newest audit entry's (action, detail), or None."""
    if url.startswith("sqlite") and not _sqlite_path(url).exists():
        return {"records": {}, "audit_head": None}, None
    with engine_for(url).connect() as connection:
        row = None
        if "audit_entry" in inspect(connection).get_table_names():
            row = connection.execute(select(_audit_table.c.id, _audit_table.c.entry_hash, _audit_table.c.action,
                                            _audit_table.c.detail).order_by(_audit_table.c.id.desc()).limit(1)).first()
        connection.rollback()
    fingerprint = {"records": installation_records(url), "audit_head": [row.id, row.entry_hash] if row else None}
    return fingerprint, ((row.action, row.detail or "") if row else None)


def restore_committed(newest: tuple[str, str] | None, digest: str) -> bool:
    """Whether the newest audit entry is the restore of the backup ``digest``: its transaction committed and
    nothing was written since (the installation is that backup's state)."""
    return newest is not None and newest[0] == "restore" and newest[1].startswith(_restore_detail(digest))


def read_journal(data_dir: Path) -> dict | None:
    """The unfinished restore's journal (backup digest, folder, start, the installation it saw), or None."""
    try:
        journal = json.loads((data_dir / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):
        return {}
    return journal if isinstance(journal, dict) else {}


def restore_running(data_dir: Path) -> bool:
    """Whether a restore is running on ``data_dir`` now (it holds the data dir's lock for its whole run)."""
    try:
        descriptor = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # releases a lock taken here


def _lock_data_dir(data_dir: Path) -> int:
    descriptor = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise ValidationError(f"Another restore is running on {data_dir}: wait for it to end.") from None
    return descriptor


def _busy(error: BaseException) -> ValidationError | None:
    reason = database_busy(error)
    if reason is None:
        return None
    return ValidationError(f"The database is busy ({reason}): another process (the app, a command) is using it. "
                           "Stop the app first, then run the same restore again; the database was not changed.")


def _set_aside(path: Path) -> None:
    """Rename ``path`` (the replaced trail's anchors) to ``<stem>.replaced-<time>[-n]<suffix>``, never over one
    set aside before."""
    stamp = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
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
        raise ValidationError(f"{shown(backup.folder)} is inside the data dir ({shown(data_dir.resolve())}), which a "
                              "restore replaces: move the backup outside it first.")
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
             fingerprint: dict) -> BackupResult:
    stores = _stores()
    wanted = {name: backup.stored(name) for name in stores}
    mine = {name: {_marker_key(sha256_of_key(key) or "", backup.digest) for key in wanted[name]} for name in stores}
    surplus = {name: sorted(key for key in blobs.keys() if key not in wanted[name] and key not in mine[name])
               for name, blobs in stores.items()}
    _write_private(journal_path, json.dumps({"backup": backup.digest, "folder": shown(backup.folder),
                                             "started_at": datetime.now(timezone.utc).isoformat(),
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
    return BackupResult(backup.folder, backup.rows, copied, total, anchor_problem=problem)
