"""Sign-in form. The only page that exists for someone who is not signed in."""

import streamlit as st

from pages.workspace import ACTOR, LAST_SEEN, call, client_address
from tracker.accounts import PASSWORD_MAX, sign_in

st.title("Regrowth Tracker")
reason = st.session_state.pop("signed_out_reason", None)
if reason:
    st.info(reason)

with st.form("sign_in"):
    username = st.text_input("Username", key="sign_in_username", max_chars=80)
    password = st.text_input("Password", type="password", key="sign_in_password", max_chars=PASSWORD_MAX)
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    actor = call(sign_in, username, password, address=client_address())
    if actor is not None:
        import time

        st.session_state[ACTOR] = actor
        st.session_state[LAST_SEEN] = time.time()
        st.rerun()
