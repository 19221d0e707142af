"""Reading the tables clinics keep (CSV or Excel .xlsx) into rows keyed by column name.

Only the layout is checked here: that the file is a readable spreadsheet and that its header row names
the expected columns. What the cells mean is the importer's business (``tracker.exchange.spreadsheet_import``).

- The kind of file is decided by its content: an Excel workbook is a ZIP archive; anything else must be
  UTF-8 text (a byte-order mark is allowed), comma- or semicolon-separated.
- The first non-blank row is the header; blank rows are skipped; row numbers are those the clinician
  sees in Excel or LibreOffice (the header is row 1 in a usual sheet).
- Cells are returned as the file holds them: text from a CSV, text/number/date from a workbook. A
  formula cell is returned as its text (``=A1+1``), never evaluated.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from tracker.errors import ValidationError

# A clinic's spreadsheets weigh kilobytes to a few megabytes; the limits only refuse what is clearly
# not one (a video renamed .csv, a compressed "zip bomb").
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_XLSX_BYTES = 200 * 1024 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary Excel format (.xls)
_SAVE_AS = "save it from Excel or LibreOffice as .xlsx or as 'CSV UTF-8'"


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
    file_name: str
    header_row: int
    columns: tuple[str, ...]
    rows: tuple[SheetRow, ...]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_sheet(path: str | Path, required: Sequence[str], optional: Sequence[str] = ()) -> Sheet:
    """The rows of a CSV or .xlsx file (its first worksheet) whose header names ``required`` columns.

    Raises ``ValidationError`` listing every problem with the file itself or with its header row; each
    message starts with the file's name (and the header's row number).
    """
    path = Path(path)
    raw_rows = _raw_rows(path)
    return _sheet(path.name, raw_rows, tuple(required), tuple(optional))


def _raw_rows(path: Path) -> list[tuple[int, tuple[object, ...]]]:
    name = path.name
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ValidationError(f"{name}: is not a file")
        if size > MAX_FILE_BYTES:
            raise ValidationError(
                f"{name}: the file is too large for a spreadsheet import ({size // (1024 * 1024)} MB; "
                f"at most {MAX_FILE_BYTES // (1024 * 1024)} MB)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValidationError(f"{name}: file not found ({path})") from None
    except OSError as exc:
        raise ValidationError(f"{name}: the file cannot be opened ({exc.strerror or exc})") from None

    if data.startswith(_ZIP_MAGIC):
        return _xlsx_rows(name, data)
    if data.startswith(_OLE_MAGIC):
        raise ValidationError(f"{name}: the old Excel format (.xls) is not supported; {_SAVE_AS}")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise ValidationError(f"{name}: is not an Excel workbook although its name ends in {path.suffix}; {_SAVE_AS}")
    return _csv_rows(name, data)


def _csv_rows(name: str, data: bytes) -> list[tuple[int, tuple[object, ...]]]:
    if b"\x00" in data:
        raise ValidationError(f"{name}: is not a spreadsheet (neither CSV text nor an Excel workbook); {_SAVE_AS}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            f"{name}: is not a spreadsheet saved as UTF-8 text (it may be another file, or a CSV in an older "
            f"encoding); {_SAVE_AS}"
        ) from None
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Excel writes semicolons in locales where the comma is the decimal separator.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(number, tuple(cells)) for number, cells in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise ValidationError(f"{name}: cannot be read as CSV near line {reader.line_num} ({exc})") from None


def _xlsx_rows(name: str, data: bytes) -> list[tuple[int, tuple[object, ...]]]:
    unreadable = f"{name}: cannot be read as an Excel workbook (.xlsx); {_SAVE_AS}"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationError(unreadable) from None
    if unpacked > MAX_UNPACKED_XLSX_BYTES:
        raise ValidationError(f"{name}: the workbook is too large once unpacked for a spreadsheet import")
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it ignores (data validation, conditional formats).
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
            try:
                if not workbook.worksheets:
                    raise ValidationError(f"{name}: the workbook has no worksheet")
                sheet = workbook.worksheets[0]
                sheet.reset_dimensions()  # stored dimensions are often wrong; read every row there is
                return [
                    (number, tuple(_cell_value(value) for value in values))
                    for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
                ]
            finally:
                workbook.close()
    except ValidationError:
        raise
    except Exception:  # openpyxl signals a malformed workbook with many exception types (KeyError, …)
        raise ValidationError(unreadable) from None


def _cell_value(value: object) -> object:
    # Array formulas come back as objects; their text is what the cell holds.
    if value is None or isinstance(value, (str, int, float)) or hasattr(value, "isoformat"):
        return value
    return str(getattr(value, "text", value))


def _sheet(name: str, raw_rows: list[tuple[int, tuple[object, ...]]], required: tuple[str, ...],
           optional: tuple[str, ...]) -> Sheet:
    rows = iter(raw for raw in raw_rows if not all(_blank(value) for value in raw[1]))
    header = next(rows, None)
    expected = required + optional
    if header is None:
        raise ValidationError(
            f"{name}: the file is empty; its first row must name the columns: {', '.join(expected)}"
        )
    header_row, header_cells = header
    data_rows = list(rows)
    names = [_header_text(value) for value in header_cells]
    problems = _header_problems(name, header_row, names, data_rows, required, expected)
    if problems:
        raise ValidationError(problems[0], problems)
    columns = {index: column for index, column in enumerate(names) if column}
    return Sheet(
        file_name=name,
        header_row=header_row,
        columns=tuple(columns.values()),
        rows=tuple(_row(number, cells, columns, len(names)) for number, cells in data_rows),
    )


def _header_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lstrip("\ufeff").strip()


def _header_problems(name: str, header_row: int, names: list[str], data_rows: Iterable[tuple[int, tuple[object, ...]]],
                     required: tuple[str, ...], expected: tuple[str, ...]) -> list[str]:
    where = f"{name}, row {header_row}"
    problems = []
    positions: dict[str, list[int]] = {}
    for index, column in enumerate(names):
        if column:
            positions.setdefault(column, []).append(index)
    for column in required:
        if column not in positions:
            problems.append(f"{where}: missing column {column!r} (the columns are: {', '.join(expected)})")
    for column, indexes in positions.items():
        if column not in expected:
            near = [known for known in expected if known == column.lower().replace(" ", "_")]
            hint = f"; did you mean {near[0]!r}?" if near else f" (the columns are: {', '.join(expected)})"
            problems.append(f"{where}: unknown column {column!r} in column {_letter(indexes[0])}{hint}")
        elif len(indexes) > 1:
            letters = " and ".join(_letter(index) for index in indexes)
            problems.append(f"{where}: column {column!r} appears more than once (columns {letters})")
    unnamed = sorted({
        index for _, cells in data_rows for index, value in enumerate(cells)
        if index < len(names) and not names[index] and not _blank(value)
    })
    for index in unnamed:
        problems.append(f"{where}: column {_letter(index)} holds values but has no name in the header row")
    return problems


def _row(number: int, cells: tuple[object, ...], columns: dict[int, str], width: int) -> SheetRow:
    values = {column: cells[index] if index < len(cells) else None for index, column in columns.items()}
    stray = sum(1 for value in cells[width:] if not _blank(value))
    return SheetRow(number=number, cells=values, stray_cells=stray)


def _letter(index: int) -> str:
    """The spreadsheet's name of a 0-based column: 0 → A, 26 → AA."""
    return get_column_letter(index + 1)

