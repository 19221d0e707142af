"""Protocols (admins): the outcome measure, expected band, measurement noise, milestone windows and evidence note.

An edit starts from a snapshot of the version opened (kept in the session as plain data) and is saved
against that version, so a change someone else saved meanwhile is never overwritten: the save is refused
and the admin's typed edits stay on screen until they choose to load the latest version. Editor keys
carry the protocol's name and version, so a saved edit starts a fresh editor on the new version.
"""

import pandas as pd
import streamlit as st

from tracker.access.actors import ADMIN
from tracker.course.clinical import MAX_NOISE_PCT
from tracker.course.milestones import DEFAULT_PROTOCOL
from tracker.course.vocabulary import OUTCOME_WORDS, OutcomeMeasure, outcome_words
from tracker.errors import ValidationError
from tracker.records.protocol_admin import (
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    ProtocolDetail,
    copy_protocol,
    get_protocol,
    list_protocols,
    preview_band,
    save_protocol,
)
from ui.messages import call, show_error
from ui.signed_in import require_actor
from ui.typed_fields import decimal_field

SELECTED, PENDING, DRAFTS, FLASH, RESET_COPY = (
    "protocols_selected", "protocols_pending_select", "protocols_drafts", "protocols_flash", "protocols_reset_copy",
)
BAND_COLUMNS = ("month", "low", "high")
WINDOW_COLUMNS = ("name", "start_month", "end_month", "target_month")


def snapshot(detail: ProtocolDetail) -> dict:
    """The version being edited, as plain values."""
    return {
        "version": detail.version,
        "band": [{"month": p.month, "low": p.low, "high": p.high} for p in detail.band],
        "windows": [
            {"name": w.name, "start_month": w.start_month, "end_month": w.end_month, "target_month": w.target_month}
            for w in detail.windows
        ],
        "note": detail.evidence_note,
        "noise_pct": detail.noise_pct,
        "outcome_measure": str(detail.outcome_measure),
    }


def as_typed(values: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    """Stored numbers as the text a clinician edits: the editor's number cells drop a decimal comma in the browser
    ("7,5" became 75), so the cells are text and the service reads them (a decimal comma is a decimal point)."""
    return pd.DataFrame([{column: row[column] if isinstance(row[column], str) else f"{row[column]:g}"
                          for column in columns} for row in values], columns=list(columns), dtype="string")


def rows(table: pd.DataFrame) -> list[dict]:
    return table.to_dict("records")


actor = require_actor()
if actor.role != ADMIN:
    st.error("Only administrators manage protocols.")
    st.stop()

st.title("Protocols")
flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)

protocols = call(list_protocols, actor)
if protocols is None:
    st.stop()
st.dataframe(
    [
        {"Protocol": p.name, "Version": p.version, "Patients linked": p.patients, "Band points": p.band_points,
         "Milestone windows": p.windows, "Judged on": outcome_words(p.outcome_measure),
         "Noise (% of baseline)": p.noise_pct, "Created by": p.created_by or ""}
        for p in protocols
    ],
    hide_index=True, key="protocols_table",
)
st.caption("Patients with no protocol linked follow the built-in default course, which this page does not change.")

names = [p.name for p in protocols]
pending = st.session_state.pop(PENDING, None)
if pending in names:
    st.session_state[SELECTED] = pending
if st.session_state.get(SELECTED) not in names and DEFAULT_PROTOCOL.name in names:
    st.session_state[SELECTED] = DEFAULT_PROTOCOL.name  # most patients follow it; the list is sorted by name
name = st.selectbox("Protocol to view or edit", names, key=SELECTED)

detail = call(get_protocol, actor, name) if name else None
if detail is not None:
    drafts: dict = st.session_state.setdefault(DRAFTS, {})
    draft = drafts.get(detail.name)
    if draft is None:
        draft = drafts[detail.name] = snapshot(detail)
    if detail.version != draft["version"]:
        st.warning(
            f"Someone saved version {detail.version} of this protocol after you opened version {draft['version']}. "
            "Your edits below are still based on the older version and cannot be saved over theirs."
        )
        if st.button("Load the latest version (discard my edits)", key="protocols_reload"):
            drafts.pop(detail.name, None)
            st.rerun()

    suffix = f"{detail.name}::{draft['version']}"
    st.caption(f"Version {draft['version']} · {detail.patients} patient records linked.")

    outcomes = list(OUTCOME_WORDS)
    outcome = st.selectbox(
        "Judged on (outcome measure)", outcomes, index=outcomes.index(draft["outcome_measure"]),
        format_func=outcome_words, key=f"protocol_outcome::{suffix}",
        help="Density: the band is a change in hairs/cm². SALT (alopecia areata): the band is the % improvement of "
             "the SALT score from baseline, and SALT ≤ 20 and SALT50/75/90 are reported at every milestone visit.",
    )
    salt = outcome == OutcomeMeasure.SALT
    unit = "% improvement of SALT" if salt else "hairs/cm²"

    st.subheader("Expected band")
    st.caption(("The % improvement of the SALT score from the patient's own baseline ((baseline − score) / "
                "baseline), at months after the first session. No established exosome evidence exists for SALT: "
                "this band is the clinic's own." if salt else
                "Change from the patient's own baseline in hairs/cm², at months after the first session.")
               + " Linear in between, flat after the last point. The first point must be month 0.")
    typed = "A decimal point or comma: 7.5 or 7,5."
    band_table = st.data_editor(
        as_typed(draft["band"], BAND_COLUMNS),
        num_rows="dynamic", hide_index=True, key=f"protocol_band::{suffix}",
        column_config={
            "month": st.column_config.TextColumn("Month", required=True, help=f"Months after day 0. {typed}"),
            "low": st.column_config.TextColumn(f"Low ({unit})", required=True, help=typed),
            "high": st.column_config.TextColumn(f"High ({unit})", required=True, help=typed),
        },
    )

    noise_key = f"protocol_noise::{suffix}"
    if noise_key not in st.session_state:  # the stored value, as text the clinician can correct
        st.session_state[noise_key] = f"{float(draft['noise_pct']):g}"
    # Typed text, read by the service (a decimal comma is a decimal point), not a number box that drops the comma.
    noise_pct = decimal_field(
        "Measurement noise (percentage points of SALT improvement)" if salt
        else "Measurement noise (% of the baseline density)",
        noise_key,
        help=("A milestone is judged ahead or behind only when its % improvement lies outside the band by more than "
              "this many percentage points (baseline × this / 100 SALT points)." if salt else
              "A milestone is judged ahead or behind only when it lies outside the band by more than this share of "
              "the patient's baseline density (hairs/cm²). Automated counts vary about 10% between repeat "
              "measurements of the same scalp, so 10 is the usual value.") + f" From 0 to {MAX_NOISE_PCT:g}.",
    )

    st.subheader("Milestone windows")
    st.caption("Whole calendar months after the first session; the visit closest to the target month is used.")
    # Months as text too: a number cell would read "2,5" as 25 months; the service refuses 2.5 (whole months).
    whole = "A whole number of months after day 0."
    window_table = st.data_editor(
        as_typed(draft["windows"], WINDOW_COLUMNS),
        num_rows="dynamic", hide_index=True, key=f"protocol_windows::{suffix}",
        column_config={
            "name": st.column_config.TextColumn("Name", max_chars=60, required=True),
            "start_month": st.column_config.TextColumn("Start month", required=True, help=whole),
            "end_month": st.column_config.TextColumn("End month", required=True, help=whole),
            "target_month": st.column_config.TextColumn("Target month", required=True, help=whole),
        },
    )

    note = st.text_area(
        "Evidence note (required)", value=draft["note"], key=f"protocol_note::{suffix}", height=120,
        max_chars=MAX_NOTE_LENGTH,
        help="What the band and windows are based on, and how strong that evidence is.",
    )

    st.subheader("Band preview")
    try:
        preview = preview_band(rows(band_table))
    except ValidationError as error:
        show_error(error)
    else:
        st.dataframe(
            [{"Month": p.month, f"Low ({unit})": p.low, f"High ({unit})": p.high} for p in preview],
            hide_index=True, key="protocols_preview",
        )

    if st.button("Save changes", type="primary", key="protocols_save"):
        saved = call(save_protocol, actor, detail.name, rows(band_table), rows(window_table), note,
                     expected_version=draft["version"], noise_pct=noise_pct, outcome_measure=outcome)
        if saved is not None:
            drafts.pop(detail.name, None)
            st.session_state[FLASH] = f"Saved: the protocol is now at version {saved.version}."
            st.rerun()

st.divider()
st.subheader("New protocol")
if st.session_state.pop(RESET_COPY, False):
    st.session_state.pop("protocol_copy_name", None)
with st.form("protocol_copy", clear_on_submit=False):
    source = st.selectbox("Copy band, windows and evidence note from", names, key="protocol_copy_source")
    new_name = st.text_input("Name of the new protocol", key="protocol_copy_name", max_chars=MAX_NAME_LENGTH)
    create = st.form_submit_button("Create protocol")
if create:
    created = call(copy_protocol, actor, source, new_name)
    if created is not None:
        st.session_state[PENDING] = created.name
        st.session_state[RESET_COPY] = True
        st.session_state[FLASH] = "Protocol created as a copy. Adjust its band, windows and evidence note below."
        st.rerun()
