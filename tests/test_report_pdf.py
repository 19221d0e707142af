"""Names in every script in the progress report PDF: shaped, in reading order, in a font that has them.

Each report is made through the service the download button calls (``progress_report_pdf``), then read back
the way a person and a machine would: ``pdftotext`` (poppler) must give the name's logical string (it
reorders right-to-left runs, so a name drawn reversed comes back reversed), ``pdftoppm`` renders the first
page to PNG (kept in the test's folder to look at), ``pdffonts`` names the embedded fonts, and the fonts'
ToUnicode maps show that shaping happened: a joined Arabic letter is drawn with a different glyph at the
start, middle and end of a word, and a Devanagari conjunct is one glyph standing for several characters.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import zlib
from datetime import date
from pathlib import Path

import pytest
from fpdf.unicode_script import UnicodeScript
from PIL import Image

from tests.test_progress_view import make_patient
from tracker.access.actors import Actor
from tracker.exchange import report_pdf
from tracker.exchange.progress_report import progress_report_pdf

AS_OF = date(2026, 2, 1)
CLINICIAN = Actor("dr.lee", "clinician")
# Marks poppler puts around right-to-left runs (RLE … PDF) and the isolates/marks a reader might meet.
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"))

NAMES = {
    "arabic": "مريم الحسن",
    "hebrew": "דניאל כהן",
    "devanagari": "अनीता शर्मा",
    "latin": "Zoë Ångström-Núñez Łukasz",
}

def needs_poppler() -> None:
    if not all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdffonts")):
        pytest.skip("poppler-utils is not installed: `make chromium` installs it")


def needs_fonts() -> None:
    needs_poppler()
    if report_pdf.find_unicode_font() is None:
        pytest.skip("DejaVu Sans is missing: `make chromium` installs fonts-dejavu-core")
    if report_pdf.find_script_font(UnicodeScript.DEVANAGARI, "अ") is None:
        pytest.skip("no Devanagari font: `make chromium` installs fonts-noto-core")


def report(url: str, name: str, folder: Path) -> Path:
    make_patient(url, "P-1", name)
    _, data = progress_report_pdf(CLINICIAN, "P-1", AS_OF, url)
    path = folder / "report.pdf"
    path.write_bytes(data)
    return path


def text_of(pdf: Path) -> str:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return text.translate(BIDI_CONTROLS)


def first_page_png(pdf: Path) -> Path:
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", str(pdf), str(pdf.with_suffix(""))],
                   check=True)
    (png,) = pdf.parent.glob(f"{pdf.stem}-*1.png")
    return png


def embedded_fonts(pdf: Path) -> str:
    return subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout


def glyph_maps(pdf: Path) -> list[dict[str, set[str]]]:
    """Each embedded font's ToUnicode map, turned round: the text a glyph stands for -> the glyph codes."""
    maps = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf.read_bytes(), re.S):
        try:
            stream = zlib.decompress(raw)
        except zlib.error:
            stream = raw  # fpdf2 writes its ToUnicode maps uncompressed
        if b"beginbfchar" not in stream:
            continue
        drawn: dict[str, set[str]] = {}
        for code, target in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", stream.split(b"beginbfchar", 1)[1]):
            drawn.setdefault(bytes.fromhex(target.decode()).decode("utf-16-be"), set()).add(code.decode())
        maps.append(drawn)
    return maps


@pytest.mark.parametrize("script", NAMES)
def test_a_name_in_each_script_prints_shaped_and_in_reading_order(sqlite_clinic, tmp_path, script):
    needs_fonts()
    name = NAMES[script]
    pdf = report(sqlite_clinic, name, tmp_path)

    text = text_of(pdf)
    name_lines = [line for line in text.splitlines() if name in line]
    assert name_lines, f"{name!r} does not come back from the PDF:\n{text[:600]}"
    assert all("?" not in line for line in name_lines)
    assert "Shown as" not in text  # no footer note: every character had a font
    pages = len(re.findall(r"Page \d+ of", text))
    assert pages >= 2 and f"Page 1 of {pages}" in text  # fpdf2's page-count alias survives text shaping

    fonts = embedded_fonts(pdf)
    assert "DejaVuSans" in fonts
    assert ("NotoSansDevanagari" in fonts) == (script == "devanagari")
    maps = glyph_maps(pdf)
    if script == "arabic":
        # Meem starts مريم and ends it: joined, it takes a different glyph in each place (in one font)
        assert any(len(drawn.get("م", ())) >= 2 for drawn in maps)
    else:
        assert not any(len(drawn.get("م", ())) for drawn in maps)
    if script == "devanagari":
        # "र्" (ra + virama) before "मा" is written as the reph over the syllable: one glyph standing for
        # several characters, with the virama inside it
        assert any(len(text) > 1 and "्" in text for drawn in maps for text in drawn)

    with Image.open(first_page_png(pdf)) as page:
        assert abs(page.width - 909) <= 1  # A4 at 110 dpi
        assert sum(page.convert("L").histogram()[:128]) > 5_000  # dark ink: text and chart, not a blank page


def test_a_script_without_an_installed_font_is_said_on_the_page_and_in_the_log(sqlite_clinic, tmp_path, caplog,
                                                                                monkeypatch):
    needs_poppler()
    if report_pdf.find_unicode_font() is None:
        pytest.skip("DejaVu Sans is missing: `make chromium` installs fonts-dejavu-core")
    monkeypatch.setattr(report_pdf, "find_script_font", lambda script, char: None)  # as without fonts-noto-core
    with caplog.at_level(logging.WARNING, logger="tracker.exchange.report_pdf"):
        pdf = report(sqlite_clinic, "अनीता Sharma", tmp_path)

    text = " ".join(text_of(pdf).split())
    assert "????? Sharma" in text  # never vanished: one "?" per character
    note = ("Shown as “?”: Devanagari text, for which no font is installed on this server (the clinic's "
            "administrator can install it: Debian fonts-noto-core).")
    assert text.count(note) == len(re.findall(r"Page \d+ of", text)) >= 2  # on every page
    warnings = [r.getMessage() for r in caplog.records if r.name == "tracker.exchange.report_pdf"]
    assert warnings == ["report text printed as '?': Devanagari, for which no font is installed "
                        "(Debian: fonts-noto-core)"]
    first_page_png(pdf)


def test_without_dejavu_the_note_names_both_font_packages(sqlite_clinic, tmp_path, monkeypatch):
    needs_poppler()
    monkeypatch.setattr(report_pdf, "FONT_DIRS", ())
    text = " ".join(text_of(report(sqlite_clinic, "מרים Zoë", tmp_path)).split())
    assert "???? Zoë" in text or "Zoë ????" in text
    assert "Shown as “?”: Hebrew text, for which no font is installed on this server (the clinic's administrator " \
           "can install it: Debian fonts-dejavu-core, fonts-noto-core)." in text


def test_script_fonts_are_found_in_noto_folders_then_through_fontconfig(monkeypatch):
    needs_fonts()
    found = report_pdf.find_script_font(UnicodeScript.DEVANAGARI, "अ")
    assert found is not None
    assert (found[""].name, found["B"].name) == ("NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf")
    cjk = report_pdf.find_cjk_font()
    if cjk is not None:  # Chinese, Japanese and Korean share the one CJK font
        assert report_pdf.find_script_font(UnicodeScript.HANGUL, "김") == {"": cjk, "B": cjk}
    if shutil.which("fc-list"):
        monkeypatch.setattr(report_pdf, "SCRIPT_FONT_DIRS", ())  # as on a system with fonts elsewhere
        found = report_pdf.find_script_font(UnicodeScript.DEVANAGARI, "अ")
        assert found is not None and found[""].name == "NotoSansDevanagari-Regular.ttf"  # upright sans first
