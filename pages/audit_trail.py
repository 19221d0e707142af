"""Audit trail (admin): who saw or changed which patient's data, when and from where; CSV export."""

from datetime import date

import streamlit as st

from pages.workspace import call, require_actor
from tracker import audit

actor = require_actor()
st.title("Audit trail")

with st.form("audit_filter"):
    columns = st.columns(5)
    username = columns[0].text_input("Username", key="audit_username")
    mrn = columns[1].text_input("Patient MRN", key="audit_mrn")
    action = columns[2].selectbox("Action", ("",) + audit.ACTIONS, key="audit_action")
    since = columns[3].date_input("From", value=None, key="audit_since", max_value=date.today())
    until = columns[4].date_input("To", value=None, key="audit_until", max_value=date.today())
    st.form_submit_button("Filter")

filters = dict(username=username, mrn=mrn, action=action, since=since, until=until)
rows = call(audit.browse, actor, **filters)
if rows is not None:
    st.caption(f"{len(rows)} most recent matching entries (newest first, at most 500 shown).")
    st.dataframe(
        [{"at (UTC)": r.at.strftime("%Y-%m-%d %H:%M:%S"), "user": r.username, "role": r.role,
          "patient": r.patient_mrn, "action": r.action, "detail": r.detail, "address": r.address} for r in rows],
        hide_index=True,
    )
    if st.button("Prepare CSV export", key="audit_export"):
        data = call(audit.export_csv, actor, **filters)
        if data is not None:
            st.download_button("Download audit trail (CSV)", data, file_name=f"audit-{date.today()}.csv",
                               mime="text/csv", key="audit_download")
