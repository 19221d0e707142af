"""Accounts (admins): list accounts; disable and enable one; reset a password (a temporary one, shown once);
lift a sign-in delay; remove every demo account; create an account.

Rules (the last enabled admin stays, policy, uniqueness) are decided by ``tracker.access.accounts``; the page only
checks that the password was typed the same way twice (and that a patient account names its patient).
Typed values stay in the form after a refusal; after a creation the form is emptied, so a password never
lingers on screen. A temporary password is shown on the one run after the reset, then forgotten.
"""

import streamlit as st

from tracker.access.accounts import create_user, disable_user, enable_user, list_users, reset_password, unlock_user
from tracker.access.actors import ADMIN, CLINICIAN, PATIENT, ROLES
from tracker.access.credentials import MIN_PASSWORD_LENGTH, PASSWORD_MAX
from tracker.access.demo_accounts import remove_demo_accounts
from tracker.access.sign_in import LOCK_AFTER_FAILURES
from tracker.errors import ValidationError
from ui.messages import call, plain, show_error
from ui.signed_in import require_actor

FLASH, RESET, TEMPORARY = "accounts_flash", "accounts_reset", "accounts_temporary_password"
FORM_KEYS = ("account_username", "account_password", "account_password_again", "account_mrn")
ROLE_LABELS = {"admin": "Administrator", "clinician": "Clinician", "patient": "Patient"}


def unlock_account(actor, username: str) -> str:
    """``unlock_user`` returns nothing; answering the username lets ``call`` tell success from failure."""
    unlock_user(actor, username)
    return username


def done(message: str) -> None:
    st.session_state[FLASH] = message
    st.rerun()


actor = require_actor()
if actor.role != ADMIN:
    st.error("Only administrators manage accounts.")
    st.stop()

st.title("Accounts")
flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)
temporary = st.session_state.pop(TEMPORARY, None)
if temporary:
    username, password = temporary
    st.warning(f"Temporary password for {plain(username)}: give it to them now; it is not shown again. They must "
               "choose their own password at their next sign-in.")
    st.code(password, language=None)
if st.session_state.pop(RESET, False):
    for key in FORM_KEYS:
        st.session_state.pop(key, None)

users = call(list_users, actor)
if users is None:
    st.stop()
st.dataframe(
    [
        {"Username": u.username, "Role": ROLE_LABELS.get(u.role, u.role), "Patient MRN": u.patient_mrn or "",
         "Status": "Disabled" if u.disabled else "Enabled",
         "Sign-in delay": f"until {u.delayed_until:%H:%M} UTC" if u.delayed_until else "",
         "Failed sign-ins": u.failed_attempts, "Demo": "Demo" if u.demo else "",
         "Password": "must be changed" if u.must_change_password else "", "Last sign-in": u.last_sign_in}
        for u in users
    ],
    hide_index=True, key="accounts_table",
)
names = [u.username for u in users]
demo = [u.username for u in users if u.demo]
if demo:
    st.warning(f"Demo accounts exist ({plain(', '.join(demo))}): remove them before the clinic's real use.")

st.subheader("Disable or enable an account")
st.caption("A disabled account cannot sign in, and its open sessions end at their next page load. The last "
           "enabled administrator cannot be disabled.")
if names:
    chosen = st.selectbox("Account", names, key="account_status_username")
    left, right = st.columns(2)
    if left.button("Disable", key="account_disable") and call(disable_user, actor, chosen) is not None:
        done(f"{plain(chosen)} is disabled.")
    if right.button("Enable", key="account_enable") and call(enable_user, actor, chosen) is not None:
        done(f"{plain(chosen)} is enabled again.")

st.subheader("Reset a password")
others = [name for name in names if name != actor.username]
if others:
    chosen = st.selectbox("Account", others, key="account_reset_username",
                          help="To change your own password, use Change password.")
    if st.button("Reset password", key="account_reset"):
        password = call(reset_password, actor, chosen)
        if password is not None:
            st.session_state[TEMPORARY] = (chosen, password)
            st.rerun()
else:
    st.caption("No other account.")

st.subheader("Lift a sign-in delay")
delayed = [u.username for u in users if u.delayed_until or u.failed_attempts >= LOCK_AFTER_FAILURES]
if delayed:
    st.caption(f"After {LOCK_AFTER_FAILURES} failed sign-ins an account waits before it may try again, longer "
               "after every further failure. Lifting the delay also clears the count.")
    with st.form("account_unlock", clear_on_submit=False):
        chosen = st.selectbox("Delayed account", delayed, key="account_unlock_username")
        unlock = st.form_submit_button("Unlock")
    if unlock and call(unlock_account, actor, chosen) is not None:
        done("The delay is lifted; its user can sign in again.")
else:
    st.caption("No account is delayed.")

if demo:
    st.subheader("Demo accounts")
    confirmed = st.checkbox(f"Remove {plain(', '.join(demo))} for good", key="account_demo_confirm")
    if st.button("Remove every demo account", key="account_remove_demo", disabled=not confirmed):
        removed = call(remove_demo_accounts, actor)
        if removed is not None:
            done(f"Removed the demo accounts: {plain(', '.join(removed))}.")

st.subheader("Create an account")
with st.form("account_create", clear_on_submit=False):
    role = st.selectbox("Role", ROLES, index=ROLES.index(CLINICIAN), format_func=ROLE_LABELS.__getitem__,
                        key="account_role")
    username = st.text_input("Username", key="account_username", max_chars=80,
                             help="3–80 letters, digits or . _ - @ characters.")
    password = st.text_input("Password", type="password", key="account_password", max_chars=PASSWORD_MAX,
                             help=f"At least {MIN_PASSWORD_LENGTH} characters; common passwords are refused.")
    password_again = st.text_input("Password again", type="password", key="account_password_again",
                                   max_chars=PASSWORD_MAX)
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
