"""Patient record: header and milestone strip, timeline of visits and sessions, concurrent therapies,
corrections (each with its reason), removals, and the record's history.

A correction is checked against the version of the record the clinician opened (kept in the session as
``edit_version``): if someone else changed the record meanwhile, nothing is saved and the page says so.
"""

import streamlit as st

from tracker.clinic_dates import show_date
from tracker.course.clinical import CONDITIONS, SEXES
from tracker.course.scales import SCALE_LABELS, scales_for, stages_for
from tracker.course.vocabulary import assessment_words, condition_words, site_words, status_words, view_words
from tracker.exchange.fhir_export import export_bundle, file_name
from tracker.records.history import REASON_MAX, soft_delete
from tracker.records.patient_corrections import update_patient
from tracker.records.patient_fields import (
    COMMON_THERAPIES,
    DOSE_MAX,
    NOTES_MAX,
    TARGET_AREAS_MAX,
    THERAPY_NAME_MAX,
)
from tracker.records.patient_record import patient_record
from tracker.records.therapies import add_therapy, stop_therapy
from ui import private_media
from ui.data_export import download_buttons
from ui.messages import call, plain
from ui.record_corrections import correct_entries
from ui.signed_in import require_actor
from ui.typed_fields import date_columns, date_field, decimal_field
from ui.visit_photos import add_photos_form
from ui.workspace import blank_keys, select_patient, selected_mrn

NOTICE = "record_notice"
OTHER = "other (type the name)"
EDIT_KEYS = ("edit_sex", "edit_condition", "edit_scales", "edit_scale", "edit_name", "edit_mrn", "edit_birth",
             "edit_salt", "edit_areas", "edit_protocol", "edit_notes", "edit_reason")
THERAPY_KEYS = ("therapy_name", "therapy_other", "therapy_dose", "therapy_start", "therapy_stop")
STOP_KEYS = ("stop_choice", "stop_date", "stop_reason")
REMOVE_KEYS = ("remove_choice", "remove_reason")
SELECT_KEYS = ("therapy_name", "stop_choice", "remove_choice")  # choices: dropped, not blanked
BLANK = "record_forms_to_blank"


def _done(message: str, keys: tuple[str, ...]) -> None:
    """After a save: forget the form's values (they are in the record now) and show the record afresh.

    The details form is dropped, so that it is filled again from the corrected record. The other forms are blanked
    (``blank_keys``): a deleted key lets the browser send its old value back, so a form that looked empty in the
    app's state still showed the therapy just added, and the next click added it again.
    """
    if keys == EDIT_KEYS:
        for key in (*keys, *[k for k in st.session_state if str(k).startswith("edit_stage_")]):
            st.session_state.pop(key, None)
    else:
        st.session_state[BLANK] = keys  # blanked at the top of the next run: a drawn widget's value is fixed
    st.session_state[NOTICE] = message
    st.rerun()


actor = require_actor()
blank_keys(st.session_state.pop(BLANK, ()), choices=SELECT_KEYS)
mrn = selected_mrn()
if not mrn:
    st.title("Patient record")
    st.info("Choose a patient on the Patients page first.")
    st.page_link("pages/patients.py", label="Patients", icon="👥")
    st.stop()

record = call(patient_record, actor, mrn)
if record is None:
    st.page_link("pages/patients.py", label="Back to the patient list", icon="👥")
    st.stop()
details = record.details

notice = st.session_state.pop(NOTICE, None)
if notice:
    st.success(plain(notice))

# --- Header and milestone strip ---------------------------------------------------------------------
st.title(plain(details.full_name))
st.caption(plain(
    f"MRN {details.mrn} · born {show_date(details.birth_date)} ({details.age} years) · {details.sex} · "
    f"{details.condition_label} · "
    f"day 0: {show_date(record.day0) or 'no treatment session yet'}"
))
baseline = (f"{SCALE_LABELS.get(details.baseline_scale, details.baseline_scale)} {details.baseline_stage}"
            if details.baseline_scale else "none recorded")
st.caption(plain(
    f"Baseline stage: {baseline} · target areas: {', '.join(map(site_words, details.target_areas)) or 'none'} · "
    f"protocol: {details.protocol}"
))
download_buttons(actor, details.mrn, "Everything on record for this patient (a patient's access request), "
                 "corrections and removals included. Recorded in the audit trail.")

# The Bundle is made (and audited) only when the button is clicked, and only while this session is signed in.
private_media.download_button(
    actor, "Download FHIR R4 record (JSON)", lambda: export_bundle(actor, [details.mrn]).data, what="FHIR export",
    file_name=file_name([details.mrn]), mime="application/fhir+json", key="fhir_download")

if record.milestone_note:
    st.info(record.milestone_note)
BOXES = {"success": st.success, "warning": st.warning, "error": st.error, "info": st.info}
# Three milestones to a row: an admin may give a protocol more windows than the default three, and each shows.
# The last row may have fewer milestones than columns, hence strict=False.
for first in range(0, len(record.milestones), 3):
    for column, milestone in zip(st.columns(3), record.milestones[first:first + 3], strict=False):
        with column:
            st.markdown(f"**{plain(milestone.label)}**")
            st.caption(f"window {show_date(milestone.window_start)} to {show_date(milestone.window_end)} · "
                       f"target {show_date(milestone.target)}")
            # Red is for behind only (issue #11): an overdue or missed visit is a warning.
            box = st.warning if milestone.overdue else BOXES[status_words(milestone.status).tone]
            box(plain(milestone.status_text))
            for note in milestone.site_notes:
                st.caption(plain(note))

timeline_tab, therapy_tab, edit_tab, remove_tab, history_tab = st.tabs(
    ["Timeline", "Concurrent therapies", "Correct details", "Remove an entry", "History"])

# --- Timeline -----------------------------------------------------------------------------------------
with timeline_tab:
    if not record.timeline:
        st.info("No visit or session recorded yet.")
    else:
        # The ratings' columns only where a visit was rated: empty columns push the notes off the screen.
        rated = any(e.global_assessment is not None or e.satisfaction is not None for e in record.timeline)
        st.dataframe([
            {
                "Date": entry.date,
                "Entry": entry.title,
                "Density (hairs/cm²)": " · ".join(f"{site_words(d.site)} {d.density:g}" for d in entry.densities),
                "Photos": str(len(entry.photos)) if entry.kind == "visit" else "",
            } | ({
                "Global assessment": ("" if entry.global_assessment is None
                                      else assessment_words(entry.global_assessment)),
                "Satisfaction": "" if entry.satisfaction is None else f"{entry.satisfaction}/10",
            } if rated else {}) | {
                "Product": entry.product,
                "Lot": entry.lot_number,
                "Volume (ml)": "" if entry.volume_ml is None else f"{entry.volume_ml:g}",
                "Adverse events": entry.adverse_events,
                "Notes": entry.notes,
            }
            for entry in record.timeline
        ], hide_index=True, column_config=date_columns("Date"), placeholder="–")
        add_photos_form(actor, details.mrn, record.timeline)

with timeline_tab:  # corrections of visits, measurements, scale scores, sessions and photo views (issue #12)
    correct_entries(actor, details.mrn)

# --- Concurrent therapies -------------------------------------------------------------------------------
with therapy_tab:
    if record.therapies:
        st.dataframe([
            {"Therapy": t.name, "Dose": t.dose, "Start": t.start, "Stop": t.stop,
             "Taking now": "yes" if t.active else "no"}
            for t in record.therapies
        ], hide_index=True, column_config=date_columns("Start", "Stop"), placeholder="–")
    else:
        st.caption("No concurrent therapy recorded.")

    with st.form("add_therapy", clear_on_submit=False):
        st.markdown("**Add a therapy**")
        chosen = st.selectbox("Therapy", [*COMMON_THERAPIES, OTHER], index=None, key="therapy_name",
                              placeholder="Choose")
        other_name = st.text_input("Other therapy's name", key="therapy_other", max_chars=THERAPY_NAME_MAX)
        dose = st.text_input("Dose", key="therapy_dose", placeholder="e.g. 5% foam twice daily",
                             max_chars=DOSE_MAX)
        start = date_field("Start", "therapy_start")
        stop = date_field("Stop (leave empty while taken)", "therapy_stop")
        if st.form_submit_button("Add therapy", key="therapy_submit"):
            name = other_name if chosen in (None, OTHER) else chosen
            if call(add_therapy, actor, details.mrn, name, dose, start, stop) is not None:
                _done("Therapy added.", THERAPY_KEYS)

    therapies = {t.id: t for t in record.therapies}
    if therapies:
        with st.form("stop_therapy", clear_on_submit=False):
            st.markdown("**Stop a therapy** (or correct its stop date)")
            therapy_id = st.selectbox(
                "Therapy", list(therapies), index=None, key="stop_choice", placeholder="Choose",
                format_func=lambda i: f"{therapies[i].name} ({therapies[i].dose or 'no dose'}) from "
                                      f"{show_date(therapies[i].start)}",
            )
            stop_day = date_field("Stopped on", "stop_date")
            stop_reason = st.text_input("Reason", key="stop_reason", max_chars=REASON_MAX)
            if st.form_submit_button("Stop therapy", key="stop_submit"):
                if therapy_id is None:
                    st.error("Choose the therapy to stop.")
                else:
                    if call(stop_therapy, actor, therapy_id, stop_day, stop_reason,
                            expected_version=therapies[therapy_id].version) is not None:
                        _done("Stop date saved; the previous value is in the history.", STOP_KEYS)

# --- Corrections --------------------------------------------------------------------------------------
with edit_tab:
    # The version the clinician opened: kept until the form is saved, discarded or left.
    if st.session_state.get("edit_of") != details.mrn or "edit_name" not in st.session_state:
        for key in EDIT_KEYS:
            st.session_state.pop(key, None)
        st.session_state["edit_of"] = details.mrn
        st.session_state["edit_version"] = details.version
    st.caption("Corrections keep the previous value, who changed it, when and why. A reason is required.")
    sex_col, condition_col, scale_col = st.columns(3)
    sex = sex_col.selectbox("Sex", SEXES, index=SEXES.index(details.sex) if details.sex in SEXES else None,
                            key="edit_sex")
    condition = condition_col.selectbox(
        "Condition", CONDITIONS, format_func=condition_words, key="edit_condition",
        index=CONDITIONS.index(details.condition) if details.condition in CONDITIONS else None)
    scales = scales_for(condition, sex) if condition and sex else ()
    if st.session_state.get("edit_scales") != scales:  # new choices: start the scale afresh
        st.session_state.pop("edit_scale", None)
        st.session_state["edit_scales"] = scales
    scale = scale_col.selectbox(
        "Baseline scale", scales, format_func=SCALE_LABELS.__getitem__, key="edit_scale", disabled=not scales,
        index=(scales.index(details.baseline_scale) if details.baseline_scale in scales
               else 0 if len(scales) == 1 else None),
        placeholder="Choose" if scales else "None for this condition")

    with st.form("edit_patient", clear_on_submit=False):
        full_name = st.text_input("Full name", value=details.full_name, key="edit_name", max_chars=200)
        new_mrn = st.text_input("MRN", value=details.mrn, key="edit_mrn", max_chars=40)
        birth_date = date_field("Birth date", "edit_birth", value=details.birth_date)
        stage: str | None = None
        if scale == "salt":
            if "edit_salt" not in st.session_state and details.baseline_scale == "salt":
                st.session_state["edit_salt"] = details.baseline_stage or ""  # the recorded score, as kept
            stage = decimal_field("Baseline SALT score (0–100)", "edit_salt")
        elif scale:
            stages = stages_for(scale)
            stage = st.selectbox(
                f"Baseline stage ({SCALE_LABELS[scale]})", stages, key=f"edit_stage_{scale}", placeholder="Choose",
                index=stages.index(details.baseline_stage)
                if details.baseline_scale == scale and details.baseline_stage in stages else None)
        areas = st.text_input("Target areas (comma-separated)", value=", ".join(details.target_areas),
                              key="edit_areas", max_chars=TARGET_AREAS_MAX)
        choices = list(record.protocol_choices) or [details.protocol]
        protocol = st.selectbox("Protocol", choices, key="edit_protocol",
                                index=choices.index(details.protocol) if details.protocol in choices else 0)
        notes = st.text_area("Notes", value=details.notes, key="edit_notes", max_chars=NOTES_MAX)
        reason = st.text_input("Reason for the correction", key="edit_reason", max_chars=REASON_MAX,
                               placeholder="e.g. birth year mistyped at intake")
        if st.form_submit_button("Save corrections", type="primary", key="edit_submit"):
            changes = {
                "full_name": full_name, "mrn": new_mrn, "sex": sex or "", "birth_date": birth_date,
                "condition": condition or "", "baseline_scale": scale, "baseline_stage": stage,
                "target_areas": areas, "protocol": protocol, "notes": notes,
            }
            version = call(update_patient, actor, details.mrn, changes, reason, st.session_state["edit_version"])
            if version is not None:
                select_patient(new_mrn.strip())
                st.session_state.pop("edit_of", None)
                _done("Corrections saved; the previous values are in the history.", EDIT_KEYS)
    if st.button("Discard my changes and reload the record", key="edit_reload"):
        st.session_state.pop("edit_of", None)
        _done("The record was reloaded.", EDIT_KEYS)

# --- Removals -----------------------------------------------------------------------------------------
with remove_tab:
    removable: dict[str, tuple[str, int, int, str]] = {}
    for entry in record.timeline:
        if entry.kind == "visit":
            sites = " · ".join(f"{site_words(d.site)} {d.density:g}" for d in entry.densities)
            removable[f"visit:{entry.row_id}"] = ("visit", entry.row_id, entry.version,
                                                 f"Visit {show_date(entry.date)}" + (f" ({sites})" if sites else ""))
            for photo in entry.photos:
                removable[f"photo:{photo.id}"] = (
                    "photo", photo.id, photo.version,
                    f"{view_words(photo.view)} photo {photo.file_name} from the visit of {show_date(entry.date)}")
        else:
            removable[f"session:{entry.row_id}"] = ("session", entry.row_id, entry.version,
                                                   f"{entry.title} {show_date(entry.date)}"
                                                   + (f", lot {entry.lot_number}" if entry.lot_number else ""))
    for therapy in record.therapies:
        removable[f"therapy:{therapy.id}"] = ("therapy", therapy.id, therapy.version,
                                             f"Therapy {therapy.name} from {show_date(therapy.start)}")
    if not removable:
        st.caption("Nothing to remove.")
    else:
        with st.form("remove_entry", clear_on_submit=False):
            st.caption("A removed entry leaves the timeline and the charts but stays in the record's history, "
                       "with who removed it, when and why.")
            choice = st.selectbox("Entry", list(removable), index=None, key="remove_choice", placeholder="Choose",
                                  format_func=lambda k: removable[k][3])
            remove_reason = st.text_input("Reason", key="remove_reason", max_chars=REASON_MAX)
            if st.form_submit_button("Remove", key="remove_submit"):
                if choice is None:
                    st.error("Choose the entry to remove.")
                else:
                    kind, row_id, version, label = removable[choice]
                    if call(soft_delete, actor, kind, row_id, remove_reason, expected_version=version) is not None:
                        _done(f"{label} removed; it stays in the history.", REMOVE_KEYS)

# --- History ------------------------------------------------------------------------------------------
with history_tab:
    if not record.history:
        st.caption("No correction or removal yet.")
    else:
        st.dataframe([
            {"When": f"{show_date(h.at)} {h.at:%H:%M} UTC", "Who": h.by, "What": h.what, "Field": h.field or "",
             "Previous value": h.old_value or "", "New value": h.new_value or "", "Reason": h.reason}
            for h in record.history
        ], hide_index=True)
