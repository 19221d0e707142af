"""Writing export sheets as files a spreadsheet opens safely: an XLSX workbook, or a zip of CSV files.

Every text cell goes through the project's formula guard (``tracker.safe_csv.spreadsheet_safe``: a leading
``=``, ``+``, ``-``, ``@``, tab or carriage return gets a ``'`` before it, as in the CSV exports), so a patient
named ``=HYPERLINK(...)`` is text in the workbook, in the CSV, and in a CSV someone later saves from the workbook.
On top of that, openpyxl would store a text equal to an error code (``#REF!``) as an error cell: such a cell is
written as text explicitly. Characters XML cannot hold (control characters other than tab and line breaks) become
U+FFFD instead of stopping the export, and a text longer than a cell may hold (32,767 characters) is cut with a
note. Dates stay dates (``yyyy-mm-dd`` cells), numbers stay numbers.

The workbook is openpyxl's write-only kind: each sheet's rows go to a temporary file as they are appended and
the workbook is zipped from them at the end, so memory stays flat whatever the number of rows.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from tracker.safe_csv import csv_chunks, spreadsheet_safe

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MEDIA_TYPE = "application/zip"
CELL_MAX = 32_767  # characters an Excel cell holds
# What XML 1.0 cannot carry (openpyxl's ILLEGAL_CHARACTERS_RE): C0 controls except tab, line feed, carriage return.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_BOLD = Font(bold=True)


def safe_text(value: str) -> str:
    """A text as a cell holds it: guarded against formulas, unwritable characters replaced, cut to fit.

    >>> safe_text('=HYPERLINK("http://x","y")'), safe_text("+1")
    ('\\'=HYPERLINK("http://x","y")', "'+1")
    >>> safe_text("bell\\x07") == "bell\\ufffd"
    True
    >>> len(safe_text("x" * 40_000)), safe_text("x" * 40_000)[-26:]
    (32767, '… [cut: 40,000 characters]')
    """
    text = str(spreadsheet_safe(_UNWRITABLE.sub("\ufffd", value)))
    if len(text) > CELL_MAX:
        note = f"… [cut: {len(text):,} characters]"
        text = text[:CELL_MAX - len(note)] + note
    return text


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = safe_text(value)
    if not text:
        return None  # an empty cell, not a cell holding an empty text
    if text not in ERROR_CODES:
        return text  # guarded: never starts with "=", so openpyxl stores it as text
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # openpyxl would make "#REF!" an error cell
    return cell


def new_workbook() -> Workbook:
    """An empty write-only workbook (its default sheet is not created in write-only mode)."""
    return Workbook(write_only=True)


def add_sheet(book: Workbook, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """A sheet ``title`` of the header ``columns`` (bold, frozen) and ``rows``, written as they come; returns
    how many rows it holds (the header not counted)."""
    # Typed Any: openpyxl's stubs give the write-only sheet neither column widths nor frozen panes, which it has
    # (copied from the ordinary sheet) and writes as the sheet's header.
    sheet: Any = book.create_sheet(title)
    for index, column in enumerate(columns, start=1):  # widths before any row: write-only mode's rule
        sheet.column_dimensions[get_column_letter(index)].width = min(max(len(column) + 2, 12), 40)
    sheet.freeze_panes = "A2"
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=safe_text(column))
        cell.font = _BOLD
        header.append(cell)
    sheet.append(header)
    written = 0
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])
        written += 1
    return written


def save(book: Workbook, out: IO[bytes]) -> None:
    """The workbook written to ``out`` (a binary file open for writing)."""
    book.save(out)


def csv_zip(files: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """A zip of CSV files, one per ``(file name, columns, rows)``: UTF-8 with BOM, every cell guarded
    (``safe_csv.csv_chunks``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, columns, rows in files:
            with archive.open(name, "w") as member:
                for chunk in csv_chunks(columns, rows):
                    member.write(chunk)
    return buffer.getvalue()
