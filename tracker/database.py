"""The tracker's access to the database: one short-lived transaction per use case, and first-run set-up."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from db import models
from db.engine import engine_for, migrate, session_factory
from tracker.config import settings
from tracker.milestones import DEFAULT_PROTOCOL


def database_url() -> str:
    return settings().database_url


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """One use case, one transaction: commits on success, rolls back on any error."""
    with session_factory(url or database_url())() as session:
        with session.begin():
            yield session


# What the pre-built Core reads run on: a use case's ORM session, or the plain connection of a
# ``read_transaction``.
Reads = Session | Connection


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


def initialize(url: str | None = None) -> None:
    """Create or migrate the schema and seed the default protocol; idempotent."""
    url = url or database_url()
    settings().data_dir.mkdir(parents=True, exist_ok=True)
    migrate(url)
    with transaction(url) as session:
        exists = session.scalar(select(models.Protocol.id).where(models.Protocol.name == DEFAULT_PROTOCOL.name))
        if exists is None:
            session.add(
                models.Protocol(
                    name=DEFAULT_PROTOCOL.name,
                    band=[{"month": p.month, "low": p.low, "high": p.high} for p in DEFAULT_PROTOCOL.band],
                    windows=[
                        {"name": w.name, "start_month": w.start_month, "end_month": w.end_month,
                         "target_month": w.target_month}
                        for w in DEFAULT_PROTOCOL.windows
                    ],
                    evidence_note=DEFAULT_PROTOCOL.evidence_note,
                    created_by="system",
                )
            )
