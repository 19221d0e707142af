"""The report's PDF document: A4 pages with a running header and a footer, and fonts that show every name.

Text is set in DejaVu Sans when the system has it (names with accents, Greek, Cyrillic, Arabic, Hebrew,
"hairs/cm²", "±", "–"). A name in a script DejaVu lacks takes that script's font as fallback, loaded the
first time such a name is printed: Noto Sans Devanagari, Bengali, Tamil, Thai … (Debian's fonts-noto-core),
and WenQuanYi Micro Hei or Noto Sans CJK for Chinese, Japanese and Korean. Text is shaped with HarfBuzz
(fpdf2's text shaping, ``uharfbuzz``): Arabic letters join, right-to-left runs read right to left inside a
left-to-right line, and Indic vowel signs and conjuncts take their places.

Without DejaVu the report uses the PDF core font Helvetica with text reduced to Windows-1252
(``latin_safe``), so a missing font never stops a report. A character no installed font has prints as "?",
never vanishes, and never silently: each page then says in its footer which script could not be shown and
which Debian package brings its font, and the server log says so once per report.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.errors import FPDFException
from fpdf.fonts import TTFFont
from fpdf.unicode_script import UnicodeScript, get_unicode_script

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
CJK_SCRIPTS = frozenset({UnicodeScript.HAN, UnicodeScript.HANGUL, UnicodeScript.HIRAGANA, UnicodeScript.KATAKANA,
                         UnicodeScript.BOPOMOFO})
# Every other script: Noto Sans <Script> (NotoSansDevanagari-Regular.ttf, NotoSansOlChiki-Bold.ttf …), where
# Debian/Ubuntu (fonts-noto-core, which ``make chromium`` installs), Fedora (google-noto-sans-*-fonts) and
# Arch (noto-fonts) put it; failing that, any TrueType font fontconfig knows that has the character.
SCRIPT_FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/google-noto", "/usr/share/fonts/noto")
# What the footer and the log name as the remedy for a script without a font (Debian package names).
SCRIPT_FONT_PACKAGE = "fonts-noto-core"
CJK_FONT_PACKAGE = "fonts-wqy-microhei"
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


def find_script_font(script: UnicodeScript, char: str) -> dict[str, Path] | None:
    """Regular and bold font files for ``script`` (``char`` is one of its characters), or None if none is
    installed. Bold is the regular file when the script's font has no bold (CJK fonts, fontconfig's finds)."""
    if script in CJK_SCRIPTS:
        cjk = find_cjk_font()
        return {"": cjk, "B": cjk} if cjk else None
    name = "NotoSans" + "".join(_script_words(script))
    for folder in SCRIPT_FONT_DIRS:
        regular, bold = Path(folder) / f"{name}-Regular.ttf", Path(folder) / f"{name}-Bold.ttf"
        if regular.is_file():
            return {"": regular, "B": bold if bold.is_file() else regular}
    found = _fontconfig_font_with(char)
    return {"": found, "B": found} if found else None


def _fontconfig_font_with(char: str) -> Path | None:
    """A TrueType font fontconfig lists as having ``char`` (upright sans-serif preferred), or None.

    Colour emoji fonts are left out: fpdf2 cannot embed their bitmap glyphs.
    """
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        listed = subprocess.run([fc_list, "--format=%{file}\\n", f":charset={ord(char):x}"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    usable = sorted((path for path in listed if path.lower().endswith(".ttf") and "emoji" not in path.lower()),
                    key=lambda path: ("sans" not in Path(path).name.lower(),
                                      any(w in Path(path).name.lower() for w in ("bold", "italic", "oblique")), path))
    return Path(usable[0]) if usable else None


def script_label(char: str) -> str:
    """What the footer calls ``char``'s kind of text: its script's name, or "symbols" for characters of no
    one script (mathematical letters, emoji).

    >>> script_label("अ"), script_label("ש"), script_label("𝔘")
    ('Devanagari', 'Hebrew', 'symbols')
    """
    script = get_unicode_script(char)
    if script in (UnicodeScript.COMMON, UnicodeScript.INHERITED, UnicodeScript.UNKNOWN):
        return "symbols"
    return " ".join(_script_words(script))


def _script_words(script: UnicodeScript) -> list[str]:
    """The words of a Unicode script's name (an fpdf2 enum, not one of the tracker's codes): OL_CHIKI -> Ol, Chiki.
    Noto names its fonts after them (NotoSansOlChiki)."""
    return [word.capitalize() for word in script.name.split("_")]


def font_package(char: str) -> str | None:
    """The Debian package that brings a font for ``char``'s script (None for symbols: no one package does).

    >>> font_package("अ"), font_package("王"), font_package("𝔘")
    ('fonts-noto-core', 'fonts-wqy-microhei', None)
    """
    script = get_unicode_script(char)
    if script in (UnicodeScript.COMMON, UnicodeScript.INHERITED, UnicodeScript.UNKNOWN):
        return None
    return CJK_FONT_PACKAGE if script in CJK_SCRIPTS else SCRIPT_FONT_PACKAGE


class ReportPDF(FPDF):
    """A4 pages with a running header (from page 2), a footer with generation time and page numbers, and a
    footer note on every page once some text could not be shown (``unprintable``: script → package)."""

    def __init__(self, running_title: str, footer_note: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running_title = running_title
        self.footer_note = footer_note
        # what printed as "?" (script name or "symbols") -> the Debian packages that would show it
        self.unprintable: dict[str, tuple[str, ...]] = {}
        # fallback fonts by script, loaded on the first character DejaVu lacks (None: none installed)
        self._script_fonts: dict[UnicodeScript, TTFFont | None] = {}
        fonts = find_unicode_font()
        if fonts:
            for style, path in fonts.items():
                self.add_font("report", style, str(path))
            self.family = "report"
            self._shape_text()
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

    def _shape_text(self) -> None:
        """HarfBuzz shaping and the bidirectional algorithm, for every text (uharfbuzz, requirements.txt)."""
        try:
            self.set_text_shaping(True)
        except FPDFException:
            log.warning("uharfbuzz is not installed: Arabic, Hebrew and Indic names print unjoined and in "
                        "stored order; `pip install -r requirements.txt` installs it")

    def normalize_text(self, text: str) -> str:
        if not self.is_ttf_font:
            unprintable = {c for c in text if c != "?" and latin_safe(c) == "?"}
            self._note_unprintable(unprintable, ("fonts-dejavu-core",))
            return super().normalize_text(latin_safe(text))
        if isinstance(self.current_font, TTFFont):
            cmap = self.current_font.cmap
            missing = {c for c in text if ord(c) not in cmap and c not in "\n\t" and unicodedata.category(c) != "Cf"}
            if missing:
                # A character neither DejaVu nor any installed fallback has would vanish from a name: "?".
                cmaps = (cmap, *self._fallback_cmaps(missing))
                unprintable = {c for c in missing if not any(ord(c) in m for m in cmaps)}
                if unprintable:
                    self._note_unprintable(unprintable, ())
                    text = "".join("?" if c in unprintable else c for c in text)
        return super().normalize_text(text)

    def _fallback_cmaps(self, chars: set[str]) -> list[dict[int, str]]:
        """The character maps of the fallback fonts for ``chars``' scripts, loading each the first time it is
        needed: parsing a font takes up to a second (CJK), which a report with only Latin names should not pay."""
        loaded_before = len(self.fonts)
        cmaps = []
        for char in sorted(chars):
            script = get_unicode_script(char)
            if script not in self._script_fonts:
                self._script_fonts[script] = self._load_script_font(script, char)
            font = self._script_fonts[script]
            if font is not None:
                cmaps.append(font.cmap)
        if len(self.fonts) != loaded_before:
            families = sorted({key.rstrip("BI") for key in self.fonts if key.startswith("fallback-")})
            self.set_fallback_fonts(families, exact_match=False)
        return cmaps

    def _load_script_font(self, script: UnicodeScript, char: str) -> TTFFont | None:
        """The fallback font for ``script``, added to the document once per font file (Chinese, Japanese and
        Korean share one CJK font, parsed once); its bold only when it has a bold of its own."""
        if script in (UnicodeScript.COMMON, UnicodeScript.INHERITED, UnicodeScript.UNKNOWN):
            return None  # symbols and emoji: DejaVu's are the report's
        files = find_script_font(script, char)
        if files is None:
            return None
        family = f"fallback-{files[''].stem.lower()}"
        if family not in self.fonts:
            self.add_font(family, "", str(files[""]))
            if files["B"] != files[""]:
                self.add_font(family, "B", str(files["B"]))
        font = self.fonts[family]
        return font if isinstance(font, TTFFont) else None

    def _note_unprintable(self, chars: set[str], base_packages: tuple[str, ...]) -> None:
        """Remember what prints as "?" and which packages would show it (for the footer); log each once."""
        for char in sorted(chars):
            label = script_label(char)
            if label in self.unprintable:
                continue
            script_package = font_package(char)
            packages = base_packages + ((script_package,) if script_package else ())
            self.unprintable[label] = packages
            log.warning("report text printed as '?': %s, for which no font is installed%s", label,
                        f" (Debian: {', '.join(packages)})" if packages else "")

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
        if self.unprintable:
            self._unprintable_note()
        self.set_y(-13)
        self.set_draw_color(*RULE)
        self.line(PAGE_MARGIN, self.get_y(), 210 - PAGE_MARGIN, self.get_y())
        self.set_font(self.family, "", 7)
        self.set_text_color(*MUTED)
        self.set_y(-11.5)
        self.cell(WIDTH - 30, 4, self.footer_note, align="L")
        self.cell(30, 4, f"Page {self.page_no()} of {self.pages_alias}", align="R")

    def _unprintable_note(self) -> None:
        """Above the footer rule, inside the bottom margin that text never reaches: what "?" stands for."""
        kinds = ", ".join(f"{label} text" if label != "symbols" else label for label in self.unprintable)
        packages = sorted({package for needed in self.unprintable.values() for package in needed})
        remedy = f" (the clinic's administrator can install it: Debian {', '.join(packages)})" if packages else ""
        self.set_y(-17.5)
        self.set_font(self.family, "", 7)
        self.set_text_color(*MUTED)
        note = f"Shown as \u201c?\u201d: {kinds}, for which no font is installed on this server{remedy}."
        self.cell(WIDTH, 4, fit_text(self, note, WIDTH), align="L")
