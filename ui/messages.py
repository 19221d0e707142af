"""Showing text and errors plainly on every page: user-typed text never becomes markup (``plain``), a service's
refusal is a message with its problems (``show_error``), and ``call`` runs one service so that a clinician never
sees a traceback (a busy database is "try again").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from tracker.database import database_busy
from tracker.errors import TrackerError

log = logging.getLogger("regrowth")
T = TypeVar("T")
# Pixels of a problems table's reason column (``show_error``): wide enough for most reasons on one or two lines.
REASON_WIDTH = 700
BUSY = "The database is busy; nothing was lost. Try again in a moment."


_ALWAYS = re.compile(r"([\\`*_\[\]<>|~$])")  # inline markup, links, HTML tags, tables, maths
_ENTITY = re.compile(r"&(?=#?\w+;)")  # &lt; and friends
_SHORTCODE = re.compile(r":(?=[\w/+-]+:|//)|(?<=www)\.")  # :smile: icon codes; http:// and www. autolinks
_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])", re.M)  # headings, quotes, lists, rules
# Links to bare URLs, www. addresses and e-mail addresses, and :smile: codes, are found in the text after the
# markdown has been read (backslashes already gone): an invisible word joiner (U+2060) breaks each pattern.
_TEXT_PATTERNS = re.compile(r"(?<=:)(?=//|[\w/+-]+:)|(?<=www)(?=\\\.)|(?=@)")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    r"""User-typed text made safe for Streamlit markdown: shown literally, never as markup or HTML.

    >>> print(plain("<img src=x onerror=alert(1)>"))
    \<img src=x onerror=alert(1)\>
    >>> print(plain("MRN rt-0100: [click](javascript:x) *bold*"))
    MRN rt-0100: \[click\](javascript:x) \*bold\*
    >>> print(plain("# 1. :smile: http://x.org www.x.org a@b.org").replace(WORD_JOINER, "¦"))
    \# 1. \:¦smile: http\:¦//x.org www¦\.x.org a¦@b.org
    """
    text = _ALWAYS.sub(r"\\\1", str(text))
    text = _ENTITY.sub(r"\\&", text)
    text = _SHORTCODE.sub(lambda m: "\\" + m.group(0), text)
    text = _TEXT_PATTERNS.sub(WORD_JOINER, text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def show_error(error: TrackerError) -> None:
    """The message and every listed problem, shown as plain text (they may quote what was typed); problems that
    come as rows (``table``: the import's file, row, column and reason) are shown as a table. An error with an
    ``app_message`` (``TrackerError``) shows that instead, and its message goes to the log."""
    message = str(error)
    if error.app_message is not None:  # the message is for the administrator (settings, servers): the log's
        log.warning("%s: %s", type(error).__name__, message)
        st.error(error.app_message)
        return
    table = getattr(error, "table", None)
    if table:
        st.error(plain(message))
        reason = list(table[0])[-1]  # the last column is the longest text: a reason, wrapped over lines
        st.dataframe(table, hide_index=True, row_height=_row_height(table, reason),
                     column_config={reason: st.column_config.TextColumn(width=REASON_WIDTH)})
        return
    # A single problem is usually the message's own end ("The session was not saved: volume …"): not twice.
    problems = [p for p in (getattr(error, "problems", None) or []) if p and not message.endswith(p)]
    text = plain(message)
    if problems:
        text += "\n\n" + "\n".join(f"- {plain(p)}" for p in problems)
    st.error(text)


def _row_height(table: list[dict[str, str]], column: str) -> int:
    """Rows tall enough for the longest text of ``column`` wrapped in ``REASON_WIDTH`` pixels, about 90
    characters a line (up to 6 lines; a table's cells do not grow by themselves).

    >>> _row_height([{"Reason": "short"}], "Reason"), _row_height([{"Reason": "x" * 197}], "Reason")
    (35, 64)
    """
    longest = max(len(str(row.get(column, ""))) for row in table)
    lines = min(6, max(1, -(-longest // 90)))
    return max(35, 10 + 18 * lines)


def call(service: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one service; a user error is shown as a message, a busy database as "try again" (one log line,
    no traceback: another writer held the lock too long), anything else as a plain apology.

    Returns None when the call failed (and nothing was saved: services run in one transaction).
    """
    try:
        return service(*args, **kwargs)
    except TrackerError as error:
        show_error(error)
    except Exception as error:  # never a traceback in front of a clinician; the server log keeps it
        busy = database_busy(error)
        if busy is not None:
            log.warning("database busy in %s: %s", getattr(service, "__name__", service), busy)
            st.error(BUSY)
            return None
        log.exception("unexpected error in %s", getattr(service, "__name__", service))
        st.error("Something went wrong and nothing was saved. Please try again; "
                 "if it persists, tell your administrator.")
    return None
