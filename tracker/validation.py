"""Field parsers shared by the spreadsheet import and the forms: each returns a clean value or raises.

Every parser takes what a person typed (a string with stray spaces) or what a spreadsheet cell holds
(a number, a date), returns the value the database stores, and otherwise raises ``ValidationError``
whose message names the field (``label``), repeats the value and says what is accepted.

>>> parse_density("152.5")
152.5
>>> parse_site(" Vertex ")
'vertex'
>>> parse_density("0", label="density_per_cm2")
Traceback (most recent call last):
...
tracker.errors.ValidationError: density_per_cm2 0 is out of range: it must be more than 0 and at most 600 hairs/cm²
>>> parse_density("58,3")
58.3
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from datetime import date, time
from pathlib import Path
from typing import SupportsFloat

from tracker.clinic_dates import parse_date, show_date
from tracker.course.calendar_months import add_months
from tracker.course.clinical import CONDITIONS, MAX_DENSITY_PER_CM2, SEXES, TREATMENTS
from tracker.course.decimals import decimal_number, required_decimal
from tracker.errors import ValidationError

# Lengths are those of the database columns (db/models.py), so that nothing accepted here is cut.
MRN_MAX = 40
FULL_NAME_MAX = 200
PRODUCT_MAX = 200
LOT_NUMBER_MAX = 80
SITE_MAX = 60
# A patient search: a name and an MRN with room to spare. Every word is one more pair of LIKE scans, so
# a pasted page of text (20,000 words took 15–20 s of CPU) is refused instead of searched.
SEARCH_MAX = 100
DEFAULT_SITE = "primary"

# The oldest plausible patient: a birth date further back is a typing error in the year (1925 → 1825).
MAX_AGE_YEARS = 120

_MRN = re.compile(r"[A-Za-z0-9_-]+")
_SITE = re.compile(r"[a-z0-9_-]+")


def _shown(value: object) -> str:
    """The value as quoted in a message, cut short when long."""
    text = value.isoformat() if isinstance(value, (date, time)) else str(value)
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _text(value: object, label: str) -> str:
    """A cell as trimmed text; numbers become their digits, and a date where text belongs is refused.

    Spreadsheets turn some identifiers into numbers (``1234`` → ``1234.0``) and some into dates
    (lot ``2024-01`` → 1 January 2024); the first is undone, the second cannot be, so it is reported.

    >>> _text(1234.0, "mrn"), _text(None, "mrn"), _text("  A-17 ", "mrn")
    ('1234', '', 'A-17')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (date, time)):
        raise ValidationError(
            f"{label} holds a date ({_shown(value)}) where text is expected: the spreadsheet converted it; "
            "format the column as Text and type the value again"
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _no_control_characters(text: str, label: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValidationError(f"{label} {_shown(text)} contains a control character (a tab, line break or similar)")
    return text


def check_not_in_future(value: date, today: date, label: str = "date") -> date:
    """``value`` unless it is after ``today`` (records describe what already happened).

    >>> check_not_in_future(date(2025, 1, 1), today=date(2025, 1, 1))
    datetime.date(2025, 1, 1)
    """
    if value > today:
        raise ValidationError(f"{label} {show_date(value)} is in the future (today is {show_date(today)})")
    return value


def parse_birth_date(value: object, today: date, label: str = "birth date") -> date:
    """A birth date: a real date, not in the future and not more than 120 years before ``today``."""
    born = check_not_in_future(parse_date(value, label), today, label)
    earliest = add_months(today, -12 * MAX_AGE_YEARS)
    if born < earliest:
        raise ValidationError(
            f"{label} {show_date(born)} is more than {MAX_AGE_YEARS} years ago; check the year"
        )
    return born


def check_not_before_birth(value: date, birth_date: date, label: str = "date") -> date:
    """``value`` (a session or visit date) unless it falls before the patient was born."""
    if value < birth_date:
        raise ValidationError(
            f"{label} {show_date(value)} is before the patient's birth date {show_date(birth_date)}"
        )
    return value


def clean_text(value: object, label: str, limit: int, *, single_line: bool = False) -> str | None:
    """Free text as the forms keep it (notes, a device name, areas treated): trimmed, a pasted NUL byte dropped
    (PostgreSQL cannot store one), at most ``limit`` characters; ``single_line`` also joins its spaces and refuses
    control characters. Blank is None. Raises ``ValidationError`` naming ``label``.

    >>> clean_text("  rechecked \\x00", "notes", 10), clean_text(None, "notes", 10)
    ('rechecked', None)
    >>> clean_text("  vertex,   crown ", "areas treated", 200, single_line=True)
    'vertex, crown'
    """
    text = ("" if value is None else str(value)).replace("\x00", "").strip()
    if single_line:
        text = " ".join(text.split())
        if any(unicodedata.category(ch) == "Cc" for ch in text):
            raise ValidationError(f"{label} contains a control character (a tab, line break or similar)")
    if len(text) > limit:
        raise ValidationError(f"{label} is too long: at most {limit:,} characters (it has {len(text):,})")
    return text or None


def parse_mrn(value: object, label: str = "MRN") -> str:
    """A medical record number: 1–40 letters, digits, ``-`` or ``_``, surrounding spaces removed.

    >>> parse_mrn(" RT-0042 ")
    'RT-0042'
    """
    text = _text(value, label)
    if not text:
        raise ValidationError(f"{label} is required")
    if len(text) > MRN_MAX:
        raise ValidationError(f"{label} {_shown(text)} is too long: at most {MRN_MAX} characters")
    if not _MRN.fullmatch(text):
        raise ValidationError(
            f"{label} {_shown(text)} may contain only letters, digits, '-' and '_' (no spaces)"
        )
    return text


def parse_full_name(value: object, label: str = "full name") -> str:
    """The patient's name: required, at most 200 characters; runs of spaces become one space."""
    text = " ".join(_text(value, label).split())
    if not text:
        raise ValidationError(f"{label} is required")
    if len(text) > FULL_NAME_MAX:
        raise ValidationError(f"{label} is too long: at most {FULL_NAME_MAX} characters (it has {len(text)})")
    return _no_control_characters(text, label)


def _choice(value: object, label: str, choices: tuple[str, ...], text: str | None = None) -> str:
    text = _text(value, label).lower() if text is None else text
    if not text:
        raise ValidationError(f"{label} is required: one of {', '.join(choices)}")
    if text not in choices:
        raise ValidationError(f"{label} {_shown(text)} is not one of {', '.join(choices)}")
    return text


def parse_sex(value: object, label: str = "sex") -> str:
    """``female``, ``male`` or ``other``, in any capitalisation.

    >>> parse_sex("Female")
    'female'
    """
    return _choice(value, label, SEXES)


def parse_condition(value: object, label: str = "condition") -> str:
    """One of ``tracker.course.clinical.CONDITIONS``; capitals, spaces and hyphens are forgiven.

    >>> parse_condition("Androgenetic alopecia")
    'androgenetic_alopecia'
    """
    text = re.sub(r"[\s-]+", "_", _text(value, label).lower())
    return _choice(value, label, CONDITIONS, text)


def parse_treatment(value: object, label: str = "treatment") -> str:
    """``exosome``, ``prp`` or ``other``, in any capitalisation.

    >>> parse_treatment("PRP")
    'prp'
    """
    return _choice(value, label, TREATMENTS)


def parse_product(value: object, label: str = "product") -> str:
    """The product's name as written on the vial; optional, at most 200 characters."""
    text = " ".join(_text(value, label).split())
    if len(text) > PRODUCT_MAX:
        raise ValidationError(f"{label} is too long: at most {PRODUCT_MAX} characters (it has {len(text)})")
    return _no_control_characters(text, label)


def parse_lot_number(value: object, treatment: str | None, label: str = "lot number") -> str:
    """The lot/batch number, required for exosome sessions and optional otherwise.

    Exosome products are biologics: when a batch is recalled the clinic must find every patient who
    received it (DESIGN.md §5), which is impossible for a session recorded without its lot.

    >>> parse_lot_number("", "prp")
    ''
    >>> parse_lot_number(" ", "exosome")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: lot number is required for exosome sessions (it is how patients are found if ...)
    """
    text = _text(value, label)
    if not text and treatment == "exosome":
        raise ValidationError(
            f"{label} is required for exosome sessions (it is how patients are found if a batch is recalled)"
        )
    if len(text) > LOT_NUMBER_MAX:
        raise ValidationError(f"{label} {_shown(text)} is too long: at most {LOT_NUMBER_MAX} characters")
    return _no_control_characters(text, label)


def parse_optional_amount(value: object, label: str, maximum: float, unit: str, symbol: str) -> float | None:
    """An optional measured amount: blank (None or spaces) is None, otherwise a number more than 0 and at
    most ``maximum`` (in ``unit``, written ``symbol``), e.g. an injected volume in ml or a shaft diameter in µm.

    >>> ml = ("millilitres", "ml")
    >>> parse_optional_amount(" 2.5 ", "volume", 20, *ml), parse_optional_amount("", "volume", 20, *ml)
    (2.5, None)
    >>> parse_optional_amount("lots", "volume", 20, *ml)
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: volume 'lots' is not a number (millilitres)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        # Any number type (int, Decimal, numpy) converts; anything else is not a number.
        if not isinstance(value, (str, SupportsFloat)):
            raise TypeError
        number = float(value) if not isinstance(value, str) else required_decimal(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{label} {str(value).strip()!r} is not a number ({unit})") from None
    if not math.isfinite(number) or not 0 < number <= maximum:
        raise ValidationError(
            f"{label} {number:g} {symbol} is out of range: it must be more than 0 and at most {maximum:g} {symbol}"
        )
    return number


def parse_density(value: object, label: str = "density") -> float:
    """Hair density in hairs/cm²: a number more than 0 and at most 600 (``MAX_DENSITY_PER_CM2``)."""
    bounds = f"more than 0 and at most {MAX_DENSITY_PER_CM2:g} hairs/cm²"
    if isinstance(value, bool):
        raise ValidationError(f"{label} {_shown(value)} is not a number ({bounds})")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = _text(value, label)
        if not text:
            raise ValidationError(f"{label} is required: a number {bounds}")
        number_or_none = decimal_number(text)
        if number_or_none is None:
            raise ValidationError(f"{label} {_shown(text)} is not a number ({bounds})")
        number = number_or_none
    if not math.isfinite(number):
        raise ValidationError(f"{label} {_shown(value)} is not a number ({bounds})")
    if not 0 < number <= MAX_DENSITY_PER_CM2:
        raise ValidationError(f"{label} {number:g} is out of range: it must be {bounds}")
    return number


def parse_site(value: object, label: str = "site") -> str:
    """The measured scalp area, lowercased; blank means ``primary``.

    >>> parse_site(""), parse_site("Left_Temporal")
    ('primary', 'left_temporal')
    """
    text = _text(value, label).lower()
    if not text:
        return DEFAULT_SITE
    if len(text) > SITE_MAX:
        raise ValidationError(f"{label} {_shown(text)} is too long: at most {SITE_MAX} characters")
    if not _SITE.fullmatch(text):
        raise ValidationError(
            f"{label} {_shown(text)} may contain only letters, digits, '_' and '-' (for example left_temporal)"
        )
    return text


def clean_file_name(file_name: str | None, fallback: str = "") -> str:
    """An uploaded file's own name, safe to store and to echo in a message: no folders (``../``), no
    control characters, at most 255 characters. The name is never used to build a path.

    >>> clean_file_name("../../etc/pass\\x07wd.jpg")
    'passwd.jpg'
    >>> clean_file_name("C:\\\\Users\\\\me\\\\scalp.heic")
    'scalp.heic'
    >>> clean_file_name("..", "photo")
    'photo'
    """
    text = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc").strip()
    if text in ("", ".", ".."):
        return fallback
    return text[:255]


def shown_path(path: str | Path) -> str:
    """A path as printable text: bytes of a name that are not UTF-8 appear as ``\\xNN`` (a folder name need not
    be UTF-8; the audit trail, the terminal and the database need text).

    >>> shown_path(Path(b"/tmp/bk-\\xff".decode("utf-8", "surrogateescape")))
    '/tmp/bk-\\\\xff'
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def search_words(query: str | None) -> tuple[str, ...]:
    """The words of a patient search (by name or MRN), lowercased, each once; over-long searches are refused. A
    control character (a NUL pasted in, which PostgreSQL refuses in any text) separates words, as a space does.

    >>> search_words("  Souza  RT-0042 souza ")
    ('souza', 'rt-0042')
    >>> search_words("ab\\x00c")
    ('ab', 'c')
    >>> search_words("word " * 20_000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: The search is too long (99,999 characters): type at most 100 characters of a ...
    """
    text = (query or "").strip()
    if len(text) > SEARCH_MAX:
        raise ValidationError(
            f"The search is too long ({len(text):,} characters): type at most {SEARCH_MAX} characters of a name or MRN."
        )
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return tuple(dict.fromkeys(text.lower().split()))


# --- a name as a search compares it (tracker.records.patient_search; the patient outlook's name_key) ---

# Letters that are not a plain letter with an accent, but are read as one by a person searching.
_LOOK_ALIKE = {"Ø": "o", "ø": "o", "Đ": "d", "đ": "d", "Ł": "l", "ł": "l", "ı": "i", "Ħ": "h", "ħ": "h",
               "Ŧ": "t", "ŧ": "t"}
# Combining accents (U+0300–U+036F): a decomposed "ë" is "e" followed by one of these.
COMBINING_ACCENTS = "".join(chr(code) for code in range(0x300, 0x370))


def _fold_pairs() -> dict[str, str]:
    """Each accented Latin letter (Latin-1 Supplement, Latin Extended-A and -B) and its plain lower-case letter."""
    pairs: dict[str, str] = {}
    for code in range(0xC0, 0x250):
        letter = chr(code)
        base = unicodedata.normalize("NFKD", letter)[0]
        if base != letter and base.isascii() and base.isalpha():
            pairs[letter] = base.lower()
    return {**pairs, **_LOOK_ALIKE}


FOLD_PAIRS = _fold_pairs()
_TABLE = str.maketrans({**FOLD_PAIRS, **dict.fromkeys(COMBINING_ACCENTS)})


def fold(text: str | None) -> str | None:
    """``text`` without accents or capitals, as a search compares it.

    >>> fold("Zoë"), fold("ZOE\\u0308"), fold("Łukasz Øvergård"), fold("Ana-María")
    ('zoe', 'zoe', 'lukasz overgard', 'ana-maria')
    """
    return None if text is None else text.translate(_TABLE).lower()
