"""A busy database is a "try again", never an error box: another connection holds the write lock (SQLite
``BEGIN IMMEDIATE``; PostgreSQL an exclusive table lock) while a page runs with a short busy or lock timeout.

The page says "The database is busy; nothing was lost. Try again in a moment.", Streamlit shows no exception,
the server log gets one line without a stack trace, and the same page works once the lock is released.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from streamlit.testing.v1 import AppTest

import db.engine
from db.engine import dispose_all, normalize_url
from tracker.access.accounts import create_user
from tracker.access.actors import Actor, command_line_actor
from tracker.access.sign_in import sign_in
from tracker.database import database_busy
from tracker.records.patient_intake import NewPatient, create_patient
from ui.messages import BUSY

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DR = Actor(username="dr.busy", role="clinician")
PASSWORD = "Busy-Clinic-7731"


@pytest.fixture
def busy_clinic(db_url, tmp_path, monkeypatch):
    """A clinic with one patient and a clinician account; SQLite waits 0.3 s for a lock, PostgreSQL 300 ms."""
    from tracker.database import initialize

    if db_url.startswith("postgresql"):
        db_url += "%20-clock_timeout%3D300"  # appended to the URL's options (the test schema's search_path)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    initialize(db_url)
    create_patient(DR, NewPatient(mrn="BZ-1", full_name="Busy Patient", sex="female", birth_date=date(1980, 1, 1),
                                  condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="I",
                                  target_areas="vertex"), url=db_url)
    create_user(command_line_actor("test"), username=DR.username, password=PASSWORD, role="clinician", url=db_url)
    monkeypatch.setattr(db.engine, "BUSY_TIMEOUT_SECONDS", 0.3)
    dispose_all()  # new connections take the short timeout
    yield db_url
    dispose_all()


@contextmanager
def write_lock_held(url: str) -> Iterator[None]:
    """Another process's long write, as far as the app can tell."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
    else:
        engine = create_engine(normalize_url(url))
        with engine.connect() as pg_holder:
            pg_holder.execute(text("LOCK TABLE audit_entry IN EXCLUSIVE MODE"))  # every page's audit entry waits
            try:
                yield
            finally:
                pg_holder.rollback()
        engine.dispose()


def busy_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "regrowth"]


def assert_busy_said_plainly(at: AppTest, caplog, service: str) -> None:
    assert not at.exception, at.exception  # Streamlit's own error box
    assert [e.value for e in at.error] == [BUSY]
    records = busy_lines(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING and records[0].exc_info is None and not records[0].stack_info
    assert records[0].getMessage().startswith(f"database busy in {service}: ")
    assert "\n" not in records[0].getMessage()


def test_patient_list_says_busy_then_works(busy_clinic, caplog, figure, db_url):
    caplog.set_level(logging.INFO, logger="regrowth")
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = DR
    at.run()
    caplog.clear()
    with write_lock_held(busy_clinic):
        at.run()
        assert_busy_said_plainly(at, caplog, "list_patients")
        assert not at.dataframe
    caplog.clear()
    # Once released it works. The test's lock timeout is 300 ms: on a saturated machine (a full run beside a
    # PostgreSQL bulk load) the first click after the release was once still told "busy"; a second may be.
    for _ in range(3):
        at.run()
        if [e.value for e in at.error] != [BUSY]:
            break
        caplog.clear()
    assert not at.exception and not at.error and not busy_lines(caplog)
    assert at.dataframe[0].value["Name"].tolist() == ["Busy Patient"]
    figure(f"database busy ({db_url.split(':')[0]}): patient list and sign-in under a held write lock: "
           "the busy message, one log line, no traceback; both work once released")


def test_sign_in_says_busy_then_works(busy_clinic, caplog):
    """The sign-in page called its service without ``call`` before: a lock there was a bare error box."""
    caplog.set_level(logging.INFO, logger="regrowth")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.text_input(key="sign_in_username").input(DR.username)
    at.text_input(key="sign_in_password").input(PASSWORD)
    with write_lock_held(busy_clinic):
        at.button[0].click().run()
        assert_busy_said_plainly(at, caplog, "sign_in")
        assert "actor" not in at.session_state
    at.text_input(key="sign_in_username").input(DR.username)
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert at.session_state["actor"].username == DR.username


def test_a_signed_in_account_says_busy_on_every_page(busy_clinic, caplog):
    """A real sign-in's actor is checked against its account on every run (``current_actor``)."""
    caplog.set_level(logging.INFO, logger="regrowth")
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = sign_in(DR.username, PASSWORD, url=busy_clinic)
    at.run()
    assert at.session_state["actor"].user_id is not None and not at.error
    caplog.clear()
    with write_lock_held(busy_clinic):
        at.run()
        assert not at.exception, at.exception
        assert BUSY in [e.value for e in at.error], (at.main, [r.getMessage() for r in caplog.records])
        assert all(r.exc_info is None for r in busy_lines(caplog))
    at.run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["Name"].tolist() == ["Busy Patient"]


def test_a_fresh_server_says_busy_on_its_first_page(busy_clinic, caplog):
    """The app's first run migrates the database (``app.py``): under another writer's lock, busy too."""
    caplog.set_level(logging.INFO, logger="regrowth")
    st.cache_resource.clear()  # as after a restart: the database has not been checked yet
    at = AppTest.from_file(APP, default_timeout=30)
    with write_lock_held(busy_clinic):
        at.run()
        if busy_clinic.startswith("sqlite"):  # PostgreSQL's migration check takes no lock on audit_entry
            assert_busy_said_plainly(at, caplog, "_database_ready")
    at.run()
    assert not at.exception and not at.error
    assert at.text_input(key="sign_in_username") is not None


def test_only_busy_errors_count_as_busy():
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    other = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: patient"))
    assert database_busy(locked) == "database is locked"
    assert database_busy(other) is None and database_busy(RuntimeError("database is locked")) is None


def test_a_command_under_a_held_lock_says_busy_and_changes_nothing(busy_clinic, tmp_path):
    """The command line too: one line, exit 1, no traceback, no 'unexpected error'; the same command then works."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DATABASE_URL": busy_clinic, "TRACKER_DATA_DIR": str(tmp_path / "data"),
           "TRACKER_BUSY_TIMEOUT_SECONDS": "0.3"}
    command = [sys.executable, "-m", "tracker", "user", "add", "--role", "clinician", "--username", "dr.later",
               "--password-stdin"]
    with write_lock_held(busy_clinic):
        held = subprocess.run(command, input="Later-Clinic-4412\n", capture_output=True, text=True, cwd=root,
                              env=env, timeout=120)
    assert held.returncode == 1, held.stderr
    assert held.stderr.startswith("error: the database is busy (") and held.stderr.count("\n") == 1, held.stderr
    assert "nothing was changed" in held.stderr and "Traceback" not in held.stderr
    released = subprocess.run(command, input="Later-Clinic-4412\n", capture_output=True, text=True, cwd=root,
                              env=env, timeout=120)
    assert released.returncode == 0, released.stderr
    assert "Created clinician account 'dr.later'" in released.stdout
