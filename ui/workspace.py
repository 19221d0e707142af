"""What the clinician works on across pages: the selected patient (``?mrn=`` or the session, a plain MRN string),
picking one, and forms emptied for the next patient.
"""

from __future__ import annotations

from datetime import date
from typing import NoReturn

import streamlit as st

from tracker.access.actors import Actor
from tracker.clinic_dates import show_date
from ui.messages import call

MRN = "mrn"


def selected_mrn() -> str | None:
    """The patient the clinician is working on: from the URL (?mrn=) or the session."""
    mrn = st.query_params.get(MRN) or st.session_state.get(MRN)
    return mrn.strip() if isinstance(mrn, str) and mrn.strip() else None


def select_patient(mrn: str) -> None:
    st.session_state[MRN] = mrn
    st.query_params[MRN] = mrn


def blank_form(prefix: str, keep: tuple[str, ...] = (), choices: tuple[str, ...] = ()) -> None:
    """Empty every widget whose key starts with ``prefix`` (except ``keep``), for a fresh form.

    Values are overwritten rather than deleted: a deleted key lets the browser send its old value back
    with the next submit, so a form that looks fresh could save the previous visit again. Keys starting
    with one of ``choices`` (select boxes, whose blank is not a valid option) are dropped instead.
    """
    blank_keys([k for k in st.session_state if str(k).startswith(prefix) and k not in keep], choices)


def blank_keys(keys: list[str] | tuple[str, ...], choices: tuple[str, ...] = ()) -> None:
    """Empty the widgets ``keys`` (those starting with one of ``choices`` are dropped), as ``blank_form`` does."""
    for key in [k for k in keys if k in st.session_state]:
        value = st.session_state[key]
        if any(str(key).startswith(choice) for choice in choices):
            blank = _DROP
        elif isinstance(value, bool):
            blank = False
        elif isinstance(value, str):
            blank = ""
        elif isinstance(value, date):
            blank = date.today()
        elif isinstance(value, (int, float)) or value is None:
            blank = None
        else:
            blank = _DROP
        if blank is _DROP:
            del st.session_state[key]
        else:
            st.session_state[key] = blank  # (buttons may not be assigned: name them in ``keep``)


_DROP = object()


def offer_another_patient(key: str) -> NoReturn:
    """After a patient could not be opened: a way back to choosing one; the page stops here."""
    if st.button("Choose another patient", key=f"pick_{key}_other"):
        st.session_state.pop(MRN, None)
        st.query_params.pop(MRN, None)
        st.rerun()
    st.stop()


def choose_patient(actor: Actor, purpose: str, key: str) -> NoReturn:
    """A search-and-pick box for pages that need a patient first; selects it and reruns, else stops."""
    from tracker.records.patient_search import find_patients
    from tracker.validation import SEARCH_MAX

    st.info(f"Choose the patient whose {purpose} you are logging.")
    query = st.text_input("Find a patient by MRN or name", key=f"pick_{key}_query", max_chars=SEARCH_MAX)
    choices = call(find_patients, actor, query) or []
    if not choices:
        st.write("No patient matches.")
        st.stop()
    picked = st.selectbox(
        "Patient", choices, key=f"pick_{key}_patient",
        format_func=lambda c: f"{c.full_name} · MRN {c.mrn} · born {show_date(c.birth_date)}",
    )
    if st.button(f"Log a {purpose} for this patient", key=f"pick_{key}_go", type="primary"):
        select_patient(picked.mrn)
        st.rerun()
    st.stop()
