"""The lot lookup and the audit trail's browse and export only read: on SQLite they begin deferred (their WAL
snapshot, no write lock) and their audit entry is written just after, in a short write transaction of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from db.engine import engine_for
from tests.patient_samples import seed
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.records.lots import export_lot_csv, sessions_with_lot

ADMIN = Actor("root.admin", "admin")
DR = Actor("dr.lee", "clinician")


@contextmanager
def begins(url: str) -> Iterator[list[str]]:
    """Every BEGIN the app's engine sends while the block runs."""
    seen: list[str] = []
    engine = engine_for(url)

    def watch(_conn, _cursor, statement, *_):
        if statement.upper().startswith("BEGIN"):
            seen.append(statement.upper())

    event.listen(engine, "before_cursor_execute", watch)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", watch)


USE_CASES: dict[str, Callable[[str], object]] = {
    "lot lookup": lambda url: sessions_with_lot(DR, "RC-1", url=url),
    "lot CSV export": lambda url: export_lot_csv(DR, "RC-1", url=url),
    "audit browse": lambda url: audit.browse(ADMIN, url=url),
    "audit export": lambda url: audit.export_csv(ADMIN, url=url),
}


@pytest.mark.parametrize("name", USE_CASES)
def test_reads_begin_deferred_and_only_the_audit_entry_takes_the_write_lock(clinic, name):
    if not clinic.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    seed(clinic, "RL-1", "Read Only")
    with begins(clinic) as seen:
        USE_CASES[name](clinic)
    assert seen == ["BEGIN", "BEGIN IMMEDIATE"], seen  # the reads, then the audit entry
