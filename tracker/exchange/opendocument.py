"""Reading the first sheet of a LibreOffice spreadsheet (.ods, OpenDocument 1.2+, LibreOffice's default save)
into numbered rows of cells, for ``tracker.exchange.spreadsheets``.

An .ods file is a ZIP archive whose ``content.xml`` holds every cell with both its value (``office:value``,
``office:date-value``) and the text LibreOffice shows (``text:p``), and keeps a formula's result beside the
formula, so no computing is needed. Runs of identical rows or cells are stored once with a repeat count
(LibreOffice writes a million blank rows that way); blank runs are skipped, never expanded.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from xml.etree.ElementTree import Element, ParseError, iterparse

from tracker.exchange.import_problems import file_problem
from tracker.exchange.spreadsheet_cells import (
    NumberCell,
    cell_name,
    formula_without_result,
    merged_cell,
    plain_date,
)

ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
# Identical non-blank rows or cells repeated more than this are not a clinic's import sheet.
_MAX_REPEAT = 1000
# An identifier LibreOffice shows from a number: literal letters around digits ("00123", "RT-0042").
_SHOWN_IDENTIFIER = re.compile(r"[A-Za-z_-]*(\d+)[A-Za-z_-]*")
_SAVE_AS = "save it from LibreOffice as .xlsx or as 'Text CSV' with the UTF-8 character set"

Rows = list[tuple[int, tuple[object, ...]]]


def ods_rows(name: str, data: bytes) -> Rows:
    """The rows of the first sheet, numbered as LibreOffice shows them (the first row is 1).

    Raises ``ImportRefused`` (a ``ValidationError``) for a password-protected file and for one that is not a
    readable .ods.
    """
    unreadable = f"cannot be read as a LibreOffice spreadsheet (.ods); {_SAVE_AS}"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest = archive.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in archive.namelist() else b""
            if b"encryption-data" in manifest:
                raise file_problem(
                    name, "the spreadsheet is password-protected, so it cannot be read; open it in LibreOffice, "
                    f"remove the password (File → Properties → Security) and {_SAVE_AS}"
                )
            content = archive.read("content.xml")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise file_problem(name, unreadable) from None
    if b"<!DOCTYPE" in content[:4096] or b"<!ENTITY" in content:
        raise file_problem(name, unreadable)  # LibreOffice never writes these; entity tricks are refused unread
    try:
        return list(_rows(content))
    except (ParseError, ValueError):
        raise file_problem(name, unreadable) from None


def _rows(content: bytes) -> Iterator[tuple[int, tuple[object, ...]]]:
    number = 0
    merged: dict[tuple[int, int], str] = {}
    for _, element in iterparse(io.BytesIO(content), events=("end",)):
        if element.tag == f"{_TABLE}table":
            return  # the first sheet only
        if element.tag != f"{_TABLE}table-row":
            continue
        repeat = int(element.get(f"{_TABLE}number-rows-repeated", "1"))
        cells = _cells(element, number + 1, merged)
        element.clear()
        if not any(value is not None for value in cells):
            number += repeat
            continue
        for _ in range(min(repeat, _MAX_REPEAT)):
            number += 1
            yield number, cells
        number += max(0, repeat - _MAX_REPEAT)


def _cells(row: Element, number: int, merged: dict[tuple[int, int], str]) -> tuple[object, ...]:
    cells: list[object] = []
    column = blanks = 0
    for cell in row:
        covered = cell.tag == f"{_TABLE}covered-table-cell"
        if not covered and cell.tag != f"{_TABLE}table-cell":
            continue
        repeat = int(cell.get(f"{_TABLE}number-columns-repeated", "1"))
        if not covered:
            _note_merge(cell, number, column, merged)
        for offset in range(repeat):
            if covered and (number, column + offset) in merged:
                value: object = merged_cell(cell_name(number, column + offset), merged[(number, column + offset)])
            elif covered or offset >= _MAX_REPEAT:
                value = None
            else:
                value = _value(cell, cell_name(number, column + offset))
            if value is None:
                blanks += 1
                continue
            cells.extend([None] * blanks)  # blank runs only count once a value follows them
            blanks = 0
            cells.append(value)
        column += repeat
    return tuple(cells)


def _note_merge(cell: Element, number: int, column: int, merged: dict[tuple[int, int], str]) -> None:
    rows = int(cell.get(f"{_TABLE}number-rows-spanned", "1"))
    columns = int(cell.get(f"{_TABLE}number-columns-spanned", "1"))
    if rows * columns <= 1:
        return
    rows, columns = min(rows, _MAX_REPEAT), min(columns, _MAX_REPEAT)
    span = f"{cell_name(number, column)}:{cell_name(number + rows - 1, column + columns - 1)}"
    for row_offset in range(rows):
        for column_offset in range(columns):
            if row_offset or column_offset:
                merged[(number + row_offset, column + column_offset)] = span


def _value(cell: Element, name: str) -> object:
    """The cell as LibreOffice shows it: text, a number (with the identifier it shows), a date, or why not."""
    kind = cell.get(f"{_OFFICE}value-type")
    shown = "\n".join("".join(paragraph.itertext()) for paragraph in cell.iter(f"{_TEXT}p"))
    if kind is None:
        formula = cell.get(f"{_TABLE}formula")
        if formula:
            return formula_without_result(name, formula.removeprefix("of:"))
        return shown or None
    if kind == "percentage":  # 0.625 is what LibreOffice shows as 62.5% (a SALT score typed "62.5%")
        return NumberCell(round(float(cell.get(f"{_OFFICE}value", "nan")) * 100, 10))
    if kind in ("float", "currency"):
        number = float(cell.get(f"{_OFFICE}value", "nan"))
        return NumberCell(number, _identifier_shown(number, shown))
    if kind == "date":
        return plain_date(_date(cell.get(f"{_OFFICE}date-value", "")))
    if kind == "boolean":
        return cell.get(f"{_OFFICE}boolean-value") == "true"
    if kind == "string":
        return cell.get(f"{_OFFICE}string-value") or shown or None
    return shown or None  # a time of day, shown as text


def _date(text: str) -> date | datetime:
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def _identifier_shown(number: float, shown: str) -> str | None:
    """The identifier LibreOffice shows for a whole number when its format made one (``00123``, ``RT-0042``);
    None when it shows the number's own digits, which a spreadsheet may have taken from ``0457``.

    >>> _identifier_shown(123.0, "00123"), _identifier_shown(457.0, "457"), _identifier_shown(1234.0, "1,234")
    ('00123', None, None)
    """
    match = _SHOWN_IDENTIFIER.fullmatch(shown)
    if match is None or not number.is_integer() or number < 0 or int(match.group(1)) != int(number):
        return None
    return shown if shown != str(int(number)) else None
