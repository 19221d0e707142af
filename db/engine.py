"""Engine and session factory, and the one way the schema is created: Alembic migrations.

SQLite (the embedded default) runs with foreign keys on, WAL journaling and a busy timeout so that the
Streamlit server and a command-line import can write at the same time. PostgreSQL URLs are accepted in
their usual ``postgresql://`` form and run on psycopg 3.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
_engines: dict[str, Engine] = {}
_factories: dict[Engine, sessionmaker[Session]] = {}
_lock = threading.Lock()


def normalize_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# How long a SQLite writer waits for another's lock before "database is locked" (pages then say "busy, try
# again"): a long import or backup holds it for seconds, never this long in normal use.
# ``TRACKER_BUSY_TIMEOUT_SECONDS`` sets it otherwise (a script that should give up sooner; tests).
BUSY_TIMEOUT_SECONDS = float(os.environ.get("TRACKER_BUSY_TIMEOUT_SECONDS") or 15.0)
PRIVATE_FOLDER_MODE = 0o700  # the data dir and the folders inside it: the owner (the app's user) only
PRIVATE_FILE_MODE = 0o600  # the SQLite file; SQLite gives its -wal and -shm files the same mode


def make_private_folders(folder: Path, *, tighten: bool = False) -> list[Path]:
    """Create ``folder`` and its missing parents as 0700, whatever the umask; returns the folders whose
    listings gained a new entry (the parents of those created), for callers that fsync them.

    ``tighten``: when ``folder`` already exists, is a folder of this process's user and lets its group or
    others in, it is made 0700 too (the data dir: made by hand with a loose mode, it would stay so).
    """
    missing: list[Path] = []
    current = Path(folder)
    if tighten and current.is_dir():
        status = current.stat()
        if status.st_uid == os.geteuid() and status.st_mode & 0o077:
            os.chmod(current, PRIVATE_FOLDER_MODE)
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_FOLDER_MODE)
        except FileExistsError:
            continue  # made meanwhile by another writer: its mode is theirs to set
        os.chmod(path, PRIVATE_FOLDER_MODE)  # mkdir's mode passes through the umask
    return [path.parent for path in missing]


def _create_sqlite_file(path: Path) -> None:
    """An empty SQLite database file (a valid, empty database) made 0600 before SQLite first opens it."""
    make_private_folders(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)  # os.open's mode passes through the umask
    finally:
        os.close(descriptor)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY = "tracker_read_only"  # execution option of a connection that only reads (``tracker.database.reading``)


def _sqlite_begin(connection: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock up front. With the sqlite3 module's deferred BEGIN, two
    # transactions that both read and then write (the audit chain does) fail with "database is locked"
    # instead of waiting their turn. A transaction that only reads begins deferred: under WAL it reads its
    # snapshot without ever taking the write lock, so a long list never makes a writer (or a page) wait.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def engine_for(url: str) -> Engine:
    """One engine per URL per process (engines own connection pools; they are made once)."""
    url = normalize_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                path = url.split("///", 1)[-1]
                if path and path != ":memory:" and not path.startswith("file:"):
                    _create_sqlite_file(Path(path))
                engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
                event.listen(engine, "connect", _sqlite_pragmas)
                event.listen(engine, "begin", _sqlite_begin)
            else:
                engine = create_engine(url, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()


def session_factory(url: str) -> sessionmaker[Session]:
    """One factory per engine: making a ``sessionmaker`` sets up its event dispatch, which cost more than a
    page's reads when it was done for every transaction."""
    engine = engine_for(url)
    with _lock:
        factory = _factories.get(engine)
        if factory is None:
            factory = _factories[engine] = sessionmaker(engine, expire_on_commit=False)
        return factory


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


# PostgreSQL advisory locks: one key per kind of work, paired with the schema's name, so that the kinds never wait
# for each other (the start-up and the spreadsheet import once shared 7312002: a server starting waited for a
# whole import) and installations kept in schemas of their own in one database never wait for each other.
ADVISORY_LOCKS = {"audit chain": 7312001, "spreadsheet import": 7312002, "start-up": 7312003, "outlook tally": 7312004}
# Also taken, by migration 0010 alone and for the whole database (not per schema): 7312005, creating pg_trgm.


def advisory_lock(connection: Connection, kind: str) -> None:
    """PostgreSQL: wait for and take ``kind``'s advisory lock (``ADVISORY_LOCKS``) in this schema until the
    transaction ends. Nothing elsewhere (SQLite's writers already take turns). Raises KeyError for an unknown kind."""
    key = ADVISORY_LOCKS[kind]
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"), {"key": key})


def starting_alone(connection: Connection) -> None:
    """Make the rest of this transaction the only start-up step running on this database: several app servers
    of a chain may start at once on one database, and each migrates and then seeds what a new installation needs.
    On PostgreSQL, a transaction-scoped advisory lock: the others wait here until this one has committed, then
    find nothing left to do (its DDL is transactional). SQLite's writers already take turns."""
    advisory_lock(connection, "start-up")


def migrate(url: str, revision: str = "head") -> None:
    """Create the schema or bring it to the newest migration (or ``revision``); safe on every start, also when
    several servers start at once (``starting_alone``)."""
    config = alembic_config(url)
    with engine_for(url).begin() as connection:
        starting_alone(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
