"""Backup and restore: a demo clinic round-trips with every row and every file hash identical, and a
backup taken while clinicians keep writing restores to a consistent clinic."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import select

from db import models
from db.engine import dispose_all
from tests.conftest import ROOT
from tracker import audit
from tracker.access import Actor, command_line_actor
from tracker.backup import backup, restore
from tracker.consistency import run_check
from tracker.database import transaction
from tracker.demo import load_demo
from tracker.errors import ValidationError
from tracker.treatment_sessions import DocumentUpload, SessionEntry, log_session

ADMIN = command_line_actor("test")


def _all_rows(url: str) -> dict[str, list[tuple]]:
    with transaction(url) as session:
        return {
            table.name: [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key.columns))]
            for table in models.Base.metadata.sorted_tables
        }


def _file_hashes(root) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*")) if path.is_file()
    }


def _normalise(rows: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    # SQLite hands back naive UTC datetimes, PostgreSQL aware ones: compare the instants.
    def value(v):
        return v.replace(tzinfo=None) if hasattr(v, "tzinfo") and getattr(v, "tzinfo", None) else v
    return {name: [tuple(value(v) for v in row) for row in table] for name, table in rows.items()}


def test_demo_clinic_round_trips_every_row_and_file(clinic, tmp_path, monkeypatch):
    load_demo(clinic, today=date(2026, 3, 1), limit=5)
    log_session(Actor("dr.lee", "clinician"), "DEMO-0001",
                SessionEntry(date=date(2026, 2, 20), treatment="exosome", product="Exo", lot_number="EXO-9"),
                [DocumentUpload("certificate.pdf", b"%PDF-1.4\n% screening certificate\n%%EOF\n")],
                url=clinic, today=date(2026, 3, 1))
    before_rows = _all_rows(clinic)
    data_dir = tmp_path / "data"
    before_files = {k: v for k, v in _file_hashes(data_dir).items()
                    if k.startswith(("photos/", "documents/")) and "/pending/" not in k and "/tmp" not in k}
    assert before_rows["photo"] and before_rows["batch_document"] and before_files

    result = backup(tmp_path / "backup", ADMIN, clinic)
    assert result.files == len(before_files)

    # restore into a brand-new installation (SQLite, new data dir)
    new_data = tmp_path / "restored"
    new_url = f"sqlite:///{new_data / 'tracker.db'}"
    monkeypatch.setenv("TRACKER_DATA_DIR", str(new_data))
    monkeypatch.setenv("DATABASE_URL", new_url)
    restore(tmp_path / "backup", ADMIN, new_url)
    after_rows = _all_rows(new_url)
    for table, rows in _normalise(before_rows).items():
        restored = _normalise(after_rows)[table]
        if table == "audit_entry":  # the backup and the restore are themselves recorded
            assert restored[:len(rows)] == rows
            assert [r[5] for r in restored[len(rows):]] == ["restore"]
        else:
            assert restored == rows, table
    assert {k: v for k, v in _file_hashes(new_data).items() if k.startswith(("photos/", "documents/"))} == before_files
    assert run_check(new_url).ok
    with transaction(new_url) as session:
        assert audit.verify(session).ok

    with pytest.raises(ValidationError, match="already holds data"):
        restore(tmp_path / "backup", ADMIN, new_url)
    with pytest.raises(ValidationError, match="not empty"):
        backup(tmp_path / "backup", ADMIN, clinic)


def test_damaged_or_unfinished_backup_is_refused(sqlite_clinic, tmp_path, monkeypatch):
    load_demo(sqlite_clinic, today=date(2026, 3, 1), limit=2)
    backup(tmp_path / "b", ADMIN, sqlite_clinic)
    victim = next((tmp_path / "b" / "files" / "photos").rglob("*.jpg"))
    victim.write_bytes(b"corrupted")
    new_url = f"sqlite:///{tmp_path / 'new' / 'tracker.db'}"
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "new"))
    with pytest.raises(ValidationError, match="damaged"):
        restore(tmp_path / "b", ADMIN, new_url)
    (tmp_path / "b" / "manifest.json").unlink()
    with pytest.raises(ValidationError, match="no complete backup"):
        restore(tmp_path / "b", ADMIN, new_url)


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
    load_demo(sqlite_clinic, today=date(2026, 3, 1), limit=3)
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
