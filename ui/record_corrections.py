"""The record page's "Correct an entry" form: a visit, a density measurement, a scale score, a treatment session or
a photo's view, pre-filled with the values recorded, corrected with a reason (issue #12).

The clinician picks the entry; its form opens with the values and the version read then (kept until it is saved
or another entry is picked). Save calls the one correction service of that kind (``tracker.records.*_corrections``),
which checks that version: if someone changed the entry meanwhile, nothing is saved and the standard message says
so. After a save the page says what changed and the milestone judgement after the correction, and the record is
read afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import streamlit as st

from tracker.access.actors import Actor
from tracker.clinic_dates import show_date
from tracker.course.clinical import SCALP_VIEWS, TREATMENTS
from tracker.course.scales import SALT, SALT_REGIONS, SCALE_LABELS, stages_for
from tracker.course.vocabulary import (
    GLOBAL_ASSESSMENT_WORDS,
    assessment_words,
    status_words,
    treatment_words,
    view_words,
)
from tracker.errors import NeedsConfirmation
from tracker.records.entry_corrections import (
    MEASUREMENT,
    PHOTO,
    SCALE_SCORE,
    SESSION,
    VISIT,
    CorrectableEntry,
    correctable_entries,
)
from tracker.records.history import REASON_MAX
from tracker.records.measurement_corrections import correct_measurement
from tracker.records.photo_corrections import correct_photo_view
from tracker.records.row_corrections import Correction, MilestoneAfter
from tracker.records.scale_corrections import SALT_REGION_FIELDS, correct_scale_score
from tracker.records.session_corrections import correct_session
from tracker.records.treatment_sessions import AREAS_MAX, PRE_SESSION_CHECKS, TEXT_MAX
from tracker.records.visit_corrections import correct_visit
from tracker.records.visit_form import CAPTURE_CHECKS, DEVICE_MAX, NOTES_MAX
from tracker.validation import LOT_NUMBER_MAX, PRODUCT_MAX, SITE_MAX
from ui.messages import call, plain
from ui.typed_fields import date_field, decimal_field

PREFIX = "fix_"
CHOICE, OPEN, VERSION, REASON = "fix_choice", "fix_open", "fix_version", "fix_reason"
# The text each box was pre-filled with, and the words of the entry open (to say it was removed meanwhile).
PREFILLED, OPEN_LABEL = "fix_prefilled", "fix_open_label"
ASKED = "fix_asked"  # the plausibility questions the last save asked (answered by "Save anyway")
NOTICE, RESET = "fix_notice", "fix_reset"  # kept across the rerun after a save
BOXES = {"success": st.success, "warning": st.warning, "error": st.error, "info": st.info}
# The corrections that ask the logging forms' plausibility questions (a scale score and a photo's view have none).
ASKING: dict[str, Callable[..., Correction]] = {
    VISIT: correct_visit, MEASUREMENT: correct_measurement, SESSION: correct_session,
}


def correct_entries(actor: Actor, mrn: str) -> None:
    """The "Correct an entry" section of one patient's record (staff)."""
    st.markdown("**Correct an entry**")
    st.caption("A correction keeps the previous value in the history with who changed it, when and why; "
               "the milestones are judged again at once.")
    for tone, text in st.session_state.pop(NOTICE, ()):
        BOXES[tone](plain(text))
    if st.session_state.pop(RESET, False):  # after a save: the choice starts afresh (set before the box is drawn)
        st.session_state[CHOICE] = None
    entries = call(correctable_entries, actor, mrn)
    if entries is None:
        return
    by_key = {entry.key: entry for entry in entries}
    _say_if_removed(by_key)
    if not entries:
        st.caption("Nothing to correct yet.")
        return
    choice = st.selectbox("Entry to correct", list(by_key), index=None, key=CHOICE, placeholder="Choose",
                          format_func=lambda key: by_key[key].label)
    if choice is None:
        return
    entry = by_key[choice]
    if st.session_state.get(OPEN) != choice:  # newly chosen: the recorded values, and the version opened
        _forget()
        st.session_state[OPEN], st.session_state[VERSION] = choice, entry.version
        st.session_state[OPEN_LABEL] = entry.label
        _prefill(entry)
    with st.form("fix_entry", clear_on_submit=False):
        st.markdown(f"**Correct: {plain(entry.label)}**")
        changes = FORMS[entry.kind](entry)
        reason = st.text_input("Reason for the correction", key=REASON, max_chars=REASON_MAX,
                               placeholder="e.g. 183 typed for 138")
        asked: tuple[str, ...] = st.session_state.get(ASKED, ())
        anyway = False
        if asked:
            st.warning("**Please check before saving** (nothing was saved):\n\n"
                       + "\n".join(f"- {plain(warning)}" for warning in asked)
                       + "\n\nSave anyway if the values are right; a value changed here is checked again.")
            anyway = st.form_submit_button("Save anyway", key="fix_anyway")
        if st.form_submit_button("Save correction", type="primary", key="fix_submit") or anyway:
            st.session_state.pop(ASKED, None)
            _save(actor, entry, changes, reason, asked if anyway else ())
    if st.button("Discard my changes and reload this entry", key="fix_reload"):
        _forget()
        st.rerun()


def _say_if_removed(by_key: Mapping[str, CorrectableEntry]) -> None:
    """The entry whose form was open is no longer in the record (someone removed it, or its visit or session,
    meanwhile): say so, nothing was saved, and the form closes (its values and version are forgotten)."""
    opened = st.session_state.get(OPEN)
    if opened is None or opened in by_key:
        return
    st.error(plain(f"{st.session_state.get(OPEN_LABEL, 'The entry you were correcting')} was removed from the "
                   "record by someone else since you opened it: nothing was saved. Choose another entry if "
                   "needed."))
    _forget()
    st.session_state[CHOICE] = None


def _unchanged_left_out(changes: dict[str, Any]) -> dict[str, Any]:
    """The fields whose text differs from what the box was pre-filled with: a box nobody touched is unchanged,
    even when its text is not the way the service would write the value back."""
    prefilled: dict[str, object] = st.session_state.get(PREFILLED, {})
    return {name: value for name, value in changes.items() if name not in prefilled or prefilled[name] != value}


def _save(actor: Actor, entry: CorrectableEntry, changes: dict[str, Any], reason: str,
          acknowledged: tuple[str, ...]) -> None:
    """Save through the entry's correction service; a plausibility question is kept for the form to ask (the
    values typed stay in it), and answered by "Save anyway" with the same sentences acknowledged."""
    result = call(_correct, actor, entry, _unchanged_left_out(changes), reason, st.session_state[VERSION],
                  acknowledged)
    if result is not None:
        _forget()
        st.session_state[NOTICE], st.session_state[RESET] = _notice(entry, result), True
        st.rerun()
    if ASKED in st.session_state:
        st.rerun()


def _correct(actor: Actor, entry: CorrectableEntry, changes: dict[str, Any], reason: str, version: int,
             acknowledged: tuple[str, ...]) -> Correction | None:
    """The one correction service of the entry's kind; None when it asks a question (kept in ``ASKED``)."""
    try:
        if entry.kind == PHOTO:
            return correct_photo_view(actor, entry.row_id, changes["view"], reason, version)
        if entry.kind in ASKING:
            return ASKING[entry.kind](actor, entry.row_id, changes, reason, version, acknowledged=acknowledged)
        return correct_scale_score(actor, entry.row_id, changes, reason, version)
    except NeedsConfirmation as asked:
        st.session_state[ASKED] = asked.warnings
        return None


def _notice(entry: CorrectableEntry, result: Correction) -> list[tuple[str, str]]:
    """What the page says after a save: what changed, then each milestone judged again, in its status's tone."""
    lines = [("success", f"Corrected {entry.label}: {result.summary}. The previous values are in the history.")]
    lines += [(status_words(m.status).tone, _judgement(m)) for m in result.milestones]
    if not result.milestones and entry.kind != PHOTO:
        lines.append(("info", "No milestone judgement changed."))
    return lines


def _judgement(m: MilestoneAfter) -> str:
    """'Early response (2–3 months), Vertex: now On track (was Ahead). Vertex on 2025-04-10: +8 hairs/cm² …'"""
    was = ("" if not m.changed else f" (was {status_words(m.status_before).label})" if m.status_before
           else " (not judged before)")
    return f"{m.milestone_label}, {m.site_label}: {'now' if m.changed else 'still'} {m.status_label}{was}. {m.sentence}"


def _forget() -> None:
    """Drop the open form's values, version and pre-filled text (the choice of entry is the selectbox's own)."""
    for key in [k for k in st.session_state if str(k).startswith(PREFIX) and k not in (CHOICE, NOTICE, RESET)]:
        del st.session_state[key]


def _number(value: object) -> str:
    """A recorded value as its box shows it: short when that is exact, else every digit (a value read back from
    the box is the value recorded, never a rounded one).

    >>> _number(150.0), _number(138.3333333), _number(61.23456789), _number(None), _number(7)
    ('150', '138.3333333', '61.23456789', '', '7')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def _prefill(entry: CorrectableEntry) -> None:
    """The form's boxes start from the recorded values (text as the clinic writes it); the text of each typed box
    is kept to tell a box nobody touched."""
    prefilled: dict[str, object] = {}
    for name, value in entry.values.items():
        if isinstance(value, Mapping):
            for check, ticked in value.items():
                st.session_state[f"{PREFIX}{check}"] = bool(ticked)
        elif isinstance(value, date):
            st.session_state[f"{PREFIX}{name}"] = prefilled[name] = show_date(value)
        elif name == "stage":
            st.session_state[f"{PREFIX}stage"] = value if value in stages_for(str(entry.values["scale"])) else None
        elif name in ("global_assessment", "satisfaction", "treatment", "view"):
            st.session_state[f"{PREFIX}{name}"] = value
        elif name != "scale":
            st.session_state[f"{PREFIX}{name}"] = prefilled[name] = _number(value)
    st.session_state[PREFILLED] = prefilled


def _visit_form(entry: CorrectableEntry) -> dict[str, Any]:
    day = date_field("Visit date", f"{PREFIX}date")
    assessment = st.selectbox("Global photographic assessment", [None, *sorted(GLOBAL_ASSESSMENT_WORDS)],
                              key=f"{PREFIX}global_assessment",
                              format_func=lambda s: "Not assessed" if s is None else assessment_words(s))
    satisfaction = st.selectbox("Patient satisfaction (0–10)", [None, *range(11)], key=f"{PREFIX}satisfaction",
                                format_func=lambda s: "Not asked" if s is None else str(s))
    capture = {key: st.checkbox(label, key=f"{PREFIX}{key}") for key, label in CAPTURE_CHECKS.items()}
    device = st.text_input("Camera or device", key=f"{PREFIX}device", max_chars=DEVICE_MAX)
    notes = st.text_area("Notes", key=f"{PREFIX}notes", max_chars=NOTES_MAX)
    return {"date": day, "global_assessment": assessment, "satisfaction": satisfaction, "capture": capture,
            "device": device, "notes": notes}


def _measurement_form(entry: CorrectableEntry) -> dict[str, Any]:
    site = st.text_input("Site", key=f"{PREFIX}site", max_chars=SITE_MAX)
    fields = {"density_per_cm2": "Density (hairs/cm²)", "shaft_diameter_um": "Shaft diameter (µm)",
              "terminal_pct": "Terminal %", "anagen_pct": "Anagen %"}
    return {"site": site} | {name: decimal_field(label, f"{PREFIX}{name}") for name, label in fields.items()}


def _scale_form(entry: CorrectableEntry) -> dict[str, Any]:
    scale = str(entry.values["scale"])
    if scale == SALT:
        st.caption("SALT: % of hair lost in each region; the score is calculated again from the four.")
        return {name: decimal_field(f"{label} % hair loss", f"{PREFIX}{name}")
                for name, (_, label) in zip(SALT_REGION_FIELDS, SALT_REGIONS, strict=True)}
    # No stage chosen for the clinician (index None): a stage recorded off the scale's list opens empty, never as
    # the first stage, so a save without a choice is refused rather than saved as a stage nobody picked.
    stage = st.selectbox(f"Stage ({SCALE_LABELS.get(scale, scale)})", stages_for(scale), key=f"{PREFIX}stage",
                         index=None, placeholder="Choose")
    return {"stage": stage}


def _session_form(entry: CorrectableEntry) -> dict[str, Any]:
    values: dict[str, Any] = {"date": date_field("Session date", f"{PREFIX}date")}
    values["treatment"] = st.selectbox("Treatment", TREATMENTS, key=f"{PREFIX}treatment", format_func=treatment_words)
    values["product"] = st.text_input("Product", key=f"{PREFIX}product", max_chars=PRODUCT_MAX)
    values["lot_number"] = st.text_input("Lot number", key=f"{PREFIX}lot_number", max_chars=LOT_NUMBER_MAX)
    values["volume_ml"] = decimal_field("Volume (ml)", f"{PREFIX}volume_ml")
    values["areas"] = st.text_input("Areas treated", key=f"{PREFIX}areas", max_chars=AREAS_MAX)
    values["checklist"] = {key: st.checkbox(label, key=f"{PREFIX}{key}") for key, label in PRE_SESSION_CHECKS.items()}
    values["adverse_events"] = st.text_area("Adverse events", key=f"{PREFIX}adverse_events", max_chars=TEXT_MAX)
    values["notes"] = st.text_area("Notes", key=f"{PREFIX}notes", max_chars=TEXT_MAX)
    return values


def _photo_form(entry: CorrectableEntry) -> dict[str, Any]:
    return {"view": st.selectbox("View", SCALP_VIEWS, key=f"{PREFIX}view", format_func=view_words)}


FORMS: dict[str, Callable[[CorrectableEntry], dict[str, Any]]] = {
    VISIT: _visit_form, MEASUREMENT: _measurement_form, SCALE_SCORE: _scale_form, SESSION: _session_form,
    PHOTO: _photo_form,
}
