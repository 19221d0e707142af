"""Change password (every role): the current password, then the new one twice.

After an admin's reset this is the only page (``app.py``) until the new password is saved. The account's
other sessions end; this one carries on with the actor ``change_own_password`` returns.
"""

import streamlit as st

from tracker.access.credentials import MIN_PASSWORD_LENGTH, PASSWORD_MAX
from tracker.access.own_password import change_own_password
from tracker.errors import ValidationError
from ui.messages import call, show_error
from ui.signed_in import ACTOR, require_actor, sign_out

FLASH = "password_flash"

actor = require_actor()
st.title("Change password")
flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)
if getattr(actor, "must_change_password", False):
    st.info("An administrator gave your account a temporary password. Choose your own password to continue.")

# Emptied on every submit: a password never lingers in the form, right or wrong.
with st.form("password_change", clear_on_submit=True):
    current = st.text_input("Current password", type="password", key="pw_form_current", max_chars=PASSWORD_MAX)
    new = st.text_input("New password", type="password", key="pw_form_new", max_chars=PASSWORD_MAX,
                        help=f"At least {MIN_PASSWORD_LENGTH} characters; common passwords are refused.")
    again = st.text_input("New password again", type="password", key="pw_form_again", max_chars=PASSWORD_MAX)
    submitted = st.form_submit_button("Change password", type="primary")

if submitted:
    if new != again:
        show_error(ValidationError("The two new passwords differ; type the same password twice."))
    else:
        changed = call(change_own_password, actor, current, new)
        if changed is not None:
            st.session_state[ACTOR] = changed
            st.session_state[FLASH] = "Your password is changed. Your other sessions, if any, are signed out."
            st.rerun()

if getattr(actor, "must_change_password", False):
    st.button("Sign out", key="password_sign_out", on_click=sign_out, kwargs={"reason": "You are signed out."})
