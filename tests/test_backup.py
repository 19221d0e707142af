"""Writing a backup (``tracker.operations.backup``) through the command line: the backup's files are private
whatever the umask, destinations it cannot or should not use are refused, a damaged anchor file is one clear line,
and a SQLite backup reads one snapshot while clinicians write. Tampering: test_backup_verify.py; restoring:
test_restore.py; kills: test_restore_atomic.py.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from db import models
from db.engine import dispose_all
from tests.backup_samples import ADMIN, KEY, TODAY, Installation, cli, make_clinic, no_traceback, rows_of
from tests.conftest import ROOT
from tracker.database import transaction
from tracker.operations.backup import backup
from tracker.operations.consistency import run_check
from tracker.operations.demo import load_demo
from tracker.operations.restore import restore


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
from tracker.database import transaction
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
