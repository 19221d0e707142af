"""Log visit: density per site, a scale score, standard-view photos and capture conditions for the
selected patient; after saving, where the visit puts the patient on the expected course.

Everything is saved by one service call (``tracker.records.visits.log_visit``); this page only reads the form and
draws. The form belongs to one patient: choosing another patient starts a fresh form, so a number typed
for one patient can never be saved for another.

Dates and numbers are typed fields (``ui.typed_fields``): the service reads them in the clinic's date format and
with a decimal comma, never reinterpreted. An unlikely value is asked about (the service says why) and saved only
by "Save anyway", which submits the form again: a value changed meanwhile is checked afresh. A date that already
has a visit is offered to be added to it. The camera or device and the capture checklist start as they were at
the previous visit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import streamlit as st

from tracker.clinic_dates import show_date
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.scales import SALT, SALT_REGIONS, SCALE_LABELS, ScaleEntry
from tracker.course.vocabulary import GLOBAL_ASSESSMENT_WORDS, assessment_words, site_words, status_words, view_words
from tracker.errors import NeedsConfirmation, SameDayVisit
from tracker.records.recorded_visits import visit_form_defaults
from tracker.records.visit_form import CAPTURE_CHECKS, DEVICE_MAX, NOTES_MAX, PhotoUpload, SiteEntry, VisitEntry
from tracker.records.visits import (
    BASELINE_RECORDED,
    DENSITY_RECORDED,
    OfferedVisit,
    SiteOutcome,
    VisitSaved,
    log_visit,
)
from tracker.validation import SITE_MAX
from ui import capture_guide, photo_checks
from ui.messages import call, plain
from ui.signed_in import require_actor
from ui.typed_fields import date_field, decimal_field
from ui.visit_photos import PHOTO_TYPES
from ui.workspace import MRN, blank_form, choose_patient, offer_another_patient, selected_mrn

FORM_FOR, SITES, ROUND, SHOTS, SAVED = (
    "visit_form_for", "visit_sites", "visit_round", "visit_camera_shots", "visit_saved",
)
# What the last save asked (outside the "visit_" keys that a fresh form blanks): the warnings to confirm, with
# the visit being added to when they came (an ``OfferedVisit``, else None); and the visit offered to add to, with
# the service's words (an ``OfferedVisit`` and its message). An offer names its visit: adding goes to it alone.
ASKED, OFFER = "asked_visit", "offer_visit"
SATISFACTION_LABEL = "Patient satisfaction (0 = not at all, 10 = completely satisfied)"


def _start_form(mrn: str, sites: tuple[str, ...], device: str, capture: dict[str, bool],
                scales: tuple[str, ...]) -> None:
    """A fresh form for ``mrn``: forget every value typed for anyone (or for the visit just saved); the date is
    today and the device and capture checklist are the previous visit's."""
    blank_form("visit_", keep=(SAVED, ROUND, SITES, SHOTS, FORM_FOR, "visit_add_site", "visit_camera_add",
                               "visit_camera_discard"),
               choices=("visit_scale", "visit_stage_", "visit_camera_view", "visit_photos_", "visit_camera_"))
    st.session_state.pop(ASKED, None)
    st.session_state.pop(OFFER, None)
    st.session_state[FORM_FOR] = mrn
    st.session_state[SITES] = list(sites)
    st.session_state[SHOTS] = []
    st.session_state["visit_date"] = show_date(date.today())
    st.session_state["visit_device"] = device
    for scale_name in scales:  # "Not scored": a dropped key would let the browser send the last stage back
        st.session_state[f"visit_stage_{scale_name}"] = ""
    for key in CAPTURE_CHECKS:
        st.session_state[f"visit_check_{key}"] = bool(capture.get(key))
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1  # new upload widgets, empty


def _save(mrn: str, entry: VisitEntry, uploads: list[PhotoUpload], acknowledged: Sequence[str],
          adding: OfferedVisit | None) -> VisitSaved | None:
    """Save through the service; a question (unlikely values, a visit already on that date) is kept for the
    form to ask, and answered by submitting it again."""
    try:
        return log_visit(actor, mrn, entry, uploads, acknowledged=acknowledged, add_to=adding)
    except NeedsConfirmation as asked:
        st.session_state[ASKED] = (asked.warnings, adding)
    except SameDayVisit as same:
        if isinstance(same.visit_date, date) and same.version is not None:
            st.session_state[OFFER] = (OfferedVisit(same.visit_id, same.visit_date, same.version), str(same))
    return None


def _questions() -> tuple[bool, bool]:
    """Inside the form, under its fields: the last save's question and the buttons that answer it; returns
    whether "Save anyway" and "Add … to the visit of …" were pressed."""
    asked = st.session_state.get(ASKED)
    offer = st.session_state.get(OFFER)
    anyway = adding = False
    if asked:
        st.warning("**Please check before saving** (nothing was saved):\n\n"
                   + "\n".join(f"- {plain(warning)}" for warning in asked[0])
                   + "\n\nSave anyway if the values are right; a value changed here is checked again.")
        anyway = st.form_submit_button("Save anyway")
    if offer:
        offered, message = offer
        st.info(f"{plain(message)} A site or score the visit already has is not changed.")
        adding = st.form_submit_button(f"Add these photos and values to the visit of {show_date(offered.date)}")
    return anyway, adding



def _saved_site_row(site: SiteOutcome) -> dict[str, object]:
    """One row of the saved visit's table: a site's density, change and status."""
    band = (
        f"{site.expected_low:+.0f} to {site.expected_high:+.0f}"
        if site.expected_low is not None and site.expected_high is not None else ""
    )
    change = ""
    if site.change is not None:
        change = f"{site.change:+.1f}"
        if site.change_pct is not None:
            change += f" ({site.change_pct:+.0f}%)"
    return {
        "Site": site_words(site.site),
        "Density (hairs/cm²)": round(site.density, 1),
        "Milestone": site.milestone_label or ("" if site.status == BASELINE_RECORDED else "Between milestones"),
        "Change vs baseline (hairs/cm²)": change,
        "Expected band (hairs/cm²)": band,
        "Status": (
            "Baseline recorded" if site.status == BASELINE_RECORDED
            else "Recorded (this protocol is judged on SALT)" if site.status == DENSITY_RECORDED
            else status_words(site.status).explained
        ),
    }


def _show_saved(saved: VisitSaved) -> None:
    day = show_date(saved.date)
    st.success(f"Added to the visit of {day}." if saved.added_to_existing else f"Visit of {day} saved.")
    if saved.sites:
        rows = [_saved_site_row(site) for site in saved.sites]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        if saved.day0 is None:
            st.caption("No treatment session yet: this visit is the baseline; day 0 will be the first session.")
        else:
            st.caption(f"Day 0 (first session): {show_date(saved.day0)}. Protocol: {plain(saved.protocol_name)}.")
        if saved.evidence_note:
            st.caption(plain(saved.evidence_note))
    if saved.scale is not None:
        if saved.scale.salt_score is not None:
            st.write(f"SALT score: {saved.scale.salt_score:.1f}")
        else:
            st.write(plain(f"{SCALE_LABELS[saved.scale.scale]} stage: {saved.scale.stage}"))
    if saved.global_assessment is not None:
        st.write(f"Global photographic assessment: {assessment_words(saved.global_assessment)}")
    if saved.satisfaction is not None:
        st.write(f"Patient satisfaction: {saved.satisfaction}/10")
    if saved.photos:
        st.write(f"{len(saved.photos)} photo(s) stored.")
    if saved.photos and saved.capture_missing:
        st.warning(
            "Not confirmed when the photos were taken: " + ", ".join(m.lower() for m in saved.capture_missing)
            + ". Comparisons with other visits may not be fair."
        )


actor = require_actor()
st.title("Log visit")
mrn = selected_mrn()
if mrn is None:
    choose_patient(actor, "visit", "visit")

defaults = call(visit_form_defaults, actor, mrn)
if defaults is None:
    offer_another_patient("visit")
if st.session_state.get(FORM_FOR) != defaults.mrn:
    _start_form(defaults.mrn, defaults.sites, defaults.device, dict(defaults.capture), defaults.scales)

st.subheader(plain(f"{defaults.full_name} · MRN {defaults.mrn}"))
if defaults.last_visit_date:
    st.caption(f"Last visit with measurements: {show_date(defaults.last_visit_date)}")

# Drawn after the form is read: a new save attempt clears the last save's "saved" (it is not this save's answer).
saved_slot = st.container()

# Outside the form, because they change what the form shows: the scale, extra sites, the camera.
scale = st.selectbox("Scale", defaults.scales, format_func=SCALE_LABELS.__getitem__, key="visit_scale")
with st.expander("Add a measured site"):
    new_site = st.text_input("Site name (for example frontal or left_temporal)", key="visit_new_site",
                             max_chars=SITE_MAX)
    if st.button("Add site", key="visit_add_site") and new_site.strip():
        name = "_".join(new_site.strip().lower().split())
        if name not in st.session_state[SITES]:
            st.session_state[SITES].append(name)
        st.rerun()
capture_guide.camera_section(actor, defaults.mrn, st.session_state[SHOTS], st.session_state[ROUND],
                             str(st.session_state.get("visit_date", "")))

round_ = st.session_state[ROUND]
with st.form("log_visit", clear_on_submit=False):
    visit_date = date_field("Visit date", key="visit_date", value=date.today())

    st.markdown("**Density and hair metrics per site** (leave a site blank if it was not measured)")
    site_values: list[SiteEntry] = []
    for site in st.session_state[SITES]:
        density_col, shaft_col, terminal_col, anagen_col = st.columns(4)
        site_values.append(SiteEntry(
            site=site,
            density=decimal_field(plain(f"{site_words(site)}: density (hairs/cm²)"), key=f"visit_density_{site}",
                                  container=density_col),
            shaft_diameter_um=decimal_field("Shaft diameter (µm)", key=f"visit_shaft_{site}", container=shaft_col),
            terminal_pct=decimal_field("Terminal hairs (%)", key=f"visit_terminal_{site}", container=terminal_col),
            anagen_pct=decimal_field("Anagen (%)", key=f"visit_anagen_{site}", container=anagen_col),
        ))

    st.markdown(f"**{SCALE_LABELS[scale]}**")
    if scale == SALT:
        st.caption("Percentage of hair lost in each region; SALT = vertex × 0.40 + posterior × 0.24 + "
                   "left × 0.18 + right × 0.18 (0 = no loss, 100 = total loss).")
        salt_columns = st.columns(4)
        salt = {
            region: decimal_field(f"{label} % loss", key=f"visit_salt_{region}", container=column)
            for column, (region, label) in zip(salt_columns, SALT_REGIONS, strict=True)
        }
        scale_entry = ScaleEntry(SALT, vertex_pct=salt["vertex"], posterior_pct=salt["posterior"],
                                 left_pct=salt["left_side"], right_pct=salt["right_side"])
    else:
        stage = st.selectbox("Stage", ["", *defaults.stages[scale]], format_func=lambda s: s or "Not scored",
                             key=f"visit_stage_{scale}")
        scale_entry = ScaleEntry(scale, stage=stage or None)

    st.markdown("**Global photographic assessment and patient satisfaction** (optional)")
    assessment_col, satisfaction_col = st.columns(2)
    assessment = assessment_col.selectbox(
        "Global photographic assessment (against the baseline photos)", sorted(GLOBAL_ASSESSMENT_WORDS),
        index=None, placeholder="Not assessed", format_func=assessment_words, key="visit_assessment")
    # Typed, like every clinical number: a number box would turn a typed "7,5" into 75 or 10.
    satisfaction = satisfaction_col.text_input(SATISFACTION_LABEL, key="visit_satisfaction", placeholder="0–10",
                                               max_chars=4)

    st.markdown("**Photos per standard view**")
    form_photos: list[photo_checks.FormPhoto] = []
    # One row of columns per three views, so that reading order, the page's order and the Tab key agree.
    for first in range(0, len(SCALP_VIEWS), 3):
        for column, view in zip(st.columns(3), SCALP_VIEWS[first:first + 3], strict=False):
            files = column.file_uploader(
                view_words(view), type=PHOTO_TYPES, accept_multiple_files=True, key=f"visit_photos_{view}_{round_}",
            )
            form_photos.extend(photo_checks.FormPhoto(view, f.file_id, f.name, f.getvalue()) for f in files or [])

    st.markdown("**Capture checklist**")
    if defaults.device or any(defaults.capture.values()):
        st.caption("As at the previous visit: change what differs today.")
    check_columns = st.columns(len(CAPTURE_CHECKS))
    capture = {
        key: column.checkbox(label, key=f"visit_check_{key}")
        for column, (key, label) in zip(check_columns, CAPTURE_CHECKS.items(), strict=True)
    }
    device = st.text_input("Camera or device", key="visit_device", max_chars=DEVICE_MAX)
    notes = st.text_area("Notes", key="visit_notes", max_chars=NOTES_MAX)
    answer_anyway, answer_add = _questions()
    answer_keep = photo_checks.question(photo_checks.VISIT_FORM, photo_checks.check_context(defaults.mrn, visit_date))
    submitted = st.form_submit_button("Save visit", type="primary")

if submitted or answer_anyway or answer_add or answer_keep:
    st.session_state.pop(SAVED, None)
    asked = st.session_state.pop(ASKED, None)
    offer = st.session_state.pop(OFFER, None)
    acknowledged: tuple[str, ...] = asked[0] if answer_anyway and asked else ()
    # The visit named by the button pressed (or by the question asked while adding), never the date box's visit.
    adding: OfferedVisit | None = offer[0] if answer_add and offer else asked[1] if answer_anyway and asked else None
    # Every photo is checked (once) before anything is saved; problems not yet kept are asked about first.
    checked = photo_checks.checked(actor, defaults.mrn, form_photos, visit_date, answer_keep, photo_checks.VISIT_FORM)
    entry = VisitEntry(date=visit_date, sites=tuple(site_values), scale=scale_entry, capture=capture,
                       device=device, notes=notes, global_assessment=assessment, satisfaction=satisfaction)
    result = None
    if checked is not None:
        with st.spinner("Saving the visit and storing its photos…"):
            result = call(_save, defaults.mrn, entry, checked + st.session_state[SHOTS], acknowledged, adding)
    if result is not None:
        st.session_state[SAVED] = result
        st.session_state[FORM_FOR] = None  # the next run starts a fresh form (sites from this visit)
        st.rerun()
    if ASKED in st.session_state or OFFER in st.session_state or photo_checks.VISIT_FORM.asked in st.session_state:
        st.rerun()  # the form asks its question, with the values typed still in it
else:
    saved = st.session_state.get(SAVED)
    if isinstance(saved, VisitSaved) and saved.mrn == defaults.mrn:
        with saved_slot:
            _show_saved(saved)

if st.button("Choose another patient", key="pick_visit_other"):
    st.session_state.pop(MRN, None)
    st.query_params.pop(MRN, None)
    st.rerun()
