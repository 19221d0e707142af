"""AppTest: progress and consult pages per role."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.test_progress_view import make_patient
from tracker.access.accounts import create_user
from tracker.access.actors import Actor, command_line_actor
from tracker.access.sign_in import sign_in


def _app(actor: Actor | None, mrn: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if actor is not None:
        at.session_state["actor"] = actor
    if mrn:
        at.session_state["mrn"] = mrn
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.header]
    parts += [e.value for e in at.info] + [e.value for e in at.warning] + [e.value for e in at.error]
    parts += [getattr(e, "value", "") for e in at.get("text")]
    return "\n".join(str(p) for p in parts)


def test_clinician_sees_progress_of_selected_patient_and_enters_consult(sqlite_clinic):
    make_patient(sqlite_clinic, "P-1", "Ada Example")
    make_patient(sqlite_clinic, "P-2", "Bea Other")
    create_user(command_line_actor("test"), username="dr.lee", password="a long clinic phrase", role="clinician")
    clinician = sign_in("dr.lee", "a long clinic phrase")
    at = _app(clinician, "P-1")
    at.run()
    at.switch_page("pages/progress.py")
    at.run()
    assert not at.exception
    text = _texts(at)
    assert "Ada Example" in text and "Bea Other" not in text
    assert any("3 months" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 1

    at.button(key="consult_start").click()
    at.run()  # the button's callback opens the consult screen for this very run
    assert not at.exception and at.session_state["consult"] is True
    # In consult mode no other page runs, even when asked for directly: no patient list anywhere.
    at.switch_page("pages/patients.py")
    at.run()
    assert "Patients" not in [t.value for t in at.title]
    assert "Bea Other" not in _texts(at)
    at.switch_page("pages/progress.py")
    at.run()
    assert at.session_state["consult"] is True
    text = _texts(at)
    assert "Ada Example" in text and "Bea Other" not in text
    assert "Sign out" not in [b.label for b in at.button]  # no sidebar, no menu
    # wrong password keeps the consult screen; the right one returns to the workspace
    at.text_input(key="consult_password").input("guess")
    at.button[-1].click()
    at.run()
    assert at.session_state["consult"] is True
    assert any("not right" in e.value for e in at.error)
    # Another run before the clinician reads it (a reconnecting browser asks for one): the answer stays. It
    # was drawn only in the run that received the click, and a busy server's browser test never saw it.
    at.run()
    assert at.session_state["consult"] is True
    assert any("not right" in e.value for e in at.error)
    at.text_input(key="consult_password").input("a long clinic phrase")
    at.button[-1].click()
    at.run()
    assert "consult" not in at.session_state


def test_patient_sees_own_progress_only(sqlite_clinic):
    own = make_patient(sqlite_clinic, "P-1", "Ada Example")
    make_patient(sqlite_clinic, "P-2", "Bea Other")
    at = _app(Actor("ada", "patient", patient_id=own), mrn="P-2")  # a crafted session value
    at.run()
    at.switch_page("pages/progress.py")
    at.run()
    assert not at.exception
    text = _texts(at)
    assert "Bea Other" not in text
    assert any("not available" in e.value for e in at.error)

    at = _app(Actor("ada", "patient", patient_id=own))
    at.run()
    at.switch_page("pages/progress.py")
    at.run()
    text = _texts(at)
    assert "Ada Example" in text and "Bea Other" not in text
    assert "What comes next" in [s.value for s in at.subheader]


def test_progress_page_shows_the_photo_record(sqlite_clinic):
    from tests.scalp_samples import make_photo_patient

    own = make_photo_patient(sqlite_clinic, "P-1", "Ada Example")
    make_patient(sqlite_clinic, "P-2", "Bea Other")
    at = _app(Actor("dr.lee", "clinician"), "P-1")
    at.run()
    at.switch_page("pages/progress.py")
    at.run()
    assert not at.exception
    assert "Photo record" in [s.value for s in at.subheader]
    assert "7 photos at 4 visits" in _texts(at)
    table = at.dataframe[0].value
    assert list(table["View"])[:2] == ["Frontal", "Vertex"] and list(table["Visits with a photo"])[:2] == [2, 4]
    assert any("2026-01-20" in e.value and "Occipital" in e.value for e in at.info)

    # The record's coverage is the clinic's quality check: the patient gets a link to their photos instead.
    at = _app(Actor("ada", "patient", patient_id=own.patient_id))
    at.run()
    at.switch_page("pages/progress.py")
    at.run()
    assert not at.exception
    assert "Photo record" not in [s.value for s in at.subheader] and not at.dataframe
    assert "photos at" not in _texts(at) and "Before/after comparisons need" not in _texts(at)

    at = _app(Actor("dr.lee", "clinician"), "P-2")  # no photos at all
    at.run()
    at.switch_page("pages/progress.py")
    at.run()
    assert any(e.value == "No photos have been recorded yet." for e in at.info)
    assert not at.dataframe


def test_pages_absent_for_wrong_role(sqlite_clinic):
    own = make_patient(sqlite_clinic, "P-1", "Ada Example")
    at = _app(Actor("ada", "patient", patient_id=own))
    at.run()
    at.session_state["consult"] = True  # a crafted session value does not give a patient the consult screen
    at.run()
    assert not at.exception and "What comes next" in [s.value for s in at.subheader]
    assert_page_refused(at, "pages/log_visit.py", "Log visit")
    at = _app(None)
    at.run()
    assert any(b.label == "Sign in" for b in at.button)
    assert_page_refused(at, "pages/progress.py", "Ada Example")


def assert_page_refused(at: AppTest, page: str, tell_tale: str) -> None:
    """The page is not registered for this session, or, run anyway, shows nothing of itself."""
    try:
        at.switch_page(page)
    except ValueError:
        return  # not registered at all
    at.run()
    assert not at.exception
    assert tell_tale not in _texts(at) + " ".join(t.value for t in at.title)


# What the patient's words leave out (issue #11): the MRN, the protocol's name, the studies of the evidence
# note (tracker.course.clinical.DEFAULT_EVIDENCE_NOTE and the band's sources) and the photo record's checks.
STAFF_ONLY = ("P-1", "MRN", "Exosome (default)", "protocol", "TrichoScan", "open-label", "n = 16", "16 patients",
              "Photo record", "photos at", "Before/after comparisons need", "±")


def _assert_patient_words(at: AppTest) -> None:
    assert not at.exception
    text = _texts(at)
    assert "Ada Example" in text
    leaks = [word for word in STAFF_ONLY if word in text]
    assert not leaks, leaks
    assert "What the words mean" in [e.label for e in at.expander]
    for term in ("hairs/cm²", "Baseline", "Expected range", "Measurement noise"):
        assert f"**{term}**:" in text
    assert "Hairs per square centimetre" in text and "up to about 10%" in text


def test_patient_view_and_consult_speak_to_the_patient(sqlite_clinic):
    from tests.scalp_samples import make_photo_patient

    own = make_photo_patient(sqlite_clinic, "P-1", "Ada Example")
    at = _app(Actor("ada", "patient", patient_id=own.patient_id))
    at.run()
    at.switch_page("pages/progress.py")
    at.run()
    _assert_patient_words(at)
    # Vertex baseline 150 (day 0), noise 15: 175 at 3 months (+25 against +4…+19: above, by less than the noise),
    # 170 at 6 months (+20, inside +10…+35), 200 at 12 months (+50 against +15…+35: above by exactly 15, on track).
    text = _texts(at)
    assert ("At your 3-month check-up on 2025-04-14, the hair count in this area was 25 hairs per square "
            "centimetre higher than at the start (about 17%). That is a little above the range people usually "
            "show at this stage, but by less than the measurement itself varies, so it fits the usual course.") in text
    assert ("At your 6-month check-up on 2025-07-15, the hair count in this area was 20 hairs per square "
            "centimetre higher than at the start (about 13%). That is within the range people usually show at "
            "this stage.") in text
    assert any(e.value == "Results vary from person to person; this range is a guide, not a promise."
               for e in at.info)

    at = _app(Actor("dr.lee", "clinician"))
    at.session_state["consult"] = True
    at.session_state["consult_mrn"] = "P-1"
    at.run()
    _assert_patient_words(at)
    # One area (the only site measured) in one sentence, for the latest judged milestone: 12 months.
    assert ("At your 12-month check-up on 2026-01-20, the hair count in this area was 50 hairs per square "
            "centimetre higher than at the start (about 33%). That is a little above the range people usually "
            "show at this stage, but by less than the measurement itself varies, so it fits the usual course."
            ) in _texts(at)
    assert "3-month check-up" not in _texts(at)  # not every card: one sentence per area
    assert len(at.get("plotly_chart")) == 1
    assert "What comes next" in [s.value for s in at.subheader]
    assert at.expander[-1].label == "Clinician: end the consult"


def test_staff_progress_page_keeps_staff_words(sqlite_clinic):
    make_patient(sqlite_clinic, "P-1", "Ada Example")
    at = _app(Actor("dr.lee", "clinician"), "P-1")
    at.run()
    at.switch_page("pages/progress.py")
    at.run()
    assert not at.exception
    text = _texts(at)
    assert "MRN P-1" in text and "protocol Exosome (default)" in text and "TrichoScan" in text
    assert "3 months: +25 hairs/cm² (+17%)" in text
    assert "What the words mean" not in [e.label for e in at.expander]


def test_consult_mode_draws_the_salt_course_and_a_site_without_baseline(sqlite_clinic):
    """A SALT protocol's patient is shown the SALT chart and sentence; a site without a baseline its counts."""
    from datetime import date

    from db import models
    from tests.test_salt import _add_salt_patient
    from tracker.database import transaction

    _add_salt_patient(sqlite_clinic)
    at = _app(Actor("dr.lee", "clinician"))
    at.session_state["consult"] = True
    at.session_state["consult_mrn"] = "AA-001"
    at.run()
    assert not at.exception
    text = _texts(at)
    # The latest judged milestone (12 months): (40 − 34) / 40 = 15% improvement, below the clinic's range.
    assert ("At your 12-month check-up on 2026-01-20, your SALT score was 34, down from 40 at the start: an "
            "improvement of 15%. That is less than people usually show at this stage, by more than the measurement "
            "itself varies.") in text
    assert "SALT score" in [e.value for e in at.markdown if "**SALT score**" in e.value][0]  # in the glossary
    assert "AA-001" not in text and "Alopecia areata (SALT)" not in text
    assert len(at.get("plotly_chart")) == 1

    with transaction(sqlite_clinic) as session:
        patient = models.Patient(mrn="NB-1", full_name="Noor Nobaseline", sex="female", birth_date=date(1985, 2, 2),
                                 condition="androgenetic_alopecia")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=date(2025, 1, 15), treatment="exosome"))
        for day, density in ((date(2025, 4, 14), 140.0), (date(2025, 7, 15), 152.0)):
            visit = models.Visit(patient_id=patient.id, date=day)
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density))
    at = _app(Actor("dr.lee", "clinician"))
    at.session_state["consult"] = True
    at.session_state["consult_mrn"] = "NB-1"
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1  # the counts as measured, not "cannot be drawn"
    assert "There was no hair count before the first treatment, so these are the counts as measured" in _texts(at)


def test_five_wrong_passwords_on_the_consult_screen_sign_the_session_out(sqlite_clinic):
    make_patient(sqlite_clinic, "P-1", "Ada Example")
    create_user(command_line_actor("test"), username="dr.lee", password="a long clinic phrase", role="clinician")
    at = _app(sign_in("dr.lee", "a long clinic phrase"), "P-1")
    at.session_state["consult"] = True
    at.session_state["consult_mrn"] = "P-1"
    at.run()
    for attempt in range(1, 6):
        at.text_input(key="consult_password").input(f"guess number {attempt}")
        at.button[-1].click()
        at.run()
        assert not at.exception
        if attempt < 5:
            assert at.session_state["consult"] is True and any("not right" in e.value for e in at.error)
    assert "actor" not in at.session_state and "consult" not in at.session_state
    assert at.session_state["signed_out_reason"] == "Signed out after repeated wrong passwords on the consult screen."
    assert "Ada Example" not in _texts(at)
