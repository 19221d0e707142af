"""Page tests (AppTest) for Schedule, Lot lookup, Protocols and Accounts.

Each page: present for the roles that use it and absent for the others, its validation messages, and a
successful action visible in the database. The schedule page computes from today's date, so its
patients are placed relative to today.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tracker.access.accounts import create_user
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.records.protocol_admin import save_protocol

ROOT = Path(__file__).resolve().parent.parent
ADMIN = Actor(username="admin1", role="admin")
CLINICIAN = Actor(username="dr_a", role="clinician")
DEFAULT = "Exosome (default)"
MARKDOWN_NAME = "**Bold** [click](javascript:alert(1)) <b>x</b>"
PASSWORD = "cobalt-lantern-47"


def open_page(page: str, actor: Actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page(f"pages/{page}")
    at.run()
    return at


def page_absent(page: str, actor: Actor) -> bool:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.session_state["actor"] = actor
    at.run()
    try:
        at.switch_page(f"pages/{page}")
    except ValueError as error:
        return "Could not find a navigation page" in str(error)
    return False


def table(at: AppTest, column: str):
    """The first table drawn with ``column`` (``st.dataframe`` keeps its key only when rows are selectable)."""
    found = [frame.value for frame in at.dataframe if column in frame.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def markdown_everywhere(at: AppTest) -> str:
    """Everything drawn as markdown (text, captions, alerts): where injected markup would take effect."""
    return " ".join(texts(at, "markdown") + texts(at, "caption") + texts(at, "info") + texts(at, "success")
                    + texts(at, "warning") + texts(at, "error"))


def add_patient(url, mrn, full_name, session_days_ago=None, visit_days_ago=(), lot="L-1", deleted_session=False):
    today = date.today()
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=full_name, sex="female", birth_date=date(1980, 1, 1),
                                 condition="androgenetic_alopecia", created_by="test")
        session.add(patient)
        session.flush()
        if session_days_ago is not None:
            session.add(models.TreatmentSession(
                patient_id=patient.id, date=today - timedelta(days=session_days_ago), treatment="exosome",
                product="ExoGen", lot_number=lot, volume_ml=2.0, created_by="test",
                deleted_at=datetime.now(UTC) if deleted_session else None,
            ))
        for days in visit_days_ago:
            visit = models.Visit(patient_id=patient.id, date=today - timedelta(days=days), created_by="test")
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=150,
                                                  created_by="test"))


# --- schedule ------------------------------------------------------------------------------------


@pytest.fixture
def scheduled(clinic):
    # 75 days after day 0 always lies inside the 2–3 month window, before its target: due.
    add_patient(clinic, "S-DUE", MARKDOWN_NAME, 75, [75])
    # 200 days: the 2–3 month window closed unvisited; inside 5–7 months past the 6-month target: overdue.
    add_patient(clinic, "S-LATE", "Late Patient", 200, [200])
    add_patient(clinic, "S-NOVISIT", "Never Measured", 30)
    return clinic


@pytest.mark.usefixtures("scheduled")
def test_schedule_lists_due_and_overdue_patients():
    at = open_page("schedule.py", CLINICIAN)
    assert not at.exception
    follow_ups = table(at, "Days to target")
    assert list(follow_ups["MRN"]) == ["S-LATE", "S-DUE"]
    assert list(follow_ups["Status"]) == ["Overdue", "Window open"]
    assert list(follow_ups["Milestone"]) == ["Noticeable growth (about 6 months)", "Early response (2–3 months)"]
    # Each patient's only visit was on day 0, before any milestone: nothing judged yet.
    assert list(follow_ups["Last visit"]) == [date.today() - timedelta(days=200), date.today() - timedelta(days=75)]
    assert set(follow_ups["Latest change"]) == {"Not judged yet: no milestone visit"}
    assert list(table(at, "First session")["MRN"]) == ["S-NOVISIT"]
    # S-DUE's latest session was 75 days ago: the 3–6 month repeat window opens within 30 days at most.
    at.selectbox(key="schedule_horizon").set_value(30).run()
    assert "S-DUE" in list(table(at, "Days until it closes")["MRN"])
    # The name is drawn as table text, never as markdown.
    assert MARKDOWN_NAME in list(follow_ups["Name"])
    assert "Bold" not in markdown_everywhere(at)


@pytest.mark.usefixtures("scheduled")
def test_each_list_is_labelled_and_drawn_with_the_dates_it_tests():
    at = open_page("schedule.py", CLINICIAN)
    show = at.radio(key="schedule_list")
    assert show.options == ["All follow-ups", "Overdue", "Window open now", "Target date within 7 days",
                            "Upcoming (window opens within 14 days)"]
    common = ["Status", "MRN", "Name", "Milestone"]
    after = ["Last visit", "Latest change", "Note"]
    expected = {
        # S-LATE, 200 days after day 0: the 2–3 month window closed unvisited, the 5–7 month one is open.
        "overdue": (["Overdue since", "Days overdue", "Window closes"], ["S-LATE"]),
        # S-DUE, 75 days: inside 2–3 months; S-LATE's window is open too (and its target passed).
        "window_open": (["Window opens", "Window closes", "Target date"], ["S-LATE", "S-DUE"]),
        # S-DUE's target (3 months after day 0) is 14–17 days away: not within 7.
        "target_soon": (["Target date", "Days to target"], []),
        "upcoming": (["Window opens", "Days until it opens", "Target date"], []),
    }
    for kind, (columns, mrns) in expected.items():
        at.radio(key="schedule_list").set_value(kind).run()
        assert not at.exception
        if mrns:
            drawn = at.dataframe[0].value
            assert list(drawn.columns) == common + columns + after, kind
            assert list(drawn["MRN"]) == mrns, kind
        else:
            assert "No follow-up visit is on this list." in texts(at, "info"), kind
    at.radio(key="schedule_list").set_value("overdue").run()
    late = at.dataframe[0].value.iloc[0]
    # Overdue since the missed early window's target date, 3 calendar months after day 0.
    from tracker.course.calendar_months import add_months
    since = add_months(date.today() - timedelta(days=200), 3)
    assert (late["Overdue since"], late["Days overdue"]) == (since, (date.today() - since).days)
    assert late["Note"].startswith("Early response (2–3 months): window closed on ")
    at.selectbox(key="schedule_horizon").set_value(60).run()
    assert at.radio(key="schedule_list").options[-1] == "Upcoming (window opens within 60 days)"


@pytest.mark.usefixtures("scheduled")
@pytest.mark.parametrize("table_key, row, mrn, title", [
    ("schedule_follow_ups", 0, "S-LATE", "Late Patient"),
    ("schedule_unmeasured", 0, "S-NOVISIT", "Never Measured"),
])
def test_a_click_on_a_row_opens_that_patients_record(table_key, row, mrn, title):
    at = open_page("schedule.py", CLINICIAN)
    at.session_state[table_key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.session_state["mrn"] == mrn
    assert at.query_params.get("mrn") in (mrn, [mrn])
    assert texts(at, "title") == [title]  # the record page, not the schedule


def test_schedule_is_for_staff_only(clinic):
    assert not open_page("schedule.py", ADMIN).exception
    assert page_absent("schedule.py", Actor(username="pat", role="patient", patient_id=1))


# --- lot lookup ----------------------------------------------------------------------------------


@pytest.fixture
def lots(clinic):
    add_patient(clinic, "L-1", MARKDOWN_NAME, 40, lot="LOT-77")
    add_patient(clinic, "L-2", "Second Patient", 20, lot="lot-77")
    add_patient(clinic, "L-3", "Other Lot", 10, lot="LOT-770")
    add_patient(clinic, "L-4", "Deleted Session", 15, lot="LOT-77", deleted_session=True)
    return clinic


def test_lot_lookup_finds_every_session_and_offers_a_csv(lots):
    at = open_page("lot_lookup.py", CLINICIAN)
    at.text_input(key="lot_query").input("lot-77")
    at.button[0].click().run()  # the form's "Look up" button
    assert not at.exception
    results = table(at, "Lot number")
    assert list(results["MRN"]) == ["L-2", "L-1"]
    assert list(results.columns) == ["MRN", "Name", "Session date", "Product", "Treatment", "Volume (mL)", "Lot number"]
    assert "2 sessions, 2 patients." in texts(at, "success")
    assert any("1 deleted sessions" in c for c in texts(at, "caption"))
    assert "Searched lot number (exact): lot-77" in texts(at, "text")
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]
    assert "Bold" not in markdown_everywhere(at)
    with transaction(lots) as session:
        details = session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "view")).all()
    assert any("'lot-77'" in d for d in details)


def test_lot_lookup_contains_option_and_keeps_what_was_typed(lots):
    at = open_page("lot_lookup.py", CLINICIAN)
    at.text_input(key="lot_query").input("LOT-77")
    at.checkbox(key="lot_partial").check()
    at.button[0].click().run()
    assert list(table(at, "Lot number")["MRN"]) == ["L-3", "L-2", "L-1"]
    at.text_input(key="lot_query").input("   ")
    at.button[0].click().run()
    assert "Type the lot number to look up." in texts(at, "error")
    assert at.checkbox(key="lot_partial").value is True
    assert not at.get("download_button")


def test_lot_lookup_is_for_staff_only(clinic):
    assert not open_page("lot_lookup.py", ADMIN).exception
    assert page_absent("lot_lookup.py", Actor(username="pat", role="patient", patient_id=1))


# --- protocols -----------------------------------------------------------------------------------

BAND_KEY = f"protocol_band::{DEFAULT}::1"
WINDOWS_KEY = f"protocol_windows::{DEFAULT}::1"
NOTE_KEY = f"protocol_note::{DEFAULT}::1"


def stored_protocol(url, name=DEFAULT):
    with transaction(url) as session:
        row = session.scalar(select(models.Protocol).where(models.Protocol.name == name))
        return None if row is None else (row.band, row.windows, row.evidence_note, row.version)


def test_protocols_page_shows_editors_and_the_band_preview(clinic):
    at = open_page("protocols.py", ADMIN)
    assert not at.exception
    assert [e.key for e in at.data_editor] == [BAND_KEY, WINDOWS_KEY]
    assert at.text_area(key=NOTE_KEY).value.startswith("Exosome evidence is limited")
    preview = table(at, "Low (hairs/cm²)")
    assert list(preview["Month"]) == [0, 2, 3, 6, 12]
    assert list(preview["Low (hairs/cm²)"]) == [-10, -10, 5, 10, 15]
    assert list(preview["High (hairs/cm²)"]) == [5, 5, 20, 35, 35]


def test_protocol_edit_is_saved_as_a_new_version(clinic):
    at = open_page("protocols.py", ADMIN)
    at.session_state[BAND_KEY] = {"edited_rows": {4: {"high": "40"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert list(table(at, "Low (hairs/cm²)")["High (hairs/cm²)"]) == [5, 5, 20, 35, 40]
    at.text_area(key=NOTE_KEY).input("Our clinic's series of 40 patients.")
    at.button(key="protocols_save").click().run()
    assert not at.exception
    assert "Saved: the protocol is now at version 2." in texts(at, "success")
    band, windows, note, version = stored_protocol(clinic)
    assert (version, note, band[4]) == (2, "Our clinic's series of 40 patients.", {"month": 12, "low": 15, "high": 40})
    assert [e.key for e in at.data_editor] == [f"protocol_band::{DEFAULT}::2", f"protocol_windows::{DEFAULT}::2"]


def test_the_measurement_noise_is_edited_with_the_band(clinic):
    at = open_page("protocols.py", ADMIN)
    noise = at.text_input(key=f"protocol_noise::{DEFAULT}::1")
    assert noise.value == "10"  # DESIGN.md §2 default
    noise.input("8")
    at.button(key="protocols_save").click().run()
    assert not at.exception
    assert "Saved: the protocol is now at version 2." in texts(at, "success")
    with transaction(clinic) as session:
        assert session.scalar(select(models.Protocol.noise_pct).where(models.Protocol.name == DEFAULT)) == 8
    assert at.text_input(key=f"protocol_noise::{DEFAULT}::2").value == "8"


def test_the_salt_protocol_reads_in_salt_and_the_outcome_measure_is_saved(clinic):
    at = open_page("protocols.py", ADMIN)
    assert list(table(at, "Judged on")["Judged on"]) == ["SALT score (alopecia areata)", "Hair density (hairs/cm²)"]
    at.selectbox(key="protocols_selected").set_value("Alopecia areata (SALT)").run()
    salt = "Alopecia areata (SALT)::1"
    assert at.selectbox(key=f"protocol_outcome::{salt}").value == "salt"
    preview = table(at, "Low (% improvement of SALT)")  # the band's labels say what it is
    # Month 2 lies two thirds of the way from month 0 (−20..+10) to month 3 (0..+30).
    assert list(preview["Low (% improvement of SALT)"]) == [-20, -6.67, 0, 20, 30]
    assert list(preview["High (% improvement of SALT)"]) == [10, 23.33, 30, 50, 75]
    assert any("No established exosome evidence exists for SALT" in c for c in texts(at, "caption"))
    assert at.text_input(key=f"protocol_noise::{salt}").label.startswith("Measurement noise (percentage points")
    # Switching the default to SALT is an edit like any other: a new version, audited.
    at.selectbox(key="protocols_selected").set_value(DEFAULT).run()
    at.selectbox(key=f"protocol_outcome::{DEFAULT}::1").set_value("salt").run()
    assert table(at, "Low (% improvement of SALT)") is not None
    at.button(key="protocols_save").click().run()
    assert not at.exception
    with transaction(clinic) as session:
        row = session.scalar(select(models.Protocol).where(models.Protocol.name == DEFAULT))
        assert (row.outcome_measure, row.version) == ("salt", 2)


def test_protocol_validation_messages_keep_the_typed_values(clinic):
    at = open_page("protocols.py", ADMIN)
    at.session_state[BAND_KEY] = {"edited_rows": {0: {"low": "9"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.text_area(key=NOTE_KEY).input("   ")
    at.button(key="protocols_save").click().run()
    assert not at.exception
    (error,) = [e for e in texts(at, "error") if "not saved" in e]
    assert "At month 0 the band's low (9) is above its high (5)." in error
    assert "The evidence note is required" in error
    # The live preview says the same about the band as the refused save.
    assert texts(at, "error").count("At month 0 the band's low (9) is above its high (5).") == 1
    assert at.text_area(key=NOTE_KEY).value == "   "
    assert stored_protocol(clinic)[3] == 1


def test_protocol_edit_over_someone_elses_save_is_refused(clinic):
    at = open_page("protocols.py", ADMIN)
    band, windows, _, _ = stored_protocol(clinic)
    save_protocol(Actor(username="admin2", role="admin"), DEFAULT, band, windows, "Their note.", expected_version=1,
                  url=clinic)
    at.text_area(key=NOTE_KEY).input("My note.")
    at.button(key="protocols_save").click().run()
    assert any("changed by someone else" in e for e in texts(at, "error"))
    assert stored_protocol(clinic)[2:] == ("Their note.", 2)
    assert at.text_area(key=NOTE_KEY).value == "My note."  # the typed edit is still there
    assert any("Someone saved version 2" in w for w in texts(at, "warning"))
    at.button(key="protocols_reload").click().run()
    assert at.text_area(key=f"protocol_note::{DEFAULT}::2").value == "Their note."


def test_a_new_protocol_is_created_as_a_copy(clinic):
    at = open_page("protocols.py", ADMIN)
    at.text_input(key="protocol_copy_name").input("PRP (clinic)")
    at.button[-1].click().run()  # the copy form's button
    assert not at.exception
    assert any("Protocol created as a copy" in s for s in texts(at, "success"))
    assert at.selectbox(key="protocols_selected").value == "PRP (clinic)"
    assert stored_protocol(clinic, "PRP (clinic)")[3] == 1
    assert at.text_input(key="protocol_copy_name").value == ""
    at.text_input(key="protocol_copy_name").input("prp (CLINIC)")
    at.button[-1].click().run()
    assert any("already exists" in e for e in texts(at, "error"))
    assert at.text_input(key="protocol_copy_name").value == "prp (CLINIC)"


def test_protocols_page_is_for_admins_only(clinic):
    assert page_absent("protocols.py", CLINICIAN)
    assert page_absent("protocols.py", Actor(username="pat", role="patient", patient_id=1))


# --- accounts ------------------------------------------------------------------------------------


def fill_account(at, role, username, password, again, mrn=""):
    at.selectbox(key="account_role").set_value(role)
    at.text_input(key="account_username").input(username)
    at.text_input(key="account_password").input(password)
    at.text_input(key="account_password_again").input(again)
    at.text_input(key="account_mrn").input(mrn)
    [submit] = [b for b in at.button if b.label == "Create account"]
    submit.click().run()


def users(url):
    with transaction(url) as session:
        return {u.username: u for u in session.scalars(select(models.User))}


def test_accounts_are_listed_and_created(clinic):
    create_user(ADMIN, username="admin1", password=PASSWORD, role="admin", url=clinic)
    at = open_page("accounts.py", ADMIN)
    assert not at.exception
    assert list(table(at, "Username")["Username"]) == ["admin1"]
    fill_account(at, "clinician", "Dr.Bea", PASSWORD, PASSWORD)
    assert not at.exception
    assert "The account is created." in texts(at, "success")
    assert users(clinic)["dr.bea"].role == "clinician"
    assert list(table(at, "Username")["Username"]) == ["admin1", "dr.bea"]
    assert at.text_input(key="account_password").value == ""  # the form is emptied after a creation


def test_account_creation_refusals_are_plain_and_keep_the_form(clinic):
    add_patient(clinic, "A-1", "Account Patient")
    at = open_page("accounts.py", ADMIN)
    fill_account(at, "clinician", "dr_c", PASSWORD, PASSWORD + "x")
    assert any("The two passwords differ" in e for e in texts(at, "error"))
    assert at.text_input(key="account_username").value == "dr_c"
    fill_account(at, "clinician", "dr_c", "short", "short")
    assert "The password needs at least 10 characters." in texts(at, "error")
    fill_account(at, "patient", "pat_a", PASSWORD, PASSWORD)
    assert any("needs the MRN" in e for e in texts(at, "error"))
    fill_account(at, "patient", "pat_a", PASSWORD, PASSWORD, mrn="NOPE")
    assert "No patient with MRN 'NOPE'." in texts(at, "error")
    assert users(clinic) == {}
    fill_account(at, "patient", "pat_a", PASSWORD, PASSWORD, mrn="A-1")
    assert "The account is created." in texts(at, "success")
    assert users(clinic)["pat_a"].patient_id is not None


def test_a_delayed_account_is_unlocked(clinic):
    create_user(ADMIN, username="dr_locked", password=PASSWORD, role="clinician", url=clinic)
    with transaction(clinic) as session:
        user = session.scalar(select(models.User).where(models.User.username == "dr_locked"))
        user.locked_until, user.failed_attempts = datetime.now(UTC) + timedelta(minutes=4), 7
    at = open_page("accounts.py", ADMIN)
    assert list(table(at, "Username")["Sign-in delay"])[0].startswith("until ")
    assert at.selectbox(key="account_unlock_username").value == "dr_locked"
    [unlock] = [b for b in at.button if b.label == "Unlock"]
    unlock.click().run()
    assert not at.exception
    assert "The delay is lifted; its user can sign in again." in texts(at, "success")
    assert users(clinic)["dr_locked"].locked_until is None and users(clinic)["dr_locked"].failed_attempts == 0
    assert "No account is delayed." in texts(at, "caption")


def signed_in_admin(url) -> Actor:
    """A real admin session (with its account and session version), as the sign-in page makes it."""
    from tracker.access.sign_in import sign_in

    create_user(ADMIN, username="boss", password=PASSWORD, role="admin", url=url)
    return sign_in("boss", PASSWORD, url=url)


def test_accounts_are_disabled_and_enabled_but_not_the_last_admin(clinic):
    boss = signed_in_admin(clinic)
    create_user(ADMIN, username="dr_b", password=PASSWORD, role="clinician", url=clinic)
    at = open_page("accounts.py", boss)
    at.selectbox(key="account_status_username").set_value("dr_b").run()
    at.button(key="account_disable").click().run()
    assert not at.exception and "dr\\_b is disabled." in texts(at, "success")
    assert users(clinic)["dr_b"].disabled_at is not None
    assert list(table(at, "Username")["Status"]) == ["Enabled", "Disabled"]
    at.selectbox(key="account_status_username").set_value("dr_b").run()
    at.button(key="account_enable").click().run()
    assert users(clinic)["dr_b"].disabled_at is None
    at.selectbox(key="account_status_username").set_value("boss").run()
    at.button(key="account_disable").click().run()
    assert any("last enabled administrator" in e for e in texts(at, "error"))
    assert users(clinic)["boss"].disabled_at is None and "actor" in at.session_state


def test_an_admin_who_disables_themselves_is_signed_out_at_the_next_rerun(clinic):
    boss = signed_in_admin(clinic)
    create_user(ADMIN, username="deputy", password=PASSWORD, role="admin", url=clinic)
    at = open_page("accounts.py", boss)
    at.selectbox(key="account_status_username").set_value("boss").run()
    at.button(key="account_disable").click().run()
    assert "actor" not in at.session_state  # the flash's rerun already finds the session ended
    assert not at.exception and not at.dataframe


def test_a_password_reset_shows_the_temporary_password_once(clinic):
    from tracker.access.sign_in import sign_in

    boss = signed_in_admin(clinic)
    create_user(ADMIN, username="dr_b", password=PASSWORD, role="clinician", url=clinic)
    at = open_page("accounts.py", boss)
    assert at.selectbox(key="account_reset_username").options == ["dr_b"]  # not one's own
    at.button(key="account_reset").click().run()
    assert not at.exception
    [temporary] = [c.value for c in at.code]
    assert any("Temporary password for dr\\_b" in w for w in texts(at, "warning"))
    assert list(table(at, "Username")["Password"]) == ["", "must be changed"]
    assert sign_in("dr_b", temporary, url=clinic).must_change_password
    at.run()
    assert not at.code and "accounts_temporary_password" not in at.session_state


def test_demo_accounts_are_removed_in_one_step(clinic):
    from tracker.access.demo_accounts import ensure_demo_accounts

    boss = signed_in_admin(clinic)
    ensure_demo_accounts(url=clinic)
    at = open_page("accounts.py", boss)
    assert any("Demo accounts exist" in w for w in texts(at, "warning"))
    assert at.button(key="account_remove_demo").disabled  # until confirmed
    at.checkbox(key="account_demo_confirm").check().run()
    at.button(key="account_remove_demo").click().run()
    assert not at.exception
    assert "Removed the demo accounts: demo.admin, demo.clinician." in texts(at, "success")
    assert sorted(users(clinic)) == ["boss"]
    assert not any("Demo accounts exist" in w for w in texts(at, "warning"))


def test_accounts_page_is_for_admins_only(clinic):
    assert page_absent("accounts.py", CLINICIAN)
    assert page_absent("accounts.py", Actor(username="pat", role="patient", patient_id=1))
