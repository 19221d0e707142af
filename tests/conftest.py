"""Shared fixtures: a fresh clinic database per test, on SQLite and (when reachable) PostgreSQL.

``TEST_DATABASE_URL`` names the PostgreSQL server; ``.ci/run`` points it at the local one. Each test run
works in a schema of its own, dropped and made anew for every test, so runs can share one server.
When PostgreSQL is not reachable the PostgreSQL half is skipped and the summary says so plainly.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from db.engine import dispose_all, normalize_url

ROOT = Path(__file__).resolve().parent.parent
_PG_SCHEMA = f"t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
_pg_state: dict[str, str | None] = {"url": None, "why": None}


def _postgres_base_url() -> str | None:
    """The reachable PostgreSQL URL, or None with the reason recorded for the summary."""
    if _pg_state["url"] or _pg_state["why"]:
        return _pg_state["url"]
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        _pg_state["why"] = "TEST_DATABASE_URL is not set"
        return None
    try:
        engine = create_engine(normalize_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: skip, and say why
        _pg_state["why"] = f"cannot connect to {url}: {type(exc).__name__}"
        return None
    _pg_state["url"] = url
    return url


def _fresh_postgres_schema(base_url: str) -> str:
    engine = create_engine(normalize_url(base_url))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{_PG_SCHEMA}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{_PG_SCHEMA}"'))
    engine.dispose()
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{_PG_SCHEMA}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A URL to an empty database (not yet migrated): SQLite in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    base = _postgres_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL not reachable ({_pg_state['why']})")
    return _fresh_postgres_schema(base)


@pytest.fixture
def clinic(db_url, tmp_path, monkeypatch):
    """An initialised, empty clinic: migrated database plus a data dir for photos."""
    from tracker.operations.database import initialize

    data_dir = tmp_path / "data"
    monkeypatch.setenv("TRACKER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)
    initialize(db_url)
    yield db_url
    dispose_all()


@pytest.fixture
def sqlite_clinic(tmp_path, monkeypatch):
    """An initialised clinic on SQLite only, for tests that are about files rather than the database."""
    from tracker.operations.database import initialize

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", url)
    initialize(url)
    yield url
    dispose_all()


_FIGURES: list[str] = []


@pytest.fixture
def figure():
    """Record a measured figure (cases tried, writers, crash points…) for the run's closing summary."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter):
    for line in _FIGURES:
        terminalreporter.write_line(f"figure: {line}")
    if _pg_state["url"]:
        terminalreporter.write_line(f"PostgreSQL: database tests ran against {_pg_state['url']}")
    elif _pg_state["why"]:
        terminalreporter.write_line(f"PostgreSQL: SKIPPED, database tests ran on SQLite only ({_pg_state['why']})",
                                    yellow=True)
    if _pg_state["url"]:
        try:
            engine = create_engine(normalize_url(_pg_state["url"]))
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{_PG_SCHEMA}" CASCADE'))
            engine.dispose()
        except Exception:
            pass
