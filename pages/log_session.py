"""Log treatment session: date, treatment, product and lot, volume, areas, batch documents, the
pre-session checklist and adverse events; after saving, the NSAID-free span and the next-session window.

One service call saves everything (``tracker.records.treatment_sessions.log_session``); the dates shown after
saving come from it (computed by ``tracker.course.milestones``), never from arithmetic here. The form belongs to
one patient: choosing another patient starts a fresh form.

The date and the volume are typed fields (``ui.typed_fields``), read by the service in the clinic's date format
and with a decimal comma. A session far from every visit is asked about (the service says why) and saved only by
"Save anyway", which submits the form again: a date changed meanwhile is checked afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import streamlit as st

from tracker.clinic_dates import show_date
from tracker.course.clinical import TREATMENTS
from tracker.course.vocabulary import treatment_words
from tracker.errors import NeedsConfirmation
from tracker.records.batch_documents import DocumentUpload
from tracker.records.treatment_sessions import (
    AREAS_MAX,
    PRE_SESSION_CHECKS,
    TEXT_MAX,
    SessionEntry,
    SessionSaved,
    log_session,
    session_form_defaults,
)
from tracker.validation import LOT_NUMBER_MAX, PRODUCT_MAX
from ui.messages import call, plain
from ui.signed_in import require_actor
from ui.typed_fields import date_field, decimal_field
from ui.workspace import MRN, blank_form, choose_patient, offer_another_patient, selected_mrn

DOCUMENT_TYPES = ["pdf", "jpg", "jpeg", "png", "tif", "tiff", "webp", "heic", "heif"]
FORM_FOR, ROUND, SAVED = "session_form_for", "session_round", "session_saved"
ASKED = "asked_session"  # the warnings the last save asked to confirm (outside the keys a fresh form blanks)



def _start_form(mrn: str, areas: str, treatment: str | None, product: str) -> None:
    """A fresh form for ``mrn``: forget every value typed for anyone (or for the session just saved)."""
    blank_form("session_", keep=(SAVED, ROUND, FORM_FOR), choices=("session_treatment", "session_documents"))
    st.session_state[FORM_FOR] = mrn
    st.session_state["session_areas"] = areas
    st.session_state["session_treatment"] = treatment if treatment in TREATMENTS else TREATMENTS[0]
    st.session_state["session_product"] = product
    st.session_state["session_date"] = show_date(date.today())
    st.session_state.pop(ASKED, None)
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1  # a new, empty document uploader


def _save(mrn: str, entry: SessionEntry, documents: list[DocumentUpload],
          acknowledged: Sequence[str]) -> SessionSaved | None:
    """Save through the service; unlikely values are kept for the form to ask about, answered by submitting it
    again with "Save anyway"."""
    try:
        return log_session(actor, mrn, entry, documents, acknowledged=acknowledged)
    except NeedsConfirmation as asked:
        st.session_state[ASKED] = asked.warnings
    return None



def _show_saved(saved: SessionSaved) -> None:
    lot = f", lot {saved.lot_number}" if saved.lot_number else ""
    st.success(plain(f"{treatment_words(saved.treatment)} session of {show_date(saved.date)} saved{lot}."))
    for warning in saved.warnings:
        st.warning(warning)
    span = saved.nsaid_free
    st.info(f"Avoid aspirin and ibuprofen (NSAIDs) from {show_date(span.start)} until {show_date(span.end)}.")
    if saved.next_session_window is not None:
        window = saved.next_session_window
        st.info(f"Next session window: {show_date(window.start)} to {show_date(window.end)}.")
    if saved.documents:
        st.dataframe(
            pd.DataFrame([
                {"Batch document": d.file_name, "Type": d.media_type, "Size (KB)": round(d.size_bytes / 1024, 1)}
                for d in saved.documents
            ]),
            hide_index=True,
        )


actor = require_actor()
st.title("Log treatment session")
mrn = selected_mrn()
if mrn is None:
    choose_patient(actor, "session", "session")

defaults = call(session_form_defaults, actor, mrn)
if defaults is None:
    offer_another_patient("session")
if st.session_state.get(FORM_FOR) != defaults.mrn:
    _start_form(defaults.mrn, defaults.areas, defaults.last_treatment, defaults.last_product)

st.subheader(plain(f"{defaults.full_name} · MRN {defaults.mrn}"))
if defaults.last_session_date:
    st.caption(f"Last session: {show_date(defaults.last_session_date)}")

saved = st.session_state.get(SAVED)
if isinstance(saved, SessionSaved) and saved.mrn == defaults.mrn:
    _show_saved(saved)

with st.form("log_session", clear_on_submit=False):
    session_date = date_field("Session date", key="session_date", value=date.today())
    treatment = st.selectbox("Treatment", TREATMENTS, format_func=treatment_words, key="session_treatment")
    product = st.text_input("Product", key="session_product", max_chars=PRODUCT_MAX)
    lot_number = st.text_input("Lot / batch number (required for exosome)", key="session_lot",
                               max_chars=LOT_NUMBER_MAX)
    volume = decimal_field("Volume (ml)", key="session_volume")
    areas = st.text_input("Areas treated", key="session_areas", max_chars=AREAS_MAX)
    files = st.file_uploader(
        "Batch documents (screening certificates: PDF or image)", type=DOCUMENT_TYPES,
        accept_multiple_files=True, key=f"session_documents_{st.session_state[ROUND]}",
    )
    st.markdown("**Pre-session checklist** (an unticked item is recorded as not confirmed)")
    checklist = {key: st.checkbox(label, key=f"session_check_{key}") for key, label in PRE_SESSION_CHECKS.items()}
    adverse_events = st.text_area("Adverse events", key="session_adverse_events", max_chars=TEXT_MAX)
    notes = st.text_area("Notes", key="session_notes", max_chars=TEXT_MAX)
    asked = st.session_state.get(ASKED)
    anyway = False
    if asked:
        st.warning("**Please check before saving** (nothing was saved):\n\n"
                   + "\n".join(f"- {plain(warning)}" for warning in asked)
                   + "\n\nSave anyway if the date is right; a value changed here is checked again.")
        anyway = st.form_submit_button("Save anyway")
    submitted = st.form_submit_button("Save session", type="primary")

if submitted or anyway:
    asked_before = st.session_state.pop(ASKED, None)
    acknowledged: tuple[str, ...] = tuple(asked_before) if anyway and asked_before else ()
    entry = SessionEntry(
        date=session_date, treatment=treatment, product=product, lot_number=lot_number, volume_ml=volume,
        areas=areas, checklist=checklist, adverse_events=adverse_events, notes=notes,
    )
    documents = [DocumentUpload(f.name, f.getvalue()) for f in files or []]
    with st.spinner("Saving the session and storing its documents…"):
        result = call(_save, defaults.mrn, entry, documents, acknowledged)
    if result is not None:
        st.session_state[SAVED] = result
        st.session_state[FORM_FOR] = None  # the next run starts a fresh form
        st.rerun()
    if ASKED in st.session_state:
        st.rerun()  # the form asks its question, with the values typed still in it

if st.button("Choose another patient", key="pick_session_other"):
    st.session_state.pop(MRN, None)
    st.query_params.pop(MRN, None)
    st.rerun()
