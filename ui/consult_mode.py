"""Consult mode: one patient's progress on a large screen, with nothing about anyone else.

No menu, no sidebar, no patient list or search: leaving asks for the clinician's password, so a screen
left with the patient cannot be turned to other records. Drawn by the progress page when the session is
in consult mode (``app.py`` then registers that page alone, without a menu).
"""

import streamlit as st

from tracker.access.actors import Actor
from tracker.access.credentials import PASSWORD_MAX
from tracker.access.own_password import verify_password
from tracker.progress.page_data import progress_page
from ui import photo_panels
from ui import progress_panels as panels
from ui.messages import call
from ui.signed_in import sign_out
from ui.workspace import select_patient


def start(mrn: str) -> None:
    st.session_state["consult"] = True
    st.session_state["consult_mrn"] = mrn
    st.session_state.pop("consult_failures", None)


def show(actor: Actor) -> None:
    # Static styling only (no user data): larger type, and the sidebar (with its menu) removed.
    st.markdown(
        """<style>
        [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}
        .stMainBlockContainer p, .stMainBlockContainer li {font-size: 1.35rem;}
        </style>""",
        unsafe_allow_html=True,
    )
    page = call(progress_page, actor, st.session_state.get("consult_mrn"))
    if page is not None:
        view = page.view
        panels.header(view)
        panels.milestone_cards(view)
        panels.charts(view, large=True, key="consult")
        photo_panels.before_after_panel(actor, view.mrn, key_prefix="consult")
        panels.next_steps(view)

    st.divider()
    with st.expander("Clinician: end the consult"):
        with st.form("end_consult", clear_on_submit=True):
            password = st.text_input("Your password", type="password", key="consult_password", max_chars=PASSWORD_MAX)
            leave = st.form_submit_button("Back to the workspace")
        if leave:
            verified = call(verify_password, actor, password)  # None: not checked (busy), already said
            if verified:
                st.session_state.pop("consult", None)
                mrn = st.session_state.pop("consult_mrn", None)
                if mrn:  # back to this patient, even if another record's URL was typed during the consult
                    select_patient(mrn)
                st.rerun()
            elif verified is not None:
                failures = st.session_state.get("consult_failures", 0) + 1
                st.session_state["consult_failures"] = failures
                if failures >= 5:
                    # Guessing at the clinician's password ends the session altogether.
                    sign_out(reason="Signed out after repeated wrong passwords on the consult screen.")
                    st.rerun()
                st.error("That password is not right. The consult screen stays open.")
