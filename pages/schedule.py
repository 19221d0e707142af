"""Schedule: follow-up visits by milestone window and target date, and patients in their repeat-session window.

Every date, status, list and sort comes from ``tracker.progress.schedule.schedule``; this page only picks the list
chosen, the columns that list is about, and draws. Each list's label says what it tests and its table shows
those dates. A click on a row opens the patient's record. Names are drawn in tables, which show text as text.
"""

from typing import Any

import streamlit as st

from tracker.clinic_dates import show_date
from tracker.course.vocabulary import (
    DEFAULT_HORIZON_DAYS,
    FOLLOW_UP_WORDS,
    PatientFilter,
    patient_filter_words,
    repeat_window_words,
)
from tracker.progress.schedule import FollowUp, schedule
from ui.messages import call
from ui.paging import asked_page, page_chooser
from ui.signed_in import require_actor
from ui.typed_fields import date_columns
from ui.workspace import select_patient

HORIZONS = (7, 14, 30, 60, 90)
RECORD_PAGE = "pages/patient_record.py"
LISTS = (None, PatientFilter.OVERDUE, PatientFilter.WINDOW_OPEN, PatientFilter.TARGET_SOON, PatientFilter.UPCOMING)
# Around each list's own columns: who, which milestone, and (after) what was last seen.
FIRST, LAST = ("Status", "MRN", "Name", "Milestone"), ("Last visit", "Latest change", "Note")


def list_columns(kind: PatientFilter | None) -> tuple[str, ...]:
    """The columns of a list: the dates its filter tests, then the rest."""
    if kind == PatientFilter.OVERDUE:
        middle: tuple[str, ...] = ("Overdue since", "Days overdue", "Window closes")
    elif kind == PatientFilter.WINDOW_OPEN:
        middle = ("Window opens", "Window closes", "Target date")
    elif kind == PatientFilter.TARGET_SOON:
        middle = ("Target date", "Days to target")
    elif kind == PatientFilter.UPCOMING:
        middle = ("Window opens", "Days until it opens", "Target date")
    else:
        middle = ("Window opens", "Window closes", "Target date", "Days to target")
    return FIRST + middle + LAST


def row(f: FollowUp) -> dict[str, Any]:
    return {
        "Status": FOLLOW_UP_WORDS[f.status], "MRN": f.mrn, "Name": f.full_name, "Milestone": f.milestone_label,
        "Overdue since": f.overdue_since, "Days overdue": f.days_overdue, "Window opens": f.window_start,
        "Window closes": f.window_end, "Target date": f.target, "Days to target": f.days_to_target,
        "Days until it opens": f.days_until_open, "Last visit": f.last_visit,
        "Latest change": f.latest_change, "Note": f.note,
    }


def open_clicked(event: Any, mrns: list[str]) -> None:
    """A click on a row of a table with ``on_select``: open that patient's record."""
    if event.selection.rows:
        mrn = mrns[event.selection.rows[0]]
        select_patient(mrn)
        st.switch_page(RECORD_PAGE, query_params={"mrn": mrn})


actor = require_actor()
st.title("Schedule")

left, right = st.columns([1, 4])
horizon = left.selectbox(
    "Look ahead", HORIZONS, index=HORIZONS.index(DEFAULT_HORIZON_DAYS), key="schedule_horizon",
    format_func=lambda days: f"{days} days",
    help="Upcoming milestone windows and repeat-session windows that open within this many days.",
)
shown = right.radio(
    "Show", LISTS, horizontal=True, key="schedule_list",
    format_func=lambda kind: "All follow-ups" if kind is None else patient_filter_words(kind, horizon),
)

# Each table has its own pages; a new list or look-ahead starts again at the first (the keys name them).
keys = (f"schedule_page:{shown}:{horizon}", f"schedule_repeat_page:{horizon}", "schedule_unmeasured_page")
# A page past a list's last shows its last (the service clamps it).
plan = call(schedule, actor, horizon_days=horizon, shown=shown, page=asked_page(keys[0]),
            repeat_page=asked_page(keys[1]), unmeasured_page=asked_page(keys[2]))
if plan is None:
    st.stop()

st.caption(f"As of {show_date(plan.today)}. Click a row to open the patient's record.")

st.subheader("Milestone follow-ups")
follow_ups = plan.follow_ups.rows
if follow_ups:
    st.caption("Most urgent first: overdue (longest overdue first), then by target date, nearest first. "
               "Latest change: the latest milestone judged, at the weakest site when several were measured.")
    columns = list_columns(shown)
    table = st.dataframe(
        [{column: values[column] for column in columns} for values in map(row, follow_ups)],
        hide_index=True, key="schedule_follow_ups", on_select="rerun", selection_mode="single-row", placeholder="–",
        column_config=date_columns("Overdue since", "Window opens", "Window closes", "Target date", "Last visit"),
    )
    open_clicked(table, [f.mrn for f in follow_ups])
    page_chooser(keys[0], plan.follow_ups)
else:
    st.info("No follow-up visit is on this list.")

st.subheader("Repeat-session windows")
st.caption("A repeat session is considered 3–6 months after the latest session.")
if plan.repeat_sessions:
    table = st.dataframe(
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
        hide_index=True, key="schedule_repeat_sessions", on_select="rerun", selection_mode="single-row",
        column_config=date_columns("Latest session", "Window opens", "Window closes"),
    )
    open_clicked(table, [r.mrn for r in plan.repeat_sessions])
    page_chooser(keys[1], plan.repeat_sessions)
else:
    st.info("No patient's repeat-session window is open or opening soon.")

if plan.unmeasured:
    st.subheader("Treated, but nothing measured yet")
    st.warning("These patients have had a session but no density measurement (no SALT score, for a patient on a "
               "SALT protocol), so their milestone visits cannot be placed. Record a baseline or follow-up "
               "measurement.")
    table = st.dataframe(
        [{"MRN": u.mrn, "Name": u.full_name, "First session": u.first_session} for u in plan.unmeasured],
        hide_index=True, key="schedule_unmeasured", on_select="rerun", selection_mode="single-row",
        column_config=date_columns("First session"),
    )
    open_clicked(table, [u.mrn for u in plan.unmeasured])
    page_chooser(keys[2], plan.unmeasured)
