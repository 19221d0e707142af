"""Progress: the chart against the expected course, milestone cards, and what comes next.

Clinicians see the selected patient; a patient account always sees its own record (the service decides).
In consult mode this page is the only one registered and draws the consult screen instead.
"""

import streamlit as st

from pages import consult_mode
from pages import progress_panels as panels
from pages.workspace import call, require_actor, selected_mrn
from tracker.access import PATIENT
from tracker.progress_view import progress_view

actor = require_actor()
if st.session_state.get("consult") and actor.role != PATIENT:
    consult_mode.show(actor)
    st.stop()

mrn = selected_mrn()
if actor.role != PATIENT and mrn is None:
    st.info("Choose a patient first.")
    st.page_link("pages/patients.py", label="Go to the patient list", icon="👥")
    st.stop()

view = call(progress_view, actor, mrn)
if view is None:
    st.stop()

panels.header(view)
if actor.role != PATIENT and st.button("Consult mode: show this to the patient", key="consult_start", type="primary"):
    consult_mode.start(view.mrn)
    st.rerun()
panels.milestone_cards(view)
panels.charts(view)
panels.secondary(view)
panels.next_steps(view)
