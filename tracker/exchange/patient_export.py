"""One patient's complete data, as a patient's access request asks for it: an XLSX workbook (one sheet per kind of
record) or a zip of CSV files (the same sheets, one CSV each).

Why a zip of CSVs rather than one CSV with a "kind" column: the kinds share almost no column (a visit has a
satisfaction score, a session a lot number), so one CSV would be some sixty columns, most of them empty on
every row, and a spreadsheet could not sort or sum any of them. One CSV per kind has exactly the sheet's header,
opens alone in any spreadsheet, and matches the workbook sheet for sheet.

Staff export any patient's data; a patient account only its own (a refusal never says whether another MRN
exists, and is audited). The export is audited as an ``export`` of that patient. Sheets: ``export_sheets``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from tracker.access import audit
from tracker.access.actors import ROLES, Actor, require_role
from tracker.access.patient_lookup import resolve_patient
from tracker.database import read_connection, reading
from tracker.errors import ValidationError
from tracker.exchange import export_sheets, safe_workbook

ExportForm = Literal["xlsx", "csv"]
FORMS: dict[str, tuple[str, str]] = {  # form: (file name ending, media type)
    "xlsx": ("xlsx", safe_workbook.XLSX_MEDIA_TYPE),
    "csv": ("zip", safe_workbook.ZIP_MEDIA_TYPE),
}


@dataclass(frozen=True)
class PatientExport:
    """The file to hand over: ``data`` (bytes) named ``file_name``, of ``media_type``; ``rows``: rows per sheet
    title, in sheet order."""

    file_name: str
    media_type: str
    data: bytes
    rows: tuple[tuple[str, int], ...]


def export_file_name(mrn: str, form: str, today: date) -> str:
    """A file name safe on every system: the MRN (anything unusual as ``_``), the day, the form's ending.

    >>> export_file_name("RT-0001", "xlsx", date(2025, 6, 1)), export_file_name("a/b", "csv", date(2025, 6, 1))
    ('RT-0001_data_2025-06-01.xlsx', 'a_b_data_2025-06-01.zip')
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", mrn).strip("._") or "patient"
    return f"{stem[:40]}_data_{today.isoformat()}.{FORMS[form][0]}"


def _checked_form(form: str) -> ExportForm:
    if form == "xlsx":
        return "xlsx"
    if form == "csv":
        return "csv"
    raise ValidationError(f"An export is XLSX or CSV, not {form!r}.")


def patient_export(actor: Actor | None, mrn: str | None, form: str = "xlsx", today: date | None = None,
                   url: str | None = None) -> PatientExport:
    """The patient's complete data as ``form`` (``"xlsx"``: one sheet per kind; ``"csv"``: a zip of one CSV per
    kind). ``mrn``: the patient (a patient account may leave it out: its own record). Staff get the corrections
    and removals sheets too.

    Raises ``PermissionDenied`` (audited) for a patient account asking for another MRN, ``NotFound`` for an
    unknown MRN, ``ValidationError`` for another form.
    """
    checked = _checked_form(form)
    actor = require_role(actor, *ROLES)
    today = today or date.today()
    with audit.refusals_recorded(actor, "patient data export", mrn, url), reading(url) as session:
        patient = resolve_patient(session, actor, mrn)
        connection = read_connection(session)
        sheets = export_sheets.sheets_for(actor.is_staff)
        which = export_sheets.one_patient(patient.id)
        read = [(sheet, [sheet.cells(row) for row in connection.execute(sheet.statement(which))])
                for sheet in sheets]
        rows = tuple((sheet.title, len(cells)) for sheet, cells in read)
        audit.record(session, actor, "export", patient_id=patient.id,
                     detail=f"patient data export ({checked.upper()}): "
                            + ", ".join(f"{title} {count}" for title, count in rows))
    if checked == "xlsx":
        book = safe_workbook.new_workbook()
        for sheet, cells in read:
            safe_workbook.add_sheet(book, sheet.title, sheet.columns, cells)
        out = io.BytesIO()
        safe_workbook.save(book, out)
        data = out.getvalue()
    else:
        data = safe_workbook.csv_zip((sheet.file, sheet.columns, cells) for sheet, cells in read)
    return PatientExport(export_file_name(patient.mrn, checked, today), FORMS[checked][1], data, rows)
