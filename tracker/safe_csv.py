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
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A separator some spreadsheet may split on (``;`` ``,`` tab, line breaks), spaces, then a formula character.
_FORMULA_AFTER_SEPARATOR = re.compile(r"([;,\t\r\n][ \t]*)([=+\-@])")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is neutralised; numbers and dates pass as they are."""
    if not isinstance(value, str):
        return value
    if _FORMULA_AFTER_SEPARATOR.search(value):  # rare: searching first spares most cells the substitution
        value = _FORMULA_AFTER_SEPARATOR.sub(r"\1'\2", value)
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


ROWS_PER_CHUNK = 1000  # rows encoded together: chunks of tens of kB, whatever the export's length
BOM = "\ufeff".encode()  # so Excel reads accents right


def csv_chunks(columns: Sequence[str], rows: Iterable[Sequence[Any]],
               rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark, every cell neutralised, as encoded chunks of ``rows_per_chunk`` rows
    (the first holds the BOM and the header): an export of any length is written while its rows are read,
    never held whole.

    >>> b"".join(csv_chunks(["a", "b"], [["=1", None], ["x;-2", 3]]))
    b"\\xef\\xbb\\xbfa,b\\r\\n'=1,\\r\\nx;'-2,3\\r\\n"
    >>> [len(chunk) for chunk in csv_chunks(["a"], [["x"]] * 5, rows_per_chunk=2)]  # BOM, header, 2 rows; ...
    [12, 6, 3]
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    head, pending = BOM, 0
    for row in rows:
        writer.writerow(["" if v is None else spreadsheet_safe(v) for v in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield head + buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            head, pending = b"", 0
    if pending or head:
        yield head + buffer.getvalue().encode("utf-8")


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The whole CSV at once (small files; ``csv_chunks`` for exports that may be long)."""
    return b"".join(csv_chunks(columns, rows))


def whole_file(chunks: Iterable[bytes]) -> bytes:
    """The chunks as one ``bytes``, for a consumer that must hold the whole file (Streamlit keeps a download
    button's file in memory): written to an unnamed temporary file as they come, then read back once, so the
    file is held once and never beside the rows or chunks it was made from.

    >>> whole_file(iter([b"a,", b"b\\r\\n"]))
    b'a,b\\r\\n'
    """
    with tempfile.TemporaryFile() as spool:  # mode 0600, and no name: nothing left behind if the process dies
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        return spool.read()
