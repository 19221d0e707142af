"""SQLite's query planner statistics (``tracker.database.keep_planner_statistics``), kept by every start-up
(``python -m tracker init``, the app, each command): gathered when missing, left alone while the outlook's span
count stays within ``STATISTICS_DRIFT``, gathered again when the clinic has grown past it. Without them SQLite
chose a poor index for the schedule's counts (108 ms instead of 44 ms at 50,000 patients: make bench)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from tests import forked_python
from tests.bench.generate_clinic import write_clinic
from tests.conftest import ROOT


def _init(url: str, data_dir: Path) -> None:
    env = {**os.environ, "DATABASE_URL": url, "TRACKER_DATA_DIR": str(data_dir)}
    done = forked_python.run(["-m", "tracker", "init"], cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def _recorded_spans(path: Path) -> int | None:
    with sqlite3.connect(path) as db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is None:
            return None
        row = db.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'outlook_span' LIMIT 1").fetchone()
        return int(row[0].split()[0]) if row else 0


def _spans(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM outlook_span").fetchone()[0]


def test_start_up_gathers_statistics_when_missing_or_outgrown(tmp_path, monkeypatch):
    path = tmp_path / "clinic.db"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    write_clinic(url, 60)  # a small clinic, statistics gathered as the app's start-up gathers them
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE sqlite_stat1")  # as on a clinic made before this release
    _init(url, tmp_path / "data")
    small = _recorded_spans(path)
    assert small == _spans(path) > 0
    _init(url, tmp_path / "data")  # nothing changed: not gathered again
    assert _recorded_spans(path) == small
    # The clinic grows threefold (the same spans again under new ids stand in for new patients): gathered again.
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(outlook_span)") if row[1] != "id"]
        for _ in range(2):
            db.execute(f"INSERT INTO outlook_span ({', '.join(columns)}) SELECT {', '.join(columns)} FROM outlook_span "
                       f"WHERE id <= (SELECT min(id) - 1 + {small} FROM outlook_span)")
    _init(url, tmp_path / "data")
    assert _recorded_spans(path) == _spans(path) == 3 * small
