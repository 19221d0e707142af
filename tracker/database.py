"""The tracker's access to the database: one short-lived transaction per use case, and first-run set-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

from sqlalchemy import Connection, Executable, Row, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db import models
from db.engine import READ_ONLY, engine_for, make_private_folders, migrate, session_factory, starting_alone
from tracker.clinic_dates import date_format
from tracker.config import settings
from tracker.course.milestones import DEFAULT_PROTOCOL, SALT_PROTOCOL, Protocol


def database_url() -> str:
    return settings().database_url


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """One use case, one transaction: commits on success, rolls back on any error. What its writes change in the
    whole-clinic lists is brought up to date before it commits (``tracker.progress.outlook`` listens to every
    session; ``tracker/__init__.py`` imports it so that every process that writes has it)."""
    with session_factory(url or database_url())() as session, session.begin():
        yield session


_AFTER_READING = "tracker_after_reading"  # Connection.info key: writes queued by a read-only use case


@contextmanager
def read_only(url: str | None = None) -> Iterator[Connection]:
    """A use case that only reads, on a plain connection, in one transaction that never takes SQLite's write lock
    (a deferred BEGIN under WAL reads its snapshot while writers carry on), so that a long read never makes a
    writer or another page wait. Its own small writes (its audit entry: ``after_reading``) are made after the
    reads, in a short write transaction of their own, before the use case returns anything."""
    engine = engine_for(url or database_url())
    with engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})
        try:
            with connection.begin():
                yield connection
        finally:
            writes = connection.info.pop(_AFTER_READING, [])  # never left on the pooled connection
    if writes:
        with engine.begin() as writer:
            for write in writes:
                write(writer)


@contextmanager
def reading(url: str | None = None) -> Iterator[Session]:
    """``read_only`` for a use case that reads with the ORM."""
    with read_only(url) as connection, Session(bind=connection) as session:
        yield session


def after_reading(reads: Reads, write: Callable[[Connection], None]) -> bool:
    """When ``reads`` belongs to a ``read_only`` transaction, queue ``write`` for the short write transaction made
    after it and return True; otherwise return False (the caller writes in its own transaction)."""
    connection = reads if isinstance(reads, Connection) else reads.connection()
    if not connection.get_execution_options().get(READ_ONLY, False):
        return False
    connection.info.setdefault(_AFTER_READING, []).append(write)
    return True


# PostgreSQL's "try again" states: serialization failure, deadlock detected, lock not available (lock_timeout).
_BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
# SQLite's, once its busy timeout has run out (db.engine sets 15 s).
_BUSY_SQLITE_MESSAGES = ("database is locked", "database table is locked", "database schema is locked")


def database_busy(error: BaseException) -> str | None:
    """The database's own one-line reason when ``error`` means "busy, try again" (another writer held a lock
    too long, or PostgreSQL chose this transaction to give way), else None. The transaction was rolled
    back as a whole: nothing was written, nothing was lost.

    >>> import sqlite3
    >>> from sqlalchemy.exc import OperationalError
    >>> database_busy(OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked")))
    'database is locked'
    >>> database_busy(ValueError("database is locked")) is None
    True
    """
    if not isinstance(error, DBAPIError) or error.orig is None:
        return None
    reason = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
    if getattr(error.orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return reason
    if any(message in reason.lower() for message in _BUSY_SQLITE_MESSAGES):
        return reason
    return None


# What the pre-built Core reads run on: a use case's ORM session, or the plain connection of a
# ``read_transaction``.
Reads = Session | Connection
# A row of a Core query, read by column name (``row.date``); any number of columns.
AnyRow: TypeAlias = Row[*tuple[Any, ...]]


@contextmanager
def read_transaction(url: str | None = None) -> Iterator[Connection]:
    """One use case that reads with pre-built Core statements and writes at most its audit entry, on a plain
    connection: the progress page runs on every click, and an ORM session's bookkeeping cost more than a
    third of its reads (``bench_progress_page.py``). Commits on success, rolls back on any error."""
    with engine_for(url or database_url()).begin() as connection:
        yield connection


def read_connection(reads: Reads) -> Connection:
    """The connection to run pre-built Core statements on (hot paths: pages rerun on every click).

    From a session, pending ORM changes are flushed first, as the ORM's autoflush would, so a read sees
    what this use case has already written.
    """
    if isinstance(reads, Connection):
        return reads
    reads.flush()
    return reads.connection()


_START_UP: list[Callable[[str], object]] = []


def at_start_up(step: Callable[[str], object]) -> None:
    """Have ``initialize`` run ``step(url)`` after migrating: for a higher room's own set-up (the patient outlook
    fills what is missing, ``tracker.progress.outlook``), which this module cannot import."""
    _START_UP.append(step)



def initialize(url: str | None = None) -> None:
    """Create or migrate the schema, seed the default and the alopecia areata (SALT) protocols and fill the patient
    outlook where it is missing or stale (``tracker.progress.outlook.rebuild``); idempotent.

    Checks the settings first: a ``TRACKER_DATE_FORMAT`` this product does not know stops the app and every command
    with one message naming it (``ValidationError``), before any page or command reads or writes a date.
    """
    date_format()
    url = url or database_url()
    make_private_folders(settings().data_dir, tighten=True)  # 0700, also when it existed with a looser mode
    migrate(url)
    with transaction(url) as session:
        # Another server starting at this moment would seed them too, and the second insert would fail.
        starting_alone(session.connection())
        # The default course, and alopecia areata's SALT course; each only when no protocol has its name
        # (a clinic that edited one keeps its edits; one renamed or removed is seeded again).
        for protocol in (DEFAULT_PROTOCOL, SALT_PROTOCOL):
            if session.scalar(select(models.Protocol.id).where(models.Protocol.name == protocol.name)) is None:
                session.add(stored_protocol(protocol))
    for step in _START_UP:
        step(url)
    keep_planner_statistics(url)


# SQLite's statistics are gathered again when the outlook's span count has moved this far (either way) since.
STATISTICS_DRIFT = 2.0


def keep_planner_statistics(url: str | None = None) -> bool:
    """SQLite: gather the query planner's statistics (``ANALYZE``, table ``sqlite_stat1``) when there are none or
    the number of outlook spans has grown or shrunk more than ``STATISTICS_DRIFT``-fold since; returns whether it
    did. Without them SQLite guessed a poor index for the schedule's counts (108 ms at 50,000 patients, 44 ms with
    them; ``tests/bench/bench_clinic_scale.py``); ANALYZE takes about 0.5 s there, once. PostgreSQL's autovacuum
    keeps its own statistics: nothing is done there."""
    url = url or database_url()
    if not url.startswith("sqlite"):
        return False
    with transaction(url) as session:
        connection = session.connection()
        if connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'").first() is not None:
            recorded = connection.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'outlook_span' LIMIT 1").scalar()
            spans = connection.exec_driver_sql("SELECT count(*) FROM outlook_span").scalar() or 0
            then = int(str(recorded).split()[0]) if recorded else 0  # ANALYZE records no row for an empty table
            if max(spans, 1) / max(then, 1) <= STATISTICS_DRIFT and max(then, 1) / max(spans, 1) <= STATISTICS_DRIFT:
                return False
        connection.exec_driver_sql("ANALYZE")
    return True


def stored_protocol(protocol: Protocol) -> models.Protocol:
    """A new protocol row holding an engine ``Protocol`` (band, windows, evidence note, noise, outcome)."""
    return models.Protocol(
        name=protocol.name,
        band=[{"month": p.month, "low": p.low, "high": p.high} for p in protocol.band],
        windows=[
            {"name": w.name, "start_month": w.start_month, "end_month": w.end_month, "target_month": w.target_month}
            for w in protocol.windows
        ],
        evidence_note=protocol.evidence_note,
        noise_pct=protocol.noise_pct,
        outcome_measure=str(protocol.outcome),
        created_by="system",
    )


def streamed_rows(statement: Executable, url: str | None = None, rows_at_once: int = 1000) -> Iterator[AnyRow]:
    """The rows of ``statement`` from a server-side cursor, ``rows_at_once`` at a time, so that an export of any
    length is written with flat memory (``stream_results``: a named cursor on PostgreSQL; SQLite's cursor steps
    through the table as rows are fetched). Runs on a connection of its own, opened when the first row is asked
    for and closed when the last has been read or the iterator is dropped. It is marked read-only, so on SQLite
    it begins deferred (``db.engine._sqlite_begin``) and reads its WAL snapshot without taking the write lock:
    writers carry on while it streams."""
    with engine_for(url or database_url()).connect() as connection:
        connection.execution_options(**{READ_ONLY: True})
        yield from connection.execution_options(stream_results=True, yield_per=rows_at_once).execute(statement)
