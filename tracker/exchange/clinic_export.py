"""Every live patient's data in one XLSX workbook, for admins: the sheets of a patient's export
(``export_sheets``, corrections and removals included), each with every patient's rows, ordered by MRN.

Written with flat memory at any size: each sheet's rows come from a server-side cursor
(``tracker.database.streamed_rows``) into openpyxl's write-only workbook, which keeps them in temporary files
until it zips them (``safe_workbook``). The export is audited (one ``export`` entry naming every patient,
``audit.record(patient_ids=...)``) before a row is read. Each sheet is read on a connection of its own, so a
record written while the export runs may appear in a later sheet and not in an earlier one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from typing import IO

from tracker.access import audit
from tracker.access.actors import ADMIN, Actor, require_role
from tracker.database import read_connection, reading, streamed_rows
from tracker.exchange import export_sheets, safe_workbook


@dataclass(frozen=True)
class ClinicExport:
    """What was written: ``patients`` live patients, ``rows`` per sheet title in sheet order."""

    patients: int
    rows: tuple[tuple[str, int], ...]

    def summary(self) -> str:
        """In words, for the command line and the page.

        >>> ClinicExport(2, (("Patient", 2), ("Visits", 1))).summary()
        '2 patients; Patient 2 rows, Visits 1 row.'
        """
        return (f"{self.patients:,} patient{'' if self.patients == 1 else 's'}; "
                + ", ".join(f"{title} {n:,} row{'' if n == 1 else 's'}" for title, n in self.rows) + ".")


def clinic_file_name(today: date) -> str:
    """The workbook's name for a download made on ``today``.

    >>> clinic_file_name(date(2026, 11, 30))
    'clinic_data_2026-11-30.xlsx'
    """
    return f"clinic_data_{today.isoformat()}.xlsx"


def export_clinic(actor: Actor | None, out: IO[bytes], url: str | None = None) -> ClinicExport:
    """Write every live patient's data to ``out`` (a binary file open for writing) as an XLSX workbook.

    Admins only (``PermissionDenied`` otherwise); audited before a row is read.
    """
    actor = require_role(actor, ADMIN)
    with reading(url) as session:  # never SQLite's write lock; the audit entry is written just after
        ids = read_connection(session).execute(export_sheets.live_patient_ids()).scalars().all()
        audit.record(session, actor, "export", detail="clinic data export (XLSX)", patient_ids=ids)
    book = safe_workbook.new_workbook()
    rows = []
    for sheet in export_sheets.SHEETS:
        cells = (sheet.cells(row) for row in streamed_rows(sheet.statement(export_sheets.EVERY_PATIENT), url))
        rows.append((sheet.title, safe_workbook.add_sheet(book, sheet.title, sheet.columns, cells)))
    safe_workbook.save(book, out)
    return ClinicExport(len(ids), tuple(rows))


def clinic_export_file(actor: Actor | None, url: str | None = None) -> bytes:
    """``export_clinic`` as bytes, for a page's download (Streamlit holds a download whole): the workbook is
    written to an unnamed temporary file and read back once. Raises as ``export_clinic``."""
    with tempfile.TemporaryFile() as spool:  # mode 0600, and no name: nothing left behind if the process dies
        export_clinic(actor, spool, url)
        spool.seek(0)
        return spool.read()
