"""Helpers shared by the backup, verification and restore tests: an installation run through the command line
(``cli``), a clinic to back up (``make_clinic``), and its state compared row by row and file by file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from db import models
from db.engine import normalize_url
from tests import forked_python
from tests.conftest import ROOT
from tracker.access.accounts import create_user
from tracker.access.actors import Actor, command_line_actor
from tracker.access.sign_in import sign_in
from tracker.errors import PermissionDenied
from tracker.operations.demo import load_demo
from tracker.records.batch_documents import DocumentUpload
from tracker.records.treatment_sessions import SessionEntry, log_session

ADMIN = command_line_actor("test")
KEY = "backup-key-for-tests-" + "7" * 32
TODAY = date(2026, 3, 1)


@dataclass(frozen=True)
class Installation:
    """A data dir and a database URL: what ``python -m tracker`` runs against."""

    data_dir: Path
    url: str


def cli(where: Installation, *args: str, key: str | None = KEY, umask: int | None = None,
        **env: str) -> subprocess.CompletedProcess:
    """``python -m tracker ARGS`` in a process of its own (tests/forked_python.py) against ``where``; ``key``
    None: no TRACKER_BACKUP_KEY."""
    environment = {k: v for k, v in os.environ.items() if k not in ("TRACKER_BACKUP_KEY", "TRACKER_TEST_KILL_AT")}
    environment.update(TRACKER_DATA_DIR=str(where.data_dir), DATABASE_URL=where.url, **env)
    if key is not None:
        environment["TRACKER_BACKUP_KEY"] = key
    return forked_python.run(["-m", "tracker", *args], cwd=ROOT, env=environment, timeout=600, umask=umask)


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr


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
