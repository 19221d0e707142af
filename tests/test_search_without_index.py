"""The patient search where migration 0010 could not make its text index: an SQLite without FTS5's trigram
tokenizer, and a PostgreSQL account without the right to create the ``pg_trgm`` extension (a managed server, a
clinic's DBA who grants one schema and nothing more). Both are promised to keep working, reading the names
instead; neither could be met on this machine's own set-up (its SQLite has the tokenizer, and the shared ``test``
database already holds the extension), so each is made here: the index dropped on SQLite, and on PostgreSQL a new
database and an account that owns one schema of it and may create nothing else.

The installation is made, loaded and checked through the command line, as an administrator would.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from db.engine import dispose_all, normalize_url
from tests.conftest import ROOT, _pg_state, _postgres_base_url
from tests.patient_samples import DR
from tracker.records.patient_list import list_patients


def _tracker(url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "TRACKER_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    return done


def _searches_by_reading_the_names(url: str) -> None:
    """The demo clinic's search answers as it does with the index: one patient for an MRN, every patient of a
    name, none for a word nobody has."""
    everyone = list_patients(DR, url=url, page_size=100)
    assert everyone.total >= 4
    one = everyone.rows[2]
    assert [p.mrn for p in list_patients(DR, query=one.mrn.lower(), url=url)] == [one.mrn]
    surname = one.full_name.split()[-1]
    named = [p.mrn for p in everyone if surname.lower() in p.full_name.lower()]
    assert [p.mrn for p in list_patients(DR, query=surname.upper(), url=url)] == named
    assert list_patients(DR, query="zzqx-no-such-patient", url=url).total == 0


def test_sqlite_without_the_trigram_tokenizer_searches_and_checks(tmp_path):
    """Migration 0010 makes nothing on an SQLite without the trigram tokenizer (SQLite before 3.34, or built
    without FTS5): the outlook is then written without triggers into an index, the search reads the names, and
    ``check`` has no index to look at. Made here by removing what 0010 made, before the clinic is loaded."""
    database = tmp_path / "tracker.db"
    url = f"sqlite:///{database}"
    data_dir = tmp_path / "data"
    _tracker(url, data_dir, "init")
    with sqlite3.connect(database) as connection:
        for name in ("insert", "delete", "update"):
            connection.execute(f"DROP TRIGGER patient_search_{name}")
        connection.execute("DROP TABLE patient_search")
    _tracker(url, data_dir, "demo", "--limit", "4", "--no-photos")
    try:
        _searches_by_reading_the_names(url)
        report = _tracker(url, data_dir, "check").stdout
        assert "Whole-clinic lists" not in report, report  # nothing to repair: no index to differ from the outlook
    finally:
        dispose_all()
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT name FROM sqlite_master WHERE name LIKE 'patient_search%'").fetchall() == []


@pytest.fixture
def restricted_postgres():
    """(URL of an account that owns schema ``clinic`` of a new database and may create nothing else there, an
    engine of the server's own account on that database). Both are removed afterwards, whatever happened."""
    base = _postgres_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL not reachable ({_pg_state['why']})")
    tag, secret = f"nsx_{os.getpid()}_{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    server = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    owner = create_engine(make_url(normalize_url(base)).set(database=tag), isolation_level="AUTOCOMMIT")
    try:
        try:
            with server.connect() as connection:
                connection.execute(text(f"CREATE ROLE \"{tag}\" LOGIN PASSWORD '{secret}'"))
                connection.execute(text(f'CREATE DATABASE "{tag}"'))
        except DBAPIError as error:
            pytest.skip(f"TEST_DATABASE_URL's account cannot create a role and a database: {error.orig}")
        with owner.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA clinic AUTHORIZATION "{tag}"'))
            # PostgreSQL before 15 lets everyone create in ``public``: not this account.
            connection.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        account = make_url(base).set(username=tag, password=secret, database=tag)
        yield account.update_query_dict({"options": "-csearch_path=clinic"}).render_as_string(False), owner
    finally:
        dispose_all()
        owner.dispose()
        with server.connect() as connection:  # each on its own: a database left must not leave its role too
            for statement in (f'DROP DATABASE IF EXISTS "{tag}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{tag}"'):
                try:
                    connection.execute(text(statement))
                except DBAPIError as error:
                    print(f"could not clean up: {statement}: {error.orig}")
        server.dispose()


def test_postgresql_account_that_may_not_create_the_extension_searches_and_checks(restricted_postgres, tmp_path):
    """A new database where ``pg_trgm`` is not installed, and an account that owns the clinic's schema but has no
    right to create an extension (no CREATE on the database): ``init`` migrates without the two GIN indexes and
    says nothing alarming, the demo clinic loads, the search reads the names, ``check`` passes."""
    url, owner = restricted_postgres
    data_dir = tmp_path / "data"
    _tracker(url, data_dir, "init")
    _tracker(url, data_dir, "demo", "--limit", "4", "--no-photos")
    with owner.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")) == 0
        assert connection.scalar(text("SELECT count(*) FROM pg_indexes WHERE schemaname = 'clinic' "
                                      "AND indexname LIKE '%trigrams'")) == 0
        assert connection.scalar(text("SELECT count(*) FROM clinic.patient_outlook")) >= 4
    _searches_by_reading_the_names(url)
    assert "Whole-clinic lists" not in _tracker(url, data_dir, "check").stdout
