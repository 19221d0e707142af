"""Sign-in form. The only page that exists for someone who is not signed in."""

import os

import streamlit as st

from tracker.access.credentials import PASSWORD_MAX
from tracker.access.sign_in import sign_in
from ui.messages import call
from ui.sign_in_form import SIGN_IN_FORM
from ui.signed_in import ACTOR, LAST_SEEN, client_address

st.title("Regrowth Tracker")
reason = st.session_state.pop("signed_out_reason", None)
if reason:
    st.info(reason)

if os.environ.get("TRACKER_COOKIE_SIGN_IN") == "1":
    # Served by serve.py: the form posts to its sign-in route, which keeps the sign-in in an HttpOnly
    # cookie, so that a reload does not sign out. (A page script cannot set a cookie.)
    st.html(SIGN_IN_FORM)
    st.stop()

if st.context.headers.get("host"):
    # A browser, but no sign-in routes: signed in here, a reload would sign out and /media/ is unguarded.
    st.error("This server was started without its sign-in routes. Start it with `make run` "
             "(`streamlit run serve.py`), not `streamlit run app.py`.")
    st.stop()

# Without serve.py and without a browser (AppTest): signed in for this page session only.
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
