"""Accounts (admins): list accounts, create one, unlock one that repeated failed sign-ins locked.

Policy and uniqueness are decided by ``tracker.accounts``; the page only checks that the password was
typed the same way twice
(and that a patient account names its patient). Typed values stay in the form after a refusal; after a creation the form
is emptied, so a password never lingers on screen.
"""

import streamlit as st

from pages.workspace import call, require_actor, show_error
from tracker.access import ADMIN, CLINICIAN, PATIENT, ROLES
from tracker.accounts import MIN_PASSWORD_LENGTH, create_user, list_users, unlock_user
from tracker.errors import ValidationError

FLASH, RESET = "accounts_flash", "accounts_reset"
FORM_KEYS = ("account_username", "account_password", "account_password_again", "account_mrn")
ROLE_LABELS = {"admin": "Administrator", "clinician": "Clinician", "patient": "Patient"}


def unlock_account(actor, username: str) -> str:
    """``unlock_user`` returns nothing; answering the username lets ``call`` tell success from failure."""
    unlock_user(actor, username)
    return username


actor = require_actor()
if actor.role != ADMIN:
    st.error("Only administrators manage accounts.")
    st.stop()

st.title("Accounts")
flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)
if st.session_state.pop(RESET, False):
    for key in FORM_KEYS:
        st.session_state.pop(key, None)

users = call(list_users, actor)
if users is None:
    st.stop()
st.dataframe(
    [
        {"Username": u["username"], "Role": ROLE_LABELS.get(u["role"], u["role"]), "Patient MRN": u["patient"] or "",
         "Locked": "Locked" if u["locked"] else "", "Demo": "Demo" if u["demo"] else "",
         "Last sign-in": u["last_sign_in"]}
        for u in users
    ],
    hide_index=True, key="accounts_table",
)

st.subheader("Unlock an account")
locked = [u["username"] for u in users if u["locked"]]
if locked:
    with st.form("account_unlock", clear_on_submit=False):
        chosen = st.selectbox("Locked account", locked, key="account_unlock_username")
        unlock = st.form_submit_button("Unlock")
    if unlock and call(unlock_account, actor, chosen) is not None:
        st.session_state[FLASH] = "The account is unlocked; its user can sign in again."
        st.rerun()
else:
    st.caption("No account is locked.")

st.subheader("Create an account")
with st.form("account_create", clear_on_submit=False):
    role = st.selectbox("Role", ROLES, index=ROLES.index(CLINICIAN), format_func=ROLE_LABELS.get, key="account_role")
    username = st.text_input("Username", key="account_username", max_chars=80,
                             help="3–80 letters, digits or . _ - @ characters.")
    password = st.text_input("Password", type="password", key="account_password",
                             help=f"At least {MIN_PASSWORD_LENGTH} characters; common passwords are refused.")
    password_again = st.text_input("Password again", type="password", key="account_password_again")
    mrn = st.text_input("Patient MRN (patient accounts only)", key="account_mrn", max_chars=40,
                        help="A patient account sees only this patient's record.")
    create = st.form_submit_button("Create account", type="primary")

if create:
    problems = []
    if password != password_again:
        problems.append("The two passwords differ; type the same password twice.")
    if role == PATIENT and not mrn.strip():
        problems.append("A patient account needs the MRN of the patient it is for.")
    if problems:
        show_error(ValidationError("The account was not created:", problems) if len(problems) > 1
                   else ValidationError(problems[0]))
    else:
        created = call(create_user, actor, username=username, password=password, role=role,
                       patient_mrn=mrn.strip() or None)
        if created is not None:
            st.session_state[RESET] = True
            st.session_state[FLASH] = "The account is created."
            st.rerun()
