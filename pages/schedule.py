"""Schedule: follow-up visits due and overdue by milestone window, and patients in their repeat-session window.

Every date and status comes from ``tracker.progress.schedule.schedule``; this page only filters by the statuses
chosen and draws. Names are drawn in tables and select boxes, which show text as text.
"""

from pathlib import Path

import streamlit as st

from tracker.course.vocabulary import FOLLOW_UP_WORDS, repeat_window_words
from tracker.progress.schedule import FOLLOW_UP_STATUSES, schedule
from ui.messages import call
from ui.signed_in import require_actor
from ui.workspace import select_patient

HORIZONS = (7, 14, 30, 60, 90)
RECORD_PAGE = "pages/patient_record.py"

actor = require_actor()
st.title("Schedule")

left, right = st.columns(2)
horizon = left.selectbox(
    "Look ahead", HORIZONS, index=HORIZONS.index(14), key="schedule_horizon",
    format_func=lambda days: f"{days} days",
    help="Upcoming milestone windows and repeat-session windows that open within this many days.",
)
statuses = right.multiselect(
    "Follow-ups to show", FOLLOW_UP_STATUSES, default=list(FOLLOW_UP_STATUSES), key="schedule_statuses",
    format_func=FOLLOW_UP_WORDS.__getitem__,
)

plan = call(schedule, actor, horizon_days=horizon)
if plan is None:
    st.stop()

st.caption(f"As of {plan.today.isoformat()}.")

st.subheader("Milestone follow-ups")
follow_ups = [f for f in plan.follow_ups if f.status in statuses]
if follow_ups:
    st.dataframe(
        [
            {
                "Status": FOLLOW_UP_WORDS[f.status],
                "MRN": f.mrn,
                "Name": f.full_name,
                "Milestone": f.milestone_label,
                "Target date": f.target,
                "Days to target": f.days_to_target,
                "Window opens": f.window_start,
                "Window closes": f.window_end,
                "Note": f.note,
            }
            for f in follow_ups
        ],
        hide_index=True, key="schedule_follow_ups",
    )
else:
    st.info("No follow-up visit matches the statuses chosen.")

st.subheader("Repeat-session windows")
st.caption("A repeat session is considered 3–6 months after the latest session.")
if plan.repeat_sessions:
    st.dataframe(
        [
            {
                "Window": repeat_window_words(r.state, r.days_until_open),
                "MRN": r.mrn,
                "Name": r.full_name,
                "Latest session": r.latest_session,
                "Window opens": r.window_start,
                "Window closes": r.window_end,
                "Days until it closes": r.days_until_close,
            }
            for r in plan.repeat_sessions
        ],
        hide_index=True, key="schedule_repeat_sessions",
    )
else:
    st.info("No patient's repeat-session window is open or opening soon.")

if plan.unmeasured:
    st.subheader("Treated, but no density recorded")
    st.warning("These patients have had a session but no density measurement, so their milestone visits cannot "
               "be placed. Record a baseline or follow-up measurement.")
    st.dataframe(
        [{"MRN": u.mrn, "Name": u.full_name, "First session": u.first_session} for u in plan.unmeasured],
        hide_index=True, key="schedule_unmeasured",
    )

patients: dict[str, str] = {}
# Three lists of three row types, each with the patient's MRN and name.
named = ([(f.mrn, f.full_name) for f in follow_ups] + [(r.mrn, r.full_name) for r in plan.repeat_sessions]
         + [(u.mrn, u.full_name) for u in plan.unmeasured])
for mrn, full_name in named:
    patients.setdefault(mrn, full_name)
if patients:
    st.divider()
    chosen = st.selectbox(
        "Open a patient's record", list(patients), index=None, key="schedule_open_mrn",
        format_func=lambda mrn: f"{mrn} — {patients[mrn]}", placeholder="Choose a patient",
    )
    record_page_ready = (Path(__file__).parent / Path(RECORD_PAGE).name).exists()
    if st.button("Open record", key="schedule_open", disabled=chosen is None) and chosen is not None:
        select_patient(chosen)
        if record_page_ready:
            st.switch_page(RECORD_PAGE, query_params={"mrn": chosen})
        st.info("The patient is selected; the patient record page is not available yet.")
