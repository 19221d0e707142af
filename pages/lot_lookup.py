"""Lot lookup: every patient and session that received a lot, for a recall in one step.

The search runs once per "Look up" and once per page turned (one audited view each: ``PAGE_SIZE`` sessions a
page), and its plain result is kept in the session so that the page can be redrawn without searching again. The
CSV (every page) is built only when the download button is clicked, for this signed-in session only
(``tracker.records.lots.export_lot_csv`` searches again and audits the export).
"""

import streamlit as st

from tracker.course.vocabulary import treatment_words
from tracker.records.lots import (
    MAX_LOT_LENGTH,
    MIN_PARTIAL,
    LotSearch,
    csv_file_name,
    export_lot_csv,
    sessions_with_lot,
)
from tracker.safe_csv import whole_file
from ui import private_media
from ui.messages import call
from ui.signed_in import require_actor
from ui.typed_fields import date_columns

RESULT = "lot_lookup_result"

actor = require_actor()
st.title("Lot lookup")
st.caption("Find every patient and session that received a lot. Upper and lower case are treated alike.")

with st.form("lot_lookup", clear_on_submit=False):
    lot = st.text_input("Lot number", key="lot_query", max_chars=MAX_LOT_LENGTH)
    partial = st.checkbox("Also find lot numbers that contain this text", key="lot_partial",
                          help=f"At least {MIN_PARTIAL} characters.")
    submitted = st.form_submit_button("Look up", type="primary")

if submitted:
    st.session_state.pop(RESULT, None)
    for key in [k for k in st.session_state if str(k).startswith("lot_page_")]:  # a new search starts on page 1
        del st.session_state[key]
    found = call(sessions_with_lot, actor, lot, partial=partial)
    if found is not None:
        st.session_state[RESULT] = found

result = st.session_state.get(RESULT)
if isinstance(result, LotSearch) and result.sessions.pages > 1:
    wanted = st.number_input("Page", min_value=1, max_value=result.sessions.pages, value=result.sessions.number, step=1,
                             key=f"lot_page_{result.lot}_{result.partial}")
    if wanted != result.sessions.number:
        turned = call(sessions_with_lot, actor, result.lot, partial=result.partial, page=int(wanted))
        if turned is not None:
            st.session_state[RESULT] = result = turned

if isinstance(result, LotSearch):
    match = "lot numbers containing" if result.partial else "lot number (exact)"
    st.text(f"Searched {match}: {result.lot}")
    if result.sessions:
        st.success(result.found())
        if result.sessions.pages > 1:
            st.caption(result.showing())
        st.dataframe(
            [
                {
                    "MRN": s.mrn,
                    "Name": s.full_name,
                    "Session date": s.session_date,
                    "Product": s.product,
                    "Treatment": treatment_words(s.treatment),
                    "Volume (mL)": s.volume_ml,
                    "Lot number": s.lot_number,
                }
                for s in result.sessions
            ],
            hide_index=True, key="lot_results", column_config=date_columns("Session date"),
        )
    else:
        st.info("No session on record received this lot.")
    if result.excluded_deleted:
        st.caption(f"{result.excluded_deleted} deleted sessions (or sessions of deleted patient records) matched "
                   "and are not shown.")

    if result.sessions:
        lot, partial = result.lot, result.partial
        private_media.download_button(
            actor, "Download CSV",
            lambda: whole_file(export_lot_csv(actor, lot, partial=partial).chunks), what="lot CSV export",
            file_name=csv_file_name(result.lot), mime="text/csv", key="lot_download",
            help=f"All {result.sessions.total:,} sessions, every page. The file is built when you click; the export is "
                 "recorded in the audit trail.",
        )
