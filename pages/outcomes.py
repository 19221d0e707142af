"""Clinic outcomes: how a protocol performs across patients, for the medical director (clinicians and admins).

One call to ``tracker.progress.outcomes.clinic_outcomes`` with the filters chosen (read from the widgets' state
before they are drawn, so that the call's result also gives the filters' choices); the page draws its charts
(``ui.outcome_charts``) and the tables of ``tracker.progress.outcome_tables``, and the XLSX download writes those
same tables when clicked.
"""

import time

import streamlit as st

from tracker.clinic_dates import show_date
from tracker.course.vocabulary import condition_words
from tracker.progress.outcome_store import Preparing
from tracker.progress.outcome_tables import outcome_tables, outcomes_xlsx, xlsx_file_name
from tracker.progress.outcomes import ALL_CONDITIONS, ClinicOutcomes, clinic_outcomes
from ui import private_media
from ui.messages import call
from ui.outcome_charts import attainment_figure, change_figure
from ui.signed_in import require_actor
from ui.typed_fields import date_field

SHOWN = "outcomes_shown"  # the last result drawn: its filters' choices stay when a typed date is refused

actor = require_actor()
st.title("Clinic outcomes")
st.caption("Per protocol and condition, for the patients whose course (day 0: first treatment session) started in "
           "the range. Exosome evidence is limited: these are this clinic's own results, not a promise.")

state = st.session_state
found = call(clinic_outcomes, actor, state.get("outcomes_protocol"), state.get("outcomes_condition", ALL_CONDITIONS),
             state.get("outcomes_start", ""), state.get("outcomes_end", ""))
if isinstance(found, Preparing):  # the server is computing every patient's outcome once: say so, ask again soon
    st.info("The clinic's figures are being prepared after the server started (each patient's milestones are "
            "computed once); this page shows them as soon as they are ready.")
    st.progress(found.done / found.total if found.total else 0.0,
                text=f"{found.done:,} of {found.total:,} patients" if found.total else "Reading the patients…")
    time.sleep(3)  # each ask is audited: not more often
    st.rerun()
if found is not None:
    state[SHOWN] = found
choices = state.get(SHOWN)

columns = st.columns(4)
if isinstance(choices, ClinicOutcomes):
    columns[0].selectbox("Protocol", choices.protocol_names, key="outcomes_protocol")
    columns[1].selectbox("Condition", (ALL_CONDITIONS, *choices.conditions), key="outcomes_condition",
                         format_func=lambda code: condition_words(code) if code else "Every condition")
date_field("First day 0", "outcomes_start", container=columns[2])
date_field("Last day 0", "outcomes_end", container=columns[3])
if found is None:
    st.stop()

tables = outcome_tables(found)
figures = st.columns(4)
figures[0].metric("Patients", f"{found.patients:,}", help=f"{found.untreated:,} more not treated yet")
figures[1].metric("Sessions", f"{found.sessions:,}")
figures[2].metric("Adverse events per 100 sessions",
                  "–" if found.adverse_per_100 is None else f"{found.adverse_per_100:.1f}",
                  help=f"{found.with_adverse_events:,} sessions with adverse events recorded")
responders = [r for r in found.responders if r.milestone]
for r in responders[:1]:
    figures[3].metric(f"Responders at {r.month} months", "–" if r.share is None else f"{100 * r.share:.0f}%",
                      help=f"{r.responders} of {r.judged} judged")
st.caption(f"As of {show_date(found.today)}. Responders: " + (
    "SALT ≤ 20 at the milestone visit (SALT50 shown beside it)." if found.judged_on_salt else
    "every site judged gained more than the measurement noise (the protocol's noise % of baseline)."))

left, right = st.columns(2)
left.plotly_chart(attainment_figure(found), key="outcomes_attainment", config={"displayModeBar": False})
right.plotly_chart(change_figure(found), key="outcomes_change", config={"displayModeBar": False})

for table in tables[1:]:
    st.subheader(table.title)
    if table.rows:
        st.dataframe([dict(zip(table.columns, row, strict=True)) for row in table.rows], hide_index=True,
                     key=f"outcomes_table_{table.title}")
    else:
        st.info("No patient in this range.")

private_media.download_button(
    actor, "Download XLSX", lambda: outcomes_xlsx(actor, tables), what="clinic outcomes XLSX",
    file_name=xlsx_file_name(found), key="outcomes_download",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    help="The tables shown on this page, one sheet each.")
