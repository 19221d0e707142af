"""The report's PDF document: A4 pages with a running header and a footer, and fonts that show every name.

Text is set in DejaVu Sans when the system has it (names with accents, "hairs/cm²", "±", "–"), with a CJK
font (WenQuanYi Micro Hei or Noto Sans CJK) as fallback for Chinese, Japanese and Korean names when one is
installed; otherwise in the PDF core font Helvetica with text reduced to Windows-1252 (``latin_safe``), so a
missing font never stops a report. A character no installed font has prints as "?", never vanishes.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont

from tracker.exchange.report_chart import fit_text

log = logging.getLogger(__name__)

# Where Debian/Ubuntu (fonts-dejavu-core), Fedora and Arch put DejaVu Sans.
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/dejavu-sans-fonts",
             "/usr/share/fonts/TTF")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
# Chinese, Japanese and Korean names: the first of these that is installed backs DejaVu up (Debian's
# fonts-wqy-microhei, which ``make test`` installs, then fonts-noto-cjk; Fedora's and Arch's Noto paths).
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc")
# A4 in millimetres; the layout (``tracker.exchange.report``) shares the margins and the muted and rule colours.
PAGE_MARGIN = 15.0
WIDTH = 210 - 2 * PAGE_MARGIN
MUTED = (105, 105, 105)
RULE = (200, 210, 215)

# Characters outside Windows-1252 that the fallback core font cannot show, and what stands in for them.
_LATIN_STAND_INS = {"−": "-", "‐": "-", "‑": "-", "≤": "<=", "≥": ">=", "→": "->", "←": "<-", "≈": "~",
                    "✓": "v", "✔": "v", "✗": "x", "\u202f": " ", "\u2009": " ", "\u2007": " "}


def latin_safe(text: str) -> str:
    """``text`` reduced to what the PDF core fonts can show (Windows-1252), for the no-DejaVu fallback.

    >>> latin_safe("Zoë Łukasz – 150 hairs/cm² ± 10 % ≥ 3 → 王")
    'Zoë Lukasz – 150 hairs/cm² ± 10 % >= 3 -> ?'
    """
    out = []
    for char in text:
        char = _LATIN_STAND_INS.get(char, char)
        if _encodable(char):
            out.append(char)
            continue
        stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        stripped = stripped or char
        if char in "Łł":
            stripped = "L" if char == "Ł" else "l"
        out.append(stripped if all(_encodable(c) for c in stripped) else "?")
    return "".join(out)


def _encodable(text: str) -> bool:
    try:
        text.encode("windows-1252")
    except UnicodeEncodeError:
        return False
    return not any(0x80 <= ord(c) <= 0x9F or (ord(c) < 0x20 and c not in "\n\t") for c in text)


def find_unicode_font() -> dict[str, Path] | None:
    """DejaVu Sans regular/bold/oblique from the system, or None (the report then uses Helvetica)."""
    for folder in FONT_DIRS:
        files = {style: Path(folder) / name for style, name in FONT_FILES.items()}
        if files[""].is_file() and files["B"].is_file():
            if not files["I"].is_file():
                files["I"] = files[""]
            return files
    return None


def find_cjk_font() -> Path | None:
    return next((Path(path) for path in CJK_FONTS if Path(path).is_file()), None)


class ReportPDF(FPDF):
    """A4 pages with a running header (from page 2), a footer with generation time and page numbers."""

    def __init__(self, running_title: str, footer_note: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running_title = running_title
        self.footer_note = footer_note
        fonts = find_unicode_font()
        self._fallback_cmaps: tuple[dict[int, str], ...] | None = None  # loaded on the first character DejaVu lacks
        if fonts:
            for style, path in fonts.items():
                self.add_font("report", style, str(path))
            self.family = "report"
        else:
            log.warning("DejaVu Sans not found in %s; the report uses Helvetica (Windows-1252 text only)", FONT_DIRS)
            self.core_fonts_encoding = "windows-1252"
            self.family = "helvetica"
        # The page-count alias: not fpdf2's "{nb}", which a typed note could contain; two characters, so
        # that the space fpdf2 reserves for it ("00") fits the page count of any report.
        self.pages_alias = "¤¤"
        self.alias_nb_pages(self.pages_alias)
        self.set_margins(PAGE_MARGIN, 18, PAGE_MARGIN)
        self.set_auto_page_break(True, margin=18)

    def normalize_text(self, text: str) -> str:
        if not self.is_ttf_font:
            text = latin_safe(text)
        elif isinstance(self.current_font, TTFFont):
            cmap = self.current_font.cmap
            if any(ord(c) not in cmap and c not in "\n\t" for c in text):
                # A character neither DejaVu nor the CJK fallback has would silently vanish from a name: "?".
                cmaps = (cmap, *self._cjk_fallback())
                text = "".join(c if c in "\n\t" or any(ord(c) in m for m in cmaps) else "?" for c in text)
        return super().normalize_text(text)

    def _cjk_fallback(self) -> tuple[dict[int, str], ...]:
        """The CJK fallback font's character map, loaded the first time a text needs it: parsing the font
        takes about a second, which a report with only Latin names should not pay."""
        if self._fallback_cmaps is None:
            self._fallback_cmaps = ()
            cjk = find_cjk_font()
            if cjk:
                for style in ("", "B", "I"):  # one weight: bold and italic CJK print upright and regular
                    self.add_font("fallback", style, str(cjk))
                self.set_fallback_fonts(["fallback"], exact_match=False)
                fallback = self.fonts["fallback"]
                self._fallback_cmaps = (fallback.cmap,) if isinstance(fallback, TTFFont) else ()
        return self._fallback_cmaps

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(9)
        self.set_font(self.family, "", 7.5)
        self.set_text_color(*MUTED)
        self.cell(WIDTH, 4, fit_text(self, self.running_title, WIDTH), align="L")
        self.set_draw_color(*RULE)
        self.line(PAGE_MARGIN, 14, 210 - PAGE_MARGIN, 14)
        self.set_y(18)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_draw_color(*RULE)
        self.line(PAGE_MARGIN, self.get_y(), 210 - PAGE_MARGIN, self.get_y())
        self.set_font(self.family, "", 7)
        self.set_text_color(*MUTED)
        self.set_y(-11.5)
        self.cell(WIDTH - 30, 4, self.footer_note, align="L")
        self.cell(30, 4, f"Page {self.page_no()} of {self.pages_alias}", align="R")
