"""Patients' data on disk is the app user's alone, whatever the umask of whoever started the app.

Through the command line, as an admin would (``python -m tracker init``, then the demo clinic with photos
and batch documents), under the loosest umask (000) and the strictest usual one (077): the data dir and
every folder in the photo and document stores 0700, the SQLite file and its -wal/-shm 0600, photos and
documents 0640. (Backup files, the signing key and the demo passwords are checked by their own tests.)
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STORES = ("photos", "documents")


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


# A batch document (a PDF certificate) for the first demo patient, through the service the page uses.
ADD_DOCUMENT = """
from datetime import date
from tracker.access.actors import command_line_actor
from tracker.records.patient_list import list_patients
from tracker.records.batch_documents import DocumentUpload
from tracker.records.treatment_sessions import SessionEntry, log_session

actor = command_line_actor("mode-test")
mrn = list_patients(actor)[0].mrn
pdf = b"%PDF-1.4\\n1 0 obj<< /Type /Catalog >>endobj\\ntrailer<< /Root 1 0 R >>\\n%%EOF\\n"
log_session(actor, mrn, SessionEntry(date=date.today(), treatment="prp", product="Kit", lot_number="L-1"),
            [DocumentUpload("certificate.pdf", pdf)])
"""


def run_cli(data_dir: Path, umask: int, *args: str) -> None:
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    command = list(args) if args[0] == "-c" else ["-m", "tracker", *args]
    subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                   timeout=600, check=True, preexec_fn=lambda: os.umask(umask))


@pytest.mark.parametrize("umask", [0o000, 0o077], ids=["umask-000", "umask-077"])
def test_database_and_stores_are_private_whatever_the_umask(tmp_path, umask, figure):
    data_dir = tmp_path / "clinic" / "data"  # neither folder exists yet: init makes both
    run_cli(data_dir, umask, "init")
    database = data_dir / "tracker.db"
    assert mode(data_dir) == "0o700"
    assert mode(database) == "0o600"

    run_cli(data_dir, umask, "demo", "--limit", "2")
    run_cli(data_dir, umask, "-c", ADD_DOCUMENT)
    folders = [p for store in STORES for p in [data_dir / store, *(data_dir / store).rglob("*")] if p.is_dir()]
    files = [p for store in STORES for p in (data_dir / store).rglob("*") if p.is_file()]
    assert any(p.relative_to(data_dir).parts[0] == "photos" for p in files), "the demo stored photos"
    assert any(p.relative_to(data_dir).parts[0] == "documents" for p in files), "a document was stored"
    assert {str(p.relative_to(data_dir)): mode(p) for p in folders if mode(p) != "0o700"} == {}
    assert {str(p.relative_to(data_dir)): mode(p) for p in files if mode(p) != "0o640"} == {}
    assert mode(database) == "0o600"

    # The -wal and -shm files appear while a connection is open (the app's, here one of the test's, under
    # the loose umask): SQLite creates them with the database file's mode.
    previous = os.umask(0)
    try:
        connection = sqlite3.connect(database)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE IF NOT EXISTS mode_probe (x)")
        connection.execute("INSERT INTO mode_probe VALUES (1)")
        connection.commit()
        side_files = [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm")]
        assert {p.name: mode(p) for p in side_files} == {"tracker.db-wal": "0o600", "tracker.db-shm": "0o600"}
        connection.close()
    finally:
        os.umask(previous)
    figure(f"file modes (umask {umask:03o}): data dir + {len(folders)} store folders 0700, "
           f"{len(files)} photos/documents 0640, database and -wal/-shm 0600")


def test_an_existing_database_file_keeps_its_mode(tmp_path):
    """An admin's own choice for a database file that already exists (e.g. group-readable for backups) stays;
    the data dir holding it is the owner's alone again (0700), since the key and the anchors live there too."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o750)
    os.chmod(data_dir, 0o750)
    database = data_dir / "tracker.db"
    database.touch()
    os.chmod(database, 0o640)
    run_cli(data_dir, 0o022, "init")
    assert (mode(data_dir), mode(database)) == ("0o700", "0o640")
