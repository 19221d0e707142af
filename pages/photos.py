"""Photos: the timeline grid (one row per standard view, one column per visit) and the before/after
comparison, read-only.

Clinicians and admins see the selected patient; a patient account always sees its own photos: the page
passes no MRN for it (never one from the URL or the session), and the services check again.
"""


import streamlit as st

from tracker.access.actors import PATIENT
from tracker.photos.serving import timeline_thumbnails
from tracker.photos.timeline import photo_timeline
from ui import photo_panels
from ui.messages import call, plain
from ui.signed_in import require_actor
from ui.workspace import selected_mrn

actor = require_actor()
mrn = None if actor.role == PATIENT else selected_mrn()
if actor.role != PATIENT and mrn is None:
    st.info("Choose a patient first.")
    st.page_link("pages/patients.py", label="Go to the patient list", icon="👥")
    st.stop()

timeline = call(photo_timeline, actor, mrn)
if timeline is None:
    st.stop()

st.header(plain(timeline.full_name))
if actor.role == PATIENT:  # the patient's own photos: no record number
    st.caption("Your photos, as they were taken at each visit.")
else:
    st.caption(plain(f"MRN {timeline.mrn} · photos are shown as recorded; the originals are kept unaltered"))
photo_panels.timeline_grid(actor, timeline, call(timeline_thumbnails, actor, mrn) or {})
st.divider()
photo_panels.before_after_panel(actor, None if actor.role == PATIENT else timeline.mrn, key_prefix="photos")
