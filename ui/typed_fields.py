"""Fields whose typed text the services read, so that what a clinician types is never reinterpreted.

The browser's date picker and number box reinterpret typing: ``20/08/2026`` became 2008-02-06 and ``58,3``
became 583. These fields are plain text boxes that say what they expect; the service reads the text with
``tracker.clinic_dates.parse_date`` (the clinic's ``TRACKER_DATE_FORMAT``) and ``tracker.validation``'s number
parsers (a decimal comma is a decimal separator), and refuses anything else with the expected form shown.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from tracker.clinic_dates import date_example, date_format, show_date

# Longer than any date or measured number; a longer text is cut by the browser, not sent.
TYPED_MAX = 40


def date_field(label: str, key: str, value: date | None = None, container: Any = st, **options: Any) -> str:
    """A date typed in the clinic's format; returns the text as typed ('' when empty).

    ``value`` fills the box the first time it is drawn (for example today's date for a new visit).
    """
    if value is not None and key not in st.session_state:
        st.session_state[key] = show_date(value)
    text: str = container.text_input(
        f"{label} ({date_format()})", key=key, placeholder=date_format(),
        help=f"Type the date as {date_example()}.", max_chars=TYPED_MAX, **options)
    return text


def decimal_field(label: str, key: str, container: Any = st, help: str | None = None, **options: Any) -> str:
    """A measured number, typed with a decimal point or comma; returns the text as typed ('' when empty).
    ``help`` says what the number means; the field adds how it may be written."""
    how = "A decimal point or comma: 58.3 or 58,3."
    text: str = container.text_input(label, key=key, help=f"{help} {how}" if help else how, max_chars=TYPED_MAX,
                                     **options)
    return text


def date_columns(*labels: str) -> dict[str, Any]:
    """``column_config`` for a table whose ``labels`` columns hold dates: shown in the clinic's format and still
    date-typed, so that a click on the heading sorts them by date, not as text. (Streamlit's formats are
    moment.js patterns, and each clinic format is written the same way in moment.js.)"""
    return {label: st.column_config.DateColumn(label, format=date_format()) for label in labels}
