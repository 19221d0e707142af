"""The count screen's clickable close-up (``hair_marks.js``): the photo with its detections drawn over it, where
a click adds a mark and a click on a mark removes it.

A Streamlit custom component (v2): its HTML, CSS and script are this folder's own files, inlined into the page,
so nothing is fetched from elsewhere and no frame is used (the server forbids framing, ``serve.py``). The photo
travels inside the page's own connection as a data URL, like every patient photo (README, "Photos").
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import streamlit as st

from tracker.photos.hair_count import HairCount

_SCRIPT = (Path(__file__).with_name("hair_marks.js")).read_text(encoding="utf-8")
_CSS = ".hair-marks { width: 100%; } .hair-marks svg { border-radius: 4px; }"
_marks = st.components.v2.component("regrowth_hair_marks", js=_SCRIPT, css=_CSS)


def marked_closeup(key: str, image: bytes, size: tuple[int, int], found: HairCount) -> tuple[list[tuple[float, float]],
                                                                                              list[int]]:
    """Draw ``image`` (JPEG, ``size`` = (width, height) px) with ``found``'s marks and return the clinician's
    corrections so far: (added (x, y) pixels, removed indices into ``found.marks``). ``key`` must change when
    the photo or the detections change, so that corrections never carry over to another count."""
    previous = st.session_state.get(key)  # the component's state after the last click (None before any)
    state: dict[str, Any] = (previous.get("edits") if previous is not None else None) or {}
    added = [(float(x), float(y)) for x, y in state.get("added", [])]
    removed = [int(index) for index in state.get("removed", [])]
    data = {
        "image": "data:image/jpeg;base64," + base64.b64encode(image).decode("ascii"),
        "width": size[0], "height": size[1],
        "detected": [[round(m.x, 1), round(m.y, 1), m.kind or "unknown"] for m in found.marks],
        "added": [list(point) for point in added],
        "removed": removed,
    }
    result = _marks(key=key, data=data, default={"edits": {"added": [], "removed": []}},
                    on_edits_change=lambda: None)
    latest = getattr(result, "edits", None) or state
    return ([(float(x), float(y)) for x, y in latest.get("added", [])],
            [int(index) for index in latest.get("removed", [])])
