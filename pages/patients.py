"""Patients: find a patient by name or MRN, see whose milestone window is open, whose target date is near, who
is overdue or behind, and open a record (a click on a row, or the chooser below the table)."""

import streamlit as st

from tracker.course.vocabulary import condition_words, patient_filter_words
from tracker.records.patient_list import FILTERS, list_patients
from tracker.validation import SEARCH_MAX
from ui.messages import call
from ui.paging import asked_page, page_chooser
from ui.signed_in import require_actor
from ui.typed_fields import date_columns
from ui.workspace import select_patient, selected_mrn

actor = require_actor()
st.title("Patients")

RECORD_PAGE = "pages/patient_record.py"

search, chooser = st.columns([2, 3])
query = search.text_input("Search by name or MRN", key="patients_query", placeholder="e.g. Souza or RT-0042",
                          max_chars=SEARCH_MAX)
filter_key = chooser.radio("Show", [None, *FILTERS], horizontal=True, key="patients_filter",
                           format_func=lambda kind: "All" if kind is None else patient_filter_words(kind))

# A new search or filter starts again at its first page (the chooser's key names them).
page_key = f"patients_page:{filter_key}:{query}"
rows = call(list_patients, actor, query=query, filter=filter_key, page=asked_page(page_key))  # past the last: the last
if rows is None:
    st.stop()
if not rows:
    st.info("No patient matches." if query or filter_key else "No patients yet: register one on the New patient page.")
    st.page_link("pages/new_patient.py", label="New patient", icon="➕")
    st.stop()

st.caption(("Most urgent first: overdue (longest overdue first), then by target date, nearest first."
            if filter_key else "By name.") + " Click a row to open the patient's record.")
picked = st.dataframe(
    [
        {
            "MRN": row.mrn,
            "Name": row.full_name,
            "Age": row.age,
            "Condition": condition_words(row.condition),
            "Day 0": row.day0,
            "Next milestone": row.next_milestone_label or "",
            "Window opens": row.window_start,
            "Window closes": row.window_end,
            "Target date": row.next_due,
            "Status": row.status_text,
            "Last visit": row.last_visit,
            "Latest change": row.latest_change,
        }
        for row in rows
    ],
    hide_index=True, key="patients_table", on_select="rerun", selection_mode="single-row", placeholder="–",
    column_config=date_columns("Day 0", "Window opens", "Window closes", "Target date", "Last visit"),
)
page_chooser(page_key, rows)
if picked.selection.rows:
    clicked = rows[picked.selection.rows[0]].mrn
    select_patient(clicked)
    st.switch_page(RECORD_PAGE, query_params={"mrn": clicked})

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
    st.switch_page(RECORD_PAGE)
