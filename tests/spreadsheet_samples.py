"""Spreadsheet files as clinics' office suites write them, made byte by byte for the import tests: an .xlsx whose
formulas carry the results Excel saved, a LibreOffice .ods, a password-protected workbook, and text in the
encodings and layouts Excel exports (issue #12, "Spreadsheets as clinics have them").
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet


def workbook() -> tuple[Workbook, Worksheet]:
    book = Workbook()
    sheet = book.active
    if not isinstance(sheet, Worksheet):
        raise TypeError("a new workbook opens on one worksheet")
    return book, sheet


def save_with_results(book: Workbook, path: Path, results: dict[str, str]) -> Path:
    """Save ``book`` with the result Excel would have saved beside each formula (cell name → result).

    openpyxl writes a formula with an empty result (``<f>…</f><v />``, or ``<v></v>`` through lxml), as a file
    never opened in Excel has;
    Excel and LibreOffice write the computed value there.
    """
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for cell, result in results.items():
                    formula = rf'(<c r="{cell}"[^>]*>\s*<f>.*?</f>)\s*(?:<v\s*/>|<v></v>)'
                    text, found = re.subn(formula, rf"\1<v>{result}</v>", text)
                    assert found == 1, f"no formula in {cell}"
                data = text.encode()
            target.writestr(item, data)
    return path


# An Excel workbook saved with a password is not a ZIP archive but an OLE2 compound file (MS-CFB) whose directory
# names an "EncryptedPackage" stream (MS-OFFCRYPTO 2.3.4.4): the header signature, then directory entries whose
# names are UTF-16. The rest of a real file (sectors, the encrypted bytes) does not matter to the import.
ENCRYPTED_XLSX = (
    bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504
    + "Root Entry".encode("utf-16-le").ljust(128, b"\x00")
    + "EncryptionInfo".encode("utf-16-le").ljust(128, b"\x00")
    + "EncryptedPackage".encode("utf-16-le").ljust(128, b"\x00")
)

_ODS_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2" office:version="1.3"'
)


def text_cell(value: str) -> str:
    return f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'


def number_cell(value: float, shown: str, formula: str | None = None) -> str:
    """A number as LibreOffice saves it: its value, the text it shows, and its formula if it has one."""
    formula_attribute = f' table:formula="of:{escape(formula)}"' if formula else ""
    return (f'<table:table-cell{formula_attribute} office:value-type="float" office:value="{value}">'
            f"<text:p>{escape(shown)}</text:p></table:table-cell>")


def date_cell(iso: str, shown: str) -> str:
    return (f'<table:table-cell office:value-type="date" office:date-value="{iso}">'
            f"<text:p>{escape(shown)}</text:p></table:table-cell>")


def ods(path: Path, rows: list[list[str]], *, encrypted: bool = False) -> Path:
    """A LibreOffice spreadsheet whose first sheet holds ``rows`` (cells made by the functions above, or raw XML),
    followed by the million blank rows LibreOffice writes as one repeated row, and a second sheet the import
    must not read."""
    body = "".join(f"<table:table-row>{''.join(cells)}</table:table-row>" for cells in rows)
    body += '<table:table-row table:number-rows-repeated="1048000"><table:table-cell/></table:table-row>'
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NAMESPACES}><office:body>'
        f'<office:spreadsheet><table:table table:name="Sheet1">{body}</table:table>'
        f'<table:table table:name="Notes"><table:table-row>{text_cell("not imported")}</table:table-row>'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    encryption = '<manifest:encryption-data manifest:checksum-type="SHA1/1K"/>' if encrypted else ""
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        f'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">{encryption}'
        "</manifest:file-entry></manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                         compress_type=zipfile.ZIP_STORED)  # first and uncompressed, as the format requires
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return path
