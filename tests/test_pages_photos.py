"""AppTest: the photos page per role, and the before/after panel on the consult screen."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tests.conftest import ROOT
from tests.scalp_samples import make_photo_patient
from tracker.access.actors import Actor
from tracker.database import transaction

CLINICIAN = Actor("dr.lee", "clinician")
PREFIX = "photos_P-1_before_after"


def _app(actor: Actor | None, mrn: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if actor is not None:
        at.session_state["actor"] = actor
    if mrn:
        at.session_state["mrn"] = mrn
    return at


def _photos_page(at: AppTest) -> AppTest:
    at.run()
    at.switch_page("pages/photos.py")
    at.run()
    assert not at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.header]
    parts += [e.value for e in at.subheader] + [e.value for e in at.info] + [e.value for e in at.warning]
    parts += [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def _viewed_patients(url: str) -> set[int]:
    """Patients whose records were viewed (other pages, such as the schedule, record views of no patient)."""
    with transaction(url) as session:
        return set(session.scalars(select(models.AuditEntry.patient_id).where(
            models.AuditEntry.action == "view", models.AuditEntry.patient_id.is_not(None))))


def test_clinician_sees_grid_and_before_after_of_selected_patient(sqlite_clinic):
    made = make_photo_patient(sqlite_clinic, "P-1", "Ada Example")
    make_photo_patient(sqlite_clinic, "P-2", "Bea Other", seed=2)
    at = _photos_page(_app(CLINICIAN, "P-1"))
    text = _texts(at)
    assert "Ada Example" in text and "Bea Other" not in text
    assert [s.value for s in at.subheader] == ["Photo timeline", "Before and after"]
    assert "2025-01-15" in text and "2026-01-20" in text  # visit columns
    # 7 thumbnails and the fitted pair (swipe and fade are in the viewer, in the browser)
    assert len(at.image) == 7 + 2
    assert len([b for b in at.button if b.label == "Enlarge"]) == 7
    # default: the first view photographed twice (frontal), baseline against the latest visit
    assert at.selectbox(key=f"{PREFIX}_view").value == "frontal"
    assert at.selectbox(key=f"{PREFIX}_first").value == made.visits["baseline"]
    assert at.selectbox(key=f"{PREFIX}_second").value == made.visits["month12"]
    assert any("camera distance differs" in w.value for w in at.warning)
    assert any("Vertex 150 hairs/cm²" in c.value for c in at.caption)

    at.selectbox(key=f"{PREFIX}_view").select("vertex").run()
    assert not at.exception
    assert at.selectbox(key=f"{PREFIX}_first").value == made.visits["baseline"]
    assert any("shape and camera distance differ" in w.value for w in at.warning)
    at.selectbox(key=f"{PREFIX}_second").select(made.visits["month6"]).run()
    assert not at.exception and not at.warning  # same framing, every box ticked: no warning
    # the later photo lined up on the earlier one, said in words with the turn and scale undone
    assert any(c.value.startswith("The later photo was lined up on the earlier one") and "scaled ×" in c.value
               for c in at.caption), [c.value for c in at.caption]

    images_before = len(at.image)
    next(b for b in at.button if b.label == "Enlarge").click().run()
    assert not at.exception
    assert len(at.image) == images_before + 1  # the display copy, in a dialog
    assert _viewed_patients(sqlite_clinic) == {made.patient_id}


def test_staff_without_a_patient_is_asked_to_choose_one(sqlite_clinic):
    at = _photos_page(_app(Actor("admin.kim", "admin")))
    assert any("Choose a patient first" in i.value for i in at.info)
    assert not at.image


def test_patient_sees_own_photos_only(sqlite_clinic):
    own = make_photo_patient(sqlite_clinic, "P-1", "Ada Example")
    make_photo_patient(sqlite_clinic, "P-2", "Bea Other", seed=2)
    at = _photos_page(_app(Actor("ada", "patient", patient_id=own.patient_id)))
    text = _texts(at)
    assert "Ada Example" in text and "Bea Other" not in text
    assert len(at.image) == 7 + 2
    assert at.selectbox(key="photos_own_before_after_view").value == "frontal"
    assert not [w for w in at.text_input] and not at.file_uploader  # read-only
    # In the patient's words: no record number, no densities, no framing-check details; dates in the course.
    assert "MRN" not in text and "hairs/cm²" not in text and not at.warning
    captions = [c.value for c in at.caption]
    assert "Before: 2025-01-15, the day of the first treatment" in captions
    assert ("These two photos were not taken in quite the same way, so small differences may come from the photos "
            "rather than from the hair.") in captions


@pytest.mark.parametrize("crafted", ["session", "url"])
def test_patient_cannot_reach_another_patients_photos(sqlite_clinic, crafted):
    own = make_photo_patient(sqlite_clinic, "P-1", "Ada Example")
    other = make_photo_patient(sqlite_clinic, "P-2", "Bea Other", seed=2)
    at = _app(Actor("ada", "patient", patient_id=own.patient_id), mrn="P-2" if crafted == "session" else None)
    if crafted == "url":
        at.query_params["mrn"] = "P-2"
    _photos_page(at)
    text = _texts(at)
    assert "Bea Other" not in text and "P-2" not in text
    assert other.patient_id not in _viewed_patients(sqlite_clinic)  # nothing of P-2 was read


def test_photos_page_absent_when_signed_out(sqlite_clinic):
    at = _app(None)
    at.run()
    with pytest.raises(ValueError):
        at.switch_page("pages/photos.py")


def test_consult_screen_shows_before_after(sqlite_clinic):
    made = make_photo_patient(sqlite_clinic, "P-1", "Ada Example")
    make_photo_patient(sqlite_clinic, "P-2", "Bea Other", seed=2)
    at = _app(CLINICIAN)
    at.session_state["consult"] = True
    at.session_state["consult_mrn"] = "P-1"
    at.run()
    assert not at.exception
    # The measured site is the vertex: its view, baseline (day 0) against the latest visit, side by side, with
    # dates under them and no choices or fade (those are on the photos page); no timeline on the consult screen.
    assert len(at.image) == 2
    assert "Vertex photos: before and now" in _texts(at)
    captions = [c.value for c in at.caption]
    assert "Before: 2025-01-15, the day of the first treatment" in captions
    assert "Now: 2026-01-20, about 12 months after the first treatment" in captions  # 370 days = 12.2 months
    assert any("not taken in quite the same way" in c for c in captions)  # 960×720 against 1280×720
    assert not at.selectbox and not at.slider
    assert "Bea Other" not in _texts(at)
    assert _viewed_patients(sqlite_clinic) == {made.patient_id}
