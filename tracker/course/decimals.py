"""Numbers as people type them: a decimal point or a decimal comma, nothing else.

Every amount this product records is below 1,000 (densities at most 600 hairs/cm², percentages, µm, ml), so a comma
is only ever a decimal separator here (``58,3`` typed on a keyboard set to a European language is 58.3), and a
number written with both separators (``1.234,5``) is refused rather than read one way or the other.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def decimal_number(text: str) -> float | None:
    """A number typed with a decimal point or a decimal comma (``58,3`` is 58.3, as typed on a keyboard set to
    a European language); None when ``text`` is not such a number.

    >>> decimal_number(" 58,3 "), decimal_number("120.5"), decimal_number("-2"), decimal_number(".5")
    (58.3, 120.5, -2.0, 0.5)
    >>> decimal_number("1.234,5"), decimal_number("58,3,1"), decimal_number("lots"), decimal_number("")
    (None, None, None, None)
    """
    text = text.strip()
    if _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    return float(text) if _NUMBER.fullmatch(text) else None


def required_decimal(text: str) -> float:
    """``decimal_number`` for parsers that treat "not a number" as a ``ValueError`` (raised for anything else)."""
    number = decimal_number(text)
    if number is None:
        raise ValueError(text)
    return number
