"""PostgreSQL advisory locks (``db.engine.advisory_lock``): one key per kind of work, paired with the schema.

A full run failed on a start-up that waited for another installation's: the test workers' clinics live in
schemas of their own in one database, and the start-up lock was one key for the whole database (the same key as
the spreadsheet import's, too). Now a start-up waits neither for another schema's start-up nor for an import in
its own schema, and still waits for a start-up in its own."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from db.engine import ADVISORY_LOCKS, advisory_lock, dispose_all, normalize_url
from tests.conftest import _fresh_postgres_schema, _postgres_base_url
from tracker.database import initialize


def _short_wait(url: str) -> str:
    return url + "%20-clock_timeout%3D300"  # PostgreSQL gives up waiting for a lock after 300 ms


def _other_schema(base: str) -> tuple[str, str]:
    """A second installation's schema (the test's own is one per process): its name and URL."""
    name = f"t_other_{uuid.uuid4().hex[:8]}"
    engine = create_engine(normalize_url(base))
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    engine.dispose()
    return name, f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{name}"


def _drop(base: str, name: str) -> None:
    engine = create_engine(normalize_url(base))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def test_each_kind_of_work_and_each_schema_has_its_own_lock(tmp_path, monkeypatch):
    base = _postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL not reachable")
    assert len(set(ADVISORY_LOCKS.values())) == len(ADVISORY_LOCKS)
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    first = _fresh_postgres_schema(base)
    initialize(first)
    holder = create_engine(normalize_url(first))
    other, other_url = _other_schema(base)
    try:
        with holder.begin() as connection:
            advisory_lock(connection, "start-up")
            advisory_lock(connection, "spreadsheet import")
            # Another installation (schema) starts while this one holds its start-up and import locks.
            initialize(_short_wait(other_url))
        with holder.begin() as connection:
            advisory_lock(connection, "spreadsheet import")
            initialize(_short_wait(first))  # this installation starts during an import of its own
        with holder.begin() as connection:
            advisory_lock(connection, "start-up")
            with pytest.raises(OperationalError, match="lock timeout"):
                initialize(_short_wait(first))  # but not while it is starting already
    finally:
        holder.dispose()
        dispose_all()
        _drop(base, other)
    with pytest.raises(KeyError), holder.begin() as connection:
        advisory_lock(connection, "no such work")


def test_search_path_option_names_the_schema_the_lock_uses():
    base = _postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL not reachable")
    url = _fresh_postgres_schema(base)
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT current_schema()")).scalar() in url
    finally:
        engine.dispose()


def test_a_rebuild_and_a_clinic_write_on_one_patient_do_not_deadlock(tmp_path, monkeypatch):
    """The list tally's lock is the last a writer takes. Found by review: a clinic write holds the audit chain's lock
    (its audit entry) when its refresh waits for the patient's row, which a rebuild (a protocol edit, start-up,
    ``check``) holds; had the rebuild then waited for the audit chain's lock to add to the tally, PostgreSQL would
    have ended one of them as a deadlock. Both finish, and the tally agrees with the spans."""
    import threading
    import time
    from datetime import date

    from sqlalchemy import delete, select

    from db import models
    from tracker.database import transaction
    from tracker.progress import outlook, outlook_tally

    base = _postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL not reachable")
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    url = _fresh_postgres_schema(base)
    initialize(url)
    with transaction(url) as session:
        session.add(models.Patient(mrn="L-1", full_name="Ana Lock", sex="female", birth_date=date(1980, 1, 1),
                                   condition="androgenetic_alopecia", created_by="test"))
    with transaction(url) as session:
        pid = session.scalar(select(models.Patient.id))
        session.execute(delete(outlook.SPAN))  # so that each refresh has changes to add to the tally
        outlook_tally.recount(session)
    failures: list[str] = []

    def rebuild_one() -> None:  # row lock first, the tally at its commit
        try:
            with transaction(url) as session:
                outlook.refresh(session, [pid])
                time.sleep(1.0)  # the clinic write below now waits for this patient's row
        except Exception as error:  # noqa: BLE001  # the test reports whatever ended it
            failures.append(f"rebuild: {type(error).__name__}: {error}")

    try:
        with transaction(url) as session:  # a clinic write: its audit entry took the audit chain's lock first
            advisory_lock(session.connection(), "audit chain")
            other = threading.Thread(target=rebuild_one)
            other.start()
            time.sleep(0.5)
            outlook.refresh(session, [pid])
    except Exception as error:  # noqa: BLE001
        failures.append(f"clinic write: {type(error).__name__}: {error}")
    other.join()
    assert failures == []
    with transaction(url) as session:
        assert outlook_tally.differences(session) == []
        assert outlook_tally.counts(session, [outlook_tally.PATIENTS], date.today()) == {outlook_tally.PATIENTS: 1}
    dispose_all()
