"""Progress: the chart against the expected course, milestone cards, and what comes next.

Clinicians see the selected patient; a patient account always sees its own record (the service decides).
In consult mode this page is the only one registered and draws the consult screen instead.
"""

from datetime import date

import streamlit as st

from tracker.access.actors import PATIENT
from tracker.course.wording import PATIENT as PATIENT_WORDS
from tracker.course.wording import STAFF
from tracker.exchange.progress_report import progress_report_pdf, report_file_name
from tracker.progress.page_data import progress_page
from ui import consult_mode, private_media
from ui import progress_panels as panels
from ui.data_export import download_buttons
from ui.messages import call
from ui.signed_in import require_actor
from ui.workspace import selected_mrn

actor = require_actor()
if st.session_state.get("consult") and actor.role != PATIENT:
    consult_mode.show(actor)
    st.stop()

mrn = selected_mrn()
if actor.role != PATIENT and mrn is None:
    st.info("Choose a patient first.")
    st.page_link("pages/patients.py", label="Go to the patient list", icon="👥")
    st.stop()

page = call(progress_page, actor, mrn)
if page is None:
    st.stop()
view = page.view

# A patient account reads its own record in its own words: no MRN, protocol, studies or photo-record checks.
audience = PATIENT_WORDS if actor.role == PATIENT else STAFF
panels.header(view, audience)
today = date.today()
# The PDF is made (and audited) only when the button is clicked, and only while this session is signed in.
private_media.download_button(
    actor, "Download progress report", lambda: progress_report_pdf(actor, view.mrn, today)[1],
    what="progress report", file_name=report_file_name(view.mrn, today), mime="application/pdf",
    key="report_download", icon=":material/picture_as_pdf:")
if actor.role != PATIENT:
    st.button("Consult mode: show this to the patient", key="consult_start", type="primary",
              on_click=consult_mode.start, args=(view.mrn,))
panels.milestone_cards(view, audience)
panels.charts(view)
panels.secondary(view)
if actor.role == PATIENT:
    panels.words_explained(view)
    download_buttons(actor, view.mrn, "Everything the clinic holds on record about you, as a spreadsheet.")
    st.page_link("pages/photos.py", label="See your photos and compare them over time", icon="🖼️")
else:
    panels.photo_record(page.coverage)
panels.next_steps(view, audience)
