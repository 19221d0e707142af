"""Writing an import's rows in bulk (``tracker.exchange.spreadsheet_import``), in the caller's transaction.

An import of 5,000 patients adds some 130,000 rows; the ORM's unit of work spends most of a minute on them, so
rows are written as plain column values, a chunk at a time: on SQLite one Core ``INSERT`` executed for many rows
(``executemany``); on PostgreSQL a ``COPY … FROM STDIN`` through the session's own connection (psycopg turns each
row of an ``executemany`` into its own round trip, and each multi-row ``VALUES`` into a query it parses in
Python: both cost seconds at this size). Ids that later rows need (patients', visits') are taken before the rows
are written, so that nothing has to be read back: from the table's sequence on PostgreSQL, and on SQLite after
the table's highest id (the import's transaction holds SQLite's write lock, ``BEGIN IMMEDIATE``, so no other
writer can take them meanwhile).

A row that breaks a constraint raises ``sqlalchemy.exc.IntegrityError`` whichever the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import models

# Rows written by one statement (one COPY on PostgreSQL), each chunk followed by a progress report: small enough
# for a bar that moves on a clinic's thousands of rows, large enough that a statement costs little per row.
WRITE_CHUNK = 2000


class BulkWriter:
    """Writes rows into the session's transaction, telling ``written(rows written, total)`` after each chunk."""

    def __init__(self, session: Session, total: int, written: Callable[[int, int], None]):
        self.session, self.total, self.written, self.chunk = session, total, written, WRITE_CHUNK
        self.postgresql = session.get_bind().dialect.name == "postgresql"
        self.added = 0

    def new_ids(self, model: type[models.Base], count: int) -> list[int]:
        """``count`` ids for new rows of ``model`` (whose primary key is an integer ``id``), in increasing order."""
        if count == 0:
            return []
        table = _table(model)
        if self.postgresql:
            query = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")
            return list(self.session.scalars(query, {"table": table.name, "count": count}))
        highest = self.session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
        return list(range(int(highest or 0) + 1, int(highest or 0) + 1 + count))

    def insert(self, model: type[models.Base], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Writes ``rows`` (values in the order of ``columns``) into ``model``'s table."""
        table = _table(model)
        for start in range(0, len(rows), self.chunk):
            chunk = rows[start:start + self.chunk]
            if self.postgresql:
                self._copy(table, columns, chunk)
            else:
                self._executemany(table, columns, chunk)
            self.added += len(chunk)
            self.written(self.added, self.total)

    def _executemany(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """SQLite: the driver's executemany with each value converted as SQLAlchemy would (its bind processors:
        dates and times in its text format, JSON as text), without building a dict and compiling parameters per
        row (a third of the import's writing time went there)."""
        dialect = self.session.get_bind().dialect
        convert = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
        names = ", ".join(f'"{name}"' for name in columns)
        statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
        values = [tuple(value if value is None or how is None else how(value)
                        for how, value in zip(convert, row, strict=True)) for row in rows]
        cursor = self.session.connection().connection.cursor()
        try:
            cursor.executemany(statement, values)
        except dialect.loaded_dbapi.IntegrityError as exc:  # the driver's own, as for COPY below
            raise IntegrityError(f"INSERT INTO {table.name}", None, exc) from exc
        finally:
            cursor.close()

    def _copy(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        connection = self.session.connection().connection.driver_connection
        if connection is None:  # cannot happen: the session's connection is open
            raise RuntimeError("The import's database connection is closed.")
        dbapi = self.session.get_bind().dialect.loaded_dbapi
        names = ", ".join(f'"{name}"' for name in columns)
        try:
            with connection.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        except dbapi.IntegrityError as exc:  # the driver's own: COPY does not go through SQLAlchemy
            raise IntegrityError(f"COPY {table.name}", None, exc) from exc


def _table(model: type[models.Base]) -> Table:
    return models.Base.metadata.tables[model.__tablename__]
