"""Paging a long list: which page to ask the service for, and the chooser drawn under the table."""

from __future__ import annotations

from typing import Any

import streamlit as st

from tracker.paging import Page


def asked_page(key: str) -> int:
    """The page number chosen with the chooser ``key`` (1 before any choice)."""
    chosen = st.session_state[key] if key in st.session_state else 1  # noqa: SIM401  # no .get() on session state
    return chosen if isinstance(chosen, int) and chosen >= 1 else 1


def page_chooser(key: str, page: Page[Any]) -> None:
    """"Showing 51–100 of 12,345" and, when there is more than one page, a page number to go to."""
    st.caption(page.showing())
    if page.pages > 1:
        if asked_page(key) != page.number:
            st.session_state[key] = page.number  # the list got shorter: the last page there is
        of = f"more than {page.pages - 1:,}" if page.more else f"{page.pages:,}"  # a search counted so far
        st.number_input(f"Page (of {of})", min_value=1, max_value=page.pages, step=1, key=key)
