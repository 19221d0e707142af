"""The clinic's way of writing dates, for every date a person types or reads.

``TRACKER_DATE_FORMAT`` is one of ``YYYY-MM-DD`` (the default), ``DD/MM/YYYY`` or ``MM/DD/YYYY``. A typed date
is read in that format only, never guessed: ``20/08/2026`` in a ``YYYY-MM-DD`` clinic is refused with the form
expected, not read as 2008-02-06. A date written YYYY-MM-DD is accepted in every clinic as well, because it
cannot be misread (the four-digit year comes first) and it is how the command line, spreadsheets and the
JSON export write dates. Files meant for machines (CSV exports, JSON, FHIR) keep YYYY-MM-DD.

Why a clinic setting and not the browser's locale: one clinic's staff must all read 03/04 the same way, and a
browser set to another language must not change what a typed date means.
"""

from __future__ import annotations

import calendar
import os
import re
from datetime import date, datetime

from tracker.errors import ValidationError

FORMAT_SETTING = "TRACKER_DATE_FORMAT"
ISO = "YYYY-MM-DD"
# The accepted settings: how a date is printed, and how a typed one is split into (year, month, day).
DATE_FORMATS: dict[str, str] = {ISO: "%Y-%m-%d", "DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y"}
_ISO_TEXT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_IN_TEXT = re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])")
_LOOKS_LIKE_A_DATE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}")
_EXAMPLE = date(2026, 8, 20)  # day 20 cannot be a month: an example that shows which part is the day


def date_format() -> str:
    """The clinic's date format (a key of ``DATE_FORMATS``), from ``TRACKER_DATE_FORMAT``.

    Raises ``ValidationError`` naming the accepted values when the setting is anything else, so that a
    misconfigured server says so instead of reading dates some other way.
    """
    value = os.environ.get(FORMAT_SETTING, "").strip() or ISO
    if value.upper() not in DATE_FORMATS:
        raise ValidationError(
            f"{FORMAT_SETTING} {value!r} is not a date format this product knows: set it to "
            + ", ".join(DATE_FORMATS) + f" (the default is {ISO})"
        )
    return value.upper()


def show_date(value: date | datetime | None) -> str:
    """A date as the clinic writes it ('' for none); a datetime shows its date.

    >>> os.environ[FORMAT_SETTING] = "DD/MM/YYYY"
    >>> show_date(date(2026, 8, 20)), show_date(None)
    ('20/08/2026', '')
    >>> del os.environ[FORMAT_SETTING]
    >>> show_date(date(2026, 8, 20))
    '2026-08-20'
    """
    if value is None:
        return ""
    return value.strftime(date_pattern())


def date_pattern() -> str:
    """The clinic's format as ``%`` codes ('%d/%m/%Y'): strftime's, and plotly's (d3) tick and hover formats,
    which use the same codes.

    >>> date_pattern()
    '%Y-%m-%d'
    """
    return DATE_FORMATS[date_format()]


def show_moment(value: datetime | None) -> str:
    """A point in time as the clinic writes dates, with the time to the second (audit entries, sign-ins).

    >>> os.environ[FORMAT_SETTING] = "MM/DD/YYYY"
    >>> show_moment(datetime(2026, 8, 20, 14, 5, 59))
    '08/20/2026 14:05:59'
    >>> del os.environ[FORMAT_SETTING]
    """
    if value is None:
        return ""
    return f"{show_date(value)} {value:%H:%M:%S}"


def show_dates_in(text: str) -> str:
    """``text`` with each YYYY-MM-DD date in it written as the clinic writes dates: for text the product wrote
    once and keeps (audit details such as "visit 4 on 2026-01-14"), shown in today's setting.

    >>> os.environ[FORMAT_SETTING] = "DD/MM/YYYY"
    >>> show_dates_in("visit 4 on 2026-01-14: 1 photo(s) added; not a date: 2026-13-01")
    'visit 4 on 14/01/2026: 1 photo(s) added; not a date: 2026-13-01'
    >>> del os.environ[FORMAT_SETTING]
    """
    def written(match: re.Match[str]) -> str:
        try:
            return show_date(date.fromisoformat(match.group(0)))
        except ValueError:  # looks like a date but is none: left as written
            return match.group(0)

    return _ISO_IN_TEXT.sub(written, text)


def date_example() -> str:
    """How a date is typed in this clinic, as shown next to date fields and in messages: 'DD/MM/YYYY, for
    example 20/08/2026'."""
    return f"{date_format()}, for example {show_date(_EXAMPLE)}"


def _parts(text: str, clinic_format: str) -> tuple[int, int, int] | None:
    """(year, month, day) of ``text`` read in the clinic's format or as YYYY-MM-DD; None when it is neither."""
    iso = _ISO_TEXT.fullmatch(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        return year, month, day
    slashed = _SLASHED.fullmatch(text)
    if slashed is None or clinic_format == ISO:
        return None
    first, second, year = (int(part) for part in slashed.groups())
    return (year, second, first) if clinic_format == "DD/MM/YYYY" else (year, first, second)


def _wrong_shape(text: str, clinic_format: str) -> str:
    """What is wrong with a typed date that is not in the clinic's format, up to the advice."""
    looks = _LOOKS_LIKE_A_DATE.fullmatch(text)
    if looks is None:
        return " is not a date:"
    first, second = (int(part) for part in re.split(r"[/.\-]", text)[:2])
    two_ways = ", which could be read two ways" if first != second and first <= 12 and second <= 12 else ""
    return f" is not written {clinic_format}{two_ways};"


def parse_date(value: object, label: str = "date") -> date:
    """A date typed in the clinic's format (or YYYY-MM-DD), or a date/datetime a spreadsheet cell already holds.

    Nothing else is read, and nothing is guessed: ``02/03/2025`` reads as 2 March in Europe and as 3 February in
    the United States, so only the clinic's setting decides, and a date in another shape is refused with the
    expected form. Raises ``ValidationError`` for an empty, malformed or impossible date (30 February).

    >>> parse_date("2026-08-20")
    datetime.date(2026, 8, 20)
    >>> parse_date("20/08/2026", "visit date")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: visit date '20/08/2026' is not written YYYY-MM-DD; type it as YYYY-MM-DD, ...
    >>> os.environ[FORMAT_SETTING] = "DD/MM/YYYY"
    >>> parse_date("20/08/2026"), parse_date("5/3/2026")
    (datetime.date(2026, 8, 20), datetime.date(2026, 3, 5))
    >>> parse_date("31/02/2026")
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: date '31/02/2026' is not a real date: February 2026 has 28 days
    >>> del os.environ[FORMAT_SETTING]
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    clinic_format = date_format()
    text = value.strip() if isinstance(value, str) else ("" if value is None else str(value).strip())
    if not text:
        raise ValidationError(f"{label} is required (type it as {date_example()})")
    parts = _parts(text, clinic_format) if isinstance(value, str) else None
    shown = repr(text if len(text) <= 40 else text[:37] + "...")
    if parts is None:
        raise ValidationError(f"{label} {shown}{_wrong_shape(text, clinic_format)} type it as {date_example()}")
    year, month, day = parts
    if not 1 <= month <= 12:
        raise ValidationError(
            f"{label} {shown} is not a real date: there is no month {month} (type it as {date_example()})")
    if year < 1:
        raise ValidationError(f"{label} {shown} is not a real date: there is no year 0")
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        raise ValidationError(
            f"{label} {shown} is not a real date: {calendar.month_name[month]} {year} has {days} days")
    return date(year, month, day)
