"""Shared fixtures: a fresh clinic database per test, on SQLite and (when reachable) PostgreSQL.

``TEST_DATABASE_URL`` names the PostgreSQL server; ``.ci/run`` points it at the local one. Each test run
works in a schema of its own, dropped and made anew for every test, so runs can share one server.
When PostgreSQL is not reachable the PostgreSQL half is skipped and the summary says so plainly.
"""

from __future__ import annotations

import os
import sys
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
    from tracker.database import initialize

    data_dir = tmp_path / "data"
    monkeypatch.setenv("TRACKER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)
    initialize(db_url)
    yield db_url
    dispose_all()


@pytest.fixture
def sqlite_clinic(tmp_path, monkeypatch):
    """An initialised clinic on SQLite only, for tests that are about files rather than the database."""
    from tracker.database import initialize

    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", url)
    initialize(url)
    yield url
    dispose_all()


@pytest.fixture
def new_installation(db_url, tmp_path):
    """Makes installations that do not exist yet: a data dir not made, and a database with no tables (a
    fresh PostgreSQL schema when the test runs on PostgreSQL). Schemas are dropped afterwards.

    Used by the backup, verification and restore tests (``Installation`` is in tests/backup_samples.py)."""
    from tests.backup_samples import Installation

    schemas: list[str] = []

    def make(name: str) -> Installation:
        data_dir = tmp_path / name
        if db_url.startswith("sqlite"):
            return Installation(data_dir, f"sqlite:///{data_dir / 'tracker.db'}")
        schema = f"{_PG_SCHEMA}_{name}"
        _run_on_server(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        base = _reachable_postgres_url()
        return Installation(data_dir, f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}")

    yield make
    dispose_all()
    if schemas:
        _run_on_server(*(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE' for schema in schemas))


def _reachable_postgres_url() -> str:
    """The PostgreSQL URL, for code that runs only when the test's ``db_url`` is on PostgreSQL."""
    base = _postgres_base_url()
    if base is None:
        raise RuntimeError(f"PostgreSQL not reachable ({_pg_state['why']}) in a PostgreSQL test")
    return base


def _run_on_server(*statements: str) -> None:
    engine = create_engine(normalize_url(_reachable_postgres_url()))
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


@pytest.fixture
def recorded(clinic):
    """A patient with a baseline visit (2 sites, 2 photos), an exosome session and a 3-month visit.

    Shared by the record, correction, therapy and history tests; returns (url, patient id)."""
    from datetime import date

    from sqlalchemy import select

    from db import models
    from tests.patient_samples import seed
    from tracker.database import transaction

    patient_id = seed(clinic, "RT-7", "Felix Record", sessions=[date(2025, 1, 10)],
                      visits=[(date(2025, 1, 10), {"vertex": 150, "frontal": 100}),
                              (date(2025, 4, 10), {"vertex": 170, "frontal": 95})])
    with transaction(clinic) as session:
        baseline = session.scalar(select(models.Visit).where(models.Visit.date == date(2025, 1, 10)))
        for view in ("vertex", "frontal"):
            session.add(models.Photo(visit_id=baseline.id, view=view, sha256=view * 4, original_key=f"o/{view}",
                                     display_key=f"d/{view}", thumbnail_key=f"t/{view}", media_type="image/jpeg",
                                     width=10, height=10, original_file_name=f"{view}.jpg", created_by="test"))
    return clinic, patient_id


@pytest.fixture(scope="module", autouse=True)
def _browser_per_module():
    """Browser tests share one Chromium within a test module (tests/browser.py); it ends with the module."""
    yield
    if "tests.browser" in sys.modules:
        sys.modules["tests.browser"].close_shared_browser()


# How ``make test`` shares the work between its two pytest-xdist workers (``--dist loadgroup``): every test on
# its own, handed to whichever worker is free, except the tests of a file with module-scoped fixtures (a
# browser file's app server and demo clinic), which stay together on one worker (``xdist_group``, added
# below) so that the server starts once. Work goes out in the order collected, longest first (CI's
# --durations), so that no long test or file is left running alone at the end while the other worker idles:
# the browser files, then the kill-point chains and the command-line files, then everything else.
SLOW_FILES = ("test_fhir_import.py", "test_chain_deployment.py", "test_s3_commands.py", "test_outlook.py",
              "test_browser_session_cookie.py", "test_browser_media.py", "test_browser_security.py",
              "test_browser_clinician.py", "test_browser_", "test_restore_atomic.py", "test_crash_safety.py",
              "test_audit_anchor.py", "test_user_cli.py", "test_backup.py", "test_restore.py", "test_accounts.py",
              "test_patient_record.py")


def pytest_configure(config):
    # Known also when pytest-xdist is not loaded (``-p no:xdist``), where it changes nothing.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one pytest-xdist worker")
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's --dist loadgroup/loadfile: keep our order
        config.option.loadscopereorder = False


def _module_scoped_fixtures(item) -> list[str]:
    """The module-scoped fixtures ``item`` uses (other than the shared browser's, which is cheap)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:  # a doctest
        return []
    return [name for name, definitions in info.name2fixturedefs.items()
            if definitions and definitions[-1].scope == "module" and name != "_browser_per_module"]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items):
    def rank(item) -> int:  # the order of SLOW_FILES, then every other file; a stable sort keeps files whole
        return next((n for n, start in enumerate(SLOW_FILES) if item.path.name.startswith(start)), len(SLOW_FILES))

    items.sort(key=rank)
    for item in items:
        if _module_scoped_fixtures(item):
            item.add_marker(pytest.mark.xdist_group(item.path.name))


_FIGURES: list[str] = []


@pytest.fixture
def figure():
    """Record a measured figure (cases tried, writers, crash points…) for the run's closing summary."""
    return _FIGURES.append


def pytest_sessionfinish(session):
    """Drop this process's PostgreSQL schema. Under pytest-xdist (``make test`` runs ``-n``) each worker
    also hands its figures and its PostgreSQL note to the controller, which prints the summary."""
    if "tests.forked_python" in sys.modules:  # the parent of the command-line processes (tests/forked_python.py)
        sys.modules["tests.forked_python"].stop_parent()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["figures"] = list(_FIGURES)
        workeroutput["postgresql"] = dict(_pg_state)
    if _pg_state["url"]:
        try:
            engine = create_engine(normalize_url(_pg_state["url"]))
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{_PG_SCHEMA}" CASCADE'))
            engine.dispose()
        except Exception:
            pass


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: on the controller, as each worker finishes
def pytest_testnodedown(node, error):
    output = getattr(node, "workeroutput", {})
    _FIGURES.extend(output.get("figures", []))
    state = output.get("postgresql", {})
    if state.get("url"):
        _pg_state.update(url=state["url"], why=None)
    elif state.get("why") and not _pg_state["url"]:
        _pg_state["why"] = state["why"]


def pytest_terminal_summary(terminalreporter):
    for line in _FIGURES:
        terminalreporter.write_line(f"figure: {line}")
    if _pg_state["url"]:
        terminalreporter.write_line(f"PostgreSQL: database tests ran against {_pg_state['url']}")
    elif _pg_state["why"]:
        terminalreporter.write_line(f"PostgreSQL: SKIPPED, database tests ran on SQLite only ({_pg_state['why']})",
                                    yellow=True)
