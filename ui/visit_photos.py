"""Adding photos to a visit already recorded, from the patient record: the photo forgotten at the visit, or one
that arrived later, goes to its own visit instead of starting a second visit on the same day.

A small form (visit, view, files) checks each photo as the visit form does (``ui.photo_checks``: focus, exposure,
size, framing against the view's photo at the visit before; problems are asked about, the photos kept or replaced)
and then calls ``tracker.records.visit_photos.add_photos`` with the visit's version as the record showed it, so a
visit changed or removed meanwhile is said so and nothing is added.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from tracker.access.actors import Actor
from tracker.clinic_dates import show_date
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.vocabulary import view_words
from tracker.records.patient_record import TimelineEntry
from tracker.records.visit_photos import add_photos
from ui import photo_checks
from ui.messages import call

# The photo files the visit forms accept (the photo intake reads each; HEIC from phones included).
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "heic", "heif"]
_ADDED, _ROUND = "visit_photos_added", "visit_photos_round"


def add_photos_form(actor: Actor, mrn: str, timeline: Sequence[TimelineEntry]) -> None:
    """"Add photos to this visit" for the record's visits of patient ``mrn`` (the latest chosen first); nothing
    without a visit."""
    visits = {entry.row_id: entry for entry in reversed(timeline) if entry.kind == "visit"}
    if not visits:
        return
    added = st.session_state.pop(_ADDED, None)
    if added:
        st.success(added)
    round_ = st.session_state.setdefault(_ROUND, 0)
    keys = photo_checks.ADDED_PHOTOS
    asking = keys.asked in st.session_state and st.session_state.get(keys.context, ("",))[0] == mrn
    with st.expander("Add photos to a visit", expanded=bool(added) or asking), st.form("visit_photos_form"):
        visit_id = st.selectbox(
            "Visit", list(visits), key="visit_photos_visit",
            format_func=lambda i: f"Visit of {show_date(visits[i].date)}")
        view = st.selectbox("View", SCALP_VIEWS, format_func=view_words, key="visit_photos_view")
        files = st.file_uploader("Photos", type=PHOTO_TYPES, accept_multiple_files=True,
                                 key=f"visit_photos_files_{round_}")
        keep = photo_checks.question(keys, photo_checks.check_context(mrn, visits[visit_id].date))
        if not (st.form_submit_button("Add photos to this visit") or keep):
            return
    visit = visits[visit_id]
    chosen = [photo_checks.FormPhoto(view, f.file_id, f.name, f.getvalue()) for f in files or []]
    # Checked against the view's photo at the visit before this one; nothing is stored while a problem is open.
    uploads = photo_checks.checked(actor, mrn, chosen, visit.date, keep, keys) if chosen else []
    if uploads is None:  # problems to ask about, or the check could not run (its message is shown)
        if keys.asked in st.session_state:
            st.rerun()  # the form asks its question, with the photos still chosen
        return
    with st.spinner("Storing the photos…"):
        result = call(add_photos, actor, visit.row_id, uploads, expected_version=visit.version)
    if result is not None:
        keys.forget()
        st.session_state[_ADDED] = (f"{len(result.photos)} {view_words(view).lower()} photo(s) added to the visit "
                                    f"of {show_date(result.date)}.")
        st.session_state[_ROUND] = round_ + 1  # an empty uploader for the next photos
        st.rerun()
