"""Regrowth Tracker: the Streamlit entry script.

The page list is built on every run from the signed-in user's role: a page a role must not use is not
registered for it at all. Services check the actor again, so this is not the only line of defence.
"""

from pathlib import Path

import streamlit as st

from tracker.database import initialize
from tracker.storage.configured import check_store
from ui.messages import call, plain
from ui.registry import CONSULT_PAGE, PAGES, PASSWORD_PAGE
from ui.signed_in import current_actor, keep_cookie_alive, sign_out

# No page_icon (nor page icons, ui/registry.py): a Material icon favicon is fetched from Google's font
# servers by every browser; the default favicon is served by this server.
st.set_page_config(page_title="Regrowth Tracker", layout="wide")


@st.cache_resource(show_spinner=False)
def _database_ready() -> bool:
    check_store()  # TRACKER_STORE_URL: a store that cannot be used stops the app with one message naming it
    initialize()  # creates the database on first run, applies new migrations later
    return True


if call(_database_ready) is None:  # e.g. busy: another process holds the write lock; not cached, retried
    st.stop()
HERE = Path(__file__).parent

def pages_for(role: str) -> list:
    return [
        st.Page(file, title=title)
        for file, title, roles in PAGES
        if role in roles and (HERE / file).exists()
    ]


actor = current_actor()
if actor is None:
    navigation = st.navigation([st.Page("pages/sign_in.py", title="Sign in")], position="hidden")
elif getattr(actor, "must_change_password", False):
    # A password an admin reset: the user chooses their own before any other page works.
    navigation = st.navigation([st.Page(PASSWORD_PAGE, title="Change password")],
                               position="hidden")
elif st.session_state.get("consult"):
    # Consult mode: one screen for the patient, no menu, no other patient anywhere.
    navigation = st.navigation([st.Page(CONSULT_PAGE, title="Consult")], position="hidden")
else:
    # Every page listed: Streamlit folds a menu of more than twelve pages behind "View more", which hid the
    # admin's Protocols, Accounts and Audit trail once the import page came.
    navigation = st.navigation(pages_for(actor.role), expanded=True)
    with st.sidebar:
        st.caption(f"Signed in as **{plain(actor.username)}** ({actor.role})")  # dr_a_b@x.org: no emphasis, no link
        # A callback runs before the next script run, so that run already starts signed out.
        st.button("Sign out", key="sign_out", on_click=sign_out, kwargs={"reason": "You are signed out."})
keep_cookie_alive()  # the sign-in cookie (serve.py) lasts while this browser is active
navigation.run()
