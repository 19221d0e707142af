"""Cells as the clinician sees them in Excel or LibreOffice, shared by the workbook readers
(``tracker.exchange.spreadsheets`` for .xlsx, ``tracker.exchange.opendocument`` for .ods).

A reader returns a cell's value (text, number, date) when the file gives it as it is shown, and an
``UnreadableCell`` saying why and what to do when it does not: a merged cell's hidden part, a formula
saved without its result, or a number in a column of identifiers (MRN, lot number) whose text the
spreadsheet may have changed (``0457`` shown as 457, lot ``24E07`` as 2.4E+08).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, time

from openpyxl.utils import get_column_letter

# What the clinician is told when an identifier was stored as a number (issue #12: a recall search for
# lot 24E07 finds nothing once it is 2.4E+08).
RETYPE_AS_TEXT = "format the column as Text and type the values again"
PASTE_VALUES = (
    "copy the column and paste it back as values only (Paste Special → Values), then save the file again"
)

# A format made only of digit placeholders and quoted or escaped literal text ("00000", "RT-"0000).
_FORMAT_TOKEN = re.compile(r'"[^"]*"|\\.|0')
# The largest integer a float holds exactly; identifiers beyond it have already lost digits.
_EXACT_INTEGER = 2**53


@dataclass(frozen=True)
class UnreadableCell:
    """A cell whose value the file does not hold as the clinician sees it; ``reason`` says why and what to do,
    written to follow the column's name ("mrn: …"). ``blank``: the cell shows nothing by itself (the hidden part
    of merged cells), so a row holding nothing else is a blank row."""

    reason: str
    blank: bool = False


@dataclass(frozen=True)
class NumberCell:
    """A number cell of a workbook: its value, and the text its display format reproduces when that format
    makes an identifier of it (``00123`` from 123 under ``00000``), else None."""

    number: float
    shown: str | None = None


def cell_name(row: int, column_index: int) -> str:
    """The spreadsheet's name of a cell: row 3, 0-based column 1 → ``B3``."""
    return f"{get_column_letter(column_index + 1)}{row}"


def merged_cell(cell: str, merged_range: str) -> UnreadableCell:
    return UnreadableCell(
        f"cell {cell} is part of the merged cells {merged_range}, whose value only the first cell holds; "
        "unmerge them and type the value in every row",
        blank=True,
    )


def formula_without_result(cell: str, formula: str) -> UnreadableCell:
    shown = formula if len(formula) <= 40 else formula[:37] + "..."
    return UnreadableCell(
        f"cell {cell} holds the formula {shown!r} but the file was saved without its result; {PASTE_VALUES}"
    )


def number_as_identifier(cell: str, number: float) -> UnreadableCell:
    return UnreadableCell(
        f"cell {cell} holds the number {number:g} rather than text, so the spreadsheet may have changed it "
        f"(0457 becomes 457, 24E07 becomes 2.4E+08); {RETYPE_AS_TEXT}"
    )


def shown_by_format(number: object, number_format: str | None) -> str | None:
    """The text Excel shows for a whole number under a format of digit placeholders and literal text, or None
    when the format is anything else (General, decimals, thousands, scientific…): then the number's text is
    not the identifier's text, and the cell must be refused.

    >>> shown_by_format(123, "00000"), shown_by_format(123456, "00000"), shown_by_format(42.0, '"RT-"0000')
    ('00123', '123456', 'RT-0042')
    >>> shown_by_format(457, "General"), shown_by_format(240000000, "0.00E+00"), shown_by_format(12.5, "00000")
    (None, None, None)
    """
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not number_format:
        return None
    if not math.isfinite(number) or number < 0 or number != int(number) or number >= _EXACT_INTEGER:
        return None
    tokens = _FORMAT_TOKEN.findall(number_format)
    if "".join(tokens) != number_format or "0" not in tokens:
        return None
    digits = str(int(number)).zfill(tokens.count("0"))
    # Excel fills the placeholders from the right; digits beyond them all go to the first one.
    first = len(digits) - tokens.count("0") + 1
    pieces, used = [], 0
    for token in tokens:
        if token == "0":
            take = first if used == 0 else 1
            start = 0 if used == 0 else first + used - 1
            pieces.append(digits[start:start + take])
            used += 1
        else:
            pieces.append(token[1:-1] if token.startswith('"') else token[1:])
    return "".join(pieces)


def plain_date(value: object) -> object:
    """A date-and-time at midnight is the date it names (a date cell shown without its time); any other
    value is returned as it is.

    >>> plain_date(datetime(2025, 1, 10)), plain_date(datetime(2025, 1, 10, 14, 30)).hour
    (datetime.date(2025, 1, 10), 14)
    """
    if isinstance(value, datetime) and value.time() == time(0, 0):
        return value.date()
    return value
