"""AppTest: the audit-trail page is the admins' alone; it lists and filters entries and exports CSV."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.database import transaction

ADMIN = Actor("root.admin", "admin")


def _open(actor: Actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = actor
    at.run()
    return at


def _seed() -> None:
    with transaction() as session:
        audit.record(session, Actor("dr.lee", "clinician", address="10.0.0.7"), "view", detail="progress")
        audit.record(session, Actor("dr.kim", "clinician"), "update", detail="name corrected")


def test_admin_browses_filters_and_exports(sqlite_clinic):
    _seed()
    at = _open(ADMIN)
    at.switch_page("pages/audit_trail.py")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert {"dr.lee", "dr.kim"} <= set(table["user"])
    at.text_input(key="audit_username").input("dr.lee")
    at.button[0].click()  # the filter form's submit
    at.run()
    assert set(at.dataframe[0].value["user"]) == {"dr.lee"}
    assert list(at.dataframe[0].value["address"]) == ["10.0.0.7"]
    # The CSV is offered at once but made (and audited) only when clicked, in a browser.
    assert [b.label for b in at.get("download_button")] == ["Download audit trail (CSV)"]
    assert not [row for row in audit.browse(ADMIN) if row.action == "export"]


def test_repeated_views_read_as_one_line_and_stay_in_the_trail(sqlite_clinic):
    with transaction() as session:
        for _ in range(3):  # a form redrawn three times
            audit.record(session, Actor("dr.lee", "clinician"), "view", detail="visit form")
        audit.record(session, Actor("dr.lee", "clinician"), "create", detail="visit")
    at = _open(ADMIN)
    at.switch_page("pages/audit_trail.py")
    at.run()
    table = at.dataframe[0].value
    lee = table[table["user"] == "dr.lee"]
    assert list(lee["action"]) == ["create", "view"] and lee["times"].iloc[1].startswith("×3 since ")
    at.toggle(key="audit_collapse").set_value(False)
    at.run()
    table = at.dataframe[0].value
    assert list(table[table["user"] == "dr.lee"]["action"]) == ["create", "view", "view", "view"]
    assert (table["times"] == "").all()


def test_audit_trail_is_absent_for_clinicians_and_patients(sqlite_clinic):
    _seed()
    for actor in (Actor("dr.lee", "clinician"), Actor("pat", "patient", patient_id=1)):
        at = _open(actor)
        try:
            at.switch_page("pages/audit_trail.py")
        except ValueError:
            continue  # not registered for this role at all
        at.run()
        assert not at.dataframe and "Audit trail" not in [t.value for t in at.title]


def test_dates_in_the_trail_are_the_clinics_and_the_filter_range_is_checked(sqlite_clinic, monkeypatch):
    monkeypatch.setenv("TRACKER_DATE_FORMAT", "DD/MM/YYYY")
    with transaction() as session:
        audit.record(session, Actor("dr.lee", "clinician"), "create", detail="visit 4 on 2026-01-14: 1 photo(s) added")
    at = _open(ADMIN)
    at.switch_page("pages/audit_trail.py")
    at.run()
    table = at.dataframe[0].value
    assert "visit 4 on 14/01/2026: 1 photo(s) added" in list(table["detail"])
    assert not [at_ for at_ in table["at (UTC)"] if "-" in at_]  # 29/11/2026 14:05:59, never 2026-11-29
    # The last day a calendar has is no upper bound (it overflowed into an apology and a traceback before).
    at.text_input(key="audit_until").input("31/12/9999")
    at.button[0].click()
    at.run()
    assert not at.exception and not at.error
    assert "visit 4 on 14/01/2026: 1 photo(s) added" in list(at.dataframe[0].value["detail"])
    # A range that ends before it starts could only ever show nothing: said, not silently empty.
    at.text_input(key="audit_since").input("02/03/2026")
    at.text_input(key="audit_until").input("01/03/2026")
    at.button[0].click()
    at.run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [
        "From (02/03/2026) is after To (01/03/2026): no entry can match; swap the two dates"]


def test_the_patient_filter_finds_views_of_lists_that_name_the_patient(sqlite_clinic):
    from tests.patient_samples import seed

    x, y = seed(sqlite_clinic, "RT-10", "Xavier"), seed(sqlite_clinic, "RT-11", "Yara")
    with transaction() as session:
        audit.record(session, Actor("dr.lee", "clinician"), "view", patient_id=x, detail="patient record")
        audit.record(session, Actor("dr.kim", "clinician"), "view", detail="schedule", patient_ids=[x, y])
        audit.record(session, Actor("dr.ray", "clinician"), "view", patient_id=y, detail="patient record")
    at = _open(ADMIN)
    at.switch_page("pages/audit_trail.py")
    at.run()
    at.text_input(key="audit_mrn").input("rt-10")
    at.button[0].click()
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    # The admin's own Patients page (where the app opens) listed RT-10 too.
    assert list(table["user"]) == ["root.admin", "dr.kim", "dr.lee"]
    assert list(table["patient"].fillna("")) == ["", "", "RT-10"]
    assert table["detail"].iloc[0].startswith("patient list page 1 of 1: 2 shown of 2; 2 patients (sha256 ")
    assert table["detail"].iloc[1].startswith("schedule; 2 patients (sha256 of their sorted ids: ")
    assert [c.value for c in at.caption][0].startswith("Showing 1–3 of 3 matching entries")
    at.text_input(key="audit_mrn").input("RT-404")
    at.button[0].click()
    at.run()
    assert not at.exception and [e.value for e in at.error] == ["No patient has the MRN 'RT-404'."]


def test_the_trail_is_shown_a_page_at_a_time(sqlite_clinic):
    with transaction() as session:
        for n in range(audit.PAGE_SIZE + 5):
            audit.record(session, Actor("dr.lee", "clinician"), "view", detail=f"entry {n}")
    at = _open(ADMIN)
    at.switch_page("pages/audit_trail.py")
    at.run()
    at.text_input(key="audit_username").input("dr.lee")
    at.button[0].click()
    at.run()
    at.toggle(key="audit_collapse").set_value(False)
    at.run()
    assert len(at.dataframe[0].value) == audit.PAGE_SIZE
    assert at.dataframe[0].value["detail"].iloc[0] == f"entry {audit.PAGE_SIZE + 4}"
    assert [c.value for c in at.caption][0].startswith(
        f"Showing 1–{audit.PAGE_SIZE} of {audit.PAGE_SIZE + 5} matching entries (newest first; page 1 of 2)")
    at.number_input(key="audit_page").set_value(2)
    at.run()
    assert list(at.dataframe[0].value["detail"]) == [f"entry {n}" for n in range(4, -1, -1)]
    # Another filter starts again at the newest entries.
    at.text_input(key="audit_username").input("DR.LEE")
    at.button[0].click()
    at.run()
    assert at.number_input(key="audit_page").value == 1 and len(at.dataframe[0].value) == audit.PAGE_SIZE
