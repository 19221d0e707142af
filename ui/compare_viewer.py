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
# The bar above the photos and the hint under them, px: the iframe's height is the photos' plus this.
_CHROME_PX = 90


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


def compare_viewer(before: bytes, after: bytes, frame: tuple[int, int], before_label: str, after_label: str,
                   width_px: int = 1100) -> None:
    """Draw the viewer; ``width_px`` is the width the page usually gives it, to size the iframe's height (two
    photos of half that width side by side)."""
    width, height = frame
    st.iframe(page_for(before, after, frame, before_label, after_label),
              height=round(width_px / 2 * height / width) + _CHROME_PX)
