"""Sign-in form. The only page that exists for someone who is not signed in."""

import streamlit as st

from pages.workspace import ACTOR, LAST_SEEN, client_address, show_error
from tracker.accounts import sign_in
from tracker.errors import TrackerError

st.title("Regrowth Tracker")
reason = st.session_state.pop("signed_out_reason", None)
if reason:
    st.info(reason)

with st.form("sign_in"):
    username = st.text_input("Username", key="sign_in_username")
    password = st.text_input("Password", type="password", key="sign_in_password")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        actor = sign_in(username, password, address=client_address())
    except TrackerError as error:
        show_error(error)
    else:
        import time

        st.session_state[ACTOR] = actor
        st.session_state[LAST_SEEN] = time.time()
        st.rerun()
