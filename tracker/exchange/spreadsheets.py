"""Reading the tables clinics keep (CSV, Excel .xlsx or LibreOffice .ods) into rows keyed by column name.

Only the layout is checked here: that the file is a readable spreadsheet and that its header row names
the expected columns. What the cells mean is the importer's business (``tracker.exchange.spreadsheet_import``).

- The kind of file is decided by its content: a workbook is a ZIP archive (.xlsx, or .ods by its
  ``mimetype``); a password-protected .xlsx is an OLE2 compound file holding an ``EncryptedPackage`` and is
  called so; anything else must be text: UTF-8 (a byte-order mark is allowed), UTF-16 with its byte-order
  mark (Excel's "Unicode text"), or else Windows-1252, which is read with a note for the summary.
- Text is comma-, semicolon- or tab-separated; a first line ``sep=;`` (Excel writes it and hides it) names
  the separator. In a semicolon-separated file the decimal separator is the comma (``Sheet.decimal_comma``).
- The first non-blank row is the header; its names are matched whatever their capitals, surrounding
  spaces, or spaces in place of ``_`` (`` Full Name `` is ``full_name``). Blank rows are skipped; row numbers
  are those the clinician sees in Excel or LibreOffice (the header is row 1 in a usual sheet).
- Workbook cells are read as shown: a formula cell gives its saved result, a date at midnight is a date,
  and in ``identifiers`` columns (MRN, lot number) a number is accepted only as the text its display format
  reproduces (``00123``). What cannot be read so is an ``UnreadableCell`` saying why (merged cells, a
  formula saved without its result, an identifier stored as a number).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePath, PureWindowsPath
from typing import NamedTuple

from openpyxl import load_workbook
from openpyxl.cell.read_only import EmptyCell
from openpyxl.utils import get_column_letter, range_boundaries

from tracker.config import settings
from tracker.exchange.import_problems import ImportProblem, ImportRefused, file_problem
from tracker.exchange.opendocument import ODS_MIMETYPE, ods_rows
from tracker.exchange.spreadsheet_cells import (
    NumberCell,
    UnreadableCell,
    cell_name,
    formula_without_result,
    merged_cell,
    number_as_identifier,
    plain_date,
    shown_by_format,
)

# A clinic's spreadsheets weigh kilobytes to a few megabytes; the limits only refuse what is clearly
# not one (a video renamed .csv, a compressed "zip bomb"). A file itself may weigh what an upload to the photo
# store may (``settings().max_upload_bytes``, ``TRACKER_MAX_UPLOAD_MB``, the web server's own cap too).
MAX_UNPACKED_XLSX_BYTES = 200 * 1024 * 1024
# Merged cells past this many columns are beyond any import sheet (a banner merged across A:XFD).
_MAX_COLUMNS = 200

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: old .xls, or an encrypted .xlsx
# Excel encrypts a password-protected .xlsx into this stream of a compound file (MS-OFFCRYPTO 2.3.4.4);
# directory entries name their streams in UTF-16.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SEP_LINE = re.compile(r"sep=(.)", re.IGNORECASE)
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')
_QUOTED = re.compile(r'"[^"]*"|\\.')  # literal text in a number format
_SAVE_AS = "save it from Excel or LibreOffice as .xlsx or as 'CSV UTF-8'"

Rows = list[tuple[int, tuple[object, ...]]]


class UploadedSheet(NamedTuple):
    """A spreadsheet sent from the browser: the name it had on the clinician's computer, and its content."""

    name: str
    data: bytes


# Where a spreadsheet comes from: a file on disk (the command line) or an upload (the import page).
SheetSource = str | Path | UploadedSheet | tuple[str, bytes]


@dataclass(frozen=True)
class SheetRow:
    """One non-blank row: its number as shown in the spreadsheet and its cells by column name.

    ``stray_cells`` counts values in columns that have no header (often a comma inside an unquoted
    CSV value, which splits it in two).
    """

    number: int
    cells: dict[str, object]
    stray_cells: int = 0


@dataclass(frozen=True)
class Sheet:
    """A file's rows. ``decimal_comma``: a semicolon-separated text file, whose numbers are written with a
    decimal comma (``58,3``); ``notes``: what the summary should tell about how the file was read."""

    file_name: str
    header_row: int
    columns: tuple[str, ...]
    rows: tuple[SheetRow, ...]
    decimal_comma: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Raw:
    rows: Rows
    decimal_comma: bool = False
    notes: tuple[str, ...] = ()


def _blank(value: object) -> bool:
    if isinstance(value, UnreadableCell):
        return value.blank
    return value is None or (isinstance(value, str) and not value.strip())


def read_sheet(source: SheetSource, required: Sequence[str], optional: Sequence[str] = (),
               identifiers: Sequence[str] = ()) -> Sheet:
    """The rows of a CSV, .xlsx or .ods file (its first worksheet) whose header names ``required`` columns.

    ``source`` is a file's path, or an ``UploadedSheet`` (any ``(name, bytes)`` pair). Cells are ``str`` (text
    files always), ``int``/``float``, ``date``/``datetime``/``time``, ``bool`` or ``UnreadableCell``;
    ``identifiers`` columns never hold a number. Raises ``ImportRefused`` (a ``ValidationError``) listing every
    problem with the file itself (no row) or with its header row (that row, and the column concerned).
    """
    name, data = _source_bytes(source)
    raw = _raw_rows(name, data)
    return _sheet(name, raw, tuple(required), tuple(optional), frozenset(identifiers))


def source_name(source: SheetSource) -> str:
    r"""The file name a source is known by in messages: a path's last part, an upload's name as sent (without any
    folder a browser may add).

    >>> source_name("/clinic/exports/visits.csv"), source_name(UploadedSheet("C:\\Users\\visits.xlsx", b""))
    ('visits.csv', 'visits.xlsx')
    """
    if isinstance(source, tuple):
        return PureWindowsPath(source[0]).name.strip() or "uploaded file"
    return Path(source).name


def _source_bytes(source: SheetSource) -> tuple[str, bytes]:
    """A source's name and content; refuses a file over the upload limit (``settings().max_upload_bytes``, the
    photo store's) before reading it, and a path that cannot be read."""
    name, limit = source_name(source), settings().max_upload_bytes
    if isinstance(source, tuple):
        _check_size(name, len(source[1]), limit)
        return name, source[1]
    path = Path(source)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise file_problem(name, "is not a file")
        _check_size(name, size, limit)
        return name, path.read_bytes()
    except FileNotFoundError:
        raise file_problem(name, f"file not found ({path})") from None
    except OSError as exc:
        raise file_problem(name, f"the file cannot be opened ({exc.strerror or exc})") from None


def _check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise file_problem(
            name, f"the file is too large for a spreadsheet import ({_file_size(size)}; at most {_file_size(limit)})"
        )


def _file_size(size: int) -> str:
    """A file's size in the photo store's words (``tracker.photos.intake``).

    >>> _file_size(26_214_400), _file_size(30_000_000), _file_size(2_048)
    ('25.0 MB', '28.6 MB', '2 KB')
    """
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{-(-size // 1024)} KB"


def _raw_rows(name: str, data: bytes) -> _Raw:
    """The rows of a file's content; the kind of file is decided by the content, the name only names it (and a
    workbook's extension on a file that is not one is called so)."""
    if data.startswith(_ZIP_MAGIC):
        return _Raw(_workbook_rows(name, data))
    if data.startswith(_OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise file_problem(
                name, f"the workbook is password-protected, so it cannot be read; open it in Excel, remove the "
                f"password (File → Info → Protect Workbook → Encrypt with Password, empty) and {_SAVE_AS}"
            )
        raise file_problem(name, f"the old Excel format (.xls) is not supported; {_SAVE_AS}")
    suffix = PurePath(name).suffix
    if suffix.lower() in (".xlsx", ".xlsm", ".ods"):
        kind = "a LibreOffice spreadsheet" if suffix.lower() == ".ods" else "an Excel workbook"
        raise file_problem(name, f"is not {kind} although its name ends in {suffix}; {_SAVE_AS}")
    return _csv_rows(name, data)


def _decoded(name: str, data: bytes) -> tuple[str, tuple[str, ...]]:
    """The file's text, and a note when it was not UTF-8."""
    if data.startswith(_UTF16_BOMS):  # Excel's "Unicode text": UTF-16 with its byte-order mark, tab-separated
        try:
            return data.decode("utf-16"), ()
        except UnicodeDecodeError:
            raise file_problem(name, f"is damaged UTF-16 ('Unicode') text; {_SAVE_AS}") from None
    if b"\x00" in data:
        raise file_problem(name, f"is not a spreadsheet (neither CSV text nor an Excel workbook); {_SAVE_AS}")
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise file_problem(
            name, f"is not a spreadsheet saved as text in UTF-8 or Windows-1252 (it may be another file, or a "
            f"CSV in another encoding); {_SAVE_AS}"
        ) from None
    # Excel's plain "CSV" on Windows is Windows-1252; the file could also be in another old encoding, which
    # reads as wrong letters, so the clinician is shown an example to check.
    words = [word for word in re.split(r"[\s,;\t\"]+", text) if not word.isascii()]
    example = f" (for example {words[0]!r})" if words else ""
    note = (f"{name} was read as Windows-1252 text, not UTF-8: check that accented letters look right"
            f"{example}, or save the file as 'CSV UTF-8'")
    return text, (note,)


def _csv_rows(name: str, data: bytes) -> _Raw:
    text, notes = _decoded(name, data)
    first, _, rest = text.partition("\n")
    declared = _SEP_LINE.fullmatch(first.strip())
    if declared:
        # Excel reads the separator from this line and does not show it: the next line is row 1.
        delimiter, text = declared.group(1), rest
    else:
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        counts = {mark: first_line.count(mark) for mark in (",", ";", "\t")}
        # Excel writes semicolons where the comma is the decimal separator, tabs in "Unicode text".
        delimiter = max(counts, key=lambda mark: counts[mark]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows: Rows = [(number, tuple(cells)) for number, cells in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise file_problem(name, f"cannot be read as CSV near line {reader.line_num} ({exc})") from None
    return _Raw(rows, decimal_comma=delimiter == ";", notes=notes)


def _workbook_rows(name: str, data: bytes) -> Rows:
    unreadable = f"cannot be read as an Excel workbook (.xlsx); {_SAVE_AS}"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError):
        raise file_problem(name, unreadable) from None
    if unpacked > MAX_UNPACKED_XLSX_BYTES:
        raise file_problem(name, "the workbook is too large once unpacked for a spreadsheet import")
    if mimetype.strip() == ODS_MIMETYPE:
        return ods_rows(name, data)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it ignores (data validation, conditional formats).
            warnings.simplefilter("ignore")
            return _xlsx_rows(name, data)
    except ImportRefused:
        raise
    except Exception:  # openpyxl signals a malformed workbook with many exception types (KeyError, …)
        raise file_problem(name, unreadable) from None


def _xlsx_rows(name: str, data: bytes) -> Rows:
    """The first worksheet's rows as shown: formulas by their saved results, merged cells named."""
    rows, formulas, sheet_path = _xlsx_cells(name, data, data_only=False)
    if formulas:
        # Read again for the results Excel saved with the formulas (openpyxl never computes one).
        results, _, _ = _xlsx_cells(name, data, data_only=True)
        for row_index, column, formula in formulas:
            result = results[row_index][1][column] if column < len(results[row_index][1]) else None
            cells = list(rows[row_index][1])
            number = rows[row_index][0]
            cells[column] = formula_without_result(cell_name(number, column), formula) if result is None else result
            rows[row_index] = (number, tuple(cells))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        source = archive.read(sheet_path) if sheet_path in archive.namelist() else b""
    return _with_merged_cells(rows, [match.decode() for match in _MERGE.findall(source)])


def _xlsx_cells(name: str, data: bytes, *, data_only: bool) -> tuple[Rows, list[tuple[int, int, str]], str]:
    """Rows of the first worksheet, the formula cells (row index, column, formula) and the sheet's path."""
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    try:
        if not workbook.worksheets:
            raise file_problem(name, "the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # stored dimensions are often wrong; read every row there is
        rows: Rows = []
        formulas: list[tuple[int, int, str]] = []
        for number, cells in enumerate(sheet.iter_rows(min_row=1), start=1):
            values = []
            for column, cell in enumerate(cells):
                if not isinstance(cell, EmptyCell) and cell.data_type == "f":
                    formulas.append((len(rows), column, str(getattr(cell.value, "text", cell.value))))
                values.append(_xlsx_value(cell))
            rows.append((number, tuple(values)))
        return rows, formulas, str(getattr(sheet, "_worksheet_path", ""))
    finally:
        workbook.close()


def _xlsx_value(cell: object) -> object:
    if isinstance(cell, EmptyCell):
        return None
    value = getattr(cell, "value", None)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number_format = getattr(cell, "number_format", None)
        if "%" in _QUOTED.sub("", number_format or ""):
            # Shown as a percentage: 0.625 is what Excel shows as 62.5% (a SALT score typed "62.5%").
            return NumberCell(round(value * 100, 10))
        return NumberCell(value, shown_by_format(value, number_format))
    if isinstance(value, (datetime, date)) or hasattr(value, "isoformat"):
        return plain_date(value)
    return str(getattr(value, "text", value))  # an array formula read without its result


def _with_merged_cells(rows: Rows, ranges: list[str]) -> Rows:
    """``rows`` with the hidden cells of each merged range marked as such (Excel keeps only the first)."""
    for merged in ranges:
        first_column, first_row, last_column, last_row = (int(bound or 0) for bound in range_boundaries(merged))
        last_column = min(last_column, _MAX_COLUMNS)
        for row_index, (number, cells) in enumerate(rows):
            if not first_row <= number <= last_row:
                continue
            padded = list(cells) + [None] * max(0, last_column - len(cells))
            for column in range(first_column - 1, last_column):
                if (number, column + 1) != (first_row, first_column) and padded[column] is None:
                    padded[column] = merged_cell(cell_name(number, column), merged)
            rows[row_index] = (number, tuple(padded))
    return rows


def _sheet(name: str, raw: _Raw, required: tuple[str, ...], optional: tuple[str, ...],
           identifiers: frozenset[str]) -> Sheet:
    rows = iter(item for item in raw.rows if not all(_blank(value) for value in item[1]))
    header = next(rows, None)
    expected = required + optional
    if header is None:
        raise file_problem(
            name, f"the file is empty; its first row must name the columns: {_listed(required, expected)}"
        )
    header_row, header_cells = header
    data_rows = list(rows)
    headers = [_header_text(value) for value in header_cells]
    keys = [column_key(text) for text in headers]
    problems = _header_problems(name, header_row, headers, keys, data_rows, required, expected)
    if problems:
        raise ImportRefused(str(problems[0]), problems)
    columns = {index: key for index, key in enumerate(keys) if key}
    return Sheet(
        file_name=name,
        header_row=header_row,
        columns=tuple(columns.values()),
        rows=tuple(_row(number, cells, columns, len(keys), identifiers) for number, cells in data_rows),
        decimal_comma=raw.decimal_comma,
        notes=raw.notes,
    )


def _listed(required: tuple[str, ...], expected: tuple[str, ...]) -> str:
    """The columns for a message: ``mrn, date; optional: site``."""
    optional = [column for column in expected if column not in required]
    return ", ".join(required) + (f"; optional: {', '.join(optional)}" if optional else "")


def column_key(header: str) -> str:
    """The column a header names, whatever its capitals, surrounding spaces, or spaces and hyphens for ``_``.

    >>> column_key(" Full Name "), column_key("MRN"), column_key("density-per-cm2")
    ('full_name', 'mrn', 'density_per_cm2')
    """
    return re.sub(r"[\s\-]+", "_", header.strip().lstrip("\ufeff").strip().casefold())


def _header_text(value: object) -> str:
    if value is None or isinstance(value, UnreadableCell):
        return ""
    if isinstance(value, NumberCell):
        value = value.number
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lstrip("\ufeff").strip()


def _header_problems(name: str, header_row: int, headers: list[str], keys: list[str],
                     data_rows: Iterable[tuple[int, tuple[object, ...]]],
                     required: tuple[str, ...], expected: tuple[str, ...]) -> list[ImportProblem]:
    """One problem per mistake in the header row, naming the column concerned: a missing column by the name it
    should have, a header that is not a column as written, an unnamed column by its letter. A header that is not
    a column and the required column it most likely meant make one problem ("did you mean"), not a "missing" and
    an "unknown" for the same header."""
    listed = f"(the columns are: {_listed(required, expected)})"
    positions: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        if key:
            positions.setdefault(key, []).append(index)
    missing = [column for column in required if column not in positions]
    absent = [column for column in expected if column not in positions]
    unknown = [(key, indexes[0]) for key, indexes in positions.items() if key not in expected]
    problems = []
    for key, index in unknown:
        meant = difflib.get_close_matches(key, absent, n=1, cutoff=0.6)
        if not meant and len(unknown) == 1 and len(missing) == 1:
            meant = [missing[0]]  # the one header that is not a column stands where the one missing column should
        guess = ""
        if meant:
            absent.remove(meant[0])
            if meant[0] in missing:
                missing.remove(meant[0])
            guess = f"; did you mean {meant[0]!r}?"
        problems.append((headers[index], f"unknown column {headers[index]!r} in column {_letter(index)}{guess} "
                                         f"{listed}"))
    problems[:0] = [(column, f"missing column {column!r} {listed}") for column in missing]
    for key, indexes in positions.items():
        if len(indexes) > 1:
            letters = " and ".join(_letter(index) for index in indexes)
            problems.append((key, f"column {key!r} appears more than once (columns {letters})"))
    unnamed = sorted({
        index for _, cells in data_rows for index, value in enumerate(cells)
        if index < len(keys) and not keys[index] and not _blank(value)
    })
    for index in unnamed:
        problems.append((_letter(index), f"column {_letter(index)} holds values but has no name in the header row"))
    return [ImportProblem(name, header_row, column, reason) for column, reason in problems]


def _row(number: int, cells: tuple[object, ...], columns: dict[int, str], width: int,
         identifiers: frozenset[str]) -> SheetRow:
    values = {
        column: _cell(cells[index] if index < len(cells) else None, column in identifiers, number, index)
        for index, column in columns.items()
    }
    stray = sum(1 for value in cells[width:] if not _blank(value))
    return SheetRow(number=number, cells=values, stray_cells=stray)


def _cell(value: object, identifier: bool, number: int, index: int) -> object:
    """A workbook's number as the column needs it: its value, or an identifier's text as shown."""
    if not isinstance(value, NumberCell):
        return value
    if not identifier:
        return value.number
    if value.shown is None:
        return number_as_identifier(cell_name(number, index), value.number)
    return value.shown


def _letter(index: int) -> str:
    """The spreadsheet's name of a 0-based column: 0 → A, 26 → AA."""
    return get_column_letter(index + 1)
