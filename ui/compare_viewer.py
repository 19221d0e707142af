"""The before/after viewer: side by side, swipe and fade, with one zoom and pan for both photos (drawing only).

A small static HTML page (``compare_viewer.html``, beside this file) shown in an iframe with ``st.iframe``: the
swipe and fade sliders, zoom (wheel, pinch, buttons) and pan (drag) run in the browser, so moving them sends
nothing to the server and starts no page run. Nothing is fetched: both JPEGs go inline as ``data:`` URIs in the
page's own websocket message (``st.iframe`` sends an HTML string as the iframe's ``srcdoc``), as
``private_media.image`` does, so no ``/media/`` URL exists for a patient's photo.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

import streamlit as st

from ui.private_media import data_uri

_TEMPLATE = Path(__file__).with_name("compare_viewer.html")
# The iframe's title, for screen readers (and for tests to find it).
TITLE = "Before and after viewer"


@lru_cache(maxsize=1)
def _template() -> str:
    return _TEMPLATE.read_text(encoding="utf-8")


def page_for(before: bytes, after: bytes, frame: tuple[int, int], before_label: str, after_label: str) -> str:
    """The viewer's HTML for two JPEGs of the same ``frame`` (width, height px) and their labels (plain text)."""
    width, height = frame
    return (_template()
            .replace("__FRAME__", f"{width} / {height}")
            .replace("__BEFORE_LABEL__", html.escape(before_label))
            .replace("__AFTER_LABEL__", html.escape(after_label))
            .replace("__BEFORE__", data_uri(before))
            .replace("__AFTER__", data_uri(after)))


def compare_viewer(before: bytes, after: bytes, frame: tuple[int, int], before_label: str, after_label: str) -> None:
    """Draw the viewer. Its height follows its content (Streamlit measures an HTML iframe's page): the pair side
    by side, or one full-width photo for the swipe and the fade."""
    st.iframe(page_for(before, after, frame, before_label, after_label), height="content", alt=TITLE)
