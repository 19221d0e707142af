"""Audit trail (admin): who saw or changed which patient's data, when and from where; CSV export.

The trail is read a page at a time (``audit.PAGE_SIZE`` entries); "Patient (MRN)" finds every entry about the
patient, also those about many patients that list them (a patient list, a schedule, a lot export).
"""

from datetime import date

import streamlit as st

from tracker.access import audit
from tracker.clinic_dates import show_dates_in, show_moment
from tracker.safe_csv import whole_file
from ui import private_media
from ui.messages import call
from ui.signed_in import require_actor
from ui.typed_fields import date_field

actor = require_actor()
st.title("Audit trail")

with st.form("audit_filter"):
    columns = st.columns(5)
    username = columns[0].text_input("Username", key="audit_username", max_chars=80)
    mrn = columns[1].text_input("Patient (MRN)", key="audit_mrn", max_chars=40,
                                help="Every entry about this patient, also views and exports of lists that "
                                     "include them.")
    action = columns[2].selectbox("Action", ("",) + audit.ACTIONS, key="audit_action")
    since = date_field("From", "audit_since", container=columns[3])
    until = date_field("To", "audit_until", container=columns[4])
    st.form_submit_button("Filter")

filters = dict(username=username, mrn=mrn, action=action, since=since, until=until)
if st.session_state.get("audit_filters_shown") != filters:  # other filters: back to the newest entries
    st.session_state["audit_filters_shown"] = filters
    st.session_state["audit_page"] = 1
page_number = st.number_input("Page", min_value=1, step=1, key="audit_page")
page = call(audit.browse, actor, page=int(page_number), **filters)
if page is not None:
    collapse = st.toggle("Show repeated entries as one line", value=True, key="audit_collapse",
                         help="A page redrawn while someone works on it records the same view each time. "
                              "The trail and the CSV export keep every entry.")
    rows = list(page.rows)
    lines = audit.collapse_repeats(rows) if collapse else [audit.RepeatedEntry(r, 1, r.at) for r in rows]
    if page.total:
        st.caption(f"{page.showing()} matching entries (newest first; page {page.number} of {page.pages})"
                   + (f", in {len(lines)} lines." if collapse else "."))
    else:
        st.info("No entry matches these filters.")
    st.dataframe(
        [{"at (UTC)": show_moment(line.latest.at),
          "times": "" if line.count == 1 else f"×{line.count} since "
                   + (f"{line.since:%H:%M:%S}" if line.since.date() == line.latest.at.date()
                      else show_moment(line.since)),
          "user": line.latest.username, "role": line.latest.role, "patient": line.latest.patient_mrn,
          "action": line.latest.action, "detail": show_dates_in(line.latest.detail), "address": line.latest.address}
         for line in lines],
        hide_index=True,
    )
    # Made (and audited) only when clicked, and only while this session is signed in. Streamlit keeps a
    # download's bytes in memory: the rows stream into a temporary file, and only the file is held.
    private_media.download_button(actor, "Download audit trail (CSV)",
                                  lambda: whole_file(audit.export_csv(actor, **filters).chunks),
                                  what="audit trail CSV export", file_name=f"audit-{date.today()}.csv",
                                  mime="text/csv", key="audit_download")
