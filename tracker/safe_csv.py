"""CSV exports that a spreadsheet opens safely.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'``
so that Excel or LibreOffice shows it as text instead of running it as a formula (e.g. a patient named
``=HYPERLINK("http://evil","click")``). A formula may also start inside a cell: a spreadsheet whose list
separator is ``;`` (most of Europe) splits the cell ``x;=cmd`` into ``x`` and a formula cell, and one that
takes ``,`` or a tab as separator does the same; a line break starts a new row. So wherever one of these
separators is followed (after any spaces) by a formula character, a ``'`` goes in before that character.

>>> spreadsheet_safe('=HYPERLINK("http://x","y")')
'\\'=HYPERLINK("http://x","y")'
>>> spreadsheet_safe("-5")
"'-5"
>>> spreadsheet_safe(-5)
-5
>>> spreadsheet_safe("Souza;=1+1")
"Souza;'=1+1"
>>> spreadsheet_safe("a, @SUM(A1)\\tb\\t+cmd")
"a, '@SUM(A1)\\tb\\t'+cmd"
>>> spreadsheet_safe("Serum 2 ml; rinse after 4 h")
'Serum 2 ml; rinse after 4 h'
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A separator some spreadsheet may split on (``;`` ``,`` tab, line breaks), spaces, then a formula character.
_FORMULA_AFTER_SEPARATOR = re.compile(r"([;,\t\r\n][ \t]*)([=+\-@])")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is neutralised; numbers and dates pass as they are."""
    if not isinstance(value, str):
        return value
    value = _FORMULA_AFTER_SEPARATOR.sub(r"\1'\2", value)
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV with a byte-order mark (so Excel reads accents right), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else spreadsheet_safe(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
