"""Backup and restore through the command line, on SQLite and PostgreSQL: a clinic with photos, a batch
document, accounts, sign-in attempts and its audit trail comes back with every row and every file hash
identical, into a new installation (no data dir yet, or one just made by ``init``); an installation in use
is replaced only with ``--force``; the backup's files are private whatever the umask; the signing key is
made once and needed to restore. Tampering: test_backup_tamper.py; kills: test_backup_atomic.py.

The helpers here (``cli``, ``Installation``, ``make_clinic``, ``state_of``…) serve those two files too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from db import models
from db.engine import dispose_all, normalize_url
from tests import conftest
from tests.conftest import ROOT
from tracker.access.accounts import create_user, sign_in
from tracker.access.actors import Actor, command_line_actor
from tracker.errors import PermissionDenied
from tracker.operations.backup import backup, restore
from tracker.operations.consistency import run_check
from tracker.operations.database import transaction
from tracker.operations.demo import load_demo
from tracker.records.treatment_sessions import DocumentUpload, SessionEntry, log_session

ADMIN = command_line_actor("test")
KEY = "backup-key-for-tests-" + "7" * 32
TODAY = date(2026, 3, 1)


# --- helpers shared by the backup tests -------------------------------------------------------------------

@dataclass(frozen=True)
class Installation:
    """A data dir and a database URL: what ``python -m tracker`` runs against."""

    data_dir: Path
    url: str


def cli(where: Installation, *args: str, key: str | None = KEY, umask: int | None = None,
        **env: str) -> subprocess.CompletedProcess:
    """``python -m tracker ARGS`` in a fresh process against ``where``; ``key`` None: no TRACKER_BACKUP_KEY."""
    environment = {k: v for k, v in os.environ.items() if k not in ("TRACKER_BACKUP_KEY", "TRACKER_TEST_KILL_AT")}
    environment.update(TRACKER_DATA_DIR=str(where.data_dir), DATABASE_URL=where.url, **env)
    if key is not None:
        environment["TRACKER_BACKUP_KEY"] = key
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=600, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr


@pytest.fixture
def new_installation(db_url, tmp_path):
    """Makes installations that do not exist yet: a data dir not made, and a database with no tables (a
    fresh PostgreSQL schema when the test runs on PostgreSQL). Schemas are dropped afterwards."""
    schemas: list[str] = []

    def make(name: str) -> Installation:
        data_dir = tmp_path / name
        if db_url.startswith("sqlite"):
            return Installation(data_dir, f"sqlite:///{data_dir / 'tracker.db'}")
        schema = f"{conftest._PG_SCHEMA}_{name}"
        _run_on_server(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        base = conftest._postgres_base_url()
        assert base is not None  # the test runs on PostgreSQL
        return Installation(data_dir, f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}")

    yield make
    dispose_all()
    if schemas:
        _run_on_server(*(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE' for schema in schemas))


def _run_on_server(*statements: str) -> None:
    base = conftest._postgres_base_url()
    assert base is not None  # only PostgreSQL tests make schemas
    engine = create_engine(normalize_url(base))
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def make_clinic(url: str, limit: int = 3) -> None:
    """The demo clinic's first ``limit`` patients (photos), a batch document, an admin account with one
    failed sign-in, in the installation the environment points at."""
    load_demo(url, today=TODAY, limit=limit)
    log_session(Actor("dr.lee", "clinician"), "DEMO-0001",
                SessionEntry(date=date(2026, 2, 20), treatment="exosome", product="Exo", lot_number=f"EXO-{limit}"),
                [DocumentUpload("certificate.pdf", f"%PDF-1.4\n% certificate {limit}\n%%EOF\n".encode())],
                url=url, today=TODAY)
    create_user(ADMIN, username=f"head.{limit}", password="Tricho-logy-2026!", role="admin", url=url)
    with pytest.raises(PermissionDenied):
        sign_in(f"head.{limit}", "not the password", address="10.0.0.7", url=url)


def _plain(value):
    # SQLite hands back naive UTC datetimes, PostgreSQL aware ones: compare instants, naive UTC.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def rows_of(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (none for a database not made yet), read on an engine of its own."""
    if url.startswith("sqlite") and not Path(url.split("///", 1)[1]).exists():
        return {}
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            existing = set(inspect(connection).get_table_names())
            return {
                table.name: [tuple(_plain(v) for v in row)
                             for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
                for table in models.Base.metadata.sorted_tables if table.name in existing
            }
    finally:
        engine.dispose()


def stored_files(data_dir: Path) -> dict[str, str]:
    """SHA-256 of every file of the photo and document stores (``photos/…``, ``documents/…``)."""
    found = {}
    for store in ("photos", "documents"):
        for path in sorted((data_dir / store).rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                found[path.relative_to(data_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@dataclass(frozen=True)
class State:
    rows: dict[str, list[tuple]]
    files: dict[str, str]


def state_of(where: Installation) -> State:
    return State(rows_of(where.url), stored_files(where.data_dir))


def restored_from(state: State, expected: State) -> bool:
    """Whether ``state`` is ``expected`` restored: every row identical (the audit trail plus one entry, the
    restore's own) and every stored file there with its hash; leftovers of a kill may remain beside them."""
    rows = dict(state.rows)
    trail = rows.pop("audit_entry", [])
    wanted = dict(expected.rows)
    before = wanted.pop("audit_entry", [])
    if rows != wanted or trail[:len(before)] != before or [entry[5] for entry in trail[len(before):]] != ["restore"]:
        return False
    return all(state.files.get(path) == sha for path, sha in expected.files.items())


def assert_restored(where: Installation, expected: State) -> None:
    """``expected`` restored exactly: rows, and the stores hold its files and nothing else."""
    state = state_of(where)
    assert restored_from(state, expected), _difference(state, expected)
    assert state.files == expected.files
    assert cli(where, "check", "--grace-minutes", "0").returncode == 0
    assert not (where.data_dir / "restore-journal.json").exists()
    verified = cli(where, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The restore anchored the restored trail: verify checks against that anchor, not "no anchors yet".
    assert "checked against 1 anchor(s)" in verified.stdout, verified.stdout


def _difference(state: State, expected: State) -> str:
    tables = [name for name in expected.rows if state.rows.get(name) != expected.rows[name]]
    return f"tables that differ: {tables}; files missing: {sorted(set(expected.files) - set(state.files))[:5]}"


# --- tests -----------------------------------------------------------------------------------------------

def test_restore_into_a_new_installation_brings_back_every_row_and_file(clinic, tmp_path, new_installation):
    make_clinic(clinic)
    source = Installation(tmp_path / "data", clinic)
    expected = state_of(source)
    assert expected.rows["photo"] and expected.rows["batch_document"] and expected.rows["sign_in_attempt"]
    assert any(path.startswith("documents/") for path in expected.files)
    written = cli(source, "backup", str(tmp_path / "backup"))
    assert written.returncode == 0, written.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert set(manifest["rows"]) == {table.name for table in models.Base.metadata.sorted_tables}
    assert {entry["path"] for entry in manifest["files"]} == (
        {f"tables/{name}.jsonl" for name in manifest["rows"]} | {f"files/{path}" for path in expected.files})

    missing = new_installation("missing")  # no data dir, no database yet
    assert not missing.data_dir.exists()
    restored = cli(missing, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr
    assert_restored(missing, expected)

    initialised = new_installation("initialised")  # `init` seeded the default protocol
    assert cli(initialised, "init").returncode == 0
    assert [row[1] for row in rows_of(initialised.url)["protocol"]] == ["Exosome (default)"]
    restored = cli(initialised, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr
    assert_restored(initialised, expected)

    # Now the installation holds records: refused, naming them, and nothing changes; --force replaces it.
    before = state_of(initialised)
    again = cli(initialised, "restore", str(tmp_path / "backup"))
    assert again.returncode == 1
    no_traceback(again)
    assert "already holds records (3 patients," in again.stderr and "--force" in again.stderr
    assert state_of(initialised) == before
    forced = cli(initialised, "restore", str(tmp_path / "backup"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert_restored(initialised, expected)


def test_force_replaces_an_installation_in_use(clinic, tmp_path, new_installation, monkeypatch):
    make_clinic(clinic)
    source = Installation(tmp_path / "data", clinic)
    expected = state_of(source)
    assert cli(source, "backup", str(tmp_path / "backup")).returncode == 0

    other = new_installation("other")  # another clinic: one more patient and photos the backup lacks
    monkeypatch.setenv("TRACKER_DATA_DIR", str(other.data_dir))
    monkeypatch.setenv("DATABASE_URL", other.url)
    assert cli(other, "init").returncode == 0
    make_clinic(other.url, limit=4)
    assert cli(other, "backup", str(tmp_path / "other-backup")).returncode == 0  # anchors its audit trail
    before = state_of(other)
    assert set(before.files) - set(expected.files)

    refused = cli(other, "restore", str(tmp_path / "backup"))
    assert refused.returncode == 1
    no_traceback(refused)
    assert "4 patients" in refused.stderr and "1 account" in refused.stderr and "audit-trail entries" in refused.stderr
    assert state_of(other) == before

    # Another application's table in the same schema (or SQLite file) is none of the restore's business.
    _run_on(other.url, "CREATE TABLE other_app_notes (id integer primary key, note varchar(40))",
            "INSERT INTO other_app_notes VALUES (1, 'keep me')")
    (other.data_dir / "demo-accounts.txt").write_text("demo.admin  stale-password-of-replaced-accounts\n")
    if other.url.startswith("sqlite"):  # the app holds the write lock: one line, stop the app first
        holder = sqlite3.connect(other.url.split("///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            busy = cli(other, "restore", str(tmp_path / "backup"), "--force", TRACKER_BUSY_TIMEOUT_SECONDS="0.5")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        no_traceback(busy)
        assert busy.returncode == 1 and "database is busy" in busy.stderr and "Stop the app first" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1, busy.stderr
        assert state_of(other) == before and not (other.data_dir / "restore-journal.json").exists()

    forced = cli(other, "restore", str(tmp_path / "backup"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert_restored(other, expected)  # the other clinic's extra photos are gone, its anchors set aside
    assert list(other.data_dir.glob("audit-anchors.replaced-*.jsonl"))
    assert _run_on(other.url, "SELECT note FROM other_app_notes") == [("keep me",)]
    assert not (other.data_dir / "demo-accounts.txt").exists()  # its passwords were the replaced accounts'


def _run_on(url: str, *statements: str) -> list[tuple]:
    """Run ``statements`` on the database at ``url`` (an engine of its own); the last one's rows, if any."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as connection:
            for statement in statements:
                result = connection.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_backup_files_are_private_whatever_the_umask(sqlite_clinic, tmp_path):
    make_clinic(sqlite_clinic, limit=1)
    source = Installation(tmp_path / "data", sqlite_clinic)
    os.chmod(source.data_dir, 0o777)  # a data dir made by hand with a loose mode is tightened
    written = cli(source, "backup", str(tmp_path / "deep" / "backup"), umask=0)
    assert written.returncode == 0, written.stderr
    assert source.data_dir.stat().st_mode & 0o777 == 0o700
    folder = tmp_path / "deep" / "backup"
    modes = {path.relative_to(tmp_path).as_posix(): path.stat().st_mode & 0o777
             for path in [folder.parent, folder, *folder.rglob("*")]}
    assert {mode for path, mode in modes.items() if Path(tmp_path / path).is_dir()} == {0o700}
    assert {mode for path, mode in modes.items() if Path(tmp_path / path).is_file()} == {0o600}
    assert len(modes) > 10

    # `init` and `restore` into data dirs made beforehand as 0777 (umask 000): both end 0700.
    for name, command in (("loose-init", ["init"]), ("loose-restore", ["restore", str(folder)])):
        where = Installation(tmp_path / name, f"sqlite:///{tmp_path / name / 'tracker.db'}")
        where.data_dir.mkdir()
        os.chmod(where.data_dir, 0o777)
        run = cli(where, *command, umask=0)
        assert run.returncode == 0, (name, run.stderr)
        assert where.data_dir.stat().st_mode & 0o777 == 0o700, name


def test_backup_refuses_destinations_it_cannot_or_should_not_use(sqlite_clinic, tmp_path):
    """Each refusal is one line, exit 1, and writes nothing: inside the data dir (also through a symbolic
    link), onto a file, where no folder can be made. A folder name that is not UTF-8 is backed up and
    audited with its name escaped."""
    make_clinic(sqlite_clinic, limit=1)
    source = Installation(tmp_path / "data", sqlite_clinic)
    (tmp_path / "link-to-data").symlink_to(source.data_dir)
    (tmp_path / "a-file").write_text("not a folder")
    for destination, words in ((source.data_dir / "photos" / "bk", "inside the data dir"),
                               (tmp_path / "link-to-data" / "bk", "inside the data dir"),
                               (tmp_path / "a-file", "is a file, not a folder"),
                               (Path("/proc/bk"), "cannot be made")):
        refused = cli(source, "backup", str(destination))
        no_traceback(refused)
        assert refused.returncode == 1 and words in refused.stderr, (destination, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert not (source.data_dir / "photos" / "bk").exists()

    odd = os.fsencode(tmp_path) + b"/bk-\xff\xfe"
    written = cli(source, "backup", odd)
    assert written.returncode == 0, written.stderr
    assert "bk-\\xff\\xfe" in written.stdout and (Path(os.fsdecode(odd)) / "manifest.json").exists()
    details = [row[6] for row in rows_of(source.url)["audit_entry"] if row[5] == "export"]
    assert details[-1].startswith("backup to bk-\\xff\\xfe: "), details

    # A backup inside the data dir is not restored from either: the restore replaces the stores it is in.
    shutil.copytree(os.fsdecode(odd), source.data_dir / "photos" / "bk")
    refused = cli(source, "restore", str(source.data_dir / "photos" / "bk"), "--force")
    no_traceback(refused)
    assert refused.returncode == 1 and "is inside the data dir" in refused.stderr, refused.stderr


def test_a_damaged_anchor_file_is_one_clear_line_and_a_backup_stays_audited(sqlite_clinic, tmp_path):
    """The anchor file a folder, then a symbolic link: `audit anchor` and `audit verify` refuse it in one line
    (exit 1); `backup` completes, writes its audit entry, and says that only its anchor failed."""
    make_clinic(sqlite_clinic, limit=1)
    source = Installation(tmp_path / "data", sqlite_clinic)
    anchors = source.data_dir / "audit-anchors.jsonl"
    anchors.unlink(missing_ok=True)
    anchors.mkdir()
    exports = len([row for row in rows_of(source.url)["audit_entry"] if row[5] == "export"])
    written = cli(source, "backup", str(tmp_path / "backup"))
    no_traceback(written)
    assert written.returncode == 1 and "Backup written to" in written.stdout, written
    assert "the backup is complete and in the audit trail, but the audit anchor was not written" in written.stderr
    assert "is a folder" in written.stderr and len(written.stderr.strip().splitlines()) == 1
    assert len([row for row in rows_of(source.url)["audit_entry"] if row[5] == "export"]) == exports + 1
    assert (tmp_path / "backup" / "manifest.json").exists()
    for words, make in (("is a folder", None), ("is a symbolic link", "link")):
        if make:
            anchors.rmdir()
            (tmp_path / "elsewhere.jsonl").write_text("")
            anchors.symlink_to(tmp_path / "elsewhere.jsonl")
        anchored = cli(source, "audit", "anchor")
        no_traceback(anchored)
        assert anchored.returncode == 1 and words in anchored.stderr, anchored
        assert len(anchored.stderr.strip().splitlines()) == 1, anchored.stderr
        verified = cli(source, "audit", "verify")
        no_traceback(verified)
        assert verified.returncode == 1 and words in verified.stdout, verified
    assert (tmp_path / "elsewhere.jsonl").read_text() == ""  # nothing appended through the link
    # A restore sets whatever is in the anchor file's place aside (after its commit) and anchors anew.
    restored = cli(source, "restore", str(tmp_path / "backup"), "--force")
    assert restored.returncode == 0, restored.stderr
    assert anchors.is_file() and not anchors.is_symlink()
    assert cli(source, "audit", "verify").returncode == 0


def test_the_signing_key_is_made_once_and_needed_to_restore(sqlite_clinic, tmp_path):
    make_clinic(sqlite_clinic, limit=1)
    source = Installation(tmp_path / "data", sqlite_clinic)
    first = cli(source, "backup", str(tmp_path / "b1"), key=None)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "data" / "backup.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "A new signing key was created" in first.stdout
    second = cli(source, "backup", str(tmp_path / "b2"), key=None)
    assert second.returncode == 0 and "signing key" not in second.stdout

    # The key file lost while its anchors remain: no new key replaces it (older anchors would read as
    # forged, older backups could not be restored); one line says to put it back.
    key_file.rename(tmp_path / "kept-apart.key")
    for command in (["backup", str(tmp_path / "b3")], ["audit", "anchor"]):
        refused = cli(source, *command, key=None)
        no_traceback(refused)
        assert refused.returncode == 1, (command, refused.stdout)
        assert "is missing but this installation has signed anchors: put the old key back" in refused.stderr
        assert not key_file.exists() and not (tmp_path / "b3").exists()
    (tmp_path / "kept-apart.key").rename(key_file)

    new_server = Installation(tmp_path / "new", f"sqlite:///{tmp_path / 'new' / 'tracker.db'}")
    refused = cli(new_server, "restore", str(tmp_path / "b2"), key=None)
    assert refused.returncode == 1
    no_traceback(refused)
    assert "No signing key" in refused.stderr and "TRACKER_BACKUP_KEY" in refused.stderr
    assert not new_server.data_dir.exists()  # refused before anything was written
    new_server.data_dir.mkdir()
    shutil.copy(key_file, new_server.data_dir / "backup.key")
    restored = cli(new_server, "restore", str(tmp_path / "b2"), key=None)
    assert restored.returncode == 0, restored.stderr


def test_a_sqlite_backup_reads_a_snapshot_without_waiting_for_writers(sqlite_clinic, tmp_path, monkeypatch):
    """A writer holds the write lock (and an uncommitted patient) for the whole read: the snapshot does not
    wait for it (the old backup, inside a write transaction, waited 15 s and failed) and does not see it."""
    from tracker.operations.backup import _snapshot

    monkeypatch.setenv("TRACKER_BACKUP_KEY", KEY)
    make_clinic(sqlite_clinic, limit=1)
    writer = sqlite3.connect(sqlite_clinic.split("///", 1)[1], isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO patient (mrn, full_name, sex, birth_date, condition, version, created_at) "
                   "VALUES ('UNCOMMITTED', 'Not Yet', 'female', '1980-01-01', 'other', 1, '2026-03-01 09:00:00')")
    try:
        folder = tmp_path / "snapshot"
        folder.mkdir()
        _revision, rows, _entries, _keys = _snapshot(sqlite_clinic, folder)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert rows["patient"] == 1
    assert "UNCOMMITTED" not in (folder / "tables" / "patient.jsonl").read_text()
    assert not list(folder.glob(".snapshot*"))


WRITER = """
import sys
from datetime import date, timedelta
from db import models
from tracker.operations.database import transaction
for n in range(int(sys.argv[1])):
    with transaction() as session:
        visit = models.Visit(patient_id=1, date=date(2026, 1, 1) + timedelta(days=n % 60), created_by="writer")
        session.add(visit)
        session.flush()
        session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=150 + n % 50))
"""


def test_backup_while_clinicians_write_is_consistent(sqlite_clinic, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_BACKUP_KEY", KEY)
    load_demo(sqlite_clinic, today=TODAY, limit=3)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, "300"], cwd=ROOT, env={**os.environ},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [backup(tmp_path / f"b{i}", ADMIN, sqlite_clinic) for i in range(3)]
    _, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    for i, result in enumerate(results):
        new_data = tmp_path / f"r{i}"
        new_url = f"sqlite:///{new_data / 'tracker.db'}"
        monkeypatch.setenv("TRACKER_DATA_DIR", str(new_data))
        restore(result.folder, ADMIN, new_url)
        with transaction(new_url) as session:
            written = set(session.scalars(select(models.Visit.id).where(models.Visit.created_by == "writer")))
            measured = set(session.scalars(select(models.DensityMeasurement.visit_id)))
        assert written <= measured  # no half-written visit in any snapshot
        assert run_check(new_url).ok
        dispose_all()
