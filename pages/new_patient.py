"""New patient: identity, diagnosis with the baseline stage on the matching scale, target areas, protocol.

The diagnosis choices sit above the form because the staging scale, and so the stage list, follows the
condition and sex; everything typed stays in place when the form is refused.
"""


import streamlit as st

from tracker.course.clinical import CONDITIONS, SEXES
from tracker.course.scales import SCALE_LABELS, scales_for, stages_for
from tracker.course.vocabulary import condition_words, view_words
from tracker.records.patient_fields import NOTES_MAX, TARGET_AREA_CHOICES, TARGET_AREAS_MAX
from tracker.records.patient_intake import NewPatient, create_patient, proposed_protocol, protocol_names
from ui.messages import call, plain
from ui.signed_in import require_actor
from ui.typed_fields import date_field, decimal_field
from ui.workspace import select_patient

SAVED = "new_patient_saved"
KEYS = ("np_sex", "np_condition", "np_scales", "np_scale", "np_mrn", "np_name", "np_birth", "np_stage", "np_salt",
        "np_areas", "np_other_areas", "np_protocol", "np_notes", "np_protocol_for")

actor = require_actor()
st.title("New patient")
if st.session_state.pop("np_fresh", False):
    # A fresh form for the next patient. Values are written, not deleted: a deleted key lets the
    # browser send the previous patient's choices back with the next submit.
    blank = {"np_areas": [], "np_mrn": "", "np_name": "", "np_other_areas": "", "np_notes": ""}
    for key in KEYS:
        if key in ("np_protocol", "np_scales", "np_protocol_for"):
            st.session_state.pop(key, None)
        else:
            st.session_state[key] = blank.get(key)

saved = st.session_state.get(SAVED)
if saved:
    st.success(f"Patient {plain(saved)} registered.")
    if st.button("Open the record", key="np_open", type="primary"):
        select_patient(saved)
        st.switch_page("pages/patient_record.py")

protocols = call(protocol_names, actor)
if protocols is None:
    st.stop()

st.subheader("Diagnosis")
sex_col, condition_col, scale_col = st.columns(3)
sex = sex_col.selectbox("Sex", SEXES, index=None, key="np_sex", placeholder="Choose")
condition = condition_col.selectbox("Condition", CONDITIONS, index=None, format_func=condition_words,
                                    key="np_condition", placeholder="Choose")
scales = scales_for(condition, sex) if condition and sex else ()
if st.session_state.get("np_scales") != scales:  # new choices: start the scale afresh (preselected if one)
    # Written, not deleted: a deleted key leaves the browser showing (and sending) its old choice.
    st.session_state["np_scale"] = scales[0] if len(scales) == 1 else None
    st.session_state["np_scales"] = scales
scale = scale_col.selectbox("Baseline scale", scales, index=0 if len(scales) == 1 else None,
                            format_func=SCALE_LABELS.__getitem__, key="np_scale", disabled=not scales,
                            placeholder="Choose" if scales else "None for this condition")
if st.session_state.get("np_protocol_for", "") != condition:  # a new condition: propose its protocol afresh
    # Alopecia areata is followed on SALT: its protocol is preselected; the clinician can still choose another.
    st.session_state["np_protocol"] = proposed_protocol(condition, protocols)
    st.session_state["np_protocol_for"] = condition
if not (condition and sex):
    st.caption("Choose sex and condition: the staging scale follows them (Norwood–Hamilton for men with "
               "androgenetic alopecia, Ludwig or Sinclair for women, SALT for alopecia areata).")

with st.form("new_patient", clear_on_submit=False):
    st.subheader("Patient")
    mrn = st.text_input("MRN", key="np_mrn", max_chars=40)
    full_name = st.text_input("Full name", key="np_name", max_chars=200)
    birth_date = date_field("Birth date", "np_birth")
    stage: float | str | None = None
    if scale == "salt":
        stage = decimal_field("Baseline SALT score (0–100)", "np_salt")
    elif scale:
        stage = st.selectbox(f"Baseline stage ({SCALE_LABELS[scale]})", stages_for(scale), index=None,
                             key="np_stage", placeholder="Choose")
    st.subheader("Follow-up")
    areas = st.multiselect("Target areas to measure", TARGET_AREA_CHOICES, key="np_areas", format_func=view_words,
                           help="These sites pre-fill the patient's first visit.")
    other_areas = st.text_input("Other areas (comma-separated)", key="np_other_areas", max_chars=TARGET_AREAS_MAX)
    protocol = st.selectbox("Protocol", protocols, key="np_protocol",
                            help="Proposed from the condition: alopecia areata patients follow the SALT protocol.")
    notes = st.text_area("Notes", key="np_notes", max_chars=NOTES_MAX)
    submitted = st.form_submit_button("Register patient", type="primary", key="np_submit")

if submitted:
    st.session_state.pop(SAVED, None)
    created = call(create_patient, actor, NewPatient(
        mrn=mrn, full_name=full_name, sex=sex or "", birth_date=birth_date, condition=condition or "",
        baseline_scale=scale, baseline_stage=stage, target_areas=[*areas, *other_areas.split(",")],
        protocol=protocol, notes=notes,
    ))
    if created:
        select_patient(created)
        st.session_state["np_fresh"] = True  # emptied at the top of the next run, before the widgets
        st.session_state[SAVED] = created
        st.rerun()
