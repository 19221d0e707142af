"""Patients: find a patient by name or MRN, see who is due, overdue or behind, and open a record."""

import streamlit as st

from tracker.course.vocabulary import condition_words
from tracker.records.patient_list import FILTERS, list_patients
from tracker.validation import SEARCH_MAX
from ui.messages import call
from ui.signed_in import require_actor
from ui.workspace import select_patient, selected_mrn

actor = require_actor()
st.title("Patients")

ALL = "All"
search, chooser = st.columns([3, 2])
query = search.text_input("Search by name or MRN", key="patients_query", placeholder="e.g. Souza or RT-0042",
                          max_chars=SEARCH_MAX)
shown = chooser.radio("Show", [ALL, *FILTERS.values()], horizontal=True, key="patients_filter")
filter_key = next((key for key, label in FILTERS.items() if label == shown), None)

rows = call(list_patients, actor, query=query, filter=filter_key)
if rows is None:
    st.stop()
if not rows:
    st.info("No patient matches." if query or filter_key else "No patients yet: register one on the New patient page.")
    st.page_link("pages/new_patient.py", label="New patient", icon="➕")
    st.stop()

st.caption(f"{len(rows)} patient{'s' if len(rows) != 1 else ''}")
st.dataframe(
    [
        {
            "MRN": row.mrn,
            "Name": row.full_name,
            "Age": row.age,
            "Condition": condition_words(row.condition),
            "Day 0": row.day0.isoformat() if row.day0 else "",
            "Next milestone": row.next_milestone_label or "",
            "Due": row.next_due.isoformat() if row.next_due else "",
            "Status": row.status_text,
        }
        for row in rows
    ],
    hide_index=True,
)

names = {row.mrn: row.full_name for row in rows}
current = selected_mrn()
choice = st.selectbox(
    "Patient",
    list(names),
    index=list(names).index(current) if current in names else None,
    format_func=lambda mrn: f"{mrn} — {names[mrn]}",
    placeholder="Choose a patient",
    key="patients_choice",
)
if choice and choice != current:
    select_patient(choice)
if st.button("Open the record", key="patients_open", type="primary", disabled=choice is None) and choice is not None:
    select_patient(choice)
    st.switch_page("pages/patient_record.py")
